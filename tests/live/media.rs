//! Media forwarding through the real server with Rust clients: every site (each showing all the
//! others, `subscribe`) receives every other site's audio and video, in order, labelled by the
//! sender; leaving and rejoining works; leaving releases every peer connection, task, port and
//! socket.

use crate::common;

use bytes::{BufMut, Bytes, BytesMut};
use common::*;
use giaoban::client::SiteClient;
use giaoban::signal::protocol::MediaKind;
use std::collections::HashMap;
use std::time::Duration;

const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// Payload: b"GB", site index, kind (0 audio / 1 video), counter (u32 BE).
fn payload(site: u8, kind: MediaKind, n: u32) -> Bytes {
    let mut b = BytesMut::with_capacity(8);
    b.put_slice(b"GB");
    b.put_u8(site);
    b.put_u8(if kind == MediaKind::Audio { 0 } else { 1 });
    b.put_u32(n);
    b.freeze()
}

fn parse(p: &[u8]) -> Option<(u8, u8, u32)> {
    (p.len() == 8 && &p[..2] == b"GB")
        .then(|| (p[2], p[3], u32::from_be_bytes([p[4], p[5], p[6], p[7]])))
}

/// Sends `rounds` packets of both kinds from every client, 10 ms apart, while draining what each
/// receives. Returns, per receiver, per (sender, kind): the counters seen in arrival order,
/// and checks that stream ids name the sender's participant.
async fn exchange(
    clients: &mut [SiteClient],
    indexes: &[u8],
    rounds: u32,
    start: u32,
) -> Vec<HashMap<(u8, u8), Vec<u32>>> {
    let ids: HashMap<u8, String> = indexes
        .iter()
        .zip(clients.iter())
        .map(|(i, c)| (*i, c.participant_id.clone()))
        .collect();
    let mut seen = vec![HashMap::<(u8, u8), Vec<u32>>::new(); clients.len()];
    for n in start..start + rounds {
        for (c, &i) in clients.iter().zip(indexes) {
            let _ = c
                .send(MediaKind::Audio, payload(i, MediaKind::Audio, n))
                .await;
            let _ = c
                .send(MediaKind::Video, payload(i, MediaKind::Video, n))
                .await;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        for (r, c) in clients.iter_mut().enumerate() {
            while let Some(rx) = c.try_recv_packet() {
                let (site, kind, counter) = parse(&rx.packet.payload).expect("marker payload");
                assert_eq!(
                    ids[&site], rx.stream_id,
                    "stream id names the sending site participant; ids {ids:?} site {site} kind {kind} track {}",
                    rx.track_id
                );
                assert_eq!(
                    kind == 0,
                    rx.kind == MediaKind::Audio,
                    "kind matches the track"
                );
                seen[r].entry((site, kind)).or_default().push(counter);
            }
        }
    }
    seen
}

/// Joins a site whose page shows every other site of `all` (the default layouts show remote
/// sites only the host and the floor holder; this test is about forwarding between all of them).
async fn join_seeing_all(
    server: &TestServer,
    links: &std::collections::BTreeMap<String, String>,
    me: &str,
    all: &[&str],
) -> SiteClient {
    let c = SiteClient::join(&server.ws_url(), &token(&links[me]), LOCAL)
        .await
        .unwrap();
    let video = all
        .iter()
        .filter(|s| **s != me)
        .map(|s| giaoban::signal::protocol::TileRequest {
            site_id: s.to_string(),
            width: 640,
            height: 360,
            source: Default::default(),
        })
        .collect();
    c.send_msg(giaoban::signal::protocol::ClientMsg::Subscribe {
        video: Some(video),
        page: None,
    })
    .await;
    c
}

fn assert_all_received_in_order(
    seen: &[HashMap<(u8, u8), Vec<u32>>],
    indexes: &[u8],
    min_packets: usize,
) {
    for (r, got) in seen.iter().enumerate() {
        for &s in indexes.iter().filter(|&&s| s != indexes[r]) {
            for kind in [0u8, 1] {
                let v = got.get(&(s, kind)).unwrap_or_else(|| {
                    panic!(
                        "site {} got nothing of kind {kind} from site {s}",
                        indexes[r]
                    )
                });
                assert!(
                    v.len() >= min_packets,
                    "site {} got only {} packets of kind {kind} from {s}",
                    indexes[r],
                    v.len()
                );
                assert!(
                    v.windows(2).all(|w| w[0] < w[1]),
                    "out of order from {s} kind {kind}: {v:?}"
                );
            }
        }
        assert!(
            !got.keys().any(|(s, _)| *s == indexes[r]),
            "a site must not receive itself"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_sites_exchange_audio_and_video_then_one_rejoins() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..2]).await;
    let sites = [HOST, SITES[0], SITES[1]];
    let mut clients = Vec::new();
    for s in sites {
        clients.push(join_seeing_all(&server, &session.links, s, &sites).await);
    }
    let indexes = [0u8, 1, 2];
    // Warm-up until every pair flows (negotiation and ICE on loopback), then the measured run.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let seen = exchange(&mut clients, &indexes, 20, 0).await;
        let complete = seen.iter().enumerate().all(|(r, m)| {
            indexes
                .iter()
                .filter(|&&s| s != indexes[r])
                .all(|&s| m.contains_key(&(s, 0)) && m.contains_key(&(s, 1)))
        });
        if complete {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "media did not flow between all sites: {seen:?}"
        );
    }
    let seen = exchange(&mut clients, &indexes, 100, 1000).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_all_received_in_order(&seen, &indexes, 80);
    // Every video publisher was asked for a keyframe when its subscribers started.
    for (i, c) in clients.iter().enumerate() {
        assert!(
            c.keyframe_requests
                .load(std::sync::atomic::Ordering::Relaxed)
                > 0,
            "site {i} got no keyframe request"
        );
    }

    // Site 1 leaves and rejoins with the same link.
    let leaving = clients.remove(1);
    leaving.leave().await;
    server
        .wait_stats(
            "the left site to be released",
            Duration::from_secs(10),
            |s| s.participants == 2,
        )
        .await;
    // Packets of the left connection still queued at the others are from before the rejoin.
    for c in clients.iter_mut() {
        while c.try_recv_packet().is_some() {}
    }
    clients.insert(
        1,
        join_seeing_all(&server, &session.links, SITES[0], &sites).await,
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut start = 5000;
    loop {
        let seen = exchange(&mut clients, &indexes, 20, start).await;
        start += 20;
        let ok = seen.iter().enumerate().all(|(r, m)| {
            indexes
                .iter()
                .filter(|&&s| s != indexes[r])
                .all(|&s| m.get(&(s, 1)).is_some_and(|v| v.iter().any(|&n| n >= 5000)))
        });
        if ok {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "media did not flow again after the rejoin: {seen:?}"
        );
    }
    let seen = exchange(&mut clients, &indexes, 60, 9000).await;
    assert_all_received_in_order(&seen, &indexes, 40);
    for c in clients {
        c.leave().await;
    }
    server
        .wait_stats("everything released", Duration::from_secs(10), |s| {
            s.participants == 0 && s.peer_connections == 0
        })
        .await;
    server.running.stop().await;
}

/// A site stops its camera mid-session: the others are told the track ended, and its audio and
/// every other site's media keep flowing without a gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_track_ending_mid_session_leaves_the_others_flowing() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..2]).await;
    let mut clients = Vec::new();
    let sites = [HOST, SITES[0], SITES[1]];
    for s in sites {
        clients.push(join_seeing_all(&server, &session.links, s, &sites).await);
    }
    let indexes = [0u8, 1, 2];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let seen = exchange(&mut clients, &indexes, 20, 0).await;
        if seen.iter().enumerate().all(|(r, m)| {
            indexes
                .iter()
                .filter(|&&s| s != indexes[r])
                .all(|&s| m.contains_key(&(s, 0)) && m.contains_key(&(s, 1)))
        }) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "media did not start: {seen:?}"
        );
    }
    // Drain the signaling so far, then site 1 turns its camera off for good.
    for c in clients.iter_mut() {
        while c.next_message(Duration::from_millis(50)).await.is_some() {}
    }
    clients[1].unpublish(MediaKind::Video).await.unwrap();
    let mut told = vec![Vec::new(); 3];
    for r in [0usize, 2] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let msg = clients[r].next_message(Duration::from_millis(200)).await;
            if let Some(m) = &msg {
                told[r].push(m.clone());
            }
            match msg {
                Some(giaoban::signal::protocol::ServerMsg::TrackEnded {
                    kind: MediaKind::Video,
                    participant_id,
                    ..
                }) => {
                    assert_eq!(participant_id, clients[1].participant_id);
                    break;
                }
                _ => assert!(
                    tokio::time::Instant::now() < deadline,
                    "site {r} was not told the video ended"
                ),
            }
        }
    }
    let seen = exchange(&mut clients, &indexes, 100, 2000).await;
    // The renegotiation changed nothing else: site 1's audio is the same publication (a track
    // the stack announces again is not published anew, which would end it at every site).
    for r in [0usize, 2] {
        while let Some(m) = clients[r].next_message(Duration::from_millis(50)).await {
            told[r].push(m);
        }
        let churn: Vec<_> = told[r]
            .iter()
            .filter(|m| match m {
                giaoban::signal::protocol::ServerMsg::TrackPublished { participant_id, .. } => {
                    *participant_id == clients[1].participant_id
                }
                giaoban::signal::protocol::ServerMsg::TrackEnded {
                    participant_id,
                    kind,
                    ..
                } => *participant_id == clients[1].participant_id && *kind != MediaKind::Video,
                _ => false,
            })
            .collect();
        assert!(churn.is_empty(), "site {r} was told: {churn:?}");
    }
    for r in [0usize, 2] {
        assert!(
            !seen[r]
                .get(&(1, 1))
                .is_some_and(|v| v.iter().any(|&n| n >= 2020)),
            "video of site 1 should have stopped"
        );
        let audio = &seen[r][&(1, 0)];
        assert!(
            audio.len() >= 80 && audio.windows(2).all(|w| w[0] < w[1]),
            "site 1's audio keeps flowing to {r}"
        );
        let other = if r == 0 { 2 } else { 0 };
        for kind in [0u8, 1] {
            let v = &seen[r][&(other, kind)];
            assert!(
                v.len() >= 80 && v.windows(2).all(|w| w[0] < w[1]),
                "site {other} kind {kind} keeps flowing to {r}"
            );
        }
    }
    for c in clients {
        c.leave().await;
    }
    server
        .wait_stats("everything released", Duration::from_secs(10), |s| {
            s.participants == 0 && s.peer_connections == 0 && s.down_tracks == 0
        })
        .await;
}
