//! ICE of the Rust client: the addresses of each connection's selected candidate pair and the
//! server candidates it knows, and ICE restart as a room PC does when its network changes (Wi-Fi
//! to 4G, a DHCP renewal): both
//! connections get new ICE credentials and, since the client's connections rebind their sockets
//! on a restart, new local candidates; the site stays the same participant. The publish
//! connection restarts by a `publish_offer` with new credentials, the subscribe connection by
//! asking the server (`ice_restart`) for a `subscribe_offer` with new ones.

use super::{ClientError, SiteClient};
use crate::signal::protocol::{ClientMsg, PcKind};
use rtc::peer_connection::configuration::RTCOfferOptions;
use std::net::SocketAddr;
use std::time::Instant;
use webrtc::peer_connection::PeerConnection;

impl SiteClient {
    /// Restarts ICE on both connections (see the module docs).
    pub async fn restart_ice(&self) -> Result<(), ClientError> {
        let closed = || ClientError::Protocol("socket closed".into());
        let options = RTCOfferOptions { ice_restart: true };
        let offer = self.publish.create_offer(Some(options)).await?;
        // Sent before gathering starts, so that no new candidate precedes it.
        self.ws_tx
            .send(ClientMsg::PublishOffer {
                sdp: offer.sdp.clone(),
            })
            .await
            .map_err(|_| closed())?;
        self.publish.set_local_description(offer).await?;
        self.ws_tx
            .send(ClientMsg::IceRestart {
                pc: PcKind::Subscribe,
            })
            .await
            .map_err(|_| closed())
    }

    /// The local address each connection (publish, then subscribe) sends media from: the local
    /// candidate of its selected pair.
    pub async fn media_sources(&self) -> [Option<std::net::SocketAddr>; 2] {
        [
            selected_address(&*self.publish, false).await,
            selected_address(&*self.subscribe, false).await,
        ]
    }
}

/// The remote (or local) candidate of a connection's selected ICE candidate pair.
async fn selected_address(pc: &dyn PeerConnection, remote: bool) -> Option<SocketAddr> {
    use rtc::statistics::StatsSelector;
    use rtc::statistics::report::RTCStatsReportEntry;
    let report = pc.get_stats(Instant::now(), StatsSelector::None).await;
    let pair_id = &report.transport()?.selected_candidate_pair_id;
    let Some(RTCStatsReportEntry::IceCandidatePair(pair)) = report.get(pair_id) else {
        return None;
    };
    // The pair names the candidate by its id; the report keys it with a prefix.
    let id = if remote {
        &pair.remote_candidate_id
    } else {
        &pair.local_candidate_id
    };
    let same = |c: &rtc::statistics::stats::ice_candidate::RTCIceCandidateStats| {
        c.stats.id == *id || c.stats.id.ends_with(&format!("_{id}"))
    };
    report.iter().find_map(|e| match e {
        RTCStatsReportEntry::RemoteCandidate(c) | RTCStatsReportEntry::LocalCandidate(c)
            if matches!(e, RTCStatsReportEntry::RemoteCandidate(_)) == remote && same(c) =>
        {
            Some(SocketAddr::new(c.address.as_deref()?.parse().ok()?, c.port))
        }
        _ => None,
    })
}

/// Whether a connection has a selected ICE pair, and its remote candidates' addresses (from its
/// statistics).
pub(super) async fn server_candidates(pc: &dyn PeerConnection) -> (bool, Vec<SocketAddr>) {
    use rtc::statistics::StatsSelector;
    use rtc::statistics::report::RTCStatsReportEntry;
    let report = pc.get_stats(Instant::now(), StatsSelector::None).await;
    let selected = report
        .transport()
        .is_some_and(|t| !t.selected_candidate_pair_id.is_empty());
    let addrs = report
        .iter()
        .filter_map(|e| match e {
            RTCStatsReportEntry::RemoteCandidate(c) if c.protocol.eq_ignore_ascii_case("udp") => {
                Some(SocketAddr::new(c.address.as_deref()?.parse().ok()?, c.port))
            }
            _ => None,
        })
        .collect();
    (selected, addrs)
}
