//! One task per WebSocket: reads frames, enforces the size limit and the message order (nothing
//! but `join` and `ping` before `joined`, one `join` per socket), resolves the join token, and
//! hands the joined site's messages to its participant. A writer task serialises what the server
//! sends; an error whose code closes the connection is followed by a close frame.

use super::protocol::{
    ClientMsg, ErrorCode, LeaveReason, MAX_FRAME_BYTES, PROTOCOL_VERSION, ServerMsg, SessionRef,
    SiteRef, decode_client,
};
use crate::app::AppState;
use crate::metrics::Kind;
use crate::schedule::{self, ScheduleError};
use crate::sfu::ParticipantHandle;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

/// Drives one signaling connection to its end, then makes sure the site has left.
pub async fn serve(socket: WebSocket, app: AppState) {
    let _gauge = app.metrics.hold(Kind::WebSocket);
    let (mut sink, mut stream) = socket.split();
    let (out, mut out_rx) = mpsc::channel::<ServerMsg>(512);
    let writer = tokio::spawn(async move {
        while let Some(msg) = out_rx.recv().await {
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

    let mut joined: Option<ParticipantHandle> = None;
    let mut reason = LeaveReason::Drop;
    loop {
        let frame = tokio::select! {
            f = stream.next() => f,
            _ = out.closed() => break, // the writer ended: closing error sent, or the peer is gone
        };
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
                match join(&app, &token, out.clone()).await {
                    Ok(handle) => joined = Some(handle),
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
            (Some(p), msg) => p.send(msg).await,
        }
    }
    if let Some(p) = joined {
        p.close(reason).await;
    }
    drop(out);
    let _ = writer.await;
}

async fn send_error(out: &mpsc::Sender<ServerMsg>, code: ErrorCode, message: impl Into<String>) {
    let _ = out
        .send(ServerMsg::Error {
            code,
            message: message.into(),
        })
        .await;
}

async fn join(
    app: &AppState,
    token: &str,
    out: mpsc::Sender<ServerMsg>,
) -> Result<ParticipantHandle, (ErrorCode, String)> {
    let info = schedule::resolve_join(&app.pool, &app.token_key, token)
        .await
        .map_err(|e| {
            let code = match &e {
                ScheduleError::Token(crate::auth::TokenError::Expired) => ErrorCode::TokenExpired,
                ScheduleError::Token(_) | ScheduleError::LinkSuperseded { .. } => {
                    ErrorCode::InvalidToken
                }
                ScheduleError::SessionNotFound(_) => ErrorCode::SessionNotFound,
                ScheduleError::SessionCancelled(_) => ErrorCode::SessionCancelled,
                ScheduleError::NotInvited { .. }
                | ScheduleError::UnknownSite(_)
                | ScheduleError::LinkRevoked { .. } => ErrorCode::SiteNotInvited,
                _ => ErrorCode::Internal,
            };
            (code, e.to_string())
        })?;
    app.sfu
        .join(
            SessionRef {
                id: info.session.id,
                title: info.session.title,
            },
            SiteRef {
                id: info.site.id,
                name: info.site.name,
            },
            out,
        )
        .await
        .map_err(|e| (ErrorCode::Internal, e.to_string()))
}
