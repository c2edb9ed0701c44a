//! What every peer connection is built with: the codecs (Opus, VP8) with fixed payload types and
//! the interceptor chain of its direction (defaults plus one that hands keyframe requests to the
//! application). The SFU's connections are built from these by the media driver
//! ([`super::driver`]); [`build`] makes a webrtc-rs connection of its own for the Rust client
//! (no mDNS, NAT 1:1 addresses). When the last connection is gone, freed memory is handed back to
//! the OS ([`trim_when_idle`]).

use crate::config::MediaConfig;
use crate::metrics::{Metrics, RtcpCounters};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::{Attribute, Interceptor, Packet, Slot, StreamInfo, TaggedPacket};
use rtc::interceptor::{NackGeneratorBuilder, NackResponderBuilder};
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::Registry;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::transport::RTCIceCandidateType;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::rtp_transceiver::rtp_sender::TYPE_RTCP_FB_NACK;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use rtc::sansio::Protocol;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Instant;
use webrtc::peer_connection::{PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler};

pub const PT_OPUS: u8 = 111;
pub const PT_VP8: u8 = 96;

/// A track the server sends (a down-track): giaoban's codec for `kind`, with SSRC `ssrc`.
pub fn sent_track(
    (stream_id, track_id, label): (String, String, String),
    kind: RtpCodecKind,
    ssrc: u32,
) -> rtc::media_stream::MediaStreamTrack {
    use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodingParameters, RTCRtpEncodingParameters};
    rtc::media_stream::MediaStreamTrack::new(
        stream_id,
        track_id,
        label,
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: codec(kind),
            ..Default::default()
        }],
    )
}

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

pub(super) fn media_engine() -> Result<MediaEngine, webrtc::error::Error> {
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
    // The audio level of each packet (RFC 6464), for active speaker detection (`speaker`).
    me.register_header_extension(
        RTCRtpHeaderExtensionCapability {
            uri: super::speaker::AUDIO_LEVEL_URI.to_string(),
        },
        RtpCodecKind::Audio,
        None,
    )?;
    Ok(me)
}

/// After a connection went: the connections' tasks and buffers go a moment later; once none is
/// left (a session ended), give the freed memory back at once. One such check at a time for the
/// whole process (a session's end drops its connections all at once).
pub fn trim_when_idle(metrics: &Arc<Metrics>) {
    if TRIM_SCHEDULED.swap(true, Relaxed) {
        return;
    }
    let metrics = metrics.clone();
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        TRIM_SCHEDULED.store(false, Relaxed);
        return;
    };
    rt.spawn(async move {
        // Twice: what the connections held goes at once, what the room and the
        // consumers of its events held a few seconds later.
        for secs in [2, 6] {
            tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
            if metrics.peer_connections.load(Relaxed) != 0 {
                break;
            }
            let _ = tokio::task::spawn_blocking(release_free_memory).await;
        }
        TRIM_SCHEDULED.store(false, Relaxed);
    });
}

/// Set while a task waits to give freed memory back (see [`Pc`]'s `Drop`).
static TRIM_SCHEDULED: AtomicBool = AtomicBool::new(false);

/// Returns freed heap memory to the OS at once (see [`crate::memory::release`]; jemalloc would
/// also give it back by itself within a few seconds).
pub fn release_free_memory() {
    crate::memory::release();
}

/// What the media side is configured with.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    pub bind_ip: IpAddr,
    pub nat_1to1_ips: Vec<String>,
    /// Packets that may wait for the media driver (all down-tracks together).
    pub egress_queue: usize,
    pub keyframe_min_interval: std::time::Duration,
    /// See `sfu::pause` (zero: never).
    pub pause_unwatched_after: std::time::Duration,
}

impl MediaSettings {
    pub fn from_config(c: &MediaConfig) -> Self {
        MediaSettings {
            bind_ip: c.bind_ip.parse().unwrap_or(IpAddr::from([127, 0, 0, 1])),
            nat_1to1_ips: c.nat_1to1_ips.clone(),
            egress_queue: c.egress_queue,
            keyframe_min_interval: std::time::Duration::from_millis(c.keyframe_min_interval_ms),
            pause_unwatched_after: std::time::Duration::from_millis(c.pause_unwatched_after_ms),
        }
    }
}

