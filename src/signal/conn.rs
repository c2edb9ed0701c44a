//! One task per WebSocket: reads frames, enforces the size limit and the message order (nothing
//! but `join` and `ping` before `joined`, one `join` per socket), resolves the join token (and the
//! device credential the upgrade carried), checks the join window, and hands the joined site's
//! messages to its participant. It pings the client and applies the liveness rule
//! (`liveness`): a silent or media-dead site is dropped, a socket that never joins is closed.
//! A writer task serialises what the server sends; an error whose code closes the connection is
//! followed by a close frame.

use super::liveness::{Policy, Verdict};
use super::protocol::{
    ClientMsg, ErrorCode, LeaveReason, MAX_FRAME_BYTES, PROTOCOL_VERSION, ServerMsg, SessionRef,
    SiteRef, decode_client,
};
use crate::app::AppState;
use crate::metrics::Kind;
use crate::schedule::window::JoinWindow;
use crate::schedule::{self, ScheduleError};
use crate::sfu::ParticipantHandle;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Cookie a room PC may carry its device credential in (instead of `Authorization: Bearer`).
pub const DEVICE_COOKIE: &str = "giaoban_device";

/// The device credential (`gbd_…`) an upgrade request carries, as a bearer token or a cookie.
pub fn device_credential(headers: &axum::http::HeaderMap) -> Option<String> {
    let prefix = crate::auth::principal::DEVICE_TOKEN_PREFIX;
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    bearer
        .into_iter()
        .chain(crate::auth::principal::cookie(headers, DEVICE_COOKIE))
        .find(|t| t.starts_with(prefix))
        .map(str::to_owned)
}

/// How long a closing socket may take to flush before it is cut (a frozen peer never reads).
const WRITER_GRACE: Duration = Duration::from_secs(2);

/// Drives one signaling connection to its end, then makes sure the site has left.
/// `device` is the device credential the upgrade request carried, if any.
pub async fn serve(socket: WebSocket, app: AppState, device: Option<String>) {
    let _gauge = app.metrics.hold(Kind::WebSocket);
    let policy = Policy::from_config(&app.config.signal);
    let (mut sink, mut stream) = socket.split();
    let (out, mut out_rx) = mpsc::channel::<ServerMsg>(512);
    let (ping_tx, mut ping_rx) = mpsc::channel::<()>(1);
    let mut writer = tokio::spawn(async move {
        loop {
            let msg = tokio::select! {
                m = out_rx.recv() => match m { Some(m) => m, None => break },
                Some(()) = ping_rx.recv() => {
                    if sink.send(Message::Ping(Default::default())).await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            let close = match &msg {
                ServerMsg::Error { code, message } => {
                    code.close_code().map(|c| (c, message.clone()))
                }
                _ => None,
            };
            let text = serde_json::to_string(&msg).expect("server messages serialize");
            if sink.send(Message::Text(text.into())).await.is_err() {
                return;
            }
            if let Some((code, reason)) = close {
                let reason: String = reason.chars().take(100).collect();
                let _ = sink
                    .send(Message::Close(Some(CloseFrame {
                        code,
                        reason: Utf8Bytes::from(reason),
                    })))
                    .await;
                return;
            }
        }
        let _ = sink.close().await;
    });

    let opened = Instant::now();
    let mut last_frame = opened;
    let mut last_ping = opened;
    let mut tick = tokio::time::interval(policy.tick());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut joined: Option<ParticipantHandle> = None;
    let mut reason = LeaveReason::Drop;
    loop {
        let frame = tokio::select! {
            f = stream.next() => f,
            _ = out.closed() => break, // the writer ended: closing error sent, or the peer is gone
            now = tick.tick() => {
                let media = joined.as_ref().map(|p| p.media()).unwrap_or_default();
                match policy.verdict(joined.is_some(), now - opened, now - last_frame, media) {
                    Verdict::Alive => {}
                    Verdict::Dropped(cause) => {
                        tracing::info!(?cause, "signaling connection dropped");
                        break;
                    }
                    Verdict::JoinTimeout => {
                        let ms = policy.join_timeout.as_millis();
                        send_error(&out, ErrorCode::JoinTimeout, format!("no join within {ms} ms"))
                            .await;
                        break;
                    }
                }
                if now - last_ping >= policy.ping_interval {
                    last_ping = now;
                    let _ = ping_tx.try_send(());
                }
                continue;
            }
        };
        last_frame = Instant::now();
        let text = match frame {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Binary(_))) => {
                send_error(
                    &out,
                    ErrorCode::BadMessage,
                    "binary frames are not part of the protocol",
                )
                .await;
                continue;
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_))) | None => break,
            Some(Err(e)) => {
                tracing::debug!("websocket read: {e}");
                break;
            }
        };
        if text.len() > MAX_FRAME_BYTES {
            send_error(
                &out,
                ErrorCode::FrameTooLarge,
                format!("frame of {} bytes exceeds {MAX_FRAME_BYTES}", text.len()),
            )
            .await;
            continue; // the writer closes after this error
        }
        let msg = match decode_client(&text) {
            Ok(m) => m,
            Err((code, message)) => {
                send_error(&out, code, message).await;
                continue;
            }
        };
        match (&joined, msg) {
            (_, ClientMsg::Ping) => {
                let _ = out.send(ServerMsg::Pong).await;
            }
            (None, ClientMsg::Join { v, token }) => {
                if v != PROTOCOL_VERSION {
                    send_error(
                        &out,
                        ErrorCode::UnsupportedVersion,
                        format!("protocol version {v} is not supported (use {PROTOCOL_VERSION})"),
                    )
                    .await;
                    continue;
                }
                match join(&app, &token, device.as_deref(), out.clone()).await {
                    Ok(handle) => {
                        app.agendas.send_notice(&handle.session_id, &out);
                        joined = Some(handle)
                    }
                    Err((code, message)) => send_error(&out, code, message).await,
                }
            }
            (None, _) => send_error(&out, ErrorCode::NotJoined, "send join first").await,
            (Some(_), ClientMsg::Join { .. }) => {
                send_error(
                    &out,
                    ErrorCode::AlreadyJoined,
                    "this socket has joined already",
                )
                .await
            }
            (Some(_), ClientMsg::Leave) => {
                reason = LeaveReason::Leave;
                break;
            }
            (Some(p), ClientMsg::Recording { active }) => {
                crate::record::control::from_site(&app, p, active, &out).await
            }
            (Some(p), ClientMsg::SetAgendaItem { index }) => {
                super::agenda::from_site(&app, p, index, &out).await
            }
            (Some(p), msg) => p.send(msg).await,
        }
    }
    if let Some(p) = joined {
        p.close(reason).await;
    }
    drop(out);
    if tokio::time::timeout(WRITER_GRACE, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
}

