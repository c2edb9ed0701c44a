//! The WebSocket half of the Rust client: [`Signaling`] sends client messages (or any text or
//! frame, for tests that speak the protocol by hand or break it) and reads server messages;
//! [`ClientError`] is the client's one error type.

use crate::signal::protocol::{ClientMsg, ServerMsg};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("websocket: {0}")]
    Ws(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("peer connection: {0}")]
    WebRtc(#[from] webrtc::error::Error),
    #[error("server error {code:?}: {message}")]
    Server {
        code: crate::signal::protocol::ErrorCode,
        message: String,
    },
    #[error("unexpected: {0}")]
    Protocol(String),
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
}

/// What the server sent, or how the socket ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Msg(ServerMsg),
    /// A close frame (code) or the end of the stream (None).
    Closed(Option<u16>),
}

/// The WebSocket half alone.
pub struct Signaling {
    pub(super) ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl Signaling {
    pub async fn connect(ws_url: &str) -> Result<Self, ClientError> {
        let (ws, _) = tokio_tungstenite::connect_async(ws_url).await?;
        Ok(Signaling { ws })
    }

    pub async fn send(&mut self, msg: &ClientMsg) -> Result<(), ClientError> {
        self.send_text(serde_json::to_string(msg).expect("client messages serialize"))
            .await
    }

    pub async fn send_text(&mut self, text: String) -> Result<(), ClientError> {
        Ok(self.ws.send(Message::Text(text.into())).await?)
    }

    pub async fn send_raw(&mut self, msg: Message) -> Result<(), ClientError> {
        Ok(self.ws.send(msg).await?)
    }

    /// The next server message (skipping pings), or how the socket ended.
    pub async fn recv(&mut self) -> Incoming {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(t))) => match serde_json::from_str(&t) {
                    Ok(m) => return Incoming::Msg(m),
                    Err(e) => tracing::warn!("unreadable server message {t}: {e}"),
                },
                Some(Ok(Message::Close(frame))) => {
                    return Incoming::Closed(frame.map(|f| f.code.into()));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Incoming::Closed(None),
            }
        }
    }

    /// The next message within `timeout`.
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Result<Incoming, ClientError> {
        tokio::time::timeout(timeout, self.recv())
            .await
            .map_err(|_| ClientError::Timeout("a server message"))
    }
}
