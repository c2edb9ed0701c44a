//! Raw signaling sockets for tests of live-session hardening: join by hand (optionally with a
//! device credential on the upgrade), read in the background (so pings are answered), or stall
//! (stop reading, as a frozen process does); and a two-site media check.
#![allow(dead_code)]

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use giaoban::client::SiteClient;
use giaoban::signal::protocol::{ErrorCode, MediaKind, ServerMsg};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What a raw socket saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    Msg(ServerMsg),
    Closed(Option<u16>),
}

/// Opens `/ws`, with `Authorization: Bearer <device>` when given.
pub async fn connect(ws_url: &str, device: Option<&str>) -> Ws {
    let mut req = ws_url.into_client_request().unwrap();
    if let Some(d) = device {
        req.headers_mut()
            .insert("authorization", format!("Bearer {d}").parse().unwrap());
    }
    tokio_tungstenite::connect_async(req).await.unwrap().0
}

/// Sends `join` and returns the first answer.
pub async fn send_join(ws: &mut Ws, token: &str) -> Seen {
    let join = serde_json::json!({"type": "join", "v": 1, "token": token}).to_string();
    ws.send(Message::Text(join.into())).await.unwrap();
    next(ws, Duration::from_secs(10))
        .await
        .expect("an answer to join")
}

/// The next message or close within `timeout` (pings are answered by the library).
pub async fn next(ws: &mut Ws, timeout: Duration) -> Option<Seen> {
    tokio::time::timeout(timeout, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    return Seen::Msg(serde_json::from_str(&t).expect("server message"));
                }
                Some(Ok(Message::Close(f))) => return Seen::Closed(f.map(|f| f.code.into())),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Seen::Closed(None),
            }
        }
    })
    .await
    .ok()
}

/// A joined raw site whose socket is read in the background.
pub struct RawSite {
    pub rx: mpsc::UnboundedReceiver<Seen>,
    task: tokio::task::JoinHandle<()>,
}

impl RawSite {
    /// Joins (panics unless `joined` comes back) and keeps reading.
    pub async fn join(ws_url: &str, token: &str, device: Option<&str>) -> RawSite {
        let mut ws = connect(ws_url, device).await;
        match send_join(&mut ws, token).await {
            Seen::Msg(ServerMsg::Joined { .. }) => {}
            other => panic!("expected joined, got {other:?}"),
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                let seen = next(&mut ws, Duration::from_secs(3600)).await;
                let closed = matches!(seen, Some(Seen::Closed(_)) | None);
                let _ = tx.send(seen.unwrap_or(Seen::Closed(None)));
                if closed {
                    return;
                }
            }
        });
        RawSite { rx, task }
    }

    /// Waits for the error that removes the site and the close that follows.
    pub async fn removed(&mut self, timeout: Duration) -> (ErrorCode, Option<u16>) {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut code = None;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.rx.recv()).await {
                Ok(Some(Seen::Msg(ServerMsg::Error { code: c, .. }))) => code = Some(c),
                Ok(Some(Seen::Closed(close))) => {
                    return (code.expect("an error before the close"), close);
                }
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => panic!("not removed within {timeout:?} (error {code:?})"),
            }
        }
    }
}

impl RawSite {
    /// Panics if the site is told of an error or closed within `d` (other messages are fine).
    pub async fn stays(&mut self, d: Duration) {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.rx.recv()).await {
                Err(_) => return,
                Ok(Some(Seen::Msg(ServerMsg::Error { code, message }))) => {
                    panic!("the site got error {code:?}: {message}")
                }
                Ok(Some(Seen::Closed(c))) => panic!("the site was closed ({c:?})"),
                Ok(Some(_)) => continue,
                Ok(None) => panic!("the reader ended"),
            }
        }
    }
}

impl Drop for RawSite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits until `client` hears that `site_id` left, and returns the reason.
pub async fn left_reason(
    client: &mut SiteClient,
    site_id: &str,
    timeout: Duration,
) -> giaoban::signal::protocol::LeaveReason {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match client.next_message(left).await {
            Some(ServerMsg::ParticipantLeft {
                site_id: s, reason, ..
            }) if s == site_id => return reason,
            Some(_) => continue,
            None => panic!("no participant_left for {site_id} within {timeout:?}"),
        }
    }
}

fn payload(site: u8, n: u32) -> Bytes {
    let mut b = BytesMut::with_capacity(8);
    b.put_slice(b"GB");
    b.put_u8(site);
    b.put_u8(0);
    b.put_u32(n);
    b.freeze()
}

/// Sends audio and video both ways between `a` and `b` until each has received at least
/// `want` packets numbered `from` or later from the other (within 15 s).
pub async fn media_flows(a: &mut SiteClient, b: &mut SiteClient, from: u32, want: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let (mut got_a, mut got_b) = (0usize, 0usize);
    let mut n = from;
    while got_a < want || got_b < want {
        assert!(
            tokio::time::Instant::now() < deadline,
            "media stopped: a got {got_a}, b got {got_b} packets from {from}"
        );
        for kind in [MediaKind::Audio, MediaKind::Video] {
            let _ = a.send(kind, payload(0, n)).await;
            let _ = b.send(kind, payload(1, n)).await;
        }
        n += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
        let count = |c: &mut SiteClient, from_site: u8| {
            let mut k = 0;
            while let Some(rx) = c.try_recv_packet() {
                let p = &rx.packet.payload;
                if p.len() == 8 && p[2] == from_site {
                    let counter = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
                    if counter >= from {
                        k += 1;
                    }
                }
            }
            k
        };
        got_a += count(a, 1);
        got_b += count(b, 0);
    }
}
