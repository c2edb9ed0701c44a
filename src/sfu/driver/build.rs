//! Building one connection on the sans-IO core: giaoban's codecs and its direction's
//! interceptors (`engine`), full ICE with one host candidate per address the shared port is
//! reached on (no gathering, no mDNS).
//! What the candidates announce (NAT 1:1, the port) is the attachment's `advertise`.

use crate::metrics::RtcpCounters;
use crate::sfu::engine::{self, Direction};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCIceCandidate, RTCIceCandidateInit,
};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    Rtc(#[from] rtc::shared::error::Error),
    #[error("no address to announce")]
    NoAddress,
}

/// How long ICE waits before the server, controlling, may nominate a pair whose remote end it
/// learnt from the site's own check (peer-reflexive). Sites' checks reach the port before their
/// trickled candidates reach the signaling, so nearly every remote candidate starts out that way:
/// with the stack's default (1 s) a subscriber waited over a second for its first frame. A
/// fifth of a second still lets the site's direct pairs be checked before the best valid pair is
/// nominated (a relay pair has the lowest priority).
const PRFLX_ACCEPTANCE_MIN_WAIT: Duration = Duration::from_millis(200);

/// A connection whose media flows in `direction`, whose host candidates are `hosts` (gathering
/// complete).
pub fn connection(
    direction: Direction,
    hosts: &[SocketAddr],
    rtcp: Arc<RtcpCounters>,
) -> Result<RTCPeerConnection, BuildError> {
    if hosts.is_empty() {
        return Err(BuildError::NoAddress);
    }
    let mut me = engine::media_engine()?;
    let registry = engine::registry(&mut me, direction, Some(rtcp))?;
    // Full ICE, as the site's end: the server checks the pairs too and, where it controls (the
    // subscribe connection, which it offers), chooses the best one. An ICE-lite server sends on
    // whichever pair the browser nominated last, and Chrome nominates every pair it checks, relay
    // pairs included: the media went through the TURN server with a direct path at hand.
    // No multicast DNS socket (it fails on hosts without a multicast route).
    let mut se = SettingEngineBuilder::new()
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        .with_prflx_acceptance_min_wait(Some(PRFLX_ACCEPTANCE_MIN_WAIT));
    if hosts.iter().any(|a| a.ip().is_loopback()) {
        se = se.with_include_loopback_candidate(true);
    }
    let mut pc = RTCPeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(me)
        .with_setting_engine(se.build())
        .with_interceptor_registry(registry)
        .build(Instant::now())?;
    for addr in hosts {
        let candidate = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".to_owned(),
                address: addr.ip().to_string(),
                port: addr.port(),
                component: 1,
                ..Default::default()
            },
            ..Default::default()
        }
        .new_candidate_host()?;
        pc.add_local_candidate(RTCIceCandidate::from(&candidate).to_json()?)?;
    }
    // End of gathering: the offer says so (`a=end-of-candidates`).
    pc.add_local_candidate(RTCIceCandidateInit::default())?;
    Ok(pc)
}
