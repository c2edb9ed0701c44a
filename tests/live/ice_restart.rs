//! ICE restart: a site whose network changes restarts ICE on both its connections without leaving
//! (the Rust client binds new sockets, so its candidates change): the server answers with new ICE
//! credentials, media resumes both ways from the new addresses, the site stays the same
//! participant, the others see no `participant_left`, and attendance keeps one interval. A
//! restart asked for the publish connection (which restarts by its own offer) is refused with
//! `bad_message`, and changes nothing.

use crate::common;
use crate::common::live;

use common::*;
use giaoban::client::SiteClient;
use giaoban::signal::protocol::{ClientMsg, ErrorCode, PcKind, ServerMsg};
use live::*;
use std::time::Duration;

const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_restarts_ice_with_new_candidates_and_stays_the_same_participant() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..1]).await;
    let ws = server.ws_url();
    let mut host = SiteClient::join(&ws, &token(&session.links[HOST]), LOCAL)
        .await
        .unwrap();
    let mut site = SiteClient::join(&ws, &token(&session.links[SITES[0]]), LOCAL)
        .await
        .unwrap();
    media_flows(&mut host, &mut site, 0, 30).await;
    let before = site.media_sources().await;
    assert!(before.iter().all(Option::is_some), "{before:?}");
    let participant = site.participant_id.clone();

    // Refused: the publish connection restarts with its own offer.
    site.send_msg(ClientMsg::IceRestart {
        pc: PcKind::Publish,
    })
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let m = site.next_message(Duration::from_secs(5)).await;
        if let Some(ServerMsg::Error { code, message }) = &m {
            assert_eq!(*code, ErrorCode::BadMessage, "{message}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no bad_message: {m:?}"
        );
    }

    // What the host heard so far (the site's arrival) is not what this test is about.
    while host
        .next_message(Duration::from_millis(200))
        .await
        .is_some()
    {}
    site.restart_ice().await.unwrap();
    // New sockets: both connections move to new local addresses, and media resumes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let after = loop {
        let now = site.media_sources().await;
        if now.iter().zip(&before).all(|(n, b)| n.is_some() && n != b) {
            break now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the connections did not move: before {before:?}, now {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    media_flows(&mut host, &mut site, 1_000_000, 30).await;
    eprintln!("ice restart: sources {before:?} → {after:?}");

    // The same participant: nobody saw it leave or join again.
    assert_eq!(site.participant_id, participant);
    while let Some(m) = host.next_message(Duration::from_millis(300)).await {
        assert!(
            !matches!(
                m,
                ServerMsg::ParticipantLeft { .. } | ServerMsg::ParticipantJoined { .. }
            ),
            "the host saw {m:?}"
        );
    }
    assert_eq!(server.stats().participants, 2);
    // One attendance interval for the site.
    let sec = server.login(giaoban::auth::Role::Secretariat).await;
    let (status, roll) = body(
        sec.get(&format!("/api/sessions/{}/attendance", session.session_id))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{roll}");
    let line = roll["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["site_id"] == SITES[0])
        .unwrap_or_else(|| panic!("{roll}"));
    assert_eq!(line["intervals"].as_array().unwrap().len(), 1, "{line}");
}
