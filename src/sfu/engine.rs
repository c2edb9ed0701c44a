//! Building the SFU's peer connections: the codecs (Opus, VP8) with fixed payload types, the
//! interceptor chain (defaults plus one that hands keyframe requests to the application), the
//! setting engine (NAT 1:1 addresses) and the UDP port range. webrtc 0.21 has no single-port mux,
//! so every peer connection binds one UDP socket on a port leased from [`PortPool`].

use crate::config::MediaConfig;
use crate::metrics::{Gauge, Kind, Metrics};
use rtc::interceptor::{Attribute, Interceptor, Packet, Slot, StreamInfo, TaggedPacket};
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::{
    Registry, register_default_interceptors,
};
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::transport::RTCIceCandidateType;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind,
};
use rtc::sansio::Protocol;
use std::collections::{HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use webrtc::peer_connection::{PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler};

pub const PT_OPUS: u8 = 111;
pub const PT_VP8: u8 = 96;

/// The one audio and one video codec giaoban forwards.
pub fn codec(kind: RtpCodecKind) -> RTCRtpCodec {
    match kind {
        RtpCodecKind::Audio => RTCRtpCodec {
            mime_type: MIME_TYPE_OPUS.to_owned(),
            clock_rate: 48_000,
            channels: 2,
            sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
            rtcp_feedback: vec![],
        },
        _ => RTCRtpCodec {
            mime_type: MIME_TYPE_VP8.to_owned(),
            clock_rate: 90_000,
            channels: 0,
            sdp_fmtp_line: String::new(),
            rtcp_feedback: ["nack", "nack pli", "ccm fir", "goog-remb"]
                .iter()
                .map(|fb| {
                    let (typ, parameter) = fb.split_once(' ').unwrap_or((fb, ""));
                    RTCPFeedback {
                        typ: typ.to_owned(),
                        parameter: parameter.to_owned(),
                    }
                })
                .collect(),
        },
    }
}

pub fn payload_type(kind: RtpCodecKind) -> u8 {
    if kind == RtpCodecKind::Audio {
        PT_OPUS
    } else {
        PT_VP8
    }
}

fn media_engine() -> Result<MediaEngine, webrtc::error::Error> {
    let mut me = MediaEngine::default();
    for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
        me.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: codec(kind),
                payload_type: payload_type(kind),
            },
            kind,
        )?;
    }
    Ok(me)
}

/// A leased UDP port, returned to the pool when dropped.
#[derive(Debug)]
pub struct PortLease {
    pool: Arc<PortPool>,
    port: u16,
}

impl Drop for PortLease {
    fn drop(&mut self) {
        self.pool
            .in_use
            .lock()
            .expect("port pool")
            .remove(&self.port);
    }
}

/// The configured UDP port range. Port 0..0 means "let the OS pick" (tests run several servers).
#[derive(Debug)]
pub struct PortPool {
    min: u16,
    max: u16,
    in_use: Mutex<HashSet<u16>>,
    cursor: Mutex<u16>,
}

impl PortPool {
    pub fn new(min: u16, max: u16) -> Arc<Self> {
        Arc::new(PortPool {
            min,
            max,
            in_use: Mutex::new(HashSet::new()),
            cursor: Mutex::new(min),
        })
    }

    pub fn in_use(&self) -> usize {
        self.in_use.lock().expect("port pool").len()
    }

    /// The next free port after the last one handed out (round robin, so a port just released
    /// is not reused at once), or `None` when the range is exhausted.
    fn lease(self: &Arc<Self>) -> Option<PortLease> {
        if self.min == 0 {
            return Some(PortLease {
                pool: self.clone(),
                port: 0,
            });
        }
        let mut in_use = self.in_use.lock().expect("port pool");
        let mut cursor = self.cursor.lock().expect("port pool");
        let span = u32::from(self.max - self.min) + 1;
        for _ in 0..span {
            let port = *cursor;
            *cursor = if port >= self.max { self.min } else { port + 1 };
            if in_use.insert(port) {
                return Some(PortLease {
                    pool: self.clone(),
                    port,
                });
            }
        }
        None
    }
}

/// A peer connection with what it holds: its port lease and its place in the gauges.
pub struct Pc {
    pub pc: Arc<dyn PeerConnection>,
    _lease: PortLease,
    _gauge: Gauge,
}

