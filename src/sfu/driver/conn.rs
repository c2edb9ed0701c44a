//! One peer connection inside the media driver ([`Conn`]): the sans-IO `rtc` core, its place on
//! the shared port, and what the driver keeps per track. A publish connection's received tracks
//! ([`Ingress`]) hand each packet to their published track ([`PublishedTrack::on_rtp`]); a
//! subscribe connection's down-tracks ([`Down`]) rewrite each packet for the site before it is
//! written. After anything happened to it, [`Conn::service`] takes what it read (media, RTCP),
//! its events (state, new or closed tracks) and the datagrams it has to send.

use super::{DriverError, Events, TrackInfo};
use crate::sfu::engine;
use crate::sfu::forward::{PublishedTrack, Reading};
use crate::sfu::rewrite::Rewriter;
use crate::sfu::speaker::audio_level_id;
use crate::sfu::udp::{Attachment, SendBatch};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::configuration::RTCOfferOptions;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent, RTCTrackEventInit};
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::{RTCRtpReceiverId, RTCRtpSenderId};
use rtc::sansio::Protocol;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// What the driver keeps of one down-track (a sender of a subscribe connection).
pub struct Down {
    pub id: u64,
    track_id: String,
    pub rewriter: Rewriter,
}

/// Names each down-track, so that a packet queued for one that ended meanwhile is never written
/// to a track that reuses its sender.
static NEXT_DOWN: AtomicU64 = AtomicU64::new(1);

/// What the driver keeps of one track a publish connection receives.
struct Ingress {
    receiver: RTCRtpReceiverId,
    /// Its published track, once the participant published it (packets before are dropped).
    published: Option<Weak<PublishedTrack>>,
    reading: Reading,
}

/// One connection inside the driver.
pub struct Conn {
    pub pc: RTCPeerConnection,
    pub(super) attachment: Attachment,
    /// Its host candidates (the addresses the shared port is reached on).
    locals: Vec<SocketAddr>,
    connected: Arc<AtomicBool>,
    events: Box<dyn Events>,
    /// Subscribe: the published track behind each sent track (by track id), where the site's
    /// keyframe requests on it go; and each sender's down-track.
    keyframes: HashMap<String, Weak<PublishedTrack>>,
    pub(super) senders: HashMap<RTCRtpSenderId, Down>,
    /// Publish: the tracks received, by track id.
    tracks: HashMap<String, Ingress>,
    /// Its entry in the driver's timer set.
    pub(super) deadline: Option<Instant>,
    /// Touched in this pass (queued for servicing once).
    pub(super) touched: bool,
}

impl Conn {
    pub fn new(
        pc: RTCPeerConnection,
        (attachment, locals): (Attachment, Vec<SocketAddr>),
        connected: Arc<AtomicBool>,
        events: Box<dyn Events>,
    ) -> Conn {
        Conn {
            locals,
            pc,
            attachment,
            connected,
            events,
            keyframes: HashMap::new(),
            senders: HashMap::new(),
            tracks: HashMap::new(),
            deadline: None,
            touched: false,
        }
    }

    /// Adds a track whose first encoding names its SSRC and codec: a new down-track.
    pub fn add_track(
        &mut self,
        track: MediaStreamTrack,
        published: Weak<PublishedTrack>,
    ) -> Result<(RTCRtpSenderId, u64), DriverError> {
        let track_id = track.track_id().clone();
        let kind = track.kind();
        let (ssrc, clock_rate) = track
            .codings()
            .first()
            .map(|c| {
                (
                    c.rtp_coding_parameters.ssrc.unwrap_or(0),
                    c.codec.clock_rate,
                )
            })
            .unwrap_or_default();
        let sender = self.pc.add_track(track)?;
        let id = NEXT_DOWN.fetch_add(1, Relaxed);
        let rewriter = Rewriter::new(ssrc, engine::payload_type(kind), clock_rate);
        self.keyframes.insert(track_id.clone(), published);
        let down = Down {
            id,
            track_id,
            rewriter,
        };
        self.senders.insert(sender, down);
        Ok((sender, id))
    }

