//! The wire types of signaling protocol version 1 (see docs/protocol.md): serde-tagged enums with
//! a `type` field, one per direction, and the stable error codes. Pure data; no IO.

use serde::{Deserialize, Serialize};

pub const PROTOCOL_VERSION: u32 = 1;
/// Largest text frame the server accepts.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Which of a site's two peer connections a candidate belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PcKind {
    Publish,
    Subscribe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Audio,
    Video,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
        }
    }
}

/// Which of a site's tracks a track is: its own devices (`camera`: the room's microphone and
/// camera) or content it presents (`screen`: a shared screen or window, *trình chiếu*). Audio is
/// always `camera`.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TrackSource {
    #[default]
    Camera,
    Screen,
}

impl TrackSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TrackSource::Camera => "camera",
            TrackSource::Screen => "screen",
        }
    }
}

/// Why the screen share changed (`share_changed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShareReason {
    /// `site_id` started sharing; nobody shared before.
    Started,
    /// `site_id` started sharing and replaced `previous` (one share at a time).
    Replaced,
    /// `previous` stopped its own share.
    Stopped,
    /// A controller (the host site or a chair / operator user) stopped `previous`'s share.
    StoppedByController,
    /// `previous`'s screen track ended or the site left.
    Ended,
}

/// An ICE candidate as the browser's `RTCIceCandidate.toJSON()` writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    pub candidate: String,
    #[serde(default)]
    pub sdp_mid: Option<String>,
    #[serde(default, rename = "sdpMLineIndex")]
    pub sdp_mline_index: Option<u16>,
    #[serde(default)]
    pub username_fragment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMsg {
    Join {
        v: u32,
        token: String,
    },
    PublishOffer {
        sdp: String,
    },
    SubscribeAnswer {
        sdp: String,
    },
    IceCandidate {
        pc: PcKind,
        candidate: Candidate,
    },
    Mute {
        kind: MediaKind,
        muted: bool,
    },
    Ping,
    Leave,
    /// The host site starts (`active`) or stops the session's recording.
    Recording {
        active: bool,
    },
    /// The site's network changed: the server answers with a `subscribe_offer` carrying new ICE
    /// credentials (`pc` must be `subscribe`; the publish connection restarts with a
    /// `publish_offer` that carries new credentials).
    IceRestart {
        pc: PcKind,
    },
    /// Ask to speak (đăng ký phát biểu).
    RaiseHand,
    /// Lower the own hand; with `site_id`, a controller lowers another site's hand.
    LowerHand {
        #[serde(default)]
        site_id: Option<String>,
    },
    /// Controller: give the floor to `site_id`, or to the first in the queue when absent.
    GiveFloor {
        #[serde(default)]
        site_id: Option<String>,
    },
    /// Controller: take the floor back.
    RevokeFloor,
    /// Controller: mute or unmute a site's microphone (`audio`) or camera (`video`).
    SetMute {
        site_id: String,
        kind: MediaKind,
        muted: bool,
    },
    /// Controller: mute the microphone of every site but the host.
    MuteAll,
    /// Controller: whether sites join with their microphone muted by the chair.
    SetJoinMuted {
        on: bool,
    },
    /// What the page shows: `video` names the tiles (exactly those sites' video is sent), or,
    /// without it, the default layout with `page` of the host's grid.
    Subscribe {
        #[serde(default)]
        video: Option<Vec<TileRequest>>,
        #[serde(default)]
        page: Option<u32>,
    },
    /// The site starts sharing its screen: the video track on m-line `mid` of its publish
    /// connection is content. Sent just before the `publish_offer` that adds that track. A share
    /// of another site is replaced (one share at a time).
    ShareScreen {
        mid: String,
    },
    /// Stop a screen share: the own (no `site_id`, or the own), or, for a controller, the share
    /// of `site_id`.
    StopShare {
        #[serde(default)]
        site_id: Option<String>,
    },
    /// Controller: the session is on item `index` of its agenda (from 0); absent or `null`
    /// clears the current item.
    SetAgendaItem {
        #[serde(default)]
        index: Option<u32>,
    },
}

