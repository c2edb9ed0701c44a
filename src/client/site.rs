//! The Rust client of signaling protocol v1: a site that joins with a token, publishes one Opus
//! and one VP8 track of pre-packetised RTP (what the tests and the load tester send), and receives
//! every other site's tracks. It can also share a screen (a second, content video track) and send
//! audio levels (`site/share.rs`). The bare WebSocket half is [`Signaling`] (`signaling.rs`).

pub use super::signaling::{ClientError, Incoming, Signaling};
use crate::metrics::RtcpCounters;
use crate::sfu::engine;
use crate::signal::protocol::{
    Candidate, ClientMsg, MediaKind, PROTOCOL_VERSION, PcKind, ServerMsg,
};
use futures_util::{SinkExt, StreamExt};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, mpsc};
use tokio_tungstenite::tungstenite::Message;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionEventHandler, RTCPeerConnectionIceEvent,
};

/// One RTP packet a client received, with the track it came on.
#[derive(Debug, Clone)]
pub struct Received {
    pub stream_id: String,
    pub track_id: String,
    pub kind: MediaKind,
    pub packet: rtp::Packet,
    pub at: Instant,
}

struct Handler {
    kind: PcKind,
    ws_tx: mpsc::Sender<ClientMsg>,
    received: mpsc::Sender<Received>,
    dropped: Arc<AtomicU64>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(init) = event.candidate.to_json() {
            let candidate = Candidate {
                candidate: init.candidate,
                sdp_mid: init.sdp_mid,
                sdp_mline_index: init.sdp_mline_index,
                username_fragment: init.username_fragment,
            };
            let _ = self
                .ws_tx
                .send(ClientMsg::IceCandidate {
                    pc: self.kind,
                    candidate,
                })
                .await;
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        if self.kind != PcKind::Subscribe {
            return;
        }
        let received = self.received.clone();
        let dropped = self.dropped.clone();
        tokio::spawn(async move {
            let mut stream_id = track.stream_id().await;
            let mut track_id = track.track_id().await;
            let mut ssrc = None;
            let kind = if track.kind().await == RtpCodecKind::Audio {
                MediaKind::Audio
            } else {
                MediaKind::Video
            };
            while let Some(event) = track.poll().await {
                match event {
                    TrackRemoteEvent::OnRtpPacket(packet) => {
                        // A renegotiation may give this receiver another sender's track.
                        if ssrc.replace(packet.header.ssrc) != Some(packet.header.ssrc) {
                            stream_id = track.stream_id().await;
                            track_id = track.track_id().await;
                        }
                        let r = Received {
                            stream_id: stream_id.clone(),
                            track_id: track_id.clone(),
                            kind,
                            packet,
                            at: Instant::now(),
                        };
                        if received.try_send(r).is_err() {
                            dropped.fetch_add(1, Relaxed);
                        }
                    }
                    TrackRemoteEvent::OnEnded => break,
                    _ => {}
                }
            }
        });
    }
}

/// A local track the client publishes, with its RTP numbering.
struct Outgoing {
    track: Arc<TrackLocalStaticRTP>,
    sender: Option<Arc<dyn webrtc::rtp_transceiver::RtpSender>>,
    ssrc: u32,
    pt: u8,
    seq: u16,
    ts: u32,
    ts_step: u32,
}

impl Outgoing {
    /// The next packet of this track: the sequence number advances by one, the timestamp by
    /// `ts_advance` (`None`: one frame's step).
    fn next(
        &mut self,
        payload: bytes::Bytes,
        marker: bool,
        ts_advance: Option<u32>,
    ) -> rtp::Packet {
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(ts_advance.unwrap_or(self.ts_step));
        rtp::Packet {
            header: rtp::header::Header {
                version: 2,
                marker,
                payload_type: self.pt,
                sequence_number: self.seq,
                timestamp: self.ts,
                ssrc: self.ssrc,
                ..Default::default()
            },
            payload,
        }
    }
}

/// A site connected to a session: signaling plus both peer connections.
mod ice;
mod share;
use ice::server_candidates;

