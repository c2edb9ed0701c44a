//! One connected site: its control task holds the site's two peer connections (publish: the client
//! offers; subscribe: the server offers), both driven by the media driver, and its down-tracks.
//! Everything that changes them, the client's messages, arriving tracks, connection states and the
//! close, comes through one channel, and room changes through one coalescing wake-up (`resync`);
//! the one task handles them in turn, so negotiation needs no locks: at most one subscribe offer
//! is outstanding, and changes that arrive meanwhile are folded into the next.
//! Its chairing messages are handled in `participant_chair.rs`.

use super::Shared;
use super::downtrack::DownTrack;
use super::driver::{Connection, Events, TrackInfo};
use super::engine::{self, Direction};
use super::forward::{Origin, PublishedTrack};
use super::room::Room;
use crate::metrics::{Gauge, Kind};
use crate::signal::liveness::MediaHealth;
use crate::signal::protocol::{
    Candidate, ClientMsg, ErrorCode, LeaveReason, MediaKind, PcKind, ServerMsg, TrackSource,
};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;
use uuid::Uuid;

/// What the control task of a participant acts on.
pub enum Control {
    /// A client message (after `join`).
    Client(ClientMsg),
    /// The publish connection received a track.
    Track(TrackInfo),
    /// Leave the room, with the reason given to the others.
    Close(LeaveReason),
    /// One of the two peer connections reached `connected`.
    MediaConnected,
}

/// Passes a connection's events (from inside the media driver) to the participant's control
/// channel, and its state to the participant's [`MediaState`](super::MediaState). Never waits:
/// a full channel hands the message to a task that does.
pub struct ConnEvents {
    pub kind: PcKind,
    pub ctl: mpsc::Sender<Control>,
    pub media: Arc<super::MediaState>,
}

impl ConnEvents {
    fn send(&self, msg: Control) {
        if let Err(mpsc::error::TrySendError::Full(msg)) = self.ctl.try_send(msg) {
            let ctl = self.ctl.clone();
            tokio::spawn(async move { ctl.send(msg).await });
        }
    }
}

impl Events for ConnEvents {
    fn state(&self, state: RTCPeerConnectionState) {
        let health = match state {
            RTCPeerConnectionState::Connected => {
                self.send(Control::MediaConnected);
                MediaHealth::Connected
            }
            RTCPeerConnectionState::Disconnected => MediaHealth::Disconnected,
            RTCPeerConnectionState::Failed => MediaHealth::Failed,
            _ => return,
        };
        self.media.set(self.kind, health);
    }

    fn track(&self, track: TrackInfo) {
        if self.kind == PcKind::Publish {
            self.send(Control::Track(track));
        }
    }
}

pub struct Participant {
    pub id: Uuid,
    pub site_id: String,
    pub site_name: String,
    pub room: Arc<Room>,
    pub shared: Arc<Shared>,
    pub out: mpsc::Sender<ServerMsg>,
    pub ctl: mpsc::Sender<Control>,
    /// The room's tracks or layouts changed: reconcile subscriptions (see `Member::resync`).
    pub resync: Arc<tokio::sync::Notify>,
    pub media: Arc<super::MediaState>,
    pub subscribe: Connection,
    pub publish: Option<Connection>,
    pub down: HashMap<(Uuid, MediaKind, TrackSource), DownTrack>,
    pub own: Vec<Arc<PublishedTrack>>,
    pub offer_pending: bool,
    pub dirty: bool,
    /// An ICE restart was asked for: the next subscribe offer carries new ICE credentials.
    pub restart: bool,
    /// The ICE ufrags of the (publish, subscribe) connections whose candidates were last
    /// trickled.
    pub trickled_ufrag: (Option<String>, Option<String>),
    /// The m-line (mid) of the publish connection that carries the site's screen (`share_screen`).
    pub content_mid: Option<String>,
    pub _gauges: (Gauge, Gauge),
}