impl Pc {
    pub async fn close(&self) {
        if let Err(e) = self.pc.close().await {
            tracing::debug!("closing peer connection: {e}");
        }
    }
}

/// What the media side is configured with.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    pub bind_ip: IpAddr,
    pub nat_1to1_ips: Vec<String>,
    pub down_track_queue: usize,
    pub keyframe_min_interval: std::time::Duration,
}

impl MediaSettings {
    pub fn from_config(c: &MediaConfig) -> Self {
        MediaSettings {
            bind_ip: c.bind_ip.parse().unwrap_or(IpAddr::from([127, 0, 0, 1])),
            nat_1to1_ips: c.nat_1to1_ips.clone(),
            down_track_queue: c.down_track_queue,
            keyframe_min_interval: std::time::Duration::from_millis(c.keyframe_min_interval_ms),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no free UDP port in the configured range")]
    NoPort,
    #[error("peer connection: {0}")]
    WebRtc(#[from] webrtc::error::Error),
}

/// Builds one peer connection on a leased port. A port that fails to bind (taken by another
/// process) is skipped and the next one tried, a few times.
pub async fn new_peer_connection(
    settings: &MediaSettings,
    ports: &Arc<PortPool>,
    metrics: &Arc<Metrics>,
    handler: Arc<dyn PeerConnectionEventHandler>,
) -> Result<Pc, EngineError> {
    let mut last_err = None;
    for _ in 0..8 {
        let lease = ports.lease().ok_or(EngineError::NoPort)?;
        let addr = SocketAddr::new(settings.bind_ip, lease.port);
        match build(addr, &settings.nat_1to1_ips, handler.clone()).await {
            Ok(pc) => {
                return Ok(Pc {
                    pc,
                    _lease: lease,
                    _gauge: metrics.hold(Kind::PeerConnection),
                });
            }
            Err(e) => {
                tracing::warn!(port = lease.port, "peer connection did not bind: {e}");
                last_err = Some(e);
            }
        }
    }
    Err(last_err
        .map(EngineError::WebRtc)
        .unwrap_or(EngineError::NoPort))
}

/// Builds a peer connection bound to `addr` with giaoban's codecs and interceptors. Used by the
/// SFU (through [`new_peer_connection`]) and by the Rust client.
pub async fn build(
    addr: SocketAddr,
    nat_1to1_ips: &[String],
    handler: Arc<dyn PeerConnectionEventHandler>,
) -> Result<Arc<dyn PeerConnection>, webrtc::error::Error> {
    let mut me = media_engine()?;
    let registry = register_default_interceptors(Registry::new(), &mut me)?
        .with(Slot::from(14_000), KeyframeRequestMarker::default());
    let mut se = SettingEngineBuilder::new();
    if !nat_1to1_ips.is_empty() {
        se = se.with_nat_1to1_ips(nat_1to1_ips.to_vec(), RTCIceCandidateType::Host);
    }
    if addr.ip().is_loopback() {
        se = se.with_include_loopback_candidate(true);
    }
    let pc = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(me)
        .with_setting_engine(se.build())
        .with_interceptor_registry(registry)
        .with_handler(handler)
        .with_udp_addrs(vec![addr])
        .build()
        .await?;
    Ok(Arc::new(pc))
}

/// Interceptor that lets PLI and FIR through to the application (they otherwise stop inside the
/// chain), so that a subscriber's keyframe request can be forwarded to the publisher.
#[derive(Default)]
pub struct KeyframeRequestMarker {
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequestMarker {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet
            && packets.iter().any(|p| {
                let any = p.as_any();
                any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
            })
        {
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write.pop_front()
    }
}

impl Interceptor for KeyframeRequestMarker {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_pool_leases_round_robin_and_returns_on_drop() {
        let pool = PortPool::new(5000, 5002);
        let a = pool.lease().unwrap();
        let b = pool.lease().unwrap();
        let c = pool.lease().unwrap();
        assert_eq!((a.port, b.port, c.port), (5000, 5001, 5002));
        assert!(pool.lease().is_none());
        drop(b);
        assert_eq!(pool.in_use(), 2);
        assert_eq!(pool.lease().unwrap().port, 5001);
    }
}
