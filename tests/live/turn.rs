//! TURN with a real coturn (Debian `coturn`, installed by `.ci/run`) on loopback, in its
//! shared-secret REST mode: the credentials the server gives a joining site allocate a relay on
//! coturn, and coturn refuses them once past their expiry or altered; a Chromium room page with
//! `iceTransportPolicy: "relay"` (`?ice=relay`), reaching coturn over TCP only as a site behind a
//! UDP-blocking firewall would, exchanges media with a direct host, and its selected candidate
//! pairs are relayed (`getStats()`). Prints the time from page load to the first decoded frame,
//! direct and relayed.

use crate::common;

use common::browser::*;
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const SECRET: &str = "turn-shared-secret-for-tests-0123";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A coturn process on loopback, killed on drop.
struct Coturn {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn coturn_or_skip() -> Option<std::path::PathBuf> {
    let bin = std::path::PathBuf::from("/usr/bin/turnserver");
    if bin.exists() {
        return Some(bin);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but coturn is not installed (.ci/run installs the Debian package coturn)"
    );
    eprintln!("SKIPPED: coturn (turnserver) not installed");
    None
}

impl Coturn {
    async fn start(bin: &std::path::Path) -> Coturn {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let relay = free_port();
        let child = Command::new(bin)
            .args([
                "-n",
                "--listening-ip=127.0.0.1",
                "--relay-ip=127.0.0.1",
                &format!("--listening-port={port}"),
                "--use-auth-secret",
                &format!("--static-auth-secret={SECRET}"),
                "--realm=giaoban.test",
                "--no-tls",
                "--no-dtls",
                "--no-cli",
                "--fingerprint",
                // Loopback is a test set-up only: coturn refuses relaying to it by default.
                "--allow-loopback-peers",
                &format!("--min-port={relay}"),
                &format!("--max-port={}", relay.saturating_add(200)),
                "--log-file=stdout",
                "--simple-log",
            ])
            .arg(format!("--pidfile={}", dir.path().join("pid").display()))
            .arg(format!("--userdb={}", dir.path().join("db").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start turnserver");
        // Ready when its TCP port answers.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "coturn did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Coturn {
            child,
            port,
            _dir: dir,
        }
    }
}

/// Whether coturn allocates a relay with these credentials (its own test client).
fn allocates(port: u16, username: &str, password: &str) -> bool {
    let out = Command::new("turnutils_uclient")
        .args(["-y", "-n", "1", "-u", username, "-w", password, "-p"])
        .arg(port.to_string())
        .arg("127.0.0.1")
        .output()
        .expect("turnutils_uclient (package coturn)");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    !text.contains("Cannot complete Allocation") && text.contains("Total lost packets")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_credentials_work_on_coturn_until_they_expire() {
    let Some(bin) = coturn_or_skip() else {
        return;
    };
    let turn = Coturn::start(&bin).await;
    let url = format!("[\"turn:127.0.0.1:{}?transport=udp\"]", turn.port);
    let server = TestServer::start_with(&[
        ("GIAOBAN_TURN_URLS", &url),
        ("GIAOBAN_TURN_SECRET", SECRET),
        ("GIAOBAN_TURN_TTL_SECS", "600"),
    ])
    .await;
    let session = server.create_session(HOST, &SITES[..1]).await;
    // A site joins: `ice_servers` comes first, then `joined`.
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .unwrap();
    let join = json!({"type": "join", "v": 1, "token": token(&session.links[SITES[0]])});
    ws.send(tokio_tungstenite::tungstenite::Message::Text(
        join.to_string().into(),
    ))
    .await
    .unwrap();
    let mut first = Vec::new();
    while first.len() < 2 {
        if let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) = ws.next().await {
            first.push(serde_json::from_str::<Value>(&t).unwrap());
        }
    }
    assert_eq!(first[0]["type"], "ice_servers", "{first:?}");
    assert_eq!(first[1]["type"], "joined");
    let s = &first[0]["servers"][0];
    let username = s["username"].as_str().unwrap().to_string();
    let credential = s["credential"].as_str().unwrap().to_string();
    let now = chrono::Utc::now().timestamp();
    let expires = first[0]["expires_at"].as_i64().unwrap();
    assert!((now + 590..=now + 610).contains(&expires), "{expires}");
    assert_eq!(username, format!("{expires}:{}", SITES[0]));
    assert!(
        allocates(turn.port, &username, &credential),
        "fresh credentials"
    );
    // Past their expiry (signed correctly), or altered: coturn refuses.
    let old = format!("{}:{}", now - 5, SITES[0]);
    assert!(!allocates(
        turn.port,
        &old,
        &giaoban::turn::password(SECRET, &old)
    ));
    assert!(giaoban::turn::expired(&old, now));
    let longer = format!("{}:{}", expires + 86_400, SITES[0]);
    assert!(
        !allocates(turn.port, &longer, &credential),
        "an extended expiry needs a new HMAC"
    );
    // A server without TURN sends no `ice_servers`.
    let plain = TestServer::start().await;
    let session = plain.create_session(HOST, &SITES[..1]).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(plain.ws_url())
        .await
        .unwrap();
    let join = json!({"type": "join", "v": 1, "token": token(&session.links[SITES[0]])});
    ws.send(tokio_tungstenite::tungstenite::Message::Text(
        join.to_string().into(),
    ))
    .await
    .unwrap();
    loop {
        if let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) = ws.next().await {
            let v: Value = serde_json::from_str(&t).unwrap();
            assert_eq!(v["type"], "joined");
            break;
        }
    }
}

/// Until the page decodes the other site's video: `performance.now()` then (ms since the page's
/// navigation started).
async fn first_frame_ms(page: &str, other: &str, what: &str) -> f64 {
    let expr = format!(
        "(async () => {{ const s = window.giaoban && await window.giaoban.stats(); const f = (s && s.perSite && s.perSite['{other}'] && s.perSite['{other}'].framesDecoded) || 0; return f > 0 ? performance.now() : null; }})()"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(ms) = eval(page, &expr).await.as_f64() {
            return ms;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: no frame decoded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_only_room_page_exchanges_media_through_coturn_over_tcp() {
    let (Some(chromium), Some(bin)) = (chromium_or_skip(Load::Media).await, coturn_or_skip())
    else {
        return;
    };
    let turn = Coturn::start(&bin).await;
    let url = format!("[\"turn:127.0.0.1:{}?transport=tcp\"]", turn.port);
    let server =
        TestServer::start_with(&[("GIAOBAN_TURN_URLS", &url), ("GIAOBAN_TURN_SECRET", SECRET)])
            .await;
    let session = server.create_session(HOST, &SITES[..1]).await;
    let site = SITES[0];
    let host = Browser::open(&chromium, &format!("{}?autojoin=1", session.links[HOST]));
    let host_page = host.page_ws().await;

    // Direct first, for comparison.
    let direct = Browser::open(&chromium, &format!("{}?autojoin=1", session.links[site]));
    let page = direct.page_ws().await;
    let direct_ms = first_frame_ms(&page, HOST, "direct").await;
    let pairs = eval(&page, "window.GiaobanIce.selected()").await;
    assert!(
        pairs
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["localType"] == "host"),
        "direct: {pairs}"
    );
    drop(direct);
    server
        .wait_stats("the direct site gone", Duration::from_secs(15), |s| {
            s.participants == 1
        })
        .await;

    // Relay only: every candidate the page offers is a relay on coturn, reached over TCP.
    let relayed = Browser::open(
        &chromium,
        &format!("{}?autojoin=1&ice=relay", session.links[site]),
    );
    let page = relayed.page_ws().await;
    let relay_ms = first_frame_ms(&page, HOST, "relayed").await;
    first_frame_ms(&host_page, site, "the host, from the relayed site").await;
    let pairs = eval(&page, "window.GiaobanIce.selected()").await;
    let pairs = pairs.as_array().unwrap();
    assert_eq!(pairs.len(), 2, "publish and subscribe: {pairs:?}");
    for p in pairs {
        assert_eq!(p["localType"], "relay", "{p}");
        assert_eq!(p["relayProtocol"], "tcp", "{p}");
        // Media went through the relay: out on publish, in on subscribe.
        let moved = if p["pc"] == "publish" {
            &p["bytesSent"]
        } else {
            &p["bytesReceived"]
        };
        assert!(moved.as_u64().unwrap() > 0, "{p}");
    }
    let before_state = eval(&page, "window.giaoban.state()").await;
    // The host's audio arrives too; with Opus DTX its silences are sparse (a packet per 400 ms),
    // so the first audio packet may follow the first video frame by a moment.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let stats = eval(&page, "(async () => await window.giaoban.stats())()").await;
        if stats["inboundAudio"]["packetsReceived"]
            .as_u64()
            .unwrap_or(0)
            > 0
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{stats}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // ICE restart on the relayed page (as when its network changes): it stays in the room and
    // keeps decoding, still through the relay.
    let frames = "(async () => { const s = await window.giaoban.stats(); return s.perSite[%SITE%].framesDecoded; })()";
    let frames = frames.replace("%SITE%", &format!("{HOST:?}"));
    let before = eval(&page, &frames).await.as_u64().unwrap();
    let host_frames = format!(
        "(async () => {{ const s = await window.giaoban.stats(); return s.perSite[{site:?}].framesDecoded; }})()"
    );
    let host_before = eval(&host_page, &host_frames).await.as_u64().unwrap();
    assert_eq!(eval(&page, "window.GiaobanIce.restart()").await, json!(2));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while eval(&page, &frames).await.as_u64().unwrap_or(0) < before + 30 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no frames after the restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    while eval(&host_page, &host_frames).await.as_u64().unwrap_or(0) < host_before + 30 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the host got no frames after the restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let state = eval(&page, "window.giaoban.state()").await;
    assert_eq!(
        state["participantId"], before_state["participantId"],
        "{state}"
    );
    assert_eq!(server.stats().participants, 2);
    eprintln!(
        "turn: page load → first decoded frame: direct {direct_ms:.0} ms, relayed (TCP to coturn) {relay_ms:.0} ms"
    );
}