    pub fn remove_track(&mut self, sender: RTCRtpSenderId) -> Result<(), DriverError> {
        if let Some(down) = self.senders.remove(&sender) {
            self.keyframes.remove(&down.track_id);
        }
        self.pc.remove_track(sender)?;
        Ok(())
    }

    /// Creates and applies an offer; returns it as the site must get it (see
    /// `Connection::offer`).
    pub fn offer(
        &mut self,
        now: Instant,
        options: Option<RTCOfferOptions>,
    ) -> Result<String, DriverError> {
        let offer = self.pc.create_offer(options)?;
        self.pc.set_local_description(now, offer)?;
        Ok(self.advertised(|sdp| sdp.to_owned()))
    }

    /// Applies the site's offer and answers it; returns the answer as the site must get it,
    /// after `edit` (see `Connection::answer`).
    pub fn answer(
        &mut self,
        now: Instant,
        offer: RTCSessionDescription,
        edit: impl FnOnce(&str) -> String,
    ) -> Result<String, DriverError> {
        self.pc.set_remote_description(now, offer)?;
        let answer = self.pc.create_answer(None)?;
        self.pc.set_local_description(now, answer)?;
        Ok(self.advertised(edit))
    }

    /// The applied local description (it carries the host candidates), edited, with its ICE
    /// credentials routed here and its candidates naming the shared port.
    fn advertised(&self, edit: impl FnOnce(&str) -> String) -> String {
        let sdp = self
            .pc
            .local_description()
            .map(|d| d.sdp)
            .unwrap_or_default();
        self.attachment.advertise(&edit(&sdp))
    }

    /// Publish: the received track `track_id` is published as `published`.
    pub fn bind_track(&mut self, track_id: &str, published: Weak<PublishedTrack>) {
        if let Some(t) = self.tracks.get_mut(track_id) {
            t.published = Some(published);
        }
    }

    /// Publish: the tracks whose transceiver still receives (after a renegotiation, a track
    /// whose transceiver no longer does has ended, though the stack reports no end for it).
    pub fn receiving_tracks(&mut self) -> Vec<String> {
        let mut live = Vec::new();
        let ids: Vec<_> = self.pc.get_transceivers().collect();
        for id in ids {
            let Some(t) = self.pc.rtp_transceiver(id) else {
                continue;
            };
            if !t.current_direction().has_recv() {
                continue;
            }
            let Some(receiver) = t.receiver() else {
                continue;
            };
            if let Some(r) = self.pc.rtp_receiver(receiver) {
                live.push(r.track().track_id().clone());
            }
        }
        live
    }

    /// Publish: asks the site for a keyframe of `track_id` (a PLI). False if it is not received.
    pub fn request_keyframe(&mut self, track_id: &str, media_ssrc: u32, now: Instant) -> bool {
        let Some(receiver) = self.tracks.get(track_id).map(|t| t.receiver) else {
            return false;
        };
        let pli = PictureLossIndication {
            sender_ssrc: 0,
            media_ssrc,
        };
        self.pc
            .rtp_receiver(receiver)
            .is_some_and(|mut r| r.write_rtcp(now, vec![Box::new(pli)]).is_ok())
    }

