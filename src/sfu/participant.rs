//! One connected site: its control task owns the site's two peer connections (publish: the client
//! offers; subscribe: the server offers) and its down-tracks. Everything that changes them, the
//! client's messages, local ICE candidates, arriving tracks and the close, comes through one
//! channel, and room changes through one coalescing wake-up (`resync`); the one task handles them
//! in turn, so negotiation needs no locks: at most one subscribe offer is outstanding, and
//! changes that arrive meanwhile are folded into the next.
//! Its chairing messages are handled in `participant_chair.rs`.

use super::Shared;
use super::downtrack::DownTrack;
use super::egress::{StateHandler, SubConn};
use super::engine::{self, Pc};
use super::forward::{Origin, PublishedTrack};
use super::room::Room;
use crate::metrics::{Gauge, Kind};
use crate::signal::liveness::MediaHealth;
use crate::signal::protocol::{
    Candidate, ClientMsg, ErrorCode, LeaveReason, MediaKind, PcKind, ServerMsg, TrackSource,
};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;
use uuid::Uuid;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnectionEventHandler, RTCPeerConnectionIceEvent, RTCPeerConnectionState,
};

/// What the control task of a participant acts on.
pub enum Control {
    /// A client message (after `join`).
    Client(ClientMsg),
    /// A local ICE candidate gathered by one of the two connections.
    LocalCandidate(PcKind, Candidate),
    /// The publisher connection received a track.
    Track(Arc<dyn TrackRemote>),
    /// Leave the room, with the reason given to the others.
    Close(LeaveReason),
    /// One of the two peer connections reached `connected`.
    MediaConnected,
}

/// Forwards a peer connection's events into the control channel, and its connection state
/// into the participant's [`MediaState`](super::MediaState).
pub struct PcHandler {
    pub kind: PcKind,
    pub ctl: mpsc::Sender<Control>,
    pub media: Arc<super::MediaState>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for PcHandler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        match event.candidate.to_json() {
            Ok(init) => {
                let c = Candidate {
                    candidate: init.candidate,
                    sdp_mid: init.sdp_mid,
                    sdp_mline_index: init.sdp_mline_index,
                    username_fragment: init.username_fragment,
                };
                let _ = self.ctl.send(Control::LocalCandidate(self.kind, c)).await;
            }
            Err(e) => tracing::debug!("unusable local candidate: {e}"),
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        on_connection_state(self.kind, &self.ctl, &self.media, state);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        if self.kind == PcKind::Publish {
            let _ = self.ctl.send(Control::Track(track)).await;
        }
    }
}

/// A connection's state, told to the participant (`connected`) and its
/// [`MediaState`](super::MediaState). Never waits.
fn on_connection_state(
    kind: PcKind,
    ctl: &mpsc::Sender<Control>,
    media: &super::MediaState,
    state: RTCPeerConnectionState,
) {
    let health = match state {
        RTCPeerConnectionState::Connected => {
            if let Err(mpsc::error::TrySendError::Full(msg)) = ctl.try_send(Control::MediaConnected)
            {
                let ctl = ctl.clone();
                tokio::spawn(async move { ctl.send(msg).await });
            }
            MediaHealth::Connected
        }
        RTCPeerConnectionState::Disconnected => MediaHealth::Disconnected,
        RTCPeerConnectionState::Failed => MediaHealth::Failed,
        _ => return,
    };
    media.set(kind, health);
}