pub struct SiteClient {
    pub participant_id: String,
    pub joined: ServerMsg,
    ws_tx: mpsc::Sender<ClientMsg>,
    messages: mpsc::Receiver<ServerMsg>,
    received: mpsc::Receiver<Received>,
    /// Packets the client could not queue for the test (it read too slowly).
    pub dropped: Arc<AtomicU64>,
    /// Keyframe requests (PLI/FIR) the server sent for this site's video.
    pub keyframe_requests: Arc<AtomicU64>,
    /// RTCP feedback both connections received and sent (NACKs, keyframe requests).
    pub rtcp: Arc<RtcpCounters>,
    publish: Arc<dyn PeerConnection>,
    subscribe: Arc<dyn PeerConnection>,
    audio: Mutex<Outgoing>,
    video: Mutex<Outgoing>,
    /// The shared screen, while the site shares (`share.rs`).
    screen: Mutex<Option<Outgoing>>,
    /// The audio level extension's id on the publish connection, once read (`share.rs`).
    level_ext: std::sync::atomic::AtomicU8,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl SiteClient {
    /// Connects to `ws_url` (`ws://host:port/ws`), joins with `token` and publishes audio + video.
    /// Local sockets bind to `bind_ip`.
    pub async fn join(
        ws_url: &str,
        token: &str,
        bind_ip: std::net::IpAddr,
    ) -> Result<Self, ClientError> {
        Self::join_with(ws_url, token, bind_ip, true).await
    }

    /// As [`SiteClient::join`]; with `publish` false the site only receives (a viewer): it sends
    /// no publish offer and [`SiteClient::send`] fails.
    pub async fn join_with(
        ws_url: &str,
        token: &str,
        bind_ip: std::net::IpAddr,
        publish_media: bool,
    ) -> Result<Self, ClientError> {
        let mut sig = Signaling::connect(ws_url).await?;
        sig.send(&ClientMsg::Join {
            v: PROTOCOL_VERSION,
            token: token.to_string(),
        })
        .await?;
        let mut next = sig.recv_timeout(Duration::from_secs(10)).await?;
        // TURN servers come before `joined` when the server has them; this client connects
        // directly.
        while let Incoming::Msg(ServerMsg::IceServers { .. }) = next {
            next = sig.recv_timeout(Duration::from_secs(10)).await?;
        }
        let joined = match next {
            Incoming::Msg(m @ ServerMsg::Joined { .. }) => m,
            Incoming::Msg(ServerMsg::Error { code, message }) => {
                return Err(ClientError::Server { code, message });
            }
            other => {
                return Err(ClientError::Protocol(format!(
                    "expected joined, got {other:?}"
                )));
            }
        };
        let ServerMsg::Joined { participant_id, .. } = &joined else {
            unreachable!()
        };
        let participant_id = participant_id.clone();

        let (ws_tx, mut ws_rx) = mpsc::channel::<ClientMsg>(256);
        let (received_tx, received) = mpsc::channel(65_536);
        let dropped = Arc::new(AtomicU64::new(0));
        let addr = SocketAddr::new(bind_ip, 0);
        let handler = |kind| {
            Arc::new(Handler {
                kind,
                ws_tx: ws_tx.clone(),
                received: received_tx.clone(),
                dropped: dropped.clone(),
            }) as Arc<dyn PeerConnectionEventHandler>
        };
        let rtcp = Arc::new(RtcpCounters::default());
        let publish =
            engine::build(addr, &[], handler(PcKind::Publish), Some(rtcp.clone())).await?;
        let subscribe =
            engine::build(addr, &[], handler(PcKind::Subscribe), Some(rtcp.clone())).await?;

        let add = publish_media.then_some(&publish);
        let audio = Self::add_track(add, RtpCodecKind::Audio, &participant_id).await?;
        let video = Self::add_track(add, RtpCodecKind::Video, &participant_id).await?;
        if publish_media {
            // The offer is queued before gathering starts, so no candidate can precede it.
            let offer = publish.create_offer(None).await?;
            ws_tx
                .send(ClientMsg::PublishOffer {
                    sdp: offer.sdp.clone(),
                })
                .await
                .map_err(|_| ClientError::Protocol("socket closed".into()))?;
            publish.set_local_description(offer).await?;
        }

        let (msg_tx, messages) = mpsc::channel(4096);
        let (sink_ws, stream_ws) = {
            let Signaling { ws } = sig;
            ws.split()
        };
        let writer = tokio::spawn(async move {
            let mut sink = sink_ws;
            while let Some(msg) = ws_rx.recv().await {
                let text = serde_json::to_string(&msg).expect("serialize");
                let leave = msg == ClientMsg::Leave;
                if sink.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
                if leave {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let keyframe_requests = Arc::new(AtomicU64::new(0));
        let pli_watch = (video.track.clone(), keyframe_requests.clone());
        let reader = tokio::spawn(Self::read_loop(
            stream_ws,
            publish.clone(),
            subscribe.clone(),
            ws_tx.clone(),
            msg_tx,
            pli_watch,
        ));
        Ok(SiteClient {
            participant_id,
            joined,
            ws_tx,
            messages,
            received,
            dropped,
            keyframe_requests,
            rtcp,
            publish,
            subscribe,
            audio: Mutex::new(audio),
            video: Mutex::new(video),
            screen: Mutex::new(None),
            level_ext: Default::default(),
            tasks: vec![writer, reader],
        })
    }

    /// A local track; added to `pc` when given (a viewer's tracks stay unbound).
    async fn add_track(
        pc: Option<&Arc<dyn PeerConnection>>,
        kind: RtpCodecKind,
        stream: &str,
    ) -> Result<Outgoing, ClientError> {
        let ssrc: u32 = rand::random();
        let codec = engine::codec(kind);
        let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            stream.to_string(),
            format!("{stream}-{kind}"),
            format!("{kind}"),
            kind,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec: codec.clone(),
                ..Default::default()
            }],
        )));
        let sender = match pc {
            Some(pc) => Some(pc.add_track(track.clone() as Arc<dyn TrackLocal>).await?),
            None => None,
        };
        let ts_step = if kind == RtpCodecKind::Audio {
            960
        } else {
            3000
        };
        Ok(Outgoing {
            track,
            sender,
            ssrc,
            pt: engine::payload_type(kind),
            seq: rand::random(),
            ts: rand::random(),
            ts_step,
        })
    }