async fn send_error(out: &mpsc::Sender<ServerMsg>, code: ErrorCode, message: impl Into<String>) {
    let _ = out
        .send(ServerMsg::Error {
            code,
            message: message.into(),
        })
        .await;
}

fn schedule_error(e: ScheduleError) -> (ErrorCode, String) {
    let code = match &e {
        ScheduleError::Token(crate::auth::TokenError::Expired) => ErrorCode::TokenExpired,
        ScheduleError::Token(_) | ScheduleError::LinkSuperseded { .. } => ErrorCode::InvalidToken,
        ScheduleError::SessionNotFound(_) => ErrorCode::SessionNotFound,
        ScheduleError::SessionCancelled(_) => ErrorCode::SessionCancelled,
        ScheduleError::NotInvited { .. }
        | ScheduleError::UnknownSite(_)
        | ScheduleError::LinkRevoked { .. } => ErrorCode::SiteNotInvited,
        _ => ErrorCode::Internal,
    };
    (code, e.to_string())
}

/// The device behind a credential, which must be live and belong to the joining site.
async fn device_of(
    app: &AppState,
    credential: &str,
    site_id: &str,
) -> Result<String, (ErrorCode, String)> {
    let hash = crate::auth::password::token_hash(credential);
    let device = crate::store::accounts::device_by_token(&app.pool, &hash)
        .await
        .map_err(|e| (ErrorCode::Internal, e.to_string()))?
        .ok_or_else(|| {
            (
                ErrorCode::DeviceRevoked,
                "the device credential is unknown or revoked".to_string(),
            )
        })?;
    if device.site_id != site_id {
        return Err((
            ErrorCode::SiteNotInvited,
            format!(
                "the device credential belongs to site {}, not {site_id}",
                device.site_id
            ),
        ));
    }
    Ok(device.id)
}

async fn join(
    app: &AppState,
    token: &str,
    device: Option<&str>,
    out: mpsc::Sender<ServerMsg>,
) -> Result<ParticipantHandle, (ErrorCode, String)> {
    let info = schedule::resolve_join(&app.pool, &app.token_key, token)
        .await
        .and_then(|i| i.in_window(app.join_policy(), chrono::Utc::now()))
        .map_err(schedule_error)?;
    if let JoinWindow::TooEarly { opens_at, .. } = info.window {
        return Err((
            ErrorCode::TooEarly,
            format!("the room opens at {}", opens_at.to_rfc3339()),
        ));
    }
    let device_id = match device {
        Some(credential) => Some(device_of(app, credential, &info.site.id).await?),
        None => None,
    };
    // TURN servers first, so that the page has them when `joined` makes it open its connections.
    let now = chrono::Utc::now().timestamp();
    if let Some((servers, expires_at)) =
        crate::turn::ice_servers(&app.config.turn, &info.site.id, now)
    {
        let _ = out
            .send(ServerMsg::IceServers {
                servers,
                expires_at,
            })
            .await;
    }
    let invited = crate::store::sessions::site_ids(&app.pool, &info.session.id)
        .await
        .map_err(|e| (ErrorCode::Internal, e.to_string()))?;
    app.sfu
        .join(
            SessionRef {
                id: info.session.id,
                title: info.session.title,
                host_site_id: info.session.host_site_id,
            },
            SiteRef {
                id: info.site.id,
                name: info.site.name,
            },
            invited,
            device_id,
            out,
        )
        .await
        .map_err(|e| (ErrorCode::Internal, e.to_string()))
}
