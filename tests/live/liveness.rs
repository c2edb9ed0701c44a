//! Liveness and idle limits through the real server: a frozen site (its socket stops reading
//! and answering pings) is declared dropped within 5 s; a socket that never joins is closed
//! after the join timeout; a live site that only answers pings stays; the HTTP listener cuts
//! half-sent headers and refuses connections over its caps (per address and in total).

use crate::common;
use crate::common::live;

use common::*;
use giaoban::client::SiteClient;
use giaoban::signal::protocol::{ErrorCode, LeaveReason, ServerMsg};
use live::*;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_site_is_dropped_within_five_seconds() {
    // The defaults: ping every second, dropped after 3 s of silence.
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..2]).await;
    let ws = server.ws_url();
    let mut host = SiteClient::join(&ws, &token(&session.links[HOST]), LOCAL)
        .await
        .unwrap();
    let mut live = RawSite::join(&ws, &token(&session.links[SITES[1]]), None).await;
    // The frozen site joins, then never reads its socket again (no pongs, nothing sent).
    let mut frozen = connect(&ws, None).await;
    assert!(matches!(
        send_join(&mut frozen, &token(&session.links[SITES[0]])).await,
        Seen::Msg(ServerMsg::Joined { .. })
    ));
    let t = Instant::now();
    let reason = left_reason(&mut host, SITES[0], Duration::from_secs(5)).await;
    assert_eq!(reason, LeaveReason::Drop);
    let delay = t.elapsed();
    assert!(delay < Duration::from_secs(5), "dropped after {delay:?}");
    // Not before the silence limit: pings were answered until the freeze.
    assert!(
        delay >= Duration::from_millis(2500),
        "dropped after {delay:?}"
    );
    // The site that keeps reading (so its library answers the pings) stays.
    live.stays(Duration::from_millis(200)).await;
    assert_eq!(server.running.state.sfu.live(), (1, 2));
    drop(frozen);
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_keep_a_quiet_site_and_silence_drops_it_fast_when_configured() {
    let server = TestServer::start_with(&[
        ("GIAOBAN_SIGNAL_PING_INTERVAL_MS", "100"),
        ("GIAOBAN_SIGNAL_SILENCE_TIMEOUT_MS", "400"),
    ])
    .await;
    let session = server.create_session(HOST, &SITES[..1]).await;
    let ws = server.ws_url();
    let mut quiet = RawSite::join(&ws, &token(&session.links[HOST]), None).await;
    let mut frozen = connect(&ws, None).await;
    assert!(matches!(
        send_join(&mut frozen, &token(&session.links[SITES[0]])).await,
        Seen::Msg(ServerMsg::Joined { .. })
    ));
    let t = Instant::now();
    // The quiet site sends nothing itself, only the pongs its library answers: it stays,
    // and hears the frozen one dropped.
    loop {
        match tokio::time::timeout(Duration::from_secs(2), quiet.rx.recv()).await {
            Ok(Some(Seen::Msg(ServerMsg::ParticipantLeft {
                site_id, reason, ..
            }))) => {
                assert_eq!((site_id.as_str(), reason), (SITES[0], LeaveReason::Drop));
                break;
            }
            Ok(Some(Seen::Msg(
                ServerMsg::ParticipantJoined { .. }
                | ServerMsg::HandsChanged { .. }
                | ServerMsg::FloorChanged { .. }
                | ServerMsg::ChairPolicy { .. }
                | ServerMsg::ShareChanged { .. }
                | ServerMsg::MuteChanged { .. },
            ))) => continue,
            other => panic!("expected the frozen site dropped, got {other:?}"),
        }
    }
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
    quiet.stays(Duration::from_millis(1500)).await;
    assert_eq!(server.running.state.sfu.live(), (1, 1));
    drop(frozen);
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_does_not_join_is_closed_after_the_join_timeout() {
    let server = TestServer::start_with(&[("GIAOBAN_SIGNAL_JOIN_TIMEOUT_MS", "400")]).await;
    let session = server.create_session(HOST, &[]).await;
    let t = Instant::now();
    let mut silent = connect(&server.ws_url(), None).await;
    match next(&mut silent, Duration::from_secs(3)).await {
        Some(Seen::Msg(ServerMsg::Error { code, .. })) => assert_eq!(code, ErrorCode::JoinTimeout),
        other => panic!("expected join_timeout, got {other:?}"),
    }
    assert_eq!(
        next(&mut silent, Duration::from_secs(1)).await,
        Some(Seen::Closed(Some(4408)))
    );
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(2),
        "closed after {waited:?}"
    );
    // Garbage and pings do not count as a join either.
    let mut chatty = connect(&server.ws_url(), None).await;
    for _ in 0..3 {
        use futures_util::SinkExt;
        let ping = tokio_tungstenite::tungstenite::Message::Text(r#"{"type":"ping"}"#.into());
        chatty.send(ping).await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let mut codes = Vec::new();
    while let Some(seen) = next(&mut chatty, Duration::from_secs(2)).await {
        match seen {
            Seen::Msg(ServerMsg::Error { code, .. }) => codes.push(code),
            Seen::Closed(c) => {
                assert_eq!(c, Some(4408));
                break;
            }
            _ => {}
        }
    }
    assert_eq!(codes, vec![ErrorCode::JoinTimeout]);
    // A site that joined in time is not affected.
    let mut joined = RawSite::join(&server.ws_url(), &token(&session.links[HOST]), None).await;
    joined.stays(Duration::from_millis(900)).await;
    server.running.stop().await;
}

/// Connects from `local` (any 127.x address) to the server.
async fn tcp_from(local: [u8; 4], server: SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::from((local, 0)))
        .expect("bind a loopback source address");
    socket.connect(server).await.unwrap()
}

/// Reads what the server sends until it closes (or `timeout`); `None` on timeout.
async fn read_to_close(s: &mut tokio::net::TcpStream, timeout: Duration) -> Option<String> {
    let mut buf = Vec::new();
    match tokio::time::timeout(timeout, s.read_to_end(&mut buf)).await {
        Ok(_) => Some(String::from_utf8_lossy(&buf).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_caps_refuse_the_excess_and_slow_headers_are_cut() {
    let server = TestServer::start_with(&[
        ("GIAOBAN_HTTP_MAX_CONNECTIONS", "6"),
        ("GIAOBAN_HTTP_MAX_CONNECTIONS_PER_IP", "4"),
        ("GIAOBAN_HTTP_HEADER_READ_TIMEOUT_MS", "600"),
    ])
    .await;
    let addr = server.running.addr;
    // Four half-sent requests from one address fill its share; the fifth is refused at once.
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut s = tcp_from([127, 0, 0, 1], addr).await;
        s.write_all(b"GET /api/openapi.json HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        held.push(s);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut fifth = tcp_from([127, 0, 0, 1], addr).await;
    let answer = read_to_close(&mut fifth, Duration::from_millis(300)).await;
    assert!(
        answer
            .as_deref()
            .is_some_and(|a| a.starts_with("HTTP/1.1 503")),
        "{answer:?}"
    );
    // Another address has its own share, up to the total.
    let mut other = Vec::new();
    for _ in 0..2 {
        other.push(tcp_from([127, 0, 0, 2], addr).await);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut over = tcp_from([127, 0, 0, 3], addr).await;
    let answer = read_to_close(&mut over, Duration::from_millis(300)).await;
    assert!(
        answer
            .as_deref()
            .is_some_and(|a| a.starts_with("HTTP/1.1 503")),
        "{answer:?}"
    );
    // The half-sent headers are cut after the header-read timeout, and so are idle sockets.
    let t = Instant::now();
    for s in held.iter_mut().chain(other.iter_mut()) {
        let answer = read_to_close(s, Duration::from_secs(3)).await;
        assert!(answer.is_some(), "a slow socket was not closed");
    }
    let waited = t.elapsed();
    assert!(waited < Duration::from_secs(2), "closed after {waited:?}");
    // Their places are free again: a whole request is served.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = reqwest::get(format!("{}/api/openapi.json", server.http_url()))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    server.running.stop().await;
}
