//! The media engine seen from outside: `/healthz`, `/readyz` and `/metrics` (parsed with an
//! independent Prometheus parser) while two sites exchange media; no packet is forwarded to a
//! subscriber before it is ready (nothing fails to write); no peer connection opens an mDNS
//! (multicast, UDP 5353) socket.

use crate::common;

use bytes::Bytes;
use common::*;
use giaoban::client::SiteClient;
use giaoban::signal::protocol::MediaKind;
use std::collections::HashSet;
use std::time::Duration;

const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// Value of an unlabelled sample, or of the one with `session` = `label`.
fn value(scrape: &prometheus_parse::Scrape, name: &str, session: Option<&str>) -> f64 {
    let s = scrape
        .samples
        .iter()
        .find(|s| s.metric == name && session.is_none_or(|id| s.labels.get("session") == Some(id)))
        .unwrap_or_else(|| panic!("{name} missing"));
    match s.value {
        prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Untyped(v) => v,
        ref other => panic!("{name}: unexpected {other:?}"),
    }
}

async fn scrape(server: &TestServer) -> prometheus_parse::Scrape {
    let r = reqwest::get(format!("{}/metrics", server.http_url()))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let text = r.text().await.unwrap();
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parses")
}

/// Exchanges media until at least `want` packets arrived (within 20 s; connections may take a
/// while on a loaded machine).
async fn exchange_until(clients: &mut [SiteClient], want: u64) -> u64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut received = 0;
    while received < want {
        assert!(
            tokio::time::Instant::now() < deadline,
            "media does not flow: {received} packets"
        );
        received += exchange(clients, 20).await;
    }
    received
}

/// Both sites send audio and video every 10 ms for `rounds` rounds and drain what they receive.
async fn exchange(clients: &mut [SiteClient], rounds: u32) -> u64 {
    let mut received = 0;
    for _ in 0..rounds {
        for c in clients.iter() {
            let _ = c.send(MediaKind::Audio, Bytes::from_static(b"audio")).await;
            let _ = c.send(MediaKind::Video, Bytes::from_static(b"video")).await;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        for c in clients.iter_mut() {
            while c.try_recv_packet().is_some() {
                received += 1;
            }
        }
    }
    received
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics_while_two_sites_exchange_media() {
    let server = TestServer::start().await;
    let health: serde_json::Value = reqwest::get(format!("{}/healthz", server.http_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["service"], "giaoban");
    let ready = reqwest::get(format!("{}/readyz", server.http_url()))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);

    let idle = scrape(&server).await;
    assert_eq!(value(&idle, "giaoban_sessions", None), 0.0);
    assert_eq!(value(&idle, "giaoban_packets_out_total", None), 0.0);
    assert!(value(&idle, "process_resident_memory_bytes", None) > 1e6);

    let session = server.create_session(HOST, &[SITES[0]]).await;
    let mut clients = Vec::new();
    for s in [HOST, SITES[0]] {
        clients.push(
            SiteClient::join(&server.ws_url(), &token(&session.links[s]), LOCAL)
                .await
                .unwrap(),
        );
    }
    // Media flows from the first moment: what reaches a subscriber before it is ready is held
    // back (counted), never written into a connection that cannot take it.
    exchange_until(&mut clients, 200).await;

    let live = scrape(&server).await;
    assert_eq!(value(&live, "giaoban_sessions", None), 1.0);
    assert_eq!(value(&live, "giaoban_participants", None), 2.0);
    assert_eq!(value(&live, "giaoban_tracks", None), 4.0);
    assert_eq!(value(&live, "giaoban_down_tracks", None), 4.0);
    let (pin, pout) = (
        value(&live, "giaoban_packets_in_total", None),
        value(&live, "giaoban_packets_out_total", None),
    );
    assert!(pin > 100.0 && pout > 100.0, "in {pin} out {pout}");
    assert!(value(&live, "giaoban_bytes_out_total", None) > pout * 12.0);
    assert_eq!(
        value(&live, "giaoban_packets_dropped_total", None),
        0.0,
        "no write failed and no queue overflowed"
    );
    for name in [
        "giaoban_packets_not_ready_total",
        "giaoban_nacks_received_total",
        "giaoban_plis_sent_total",
        "process_cpu_seconds_total",
    ] {
        assert!(value(&live, name, None) >= 0.0);
    }
    let id = session.session_id.as_str();
    assert_eq!(
        value(&live, "giaoban_session_packets_in_total", Some(id)),
        pin
    );
    assert_eq!(
        value(&live, "giaoban_session_packets_lost_total", Some(id)),
        0.0
    );
    assert_eq!(value(&live, "giaoban_session_loss_ratio", Some(id)), 0.0);
    assert!(value(&live, "process_cpu_seconds_total", None) > 0.0);

    for c in clients {
        c.leave().await;
    }
    server
        .wait_stats("everything released", Duration::from_secs(10), |s| {
            s.peer_connections == 0 && s.tracks == 0 && s.down_tracks == 0
        })
        .await;
    let after = scrape(&server).await;
    assert_eq!(value(&after, "giaoban_sessions", None), 0.0);
    assert!(
        !after
            .samples
            .iter()
            .any(|s| s.labels.get("session") == Some(id)),
        "an ended session's series are gone"
    );
}

/// Inodes of this process's sockets bound to UDP port `port` (from /proc/net/udp and udp6).
fn own_udp_sockets_on(port: u16) -> usize {
    let own: HashSet<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().to_string();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let mut n = 0;
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local_port = f[1]
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if local_port == Some(port) && own.contains(f[9]) {
                n += 1;
            }
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_peer_connection_opens_an_mdns_socket() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &[SITES[1]]).await;
    let mut clients = Vec::new();
    for s in [HOST, SITES[1]] {
        clients.push(
            SiteClient::join(&server.ws_url(), &token(&session.links[s]), LOCAL)
                .await
                .unwrap(),
        );
    }
    exchange_until(&mut clients, 100).await;
    server
        .wait_stats("four connections", Duration::from_secs(5), |s| {
            s.peer_connections == 4
        })
        .await;
    // Server and clients are in this process: eight peer connections, no multicast socket.
    assert!(
        own_udp_sockets_on(server.running.addr.port()) == 0,
        "(the HTTP port is TCP)"
    );
    assert_eq!(own_udp_sockets_on(5353), 0, "an mDNS socket is open");
    for c in clients {
        c.leave().await;
    }
}
