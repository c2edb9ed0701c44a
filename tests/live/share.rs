//! Screen sharing (*trình chiếu*) through the real server with the Rust client: a site shares a
//! second, content video track and every other site receives it; a second site's share replaces
//! the first (whose screen stops arriving even though it keeps sending, and which is told why); a
//! controller (the host site by protocol, an operator by REST) stops a share, audited; and the bad
//! input of screen sharing is refused with its error code and changes nothing.

use crate::common;

use common::chair::*;
use common::*;
use giaoban::auth::Role;
use giaoban::client::{Signaling, SiteClient};
use giaoban::live::Event;
use giaoban::signal::protocol::{
    ClientMsg, ErrorCode, MediaKind, PROTOCOL_VERSION, ServerMsg, ShareReason,
};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

const SECS5: Duration = Duration::from_secs(5);
const SETTLE: Duration = Duration::from_secs(20);

/// A camera payload (VP8 keyframe start, "CA", the site's index, a counter) or a screen payload
/// ("SC" instead): what arrives is judged by payload, whatever the track labels say.
fn payload(tag: &[u8; 2], site: u8, n: u32) -> bytes::Bytes {
    let mut v = vec![0x10, 0x00, 0x9d, 0x01, 0x2a];
    v.extend_from_slice(tag);
    v.push(site);
    v.extend_from_slice(&n.to_be_bytes());
    bytes::Bytes::from(v)
}

/// (tag, site index) of a payload of [`payload`].
fn origin(p: &[u8]) -> Option<([u8; 2], u8)> {
    (p.len() == 12).then(|| ([p[5], p[6]], p[7]))
}

/// Sites that send camera video (and, for those sharing, screen video) while the test logs the
/// screens each one receives.
struct Room {
    sites: Sites,
    /// (receiver, sender) -> arrival times of screen packets.
    screens: HashMap<(String, String), Vec<Instant>>,
    /// (receiver, sender) -> arrival times of camera packets.
    cameras: HashMap<(String, String), Vec<Instant>>,
    /// Sites whose client sends screen packets.
    sending_screen: Vec<String>,
    n: u32,
}

impl Room {
    async fn pump(&mut self, d: Duration) {
        let end = Instant::now() + d;
        let ids: Vec<String> = self.sites.clients.iter().map(|(s, _)| s.clone()).collect();
        while Instant::now() < end {
            self.n += 1;
            for (i, (id, c)) in self.sites.clients.iter().enumerate() {
                let _ = c
                    .send(MediaKind::Video, payload(b"CA", i as u8, self.n))
                    .await;
                if self.sending_screen.contains(id) {
                    let _ = c
                        .send_screen(payload(b"SC", i as u8, self.n), true, None)
                        .await;
                }
            }
            tokio::time::sleep(Duration::from_millis(15)).await;
            for (id, c) in self.sites.clients.iter_mut() {
                while let Some(rx) = c.try_recv_packet() {
                    let Some((tag, from)) = origin(&rx.packet.payload) else {
                        continue;
                    };
                    let key = (id.clone(), ids[from as usize].clone());
                    let log = match &tag {
                        b"SC" => &mut self.screens,
                        b"CA" => &mut self.cameras,
                        _ => continue,
                    };
                    log.entry(key).or_default().push(rx.at.into());
                }
            }
        }
    }

    fn screens(&self, to: &str, from: &str, since: Instant) -> usize {
        self.screens
            .get(&(to.to_string(), from.to_string()))
            .map_or(0, |v| v.iter().filter(|t| **t >= since).count())
    }

    /// Pumps until every site in `to` receives `from`'s screen after `since`.
    async fn until_screen(&mut self, to: &[&str], from: &str, since: Instant) {
        let end = Instant::now() + SETTLE;
        while !to.iter().all(|t| self.screens(t, from, since) >= 5) {
            assert!(
                Instant::now() < end,
                "{from}'s screen did not reach {to:?}: {:?}",
                to.iter()
                    .map(|t| self.screens(t, from, since))
                    .collect::<Vec<_>>()
            );
            self.pump(Duration::from_millis(100)).await;
        }
    }

    /// Pumps until `from`'s screen no longer reaches any of `to` (nothing for a whole second).
    async fn until_no_screen(&mut self, to: &[&str], from: &str) {
        let end = Instant::now() + SETTLE;
        loop {
            let since = Instant::now();
            self.pump(Duration::from_secs(1)).await;
            if to.iter().all(|t| self.screens(t, from, since) == 0) {
                return;
            }
            assert!(Instant::now() < end, "{from}'s screen still reaches {to:?}");
        }
    }
}

fn share_of(m: &ServerMsg) -> Option<(Option<String>, Option<String>, ShareReason)> {
    match m {
        ServerMsg::ShareChanged {
            site_id,
            previous,
            reason,
        } => Some((site_id.clone(), previous.clone(), *reason)),
        _ => None,
    }
}

