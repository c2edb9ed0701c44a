//! Helpers of the chairing tests: sites that send marked packets while the test watches what
//! each one receives, and waiting for a given signaling message.

use giaoban::client::SiteClient;
use giaoban::signal::protocol::{ErrorCode, MediaKind, ServerMsg};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

pub const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// One packet a site received: from which site (by the index its payload carries, so what the
/// server forwarded is judged whatever the client's track labels say), of which kind, when.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub from: String,
    pub kind: MediaKind,
    pub at: Instant,
}

/// Sites of one session, by site id.
pub struct Sites {
    pub clients: Vec<(String, SiteClient)>,
    /// What each site received, by site id.
    pub log: HashMap<String, Vec<Arrival>>,
    /// How often every site sends (10 ms by default; more sites, less often).
    pub every: Duration,
}

impl Sites {
    pub async fn join(
        server: &super::TestServer,
        links: &std::collections::BTreeMap<String, String>,
        ids: &[&str],
    ) -> Sites {
        let mut clients = Vec::new();
        for id in ids {
            let c = SiteClient::join(&server.ws_url(), &super::token(&links[*id]), LOCAL)
                .await
                .unwrap_or_else(|e| panic!("{id} joins: {e}"));
            clients.push((id.to_string(), c));
        }
        Sites {
            clients,
            log: HashMap::new(),
            every: Duration::from_millis(10),
        }
    }

    pub fn get(&mut self, id: &str) -> &mut SiteClient {
        &mut self
            .clients
            .iter_mut()
            .find(|(s, _)| s == id)
            .unwrap_or_else(|| panic!("no site {id}"))
            .1
    }

    pub fn participant(&self, id: &str) -> String {
        self.clients
            .iter()
            .find(|(s, _)| s == id)
            .map(|(_, c)| c.participant_id.clone())
            .unwrap()
    }

    /// Every site sends one audio and one video packet each 10 ms for `d`, while what arrives is
    /// logged. `video_keyframes`: every video packet is a VP8 keyframe (so a new subscriber can
    /// start at once).
    pub async fn pump(&mut self, d: Duration) {
        let end = Instant::now() + d;
        let mut n: u32 = 0;
        while Instant::now() < end {
            for (i, (_, c)) in self.clients.iter().enumerate() {
                let _ = c.send(MediaKind::Audio, marker(i as u16, n)).await;
                let _ = c.send(MediaKind::Video, vp8_keyframe(i as u16, n)).await;
            }
            n += 1;
            tokio::time::sleep(self.every).await;
            let ids: Vec<String> = self.clients.iter().map(|(id, _)| id.clone()).collect();
            for (id, c) in self.clients.iter_mut() {
                while let Some(rx) = c.try_recv_packet() {
                    let Some(from) = sender_of(&rx.packet.payload, rx.kind) else {
                        continue;
                    };
                    self.log.entry(id.clone()).or_default().push(Arrival {
                        from: ids.get(from as usize).cloned().unwrap_or_default(),
                        kind: rx.kind,
                        at: rx.at.into(),
                    });
                }
            }
        }
    }

    /// Pumps until `pred` holds of the log, or panics after `limit`.
    pub async fn pump_until(&mut self, what: &str, limit: Duration, pred: impl Fn(&Sites) -> bool) {
        let end = Instant::now() + limit;
        while !pred(self) {
            assert!(Instant::now() < end, "timed out waiting for {what}");
            self.pump(Duration::from_millis(100)).await;
        }
    }

    /// Arrivals at `to` from site `from` of `kind` after `since`.
    pub fn received(&self, to: &str, from: &str, kind: MediaKind, since: Instant) -> Vec<Instant> {
        self.log
            .get(to)
            .map(|v| {
                v.iter()
                    .filter(|a| a.from == from && a.kind == kind && a.at >= since)
                    .map(|a| a.at)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The sites whose video `to` received after `since`.
    pub fn video_sources(&self, to: &str, since: Instant) -> Vec<String> {
        let mut out: Vec<String> = self
            .clients
            .iter()
            .filter(|(id, _)| !self.received(to, id, MediaKind::Video, since).is_empty())
            .map(|(id, _)| id.clone())
            .collect();
        out.sort();
        out
    }

    pub async fn leave(self) {
        for (_, c) in self.clients {
            c.leave().await;
        }
    }
}

/// An audio payload: "GB", the sending site's index, a counter.
fn marker(site: u16, n: u32) -> bytes::Bytes {
    let mut v = b"GB".to_vec();
    v.extend_from_slice(&site.to_be_bytes());
    v.extend_from_slice(&n.to_be_bytes());
    bytes::Bytes::from(v)
}

/// A VP8 payload that starts a keyframe (descriptor S=1, PID 0; P bit 0 in the first byte),
/// then the sending site's index and a counter.
fn vp8_keyframe(site: u16, n: u32) -> bytes::Bytes {
    let mut v = vec![0x10, 0x00, 0x9d, 0x01, 0x2a];
    v.extend_from_slice(&site.to_be_bytes());
    v.extend_from_slice(&n.to_be_bytes());
    bytes::Bytes::from(v)
}

/// The index of the site that sent a payload of [`marker`] or [`vp8_keyframe`].
fn sender_of(p: &[u8], kind: MediaKind) -> Option<u16> {
    let at = match kind {
        MediaKind::Audio if p.len() == 8 && &p[..2] == b"GB" => 2,
        MediaKind::Video if p.len() == 11 => 5,
        _ => return None,
    };
    Some(u16::from_be_bytes([p[at], p[at + 1]]))
}

/// Waits for the first message `f` accepts (others are skipped); panics after `limit`.
pub async fn wait_msg<T>(
    c: &mut SiteClient,
    what: &str,
    limit: Duration,
    f: impl Fn(&ServerMsg) -> Option<T>,
) -> T {
    match next_msg(c, limit, f).await {
        Some(t) => t,
        None => panic!("no {what} within {limit:?}"),
    }
}

/// The first message `f` accepts within `limit` (others are skipped), if one comes.
pub async fn next_msg<T>(
    c: &mut SiteClient,
    limit: Duration,
    f: impl Fn(&ServerMsg) -> Option<T>,
) -> Option<T> {
    let end = Instant::now() + limit;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if let Some(t) = f(&c.next_message(left).await?) {
            return Some(t);
        }
    }
}

/// Waits for an `error` with `code`.
pub async fn expect_error(c: &mut SiteClient, code: ErrorCode) {
    let got = wait_msg(c, "an error", Duration::from_secs(5), |m| match m {
        ServerMsg::Error { code, .. } => Some(*code),
        _ => None,
    })
    .await;
    assert_eq!(got, code);
}