impl Participant {
    /// Runs until the participant leaves; then everything it held is released.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Control>) {
        let mut reason = LeaveReason::Drop;
        let resync = self.resync.clone();
        loop {
            let msg = tokio::select! {
                msg = rx.recv() => msg,
                () = resync.notified() => {
                    self.sync().await;
                    continue;
                }
            };
            let Some(msg) = msg else { break };
            match msg {
                Control::Close(r) => {
                    reason = r;
                    break;
                }
                Control::Client(m) => self.on_client(m).await,
                Control::Track(t) => self.on_track(t).await,
                Control::MediaConnected => self.shared.emit(super::SfuEvent::MediaConnected {
                    session_id: self.room.session_id.clone(),
                    site_id: self.site_id.clone(),
                    participant_id: self.id,
                }),
            }
        }
        self.leave(reason).await;
    }

    pub(super) fn error(&self, code: ErrorCode, message: impl Into<String>) {
        let _ = self.out.try_send(ServerMsg::Error {
            code,
            message: message.into(),
        });
    }

    async fn on_client(&mut self, msg: ClientMsg) {
        match msg {
            ClientMsg::PublishOffer { sdp } => self.on_publish_offer(sdp).await,
            ClientMsg::SubscribeAnswer { sdp } => self.on_subscribe_answer(sdp).await,
            ClientMsg::IceCandidate { pc, candidate } => {
                let init = RTCIceCandidateInit {
                    candidate: candidate.candidate,
                    sdp_mid: candidate.sdp_mid,
                    sdp_mline_index: candidate.sdp_mline_index,
                    username_fragment: candidate.username_fragment,
                    ..Default::default()
                };
                let refused = match pc {
                    PcKind::Subscribe => self
                        .subscribe
                        .add_remote_candidate(init)
                        .await
                        .err()
                        .map(|e| e.to_string()),
                    PcKind::Publish => {
                        let Some(target) = self.publish.as_ref() else {
                            return self.error(
                                ErrorCode::BadCandidate,
                                "no publish connection yet: send publish_offer first",
                            );
                        };
                        target
                            .add_remote_candidate(init)
                            .await
                            .err()
                            .map(|e| e.to_string())
                    }
                };
                if let Some(e) = refused {
                    self.error(ErrorCode::BadCandidate, format!("candidate refused: {e}"));
                }
            }
            ClientMsg::Mute { .. }
            | ClientMsg::RaiseHand
            | ClientMsg::LowerHand { .. }
            | ClientMsg::GiveFloor { .. }
            | ClientMsg::RevokeFloor
            | ClientMsg::SetMute { .. }
            | ClientMsg::MuteAll
            | ClientMsg::Subscribe { .. }
            | ClientMsg::SetJoinMuted { .. }
            | ClientMsg::ShareScreen { .. }
            | ClientMsg::StopShare { .. } => self.on_chair(msg),
            ClientMsg::Ping => {
                let _ = self.out.send(ServerMsg::Pong).await;
            }
            ClientMsg::Join { .. } => {
                self.error(ErrorCode::AlreadyJoined, "this socket has joined already")
            }
            ClientMsg::Leave => {} // handled by the socket task, which sends Close
            ClientMsg::Recording { .. } => {} // handled by the socket task (`record::control`)
            ClientMsg::SetAgendaItem { .. } => {} // handled by the socket task (`signal::agenda`)
            ClientMsg::IceRestart { pc } => self.on_ice_restart(pc).await,
        }
    }

    async fn on_publish_offer(&mut self, sdp: String) {
        let offer = match RTCSessionDescription::offer(sdp) {
            Ok(o) => o,
            Err(e) => {
                return self.error(
                    ErrorCode::BadSdp,
                    format!("publish offer does not parse: {e}"),
                );
            }
        };
        if self.publish.is_none() {
            let events = Box::new(ConnEvents {
                kind: PcKind::Publish,
                ctl: self.ctl.clone(),
                media: self.media.clone(),
            });
            match self.shared.driver.open(Direction::Receive, events).await {
                Ok(pc) => self.publish = Some(pc),
                Err(e) => {
                    return self.error(
                        ErrorCode::Internal,
                        format!("cannot open the publish connection: {e}"),
                    );
                }
            }
        }
        let publish = self.publish.as_ref().expect("publish connection");
        let sdp = match publish.answer(offer, super::dtx::with_opus_dtx).await {
            Ok(sdp) => sdp,
            Err(e) => return self.error(ErrorCode::BadSdp, format!("publish offer refused: {e}")),
        };
        let candidates = self.trickle(PcKind::Publish, &sdp);
        let _ = self.out.send(ServerMsg::PublishAnswer { sdp }).await;
        for msg in candidates {
            let _ = self.out.send(msg).await;
        }
        self.end_stopped_tracks().await;
    }

    /// After a publish renegotiation: a track whose transceiver no longer receives (the site
    /// removed it, or set it inactive) has ended, though the stack reports no end for it.
    async fn end_stopped_tracks(&mut self) {
        let Some(publish) = &self.publish else { return };
        let Ok(live) = publish.receiving_tracks().await else {
            return;
        };
        let (kept, ended): (Vec<_>, Vec<_>) = std::mem::take(&mut self.own)
            .into_iter()
            .partition(|t| live.contains(&t.remote_track_id));
        self.own = kept;
        for track in ended {
            track.cancel.cancel();
            self.room.unpublish(&track);
        }
    }

    async fn on_subscribe_answer(&mut self, sdp: String) {
        if !self.offer_pending {
            return self.error(
                ErrorCode::UnexpectedAnswer,
                "no subscribe_offer is outstanding",
            );
        }
        tracing::debug!(site = %self.site_id, %sdp, "subscribe answer");
        let answer = match RTCSessionDescription::answer(sdp) {
            Ok(a) => a,
            Err(e) => {
                return self.error(
                    ErrorCode::BadSdp,
                    format!("subscribe answer does not parse: {e}"),
                );
            }
        };
        if let Err(e) = self.subscribe.set_answer(answer).await {
            return self.error(ErrorCode::BadSdp, format!("subscribe answer refused: {e}"));
        }
        self.offer_pending = false;
        for dt in self.down.values() {
            dt.on_negotiated();
        }
        if std::mem::take(&mut self.dirty) {
            self.sync().await;
        }
        if self.restart && !self.offer_pending {
            self.offer().await;
        }
    }

    async fn on_track(&mut self, info: TrackInfo) {
        let kind = match info.kind {
            RtpCodecKind::Audio => MediaKind::Audio,
            RtpCodecKind::Video => MediaKind::Video,
            _ => return,
        };
        tracing::info!(site = %self.site_id, ?kind, ssrc = info.ssrc, mid = ?info.mid, "publisher track");
        let Some(publish) = &self.publish else { return };
        let ssrc = info.ssrc;
        let mid = info.mid;
        let source = if kind == MediaKind::Video && mid.is_some() && mid == self.content_mid {
            TrackSource::Screen
        } else {
            TrackSource::Camera
        };
        // One track per kind and source: a new one replaces the old (a renegotiated camera).
        if let Some(pos) = self
            .own
            .iter()
            .position(|t| t.kind == kind && t.source == source)
        {
            let old = self.own.remove(pos);
            old.cancel.cancel();
            self.room.unpublish(&old);
        }
        let origin = Origin {
            session_id: self.room.session_id.clone(),
            owner: self.id,
            site_id: self.site_id.clone(),
            site_name: self.site_name.clone(),
            kind,
            source,
        };
        let track = PublishedTrack::new(
            origin,
            Box::new(publish.keyframes(info.track_id.clone())),
            info.track_id.clone(),
            ssrc,
            self.shared.metrics.clone(),
        );
        if kind == MediaKind::Audio {
            let ext = info.audio_level_ext;
            let room = Arc::downgrade(&self.room);
            let site = self.site_id.clone();
            track.detect_speaking(ext, move |speaking| {
                if let Some(room) = room.upgrade() {
                    room.speaking(&site, speaking);
                }
            });
        }
        let room = self.room.clone();
        let weak = Arc::downgrade(&track);
        let shared = self.shared.clone();
        let (session_id, site_id) = (self.room.session_id.clone(), self.site_id.clone());
        let bound = publish
            .bind_track(info.track_id, Arc::downgrade(&track))
            .await;
        track.start(self.shared.settings.keyframe_min_interval, move || {
            if let Some(t) = weak.upgrade() {
                room.unpublish(&t);
            }
            shared.emit(super::SfuEvent::TrackEnded {
                session_id,
                site_id,
                kind,
            });
        });
        if kind == MediaKind::Video {
            let after = self.shared.settings.pause_unwatched_after;
            super::pause::spawn(&track, after, self.out.clone());
        }
        if bound.is_err() {
            // The connection closed meanwhile.
            track.cancel.cancel();
            return;
        }
        self.own.push(track.clone());
        self.shared.tap_if_recording(&track, &self.room.session_id);
        self.room.publish(track);
        self.shared.emit(super::SfuEvent::TrackPublished {
            session_id: self.room.session_id.clone(),
            site_id: self.site_id.clone(),
            kind,
        });
    }

    /// Brings the subscribe connection in line with the room's tracks and offers the change.
    async fn sync(&mut self) {
        if self.offer_pending {
            self.dirty = true;
            return;
        }
        let wanted = self.room.tracks_for(self.id);
        let stale: Vec<_> = self
            .down
            .iter()
            .filter(|(_, dt)| !wanted.iter().any(|t| Arc::ptr_eq(t, &dt.published)))
            .map(|(k, _)| *k)
            .collect();
        let mut changed = false;
        for key in stale {
            if let Some(dt) = self.down.remove(&key) {
                // Stop forwarding first (what is still queued for the sender is dropped).
                let sender = dt.sender;
                drop(dt);
                if let Err(e) = self.subscribe.remove_track(sender).await {
                    tracing::debug!("remove_track: {e}");
                }
                changed = true;
            }
        }
        for track in wanted {
            let key = (track.owner, track.kind, track.source);
            if self
                .down
                .get(&key)
                .is_some_and(|dt| Arc::ptr_eq(&dt.published, &track))
            {
                continue;
            }
            match self.add_down_track(&track).await {
                Ok(dt) => {
                    self.down.insert(key, dt);
                    changed = true;
                }
                Err(e) => {
                    tracing::warn!(site = %self.site_id, "cannot forward {}: {e}", track.track_id)
                }
            }
        }
        if changed {
            self.offer().await;
        }
    }

    async fn add_down_track(
        &self,
        track: &Arc<PublishedTrack>,
    ) -> Result<DownTrack, super::driver::DriverError> {
        let kind = match track.kind {
            MediaKind::Audio => RtpCodecKind::Audio,
            MediaKind::Video => RtpCodecKind::Video,
        };
        let ssrc: u32 = rand::random();
        let names = (
            track.stream_id.clone(),
            track.track_id.clone(),
            format!("{} ({})", track.site_name, kind),
        );
        let local = engine::sent_track(names, kind, ssrc);
        let (sender, down) = self
            .subscribe
            .add_track(local, Arc::downgrade(track))
            .await?;
        let driver = self.subscribe.driver();
        Ok(DownTrack::start(
            self.id,
            track.clone(),
            (driver, self.subscribe.id(), sender, down),
            self.subscribe.connected.clone(),
        ))
    }

    /// The site's network changed: a subscribe offer with new ICE credentials (after the one
    /// outstanding, if any). The participant, its tracks and its down-tracks stay.
    async fn on_ice_restart(&mut self, pc: PcKind) {
        if pc == PcKind::Publish {
            return self.error(
                ErrorCode::BadMessage,
                "the publish connection restarts with a publish_offer carrying new ICE credentials",
            );
        }
        self.restart = true;
        if !self.offer_pending {
            self.offer().await;
        }
    }

    async fn offer(&mut self) {
        let restart = std::mem::take(&mut self.restart);
        let sdp = match self.subscribe.offer(restart).await {
            Ok(sdp) => sdp,
            Err(e) => {
                return self.error(
                    ErrorCode::Internal,
                    format!("cannot create the subscribe offer: {e}"),
                );
            }
        };
        tracing::debug!(site = %self.site_id, %sdp, "subscribe offer");
        self.offer_pending = true;
        let candidates = self.trickle(PcKind::Subscribe, &sdp);
        let _ = self.out.send(ServerMsg::SubscribeOffer { sdp }).await;
        for msg in candidates {
            let _ = self.out.send(msg).await;
        }
    }

    /// The candidate messages that follow an offer or answer of connection `pc` carrying new
    /// ICE credentials (the first one, a restart): its candidates trickled, for clients that
    /// learn candidates only that way. Nothing when the credentials are those already trickled.
    fn trickle(&mut self, pc: PcKind, sdp: &str) -> Vec<ServerMsg> {
        let ufrag = super::udp::advertise::ice_credentials(sdp).map(|(u, _)| u.to_owned());
        let last = match pc {
            PcKind::Publish => &mut self.trickled_ufrag.0,
            PcKind::Subscribe => &mut self.trickled_ufrag.1,
        };
        if ufrag.is_none() || ufrag == *last {
            return Vec::new();
        }
        // (A description without media sections has no candidates yet.)
        let candidates = super::udp::advertise::candidates(sdp);
        if !candidates.is_empty() {
            last.clone_from(&ufrag);
        }
        let mid = sdp
            .lines()
            .find_map(|l| l.trim_end().strip_prefix("a=mid:"))
            .map(str::to_owned);
        candidates
            .into_iter()
            .map(|candidate| ServerMsg::IceCandidate {
                pc,
                candidate: Candidate {
                    candidate,
                    sdp_mid: mid.clone(),
                    sdp_mline_index: Some(0),
                    username_fragment: ufrag.clone(),
                },
            })
            .collect()
    }

    async fn leave(mut self, reason: LeaveReason) {
        if reason == LeaveReason::Replaced {
            self.error(
                ErrorCode::Replaced,
                "this site joined from another connection",
            );
        }
        for track in std::mem::take(&mut self.own) {
            track.cancel.cancel();
            self.room.unpublish(&track);
        }
        self.room.remove(self.id, reason);
        self.down.clear();
        // The connections close when they are dropped, with the participant.
        self.shared.emit(super::SfuEvent::Left {
            session_id: self.room.session_id.clone(),
            site_id: self.site_id.clone(),
            participant_id: self.id,
            reason,
        });
        self.shared.forget_room_if_empty(&self.room);
    }
}

/// The gauges a participant holds while it exists.
pub fn gauges(shared: &Shared) -> (Gauge, Gauge) {
    (
        shared.metrics.hold(Kind::Participant),
        shared.metrics.hold(Kind::Task),
    )
}