    /// The local address a datagram that arrived on `dst` reached (one of the candidates').
    pub fn local_for(&self, dst: Option<IpAddr>) -> SocketAddr {
        dst.and_then(|ip| self.locals.iter().find(|a| a.ip() == ip))
            .or_else(|| self.locals.first())
            .copied()
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// After anything happened to the connection: what it read, its events, what it has to
    /// send. Returns its next deadline.
    pub fn service(&mut self, now: Instant, out: &mut SendBatch) -> Option<Instant> {
        // Events first: a new track is known before its first packets are read.
        self.events();
        while let Some(msg) = self.pc.poll_read() {
            match msg.message {
                RTCMessage::RtpPacket(track_id, packet) => {
                    if let Some(t) = self.tracks.get_mut(&track_id)
                        && let Some(published) = t.published.as_ref().and_then(Weak::upgrade)
                    {
                        published.on_rtp(packet, &mut t.reading);
                    }
                }
                RTCMessage::RtcpPacket(track_id, packets) => {
                    if let Some(t) = self.tracks.get(&track_id) {
                        if let Some(published) = t.published.as_ref().and_then(Weak::upgrade) {
                            published.on_rtcp(&packets);
                        }
                    } else if packets.iter().any(|p| {
                        let any = p.as_any();
                        any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
                    }) && let Some(published) =
                        self.keyframes.get(&track_id).and_then(Weak::upgrade)
                    {
                        published.request_keyframe();
                    }
                }
                _ => {}
            }
        }
        self.events();
        self.flush(out);
        let next = self.pc.poll_timeout()?;
        // A deadline already past is handled on the next pass, not in a spin.
        Some(next.max(now + Duration::from_millis(1)))
    }

    fn events(&mut self) {
        while let Some(event) = self.pc.poll_event() {
            match event {
                RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => {
                    self.connected
                        .store(state == RTCPeerConnectionState::Connected, Relaxed);
                    self.events.state(state);
                }
                RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                    self.track_opened(init)
                }
                RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnClose(track_id)) => {
                    self.track_closed(&track_id)
                }
                _ => {}
            }
        }
    }

    fn track_opened(&mut self, init: RTCTrackEventInit) {
        // The stack opens a track again at each renegotiation (and once per simulcast layer):
        // a track already received stays as it is, with its publication.
        if self.tracks.contains_key(&init.track_id) {
            return;
        }
        let ids: Vec<_> = self.pc.get_transceivers().collect();
        let mid = ids.into_iter().find_map(|id| {
            let t = self.pc.rtp_transceiver(id)?;
            (t.receiver() == Some(init.receiver_id)).then(|| t.mid().clone())?
        });
        let Some(mut receiver) = self.pc.rtp_receiver(init.receiver_id) else {
            return;
        };
        let kind = receiver.track().kind();
        let audio_level_ext =
            audio_level_id(&receiver.get_parameters().rtp_parameters.header_extensions);
        let ingress = Ingress {
            receiver: init.receiver_id,
            published: None,
            reading: Reading::default(),
        };
        self.tracks.insert(init.track_id.clone(), ingress);
        self.events.track(TrackInfo {
            track_id: init.track_id,
            kind,
            ssrc: init.ssrc,
            mid,
            audio_level_ext,
        });
    }

    fn track_closed(&mut self, track_id: &str) {
        if let Some(t) = self.tracks.remove(track_id) {
            end(t);
        }
    }

    /// Sends every datagram the connection produced.
    /// Queues what the connection wrote into `out` (sent at the end of the loop's pass).
    pub fn flush(&mut self, out: &mut SendBatch) {
        while let Some(msg) = self.pc.poll_write() {
            let t = msg.transport;
            self.attachment
                .queue(out, t.local_addr.ip(), t.peer_addr, msg.message);
        }
    }

    pub fn close(mut self, out: &mut SendBatch) {
        self.connected.store(false, Relaxed);
        if let Err(e) = self.pc.close() {
            tracing::debug!("closing a connection: {e}");
        }
        // Tells the site (DTLS close) before the routes go with the attachment.
        self.flush(out);
        for (_, t) in self.tracks.drain() {
            end(t);
        }
    }
}

/// A received track is gone: its publication ends.
fn end(t: Ingress) {
    if let Some(published) = t.published.and_then(|p| p.upgrade()) {
        published.cancel.cancel();
    }
}