/// The state handler of a connection driven by the egress loop (see [`PcHandler`]).
pub fn state_handler(
    kind: PcKind,
    ctl: mpsc::Sender<Control>,
    media: Arc<super::MediaState>,
) -> StateHandler {
    Box::new(move |state| on_connection_state(kind, &ctl, &media, state))
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
    pub subscribe: SubConn,
    pub publish: Option<Pc>,
    pub down: HashMap<(Uuid, MediaKind, TrackSource), DownTrack>,
    pub own: Vec<Arc<PublishedTrack>>,
    pub offer_pending: bool,
    pub dirty: bool,
    /// An ICE restart was asked for: the next subscribe offer carries new ICE credentials.
    pub restart: bool,
    /// The subscribe connection's ICE ufrag whose candidates were last trickled.
    pub trickled_ufrag: Option<String>,
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
                Control::LocalCandidate(pc, candidate) => {
                    let _ = self
                        .out
                        .send(ServerMsg::IceCandidate { pc, candidate })
                        .await;
                }
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
                            .pc
                            .add_ice_candidate(init)
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
            let handler = Arc::new(PcHandler {
                kind: PcKind::Publish,
                ctl: self.ctl.clone(),
                media: self.media.clone(),
            });
            match engine::new_peer_connection(
                engine::Direction::Receive,
                &self.shared.settings,
                &self.shared.media,
                &self.shared.metrics,
                handler,
            )
            .await
            {
                Ok(pc) => self.publish = Some(pc),
                Err(e) => {
                    return self.error(
                        ErrorCode::Internal,
                        format!("cannot open the publish connection: {e}"),
                    );
                }
            }
        }
        let pc = &self.publish.as_ref().expect("publish pc").pc;
        if let Err(e) = pc.set_remote_description(offer).await {
            return self.error(ErrorCode::BadSdp, format!("publish offer refused: {e}"));
        }
        let answer = match pc.create_answer(None).await {
            Ok(a) => a,
            Err(e) => {
                return self.error(
                    ErrorCode::BadSdp,
                    format!("cannot answer the publish offer: {e}"),
                );
            }
        };
        let sdp = self
            .publish
            .as_ref()
            .expect("publish pc")
            .advertise(&super::dtx::with_opus_dtx(&answer.sdp));
        if let Err(e) = pc.set_local_description(answer).await {
            return self.error(
                ErrorCode::Internal,
                format!("cannot apply the publish answer: {e}"),
            );
        }
        let _ = self.out.send(ServerMsg::PublishAnswer { sdp }).await;
        self.end_stopped_tracks().await;
    }

    /// After a publish renegotiation: a track whose transceiver no longer receives (the site
    /// removed it, or set it inactive) has ended, though the stack reports no end for it.
    async fn end_stopped_tracks(&mut self) {
        let Some(publish) = &self.publish else { return };
        let mut live = Vec::new();
        for t in publish.pc.get_transceivers().await {
            let receiving = t.current_direction().await.is_ok_and(|d| d.has_recv());
            if receiving && let Ok(Some(r)) = t.receiver().await {
                live.push(r.track().track_id().await);
            }
        }
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

    async fn on_track(&mut self, remote: Arc<dyn TrackRemote>) {
        let kind = match remote.kind().await {
            RtpCodecKind::Audio => MediaKind::Audio,
            RtpCodecKind::Video => MediaKind::Video,
            _ => return,
        };
        let ssrcs = remote.ssrcs().await;
        let codec = remote
            .codec(ssrcs.first().copied().unwrap_or(0))
            .await
            .map(|c| c.mime_type);
        tracing::info!(site = %self.site_id, ?kind, ?ssrcs, ?codec, "publisher track");
        let Some(ssrc) = ssrcs.first().copied() else {
            return tracing::warn!(site = %self.site_id, "published track without SSRC ignored");
        };
        let mid = self.mid_of(&remote.track_id().await).await;
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
            remote.clone(),
            remote.track_id().await,
            ssrc,
            self.shared.metrics.clone(),
        );
        if kind == MediaKind::Audio {
            let ext = self.audio_level_id(&track.remote_track_id).await;
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
        self.own.push(track.clone());
        self.shared.tap_if_recording(&track, &self.room.session_id);
        self.room.publish(track);
        self.shared.emit(super::SfuEvent::TrackPublished {
            session_id: self.room.session_id.clone(),
            site_id: self.site_id.clone(),
            kind,
        });
    }

    /// The m-line of the publish connection that receives the track `remote_track_id`.
    async fn mid_of(&self, remote_track_id: &str) -> Option<String> {
        let publish = self.publish.as_ref()?;
        for t in publish.pc.get_transceivers().await {
            let Ok(Some(r)) = t.receiver().await else {
                continue;
            };
            if r.track().track_id().await == remote_track_id {
                return t.mid().await.ok().flatten();
            }
        }
        None
    }

    /// The id the publisher negotiated for the audio level extension on this track (0: none).
    async fn audio_level_id(&self, remote_track_id: &str) -> u8 {
        let Some(publish) = &self.publish else {
            return 0;
        };
        for t in publish.pc.get_transceivers().await {
            let Ok(Some(r)) = t.receiver().await else {
                continue;
            };
            if r.track().track_id().await != remote_track_id {
                continue;
            }
            if let Ok(p) = r.get_parameters().await {
                return p
                    .rtp_parameters
                    .header_extensions
                    .iter()
                    .find(|e| e.uri == super::speaker::AUDIO_LEVEL_URI)
                    .and_then(|e| u8::try_from(e.id).ok())
                    .unwrap_or(0);
            }
        }
        0
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
    ) -> Result<DownTrack, super::egress::EgressError> {
        let kind = match track.kind {
            MediaKind::Audio => RtpCodecKind::Audio,
            MediaKind::Video => RtpCodecKind::Video,
        };
        let ssrc: u32 = rand::random();
        let local = MediaStreamTrack::new(
            track.stream_id.clone(),
            track.track_id.clone(),
            format!("{} ({})", track.site_name, kind),
            kind,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec: engine::codec(kind),
                ..Default::default()
            }],
        );
        let (sender, down) = self
            .subscribe
            .add_track(local, Arc::downgrade(track))
            .await?;
        let egress = self.subscribe.egress();
        Ok(DownTrack::start(
            self.id,
            track.clone(),
            (egress, self.subscribe.id(), sender, down),
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
        // New ICE credentials (the first offer, a restart): the candidates are trickled too, as
        // for the publish connection, for clients that learn candidates only that way.
        let ufrag = super::udp::advertise::ice_credentials(&sdp).map(|(u, _)| u.to_owned());
        let mut trickle = Vec::new();
        if ufrag.is_some() && ufrag != self.trickled_ufrag {
            // (An offer without media sections has no candidates yet.)
            trickle = super::udp::advertise::candidates(&sdp);
            if !trickle.is_empty() {
                self.trickled_ufrag.clone_from(&ufrag);
            }
        }
        let mid = sdp
            .lines()
            .find_map(|l| l.trim_end().strip_prefix("a=mid:"))
            .map(str::to_owned);
        let _ = self.out.send(ServerMsg::SubscribeOffer { sdp }).await;
        for candidate in trickle {
            let candidate = Candidate {
                candidate,
                sdp_mid: mid.clone(),
                sdp_mline_index: Some(0),
                username_fragment: ufrag.clone(),
            };
            let msg = ServerMsg::IceCandidate {
                pc: PcKind::Subscribe,
                candidate,
            };
            let _ = self.out.send(msg).await;
        }
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
        if let Some(p) = &self.publish {
            p.close().await;
        }
        // The subscribe connection closes when it is dropped, with the participant.
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