    /// Applies the server's SDP and candidates in order; passes every message on to `messages`.
    async fn read_loop(
        mut stream: futures_util::stream::SplitStream<
            tokio_tungstenite::WebSocketStream<
                tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
            >,
        >,
        publish: Arc<dyn PeerConnection>,
        subscribe: Arc<dyn PeerConnection>,
        ws_tx: mpsc::Sender<ClientMsg>,
        messages: mpsc::Sender<ServerMsg>,
        pli_watch: (Arc<TrackLocalStaticRTP>, Arc<AtomicU64>),
    ) {
        let mut watching = false;
        while let Some(Ok(frame)) = stream.next().await {
            let Message::Text(text) = frame else { continue };
            let Ok(msg) = serde_json::from_str::<ServerMsg>(&text) else {
                continue;
            };
            let result: Result<(), ClientError> = async {
                match &msg {
                    ServerMsg::PublishAnswer { sdp } => {
                        publish
                            .set_remote_description(RTCSessionDescription::answer(sdp.clone())?)
                            .await?;
                        if !std::mem::replace(&mut watching, true) {
                            // The video track is bound now: count the server's keyframe requests.
                            let (track, count) = pli_watch.clone();
                            tokio::spawn(async move {
                                while let Some(event) = track.poll().await {
                                    if let TrackLocalEvent::OnRtcpPacket(packets) = event
                                        && packets.iter().any(|p| {
                                            p.as_any().is::<PictureLossIndication>()
                                                || p.as_any().is::<FullIntraRequest>()
                                        })
                                    {
                                        count.fetch_add(1, Relaxed);
                                    }
                                }
                            });
                        }
                    }
                    ServerMsg::SubscribeOffer { sdp } => {
                        subscribe
                            .set_remote_description(RTCSessionDescription::offer(sdp.clone())?)
                            .await?;
                        let answer = subscribe.create_answer(None).await?;
                        let _ = ws_tx
                            .send(ClientMsg::SubscribeAnswer {
                                sdp: answer.sdp.clone(),
                            })
                            .await;
                        subscribe.set_local_description(answer).await?;
                    }
                    ServerMsg::IceCandidate { pc, candidate } => {
                        let target = if *pc == PcKind::Publish {
                            &publish
                        } else {
                            &subscribe
                        };
                        target
                            .add_ice_candidate(RTCIceCandidateInit {
                                candidate: candidate.candidate.clone(),
                                sdp_mid: candidate.sdp_mid.clone(),
                                sdp_mline_index: candidate.sdp_mline_index,
                                username_fragment: candidate.username_fragment.clone(),
                                ..Default::default()
                            })
                            .await?;
                    }
                    _ => {}
                }
                Ok(())
            }
            .await;
            if let Err(e) = result {
                tracing::warn!("client: applying {msg:?}: {e}");
            }
            let _ = messages.try_send(msg);
        }
    }