/// Waits until `c` is told that the share is now `(sharer, previous, reason)`.
async fn told(
    c: &mut SiteClient,
    sharer: Option<&str>,
    previous: Option<&str>,
    reason: ShareReason,
) {
    let want = (
        sharer.map(str::to_owned),
        previous.map(str::to_owned),
        reason,
    );
    wait_msg(c, "share_changed", SECS5, |m| {
        share_of(m).filter(|s| *s == want)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_screen_reaches_everyone_one_share_at_a_time_and_a_controller_stops_it() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..3]).await;
    let (a, b, c) = (SITES[0], SITES[1], SITES[2]);
    let sites = Sites::join(&server, &session.links, &[HOST, a, b, c]).await;
    let room = server.running.state.sfu.room(&session.session_id).unwrap();
    let mut events = server.running.state.sfu.events().live();
    let mut r = Room {
        sites,
        screens: HashMap::new(),
        cameras: HashMap::new(),
        sending_screen: Vec::new(),
        n: 0,
    };
    // Media flows first (the host's camera reaches every site).
    r.pump(Duration::from_millis(500)).await;

    // A shares: everyone is told, and its screen reaches every other site (a remote site's
    // default layout: host, floor, screen).
    let t0 = Instant::now();
    r.sites.get(a).share_screen().await.unwrap();
    r.sending_screen.push(a.into());
    for s in [HOST, a, b, c] {
        told(r.sites.get(s), Some(a), None, ShareReason::Started).await;
    }
    assert_eq!(room.view().sharer.as_deref(), Some(a));
    r.until_screen(&[HOST, b, c], a, t0).await;
    assert_eq!(
        r.screens(a, a, t0),
        0,
        "a site does not receive its own screen"
    );
    // The screen is a track of its own: c still gets no camera of a (not the floor holder).
    let since = Instant::now();
    r.pump(Duration::from_millis(500)).await;
    assert!(
        r.cameras
            .get(&(c.to_string(), a.to_string()))
            .is_none_or(|v| v.iter().all(|t| *t < since)),
        "c receives a's screen, not its camera"
    );

    // Bad input, each refused with its code, nothing changed:
    // a second share from the sharing site,
    r.sites
        .get(a)
        .send_msg(ClientMsg::ShareScreen { mid: "9".into() })
        .await;
    expect_error(r.sites.get(a), ErrorCode::AlreadySharing).await;
    // a site that does not control stopping another site's share,
    r.sites
        .get(b)
        .send_msg(ClientMsg::StopShare {
            site_id: Some(a.into()),
        })
        .await;
    expect_error(r.sites.get(b), ErrorCode::NotController).await;
    // a site stopping a share of its own that does not exist,
    r.sites
        .get(b)
        .send_msg(ClientMsg::StopShare { site_id: None })
        .await;
    expect_error(r.sites.get(b), ErrorCode::NotSharing).await;
    // a mid that cannot name an m-line.
    r.sites
        .get(b)
        .send_msg(ClientMsg::ShareScreen {
            mid: "<script>".into(),
        })
        .await;
    expect_error(r.sites.get(b), ErrorCode::BadMessage).await;
    assert_eq!(room.view().sharer.as_deref(), Some(a), "nothing changed");
    r.until_screen(&[c], a, Instant::now()).await;

    // B shares: A's share is replaced, A is told why, and A's screen stops reaching the others
    // although A's client keeps sending it.
    let t1 = Instant::now();
    r.sites.get(b).share_screen().await.unwrap();
    r.sending_screen.push(b.into());
    told(r.sites.get(a), Some(b), Some(a), ShareReason::Replaced).await;
    r.until_screen(&[HOST, a, c], b, t1).await;
    r.until_no_screen(&[HOST, b, c], a).await;
    r.sites.get(a).end_capture().await.unwrap();
    r.sending_screen.retain(|s| s != a);

    // The host stops B's share: everyone is told, B's screen stops (B still sends).
    r.sites
        .get(HOST)
        .send_msg(ClientMsg::StopShare {
            site_id: Some(b.into()),
        })
        .await;
    for s in [HOST, a, b, c] {
        told(
            r.sites.get(s),
            None,
            Some(b),
            ShareReason::StoppedByController,
        )
        .await;
    }
    r.until_no_screen(&[HOST, a, c], b).await;
    assert_eq!(room.view().sharer, None);
    // Nothing is shared: the host's stop is refused.
    r.sites
        .get(HOST)
        .send_msg(ClientMsg::StopShare {
            site_id: Some(b.into()),
        })
        .await;
    expect_error(r.sites.get(HOST), ErrorCode::NotSharing).await;
    r.sites.get(b).end_capture().await.unwrap();
    r.sending_screen.retain(|s| s != b);

    // An operator stops a share through the API; a second stop finds nothing to stop.
    let t2 = Instant::now();
    r.sites.get(c).share_screen().await.unwrap();
    r.sending_screen.push(c.into());
    r.until_screen(&[HOST, a, b], c, t2).await;
    let op = server.login(Role::Operator).await;
    let path = format!("/api/sessions/{}/share", session.session_id);
    let (status, v) = body(op.delete(&path).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["sharer"], serde_json::Value::Null);
    told(
        r.sites.get(c),
        None,
        Some(c),
        ShareReason::StoppedByController,
    )
    .await;
    r.until_no_screen(&[HOST, a, b], c).await;
    let (status, v) = body(op.delete(&path).await).await;
    assert_eq!((status, v["code"].as_str()), (409, Some("not_sharing")));
    let secretariat = server.login(Role::Secretariat).await;
    assert_eq!(secretariat.delete(&path).await.status(), 403);

    // Live events: start and stop of every share, stops with who and why.
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let Event::ScreenShare {
            site_id,
            sharing,
            reason,
            by,
            ..
        } = &e.event
        {
            seen.push((site_id.clone(), *sharing, *reason, by.label()));
        }
    }
    let want = [
        (a, true, ShareReason::Started, format!("site:{a}")),
        (a, false, ShareReason::Replaced, format!("site:{b}")),
        (b, true, ShareReason::Replaced, format!("site:{b}")),
        (
            b,
            false,
            ShareReason::StoppedByController,
            format!("site:{HOST}"),
        ),
        (c, true, ShareReason::Started, format!("site:{c}")),
        (
            c,
            false,
            ShareReason::StoppedByController,
            format!("user:{}", op.username),
        ),
    ]
    .map(|(s, on, r, by)| (s.to_string(), on, r, by));
    assert_eq!(seen, want);

    // The audit log has the controllers' stops, and only those.
    assert!(server.running.state.sfu.events().drained(SECS5).await);
    let filter = giaoban::audit::AuditFilter {
        target: Some(session.session_id.clone()),
        ..Default::default()
    };
    let stops: Vec<_> = giaoban::audit::list(&server.running.state.pool, &filter)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "screenshare.stop")
        .map(|e| e.actor)
        .collect();
    let mut stops = stops;
    stops.sort();
    let mut want = vec![format!("site:{HOST}"), format!("user:{}", op.username)];
    want.sort();
    assert_eq!(stops, want);
    r.sites.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_ends_with_its_track_and_needs_a_joined_site() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..2]).await;
    let (a, b) = (SITES[0], SITES[1]);

    // Sharing on a socket that has not joined a session: refused, nothing is shared anywhere.
    let mut raw = Signaling::connect(&server.ws_url()).await.unwrap();
    raw.send(&ClientMsg::ShareScreen { mid: "2".into() })
        .await
        .unwrap();
    match raw.recv_timeout(SECS5).await.unwrap() {
        giaoban::client::Incoming::Msg(ServerMsg::Error { code, .. }) => {
            assert_eq!(code, ErrorCode::NotJoined)
        }
        other => panic!("expected not_joined, got {other:?}"),
    }
    assert!(server.running.state.sfu.room(&session.session_id).is_none());

    let sites = Sites::join(&server, &session.links, &[HOST, a, b]).await;
    let room = server.running.state.sfu.room(&session.session_id).unwrap();
    let mut r = Room {
        sites,
        screens: HashMap::new(),
        cameras: HashMap::new(),
        sending_screen: Vec::new(),
        n: 0,
    };
    // A shares, then its page stops the capture (the browser's "stop sharing" bar) and
    // renegotiates without a word: the end of the screen track ends the share.
    let t0 = Instant::now();
    r.sites.get(a).share_screen().await.unwrap();
    r.sending_screen.push(a.into());
    r.until_screen(&[HOST, b], a, t0).await;
    r.sending_screen.clear();
    r.sites.get(a).end_capture().await.unwrap();
    told(r.sites.get(b), None, Some(a), ShareReason::Ended).await;
    assert_eq!(room.view().sharer, None);

    // A shares again and stops it itself.
    r.sites.get(a).share_screen().await.unwrap();
    told(r.sites.get(b), Some(a), None, ShareReason::Started).await;
    r.sites.get(a).stop_share().await.unwrap();
    told(r.sites.get(b), None, Some(a), ShareReason::Stopped).await;

    // B shares and drops off the network: its share ends with its connection; a site joining
    // later is told nobody shares.
    r.sites.get(b).share_screen().await.unwrap();
    told(r.sites.get(HOST), Some(b), None, ShareReason::Started).await;
    let pos = r.sites.clients.iter().position(|(s, _)| s == b).unwrap();
    let (_, gone) = r.sites.clients.remove(pos);
    gone.drop_connection().await;
    told(r.sites.get(HOST), None, Some(b), ShareReason::Ended).await;
    let mut again =
        SiteClient::join_with(&server.ws_url(), &token(&session.links[b]), LOCAL, false)
            .await
            .unwrap();
    told(&mut again, None, None, ShareReason::Started).await;
    assert_eq!(PROTOCOL_VERSION, 1);
    again.leave().await;
    r.sites.leave().await;
}