/// Builds a peer connection bound to `addr` (a socket of its own) with giaoban's codecs and
/// interceptors; RTCP feedback (NACK, PLI/FIR) in and out is counted in `rtcp`. Used by the
/// Rust client.
pub async fn build(
    addr: SocketAddr,
    nat_1to1_ips: &[String],
    handler: Arc<dyn PeerConnectionEventHandler>,
    rtcp: Option<Arc<RtcpCounters>>,
) -> Result<Arc<dyn PeerConnection>, webrtc::error::Error> {
    let mut me = media_engine()?;
    let registry = registry(&mut me, Direction::Both, rtcp)?;
    // No mDNS: it would open a multicast socket per connection, and on a host without a
    // multicast route (an intranet server with no default gateway) that fails every join.
    let mut se = SettingEngineBuilder::new().with_multicast_dns_mode(MulticastDnsMode::Disabled);
    if !nat_1to1_ips.is_empty() {
        se = se.with_nat_1to1_ips(nat_1to1_ips.to_vec(), RTCIceCandidateType::Host);
    }
    if addr.ip().is_loopback() {
        se = se.with_include_loopback_candidate(true);
    }
    // An ICE restart binds new sockets, as a room PC whose network changed gets new candidates.
    se = se.with_discard_local_candidates_during_ice_restart(true);
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

/// The interceptors of a connection whose media flows in `direction` (see [`interceptors`]),
/// with the [`KeyframeRequestMarker`] at the end of the chain.
pub(super) fn registry(
    me: &mut MediaEngine,
    direction: Direction,
    rtcp: Option<Arc<RtcpCounters>>,
) -> Result<Registry, webrtc::error::Error> {
    let marker = KeyframeRequestMarker {
        counters: rtcp,
        ..Default::default()
    };
    Ok(interceptors(me, direction)?.with(Slot::from(14_000), marker))
}

/// How often one lost packet is asked for again (NACK) before it is given up. Without a bound
/// (the crate's default), a packet that never counts as received is asked for every 100 ms for
/// as long as the connection lives: in a 150-site briefing one publisher was asked for the same
/// 450 packets 116 times each, and every retransmission was decrypted and refused as a replay.
pub const MAX_NACKS_PER_PACKET: u16 = 5;

/// Which way media flows on a connection, which decides the interceptors it needs. Every
/// interceptor sees every packet (each one queues it and hands it on), so one that has nothing
/// to do in a direction still costs a copy of the packet there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A site's publish connection: the SFU only receives media (it sends RTCP feedback).
    Receive,
    /// A site's subscribe connection: the SFU only sends media (it receives RTCP feedback).
    Send,
    /// Both ways (the Rust client's connections).
    Both,
}

/// The crate's default interceptors (NACK generator and responder, simulcast header extensions,
/// transport-wide congestion control receiver, sender and receiver reports), with the NACK
/// generator bounded by [`MAX_NACKS_PER_PACKET`], keeping those that work on the media flowing
/// in `direction`: for receiving, the NACK generator, the transport-wide congestion control
/// receiver and receiver reports; for sending, the NACK responder and sender reports. What is
/// negotiated (codecs, feedback, header extensions) is the same whatever the direction.
fn interceptors(
    me: &mut MediaEngine,
    direction: Direction,
) -> Result<Registry, webrtc::error::Error> {
    use rtc::interceptor::{ReceiverReportBuilder, SenderReportBuilder};
    use rtc::peer_connection::configuration::interceptor_registry as defaults;
    for parameter in ["", "pli"] {
        let feedback = RTCPFeedback {
            typ: TYPE_RTCP_FB_NACK.to_owned(),
            parameter: parameter.to_owned(),
        };
        me.register_feedback(feedback, RtpCodecKind::Video);
    }
    defaults::configure_simulcast_extension_headers(me)?;
    // Registers transport-cc in the media engine; its receiver is kept below only for receiving.
    let twcc = defaults::configure_twcc_receiver_only(Registry::new(), me)?;
    let receive = direction != Direction::Send;
    let send = direction != Direction::Receive;
    let mut registry = if receive { twcc } else { Registry::new() };
    if receive {
        registry = registry
            .with(
                Slot::NackGenerator,
                NackGeneratorBuilder::new()
                    .with_max_nacks_per_packet(MAX_NACKS_PER_PACKET)
                    .build(),
            )
            .with(Slot::ReceiverReport, ReceiverReportBuilder::new().build());
    }
    if send {
        registry = registry
            .with(Slot::NackResponder, NackResponderBuilder::new().build())
            .with(Slot::SenderReport, SenderReportBuilder::new().build());
    }
    Ok(registry)
}