/// The agenda item a session is on (`agenda_item`, and the REST route's answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgendaNow {
    /// Its place in the session's agenda, from 0.
    pub index: u32,
    pub title: String,
    pub presenter: String,
    /// When it was marked current.
    pub since: chrono::DateTime<chrono::Utc>,
    /// Who marked it: `site:<id>` or `user:<name>`.
    pub by: String,
}

/// One tile of a `subscribe`: a site's video at a size in CSS pixels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TileRequest {
    pub site_id: String,
    pub width: u32,
    pub height: u32,
    /// The site's camera (default) or its shared screen (sent only while it shares).
    #[serde(default)]
    pub source: TrackSource,
}

/// Who holds a mute: the site itself, or a controller (the chair). A site cannot lift the chair's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MutedBy {
    #[default]
    Site,
    Chair,
}

/// A raised hand (đăng ký phát biểu), in the queue of `hands_changed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Hand {
    pub site_id: String,
    pub raised_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRef {
    pub id: String,
    pub title: String,
    /// The session's host site (điểm cầu chủ trì): it controls the session.
    #[serde(default)]
    pub host_site_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerInfo {
    pub participant_id: String,
    pub site_id: String,
    pub site_name: String,
    pub audio_muted: bool,
    pub video_muted: bool,
}

/// Why a participant left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    Leave,
    Drop,
    Replaced,
    ServerStop,
    /// The site's access was withdrawn while it was connected: its link re-issued or revoked,
    /// its invitation revoked, or the device credential it joined with revoked.
    Revoked,
    /// The session (or that occurrence of a series) was cancelled while the site was connected.
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    Joined {
        v: u32,
        participant_id: String,
        session: SessionRef,
        site: SiteRef,
        peers: Vec<PeerInfo>,
    },
    PublishAnswer {
        sdp: String,
    },
    SubscribeOffer {
        sdp: String,
    },
    IceCandidate {
        pc: PcKind,
        candidate: Candidate,
    },
    ParticipantJoined {
        participant_id: String,
        site_id: String,
        site_name: String,
    },
    ParticipantLeft {
        participant_id: String,
        site_id: String,
        reason: LeaveReason,
    },
    TrackPublished {
        participant_id: String,
        site_id: String,
        site_name: String,
        kind: MediaKind,
        stream_id: String,
        track_id: String,
        /// `screen`: the site's shared screen (its stream id differs from its camera's).
        #[serde(default)]
        source: TrackSource,
    },
    TrackEnded {
        participant_id: String,
        site_id: String,
        kind: MediaKind,
        stream_id: String,
        track_id: String,
        #[serde(default)]
        source: TrackSource,
    },
    /// A site's effective mute changed (also sent to the site itself, and after `joined` for
    /// every muted site). `participant_id` is empty for a site not connected.
    MuteChanged {
        participant_id: String,
        site_id: String,
        kind: MediaKind,
        muted: bool,
        #[serde(default)]
        by: MutedBy,
    },
    /// Nobody receives this site's video from `source` (no site's layout shows it and no
    /// recording runs) for a while: the site may stop encoding and sending it (`paused: true`)
    /// until it is wanted again (`paused: false`, sent at once; the server then asks for a
    /// keyframe). Saves the site's uplink and the server's work; a site that ignores it loses
    /// nothing.
    VideoPaused {
        source: TrackSource,
        paused: bool,
    },
    /// The queue of raised hands, first raised first (after every change, and after `joined`).
    HandsChanged {
        hands: Vec<Hand>,
    },
    /// Who holds the floor now (`null`: nobody), and who held it before.
    FloorChanged {
        site_id: Option<String>,
        #[serde(default)]
        previous: Option<String>,
    },
    /// A site started (`true`) or stopped speaking, from the audio levels it sends.
    Speaking {
        site_id: String,
        speaking: bool,
    },
    /// The session's chairing policy (after a change, and after `joined`).
    ChairPolicy {
        join_muted: bool,
        /// Tiles per page of the host's grid (`chair.grid_page_size`).
        #[serde(default)]
        page_size: u32,
    },
    Pong,
    Error {
        code: ErrorCode,
        message: String,
    },
    /// A recording of the session started (`active`: *Đang ghi hình*) or stopped; `error` says why
    /// it stopped when it was not asked to (a full disk).
    Recording {
        active: bool,
        recording_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// Who shares a screen now (`null`: nobody), who shared before, and why it changed (after
    /// every change, and after `joined`). The page of `previous` stops its capture.
    ShareChanged {
        site_id: Option<String>,
        #[serde(default)]
        previous: Option<String>,
        reason: ShareReason,
    },
    /// The TURN/STUN servers for this site's peer connections, with credentials valid until
    /// `expires_at` (Unix seconds); sent just before `joined` when the server has TURN configured.
    IceServers {
        servers: Vec<crate::turn::IceServer>,
        expires_at: i64,
    },
    /// The agenda item the session is on (`null`: none), after every change and after `joined`.
    AgendaItem {
        item: Option<AgendaNow>,
    },
}

/// Stable error codes (docs/protocol.md lists what each means and whether it closes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadJson,
    UnknownType,
    BadMessage,
    FrameTooLarge,
    UnsupportedVersion,
    NotJoined,
    AlreadyJoined,
    InvalidToken,
    TokenExpired,
    SessionNotFound,
    SessionCancelled,
    SiteNotInvited,
    BadSdp,
    UnexpectedAnswer,
    BadCandidate,
    Replaced,
    ServerStop,
    Internal,
    /// The site's link was re-issued or revoked while it was connected.
    LinkRevoked,
    /// The site's invitation was revoked while it was connected.
    InvitationRevoked,
    /// The device credential the site joined with was revoked (or a revoked one was presented).
    DeviceRevoked,
    /// The room does not open yet (see `join_opens_at` of `/api/join/{token}`).
    TooEarly,
    /// No `join` came within the join timeout after the socket opened.
    JoinTimeout,
    /// A control message (floor, mute of another site, layout of others, recording) from a site
    /// that does not control the session: only the host site does.
    NotController,
    /// A recording could not start or stop (classified session, already recording, ...).
    RecordingRefused,
    /// A control message names a site that is not invited to the session.
    UnknownSite,
    /// The floor was given to a site that is not connected.
    SiteNotConnected,
    /// `give_floor` without a site while no hand is raised.
    QueueEmpty,
    /// The site tried to unmute itself while the chair holds its mute.
    MutedByChair,
    /// `share_screen` from a site that shares already (one screen per site).
    AlreadySharing,
    /// `stop_share` while that site (or any site) does not share.
    NotSharing,
    /// `set_agenda_item` for a session whose agenda is empty.
    NoAgenda,
    /// `set_agenda_item` names an item past the end of the agenda.
    AgendaItemOutOfRange,
}