    /// Sends one RTP packet on the audio or video track (sequence and timestamp advance by one
    /// packet / frame). Fails until the publish connection is negotiated.
    pub async fn send(&self, kind: MediaKind, payload: bytes::Bytes) -> Result<(), ClientError> {
        self.send_packet(kind, payload, true, None).await
    }

    /// Sends one RTP packet of a frame: the sequence number advances by one, the timestamp by
    /// `ts_advance` (`None`: one frame's step; `Some(0)` for the second and later packets of a
    /// frame); `marker` ends the frame.
    pub async fn send_packet(
        &self,
        kind: MediaKind,
        payload: bytes::Bytes,
        marker: bool,
        ts_advance: Option<u32>,
    ) -> Result<(), ClientError> {
        let out = if kind == MediaKind::Audio {
            &self.audio
        } else {
            &self.video
        };
        let (track, packet) = {
            let mut o = out.lock().await;
            let packet = o.next(payload, marker, ts_advance);
            (o.track.clone(), packet)
        };
        Ok(track.write_rtp(packet).await?)
    }

    /// Stops publishing one kind (the camera is unplugged, say): removes the track from the
    /// publish connection and renegotiates it. The other kind keeps flowing.
    pub async fn unpublish(&self, kind: MediaKind) -> Result<(), ClientError> {
        let out = if kind == MediaKind::Audio {
            &self.audio
        } else {
            &self.video
        };
        let Some(sender) = out.lock().await.sender.take() else {
            return Ok(());
        };
        self.publish.remove_track(&sender).await?;
        let offer = self.publish.create_offer(None).await?;
        let _ = self
            .ws_tx
            .send(ClientMsg::PublishOffer {
                sdp: offer.sdp.clone(),
            })
            .await;
        self.publish.set_local_description(offer).await?;
        Ok(())
    }

    /// The next packet received from another site.
    pub async fn recv_packet(&mut self, timeout: Duration) -> Option<Received> {
        tokio::time::timeout(timeout, self.received.recv())
            .await
            .ok()
            .flatten()
    }

    /// Takes the stream of received packets, for a task of its own (the client keeps sending);
    /// [`SiteClient::recv_packet`] then yields nothing.
    pub fn take_packets(&mut self) -> mpsc::Receiver<Received> {
        std::mem::replace(&mut self.received, mpsc::channel(1).1)
    }

    /// Takes the stream of signaling messages, for a task of its own; [`SiteClient::next_message`]
    /// then yields nothing.
    pub fn take_messages(&mut self) -> mpsc::Receiver<ServerMsg> {
        std::mem::replace(&mut self.messages, mpsc::channel(1).1)
    }

    /// Packets the client read but could not queue (its reader was too slow).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Relaxed)
    }

    /// For each connection (publish, then subscribe): whether an ICE pair is selected, and the
    /// addresses of the server's candidates it knows (where its media can go; a pair selected
    /// before the server's candidate arrived is peer-reflexive, learnt from the server's check,
    /// and is not listed in the statistics).
    pub async fn media_peers(&self) -> [(bool, Vec<SocketAddr>); 2] {
        [
            server_candidates(&*self.publish).await,
            server_candidates(&*self.subscribe).await,
        ]
    }

    /// Packets already received, without waiting.
    pub fn try_recv_packet(&mut self) -> Option<Received> {
        self.received.try_recv().ok()
    }

    /// The next signaling message (after `joined`).
    pub async fn next_message(&mut self, timeout: Duration) -> Option<ServerMsg> {
        tokio::time::timeout(timeout, self.messages.recv())
            .await
            .ok()
            .flatten()
    }

    /// Sends a protocol message as is.
    pub async fn send_msg(&self, msg: ClientMsg) {
        let _ = self.ws_tx.send(msg).await;
    }

    /// Vanishes without a goodbye, as a site whose network is cut or whose browser is killed:
    /// the socket is dropped (no `leave`, no close frame), then the peer connections are closed.
    pub async fn drop_connection(self) {
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
        let _ = self.publish.close().await;
        let _ = self.subscribe.close().await;
    }

    /// Leaves: `leave`, then both connections are closed.
    pub async fn leave(self) {
        let _ = self.ws_tx.send(ClientMsg::Leave).await;
        let _ = self.publish.close().await;
        let _ = self.subscribe.close().await;
        for t in &self.tasks[..1] {
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                while !t.is_finished() {
                    tokio::time::sleep(Duration::from_millis(10)).await
                }
            })
            .await;
        }
        for t in self.tasks {
            t.abort();
        }
    }
}
