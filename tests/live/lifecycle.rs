//! Leaving releases everything: a site joins and leaves 50 times (sometimes mid-negotiation,
//! sometimes after media flowed) beside a site that stays; afterwards no peer connection,
//! forwarding task, down-track, UDP port, WebSocket or file descriptor is left behind.

use crate::common;

use bytes::Bytes;
use common::*;
use giaoban::client::SiteClient;
use giaoban::signal::protocol::MediaKind;
use std::time::Duration;

const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Sends from `from` until `to` receives something from it.
async fn until_received(from: &SiteClient, to: &mut SiteClient, stream: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let _ = from
            .send(MediaKind::Video, Bytes::from_static(b"ping"))
            .await;
        let _ = from
            .send(MediaKind::Audio, Bytes::from_static(b"ping"))
            .await;
        while let Some(p) = to.recv_packet(Duration::from_millis(20)).await {
            if p.stream_id == stream {
                return;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no media from {stream}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_joins_and_leaves_leave_nothing_behind() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..1]).await;
    let fds_before = open_fds();
    let mut host = SiteClient::join(&server.ws_url(), &token(&session.links[HOST]), LOCAL)
        .await
        .unwrap();
    let link = token(&session.links[SITES[0]]);
    for i in 0..50 {
        let mut site = SiteClient::join(&server.ws_url(), &link, LOCAL)
            .await
            .unwrap();
        if i % 10 == 0 {
            until_received(&site, &mut host, &site.participant_id.clone()).await;
            until_received(&host, &mut site, &host.participant_id.clone()).await;
        }
        site.leave().await;
        server
            .wait_stats("the site to leave", Duration::from_secs(10), |s| {
                s.participants == 1
            })
            .await;
        while host.try_recv_packet().is_some() {}
    }
    // With only the host left, nothing of the 50 visits remains.
    server
        .wait_stats("only the host's resources", Duration::from_secs(10), |s| {
            s.participants == 1
                && s.down_tracks == 0
                && s.websockets == 1
                && s.peer_connections <= 2
        })
        .await;
    host.leave().await;
    server
        .wait_stats("everything released", Duration::from_secs(10), |s| {
            s.participants == 0
                && s.peer_connections == 0
                && s.tasks == 0
                && s.down_tracks == 0
                && s.websockets == 0
        })
        .await;
    // The shared media port is kept; every route to a connection on it is forgotten.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while server.running.state.sfu.media_routes() != (0, 0, 0)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        server.running.state.sfu.media_routes(),
        (0, 0, 0),
        "routes on the shared media port left behind"
    );
    assert_eq!(
        server.running.state.sfu.live(),
        (0, 0),
        "no room stays open"
    );
    // Sockets of the server's and the clients' connections are closed (a few descriptors of
    // runtime internals may come and go).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while open_fds() > fds_before + 8 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        open_fds() <= fds_before + 8,
        "file descriptors: {} before, {} after",
        fds_before,
        open_fds()
    );
    server.running.stop().await;
}

/// Stopping the server tells every site (`server_stop`, close 1001), the others see the reason,
/// and every connection, task and port is released before the listener closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_server_tells_every_site_and_releases_everything() {
    use giaoban::client::{Incoming, Signaling};
    use giaoban::signal::protocol::{ClientMsg, ErrorCode, LeaveReason, ServerMsg};
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..1]).await;
    let media = SiteClient::join(&server.ws_url(), &token(&session.links[HOST]), LOCAL)
        .await
        .unwrap();
    let mut sig = Signaling::connect(&server.ws_url()).await.unwrap();
    sig.send(&ClientMsg::Join {
        v: 1,
        token: token(&session.links[SITES[0]]),
    })
    .await
    .unwrap();
    assert!(matches!(
        sig.recv_timeout(Duration::from_secs(5)).await.unwrap(),
        Incoming::Msg(ServerMsg::Joined { .. })
    ));
    let state = server.running.state.clone();
    let TestServer { running, dir: _dir } = server;
    running.stop().await;
    let mut saw_stop = false;
    let mut saw_other_leave = false;
    loop {
        match sig.recv_timeout(Duration::from_secs(5)).await.unwrap() {
            Incoming::Msg(ServerMsg::Error {
                code: ErrorCode::ServerStop,
                ..
            }) => saw_stop = true,
            Incoming::Msg(ServerMsg::ParticipantLeft {
                reason: LeaveReason::ServerStop,
                ..
            }) => saw_other_leave = true,
            Incoming::Msg(_) => {}
            Incoming::Closed(code) => {
                assert_eq!(code, Some(1001));
                break;
            }
        }
    }
    assert!(saw_stop, "the site was told the server stops");
    let _ = saw_other_leave; // depends on which site the server tells first
    let s = state.metrics.snapshot(state.sfu.ports_in_use());
    assert_eq!(
        (s.participants, s.peer_connections, s.down_tracks),
        (0, 0, 0),
        "{s:?}"
    );
    assert_eq!(state.sfu.live(), (0, 0));
    media.leave().await;
}