impl ErrorCode {
    /// The WebSocket close code that follows the error, for errors that end the connection.
    pub fn close_code(self) -> Option<u16> {
        match self {
            ErrorCode::FrameTooLarge => Some(1009),
            ErrorCode::UnsupportedVersion => Some(4400),
            ErrorCode::InvalidToken | ErrorCode::TokenExpired => Some(4401),
            ErrorCode::SiteNotInvited => Some(4403),
            ErrorCode::SessionNotFound => Some(4404),
            ErrorCode::SessionCancelled => Some(4410),
            ErrorCode::LinkRevoked | ErrorCode::InvitationRevoked | ErrorCode::DeviceRevoked => {
                Some(4403)
            }
            ErrorCode::TooEarly => Some(4425),
            ErrorCode::JoinTimeout => Some(4408),
            ErrorCode::Replaced => Some(4000),
            ErrorCode::ServerStop => Some(1001),
            _ => None,
        }
    }
}

/// Decodes a client frame, telling an unknown `type` apart from a malformed message.
pub fn decode_client(text: &str) -> Result<ClientMsg, (ErrorCode, String)> {
    match serde_json::from_str::<ClientMsg>(text) {
        Ok(msg) => Ok(msg),
        Err(err) => {
            let ty = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned));
            match ty {
                Some(t) if !KNOWN_CLIENT_TYPES.contains(&t.as_str()) => Err((
                    ErrorCode::UnknownType,
                    format!("unknown message type {t:?}"),
                )),
                _ => Err((ErrorCode::BadJson, format!("malformed message: {err}"))),
            }
        }
    }
}