/// Interceptor that lets PLI and FIR through to the application (they otherwise stop inside the
/// chain), so that a subscriber's keyframe request can be forwarded to the publisher; it also
/// counts the RTCP feedback that passes (NACKs and keyframe requests, in and out).
#[derive(Default)]
pub struct KeyframeRequestMarker {
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
    counters: Option<Arc<RtcpCounters>>,
}

/// (NACK packets, keyframe requests) in one RTCP compound packet.
fn feedback(packets: &[Box<dyn rtc::rtcp::Packet>]) -> (u64, u64) {
    packets.iter().fold((0, 0), |(n, k), p| {
        let any = p.as_any();
        (
            n + u64::from(any.is::<TransportLayerNack>()),
            k + u64::from(any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()),
        )
    })
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequestMarker {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            let (nacks, keyframes) = feedback(packets);
            if let Some(c) = &self.counters {
                c.nacks_received.fetch_add(nacks, Relaxed);
                c.keyframe_requests_received.fetch_add(keyframes, Relaxed);
            }
            // Sender reports go to the track too: the recorder maps RTP time to wall-clock time.
            let reports = packets
                .iter()
                .any(|p| p.as_any().is::<rtc::rtcp::sender_report::SenderReport>());
            if keyframes > 0 || reports {
                msg.message.add(Attribute::DeliverToApplication);
            }
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if let (Packet::Rtcp(packets), Some(c)) = (&msg.message.packet, &self.counters) {
            let (nacks, keyframes) = feedback(packets);
            c.nacks_sent.fetch_add(nacks, Relaxed);
            c.keyframe_requests_sent.fetch_add(keyframes, Relaxed);
        }
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

    fn defaults() -> Registry {
        let mut theirs = media_engine().unwrap();
        rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors(
            Registry::new(),
            &mut theirs,
        )
        .unwrap()
    }

    fn slots(direction: Direction) -> Vec<Slot> {
        let mut me = media_engine().unwrap();
        let registry = interceptors(&mut me, direction).unwrap();
        registry.slots().into_iter().map(|(slot, _)| slot).collect()
    }

    #[test]
    fn both_ways_the_chain_is_the_crates_default_with_a_bounded_nack_generator() {
        let mut ours = media_engine().unwrap();
        let theirs = defaults();
        let ours = interceptors(&mut ours, Direction::Both).unwrap();
        assert_eq!(ours.slots(), theirs.slots());
    }

    #[test]
    fn each_direction_keeps_only_the_interceptors_of_its_media() {
        let receive = slots(Direction::Receive);
        let send = slots(Direction::Send);
        assert_eq!(send, [Slot::NackResponder, Slot::SenderReport]);
        for slot in [
            Slot::NackGenerator,
            Slot::TwccReceiver,
            Slot::ReceiverReport,
        ] {
            assert!(receive.contains(&slot), "{slot:?} missing in {receive:?}");
            assert!(!send.contains(&slot), "{slot:?} in {send:?}");
        }
        assert_eq!(receive.len(), 3, "{receive:?}");
        // Together they are the whole default chain: nothing is lost by splitting it.
        let mut union: Vec<Slot> = receive.iter().chain(&send).copied().collect();
        union.sort();
        assert_eq!(union, slots(Direction::Both));
    }
}