const KNOWN_CLIENT_TYPES: &[&str] = &[
    "join",
    "recording",
    "publish_offer",
    "subscribe_answer",
    "ice_candidate",
    "mute",
    "ping",
    "leave",
    "ice_restart",
    "raise_hand",
    "lower_hand",
    "give_floor",
    "revoke_floor",
    "set_mute",
    "mute_all",
    "set_join_muted",
    "subscribe",
    "share_screen",
    "stop_share",
    "set_agenda_item",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `ClientMsg` variant is a known type (else a malformed message of a new type would be
    /// answered `unknown_type`) and nothing else is: serde's own error lists the variants.
    #[test]
    fn known_client_types_are_exactly_the_client_messages() {
        let err = serde_json::from_str::<ClientMsg>(r#"{"type":"no-such-type"}"#).unwrap_err();
        let text = err.to_string();
        let listed = text
            .split_once("expected one of")
            .map(|(_, rest)| rest)
            .unwrap_or_else(|| panic!("serde error without the variants: {text}"));
        let mut variants: Vec<&str> = listed.split('`').skip(1).step_by(2).collect();
        let mut known = KNOWN_CLIENT_TYPES.to_vec();
        variants.sort_unstable();
        known.sort_unstable();
        assert_eq!(known, variants);
    }

    #[test]
    fn client_messages_round_trip_with_documented_shapes() {
        let m = decode_client(r#"{"type":"join","v":1,"token":"abc"}"#).unwrap();
        assert_eq!(
            m,
            ClientMsg::Join {
                v: 1,
                token: "abc".into()
            }
        );
        let m = decode_client(
            r#"{"type":"ice_candidate","pc":"subscribe","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":null}}"#,
        )
        .unwrap();
        assert!(matches!(
            m,
            ClientMsg::IceCandidate {
                pc: PcKind::Subscribe,
                ..
            }
        ));
        assert_eq!(
            decode_client(r#"{"type":"ping"}"#).unwrap(),
            ClientMsg::Ping
        );
    }

    #[test]
    fn unknown_and_malformed_are_told_apart() {
        assert_eq!(
            decode_client(r#"{"type":"dance"}"#).unwrap_err().0,
            ErrorCode::UnknownType
        );
        assert_eq!(
            decode_client("{not json").unwrap_err().0,
            ErrorCode::BadJson
        );
        assert_eq!(
            decode_client(r#"{"type":"join","v":"one"}"#).unwrap_err().0,
            ErrorCode::BadJson
        );
        assert_eq!(decode_client(r#"[1,2]"#).unwrap_err().0, ErrorCode::BadJson);
    }

    #[test]
    fn server_messages_are_tagged() {
        let s = serde_json::to_string(&ServerMsg::Error {
            code: ErrorCode::BadSdp,
            message: "x".into(),
        })
        .unwrap();
        assert_eq!(s, r#"{"type":"error","code":"bad_sdp","message":"x"}"#);
        let s = serde_json::to_string(&ServerMsg::Pong).unwrap();
        assert_eq!(s, r#"{"type":"pong"}"#);
    }
}
