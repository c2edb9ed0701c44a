//! Recording from the room: the host site starts and stops it with `recording` messages, every
//! site hears the notice (also one that joins while it runs), another site is refused with
//! `not_controller`, a start twice with `recording_refused`; a "record automatically" session
//! starts recording when its host site joins (not before).

mod common;

use common::*;
use giaoban::auth::Role;
use giaoban::client::SiteClient;
use giaoban::signal::protocol::{ClientMsg, ErrorCode, ServerMsg};
use std::time::Duration;

const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// The next `recording` notice or error a site receives (other messages are skipped).
async fn next_notice(site: &mut SiteClient) -> ServerMsg {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline - tokio::time::Instant::now();
        match site.next_message(left).await {
            Some(m @ (ServerMsg::Recording { .. } | ServerMsg::Error { .. })) => return m,
            Some(_) => {}
            None => panic!("no recording notice"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_site_starts_and_stops_recording_and_every_site_hears_it() {
    let server = TestServer::start().await;
    let created = server.create_session(HOST, &SITES[..2]).await;
    let sid = created.session_id.clone();
    let ws = server.ws_url();
    let join = |site: &str| {
        let (ws, token) = (ws.clone(), token(&created.links[site]));
        async move { SiteClient::join(&ws, &token, LOCAL).await }
    };
    let mut host = join(HOST).await.unwrap();
    let mut remote = join(SITES[0]).await.unwrap();

    remote.send_msg(ClientMsg::Recording { active: true }).await;
    match next_notice(&mut remote).await {
        ServerMsg::Error { code, .. } => assert_eq!(code, ErrorCode::NotController),
        m => panic!("{m:?}"),
    }
    assert!(server.running.state.sfu.recording_in(&sid).is_none());

    host.send_msg(ClientMsg::Recording { active: true }).await;
    for site in [&mut host, &mut remote] {
        assert!(matches!(
            next_notice(site).await,
            ServerMsg::Recording { active: true, .. }
        ));
    }
    let late = &mut join(SITES[1]).await.unwrap();
    assert!(
        matches!(
            next_notice(late).await,
            ServerMsg::Recording { active: true, .. }
        ),
        "a site joining during the recording is told at once"
    );
    host.send_msg(ClientMsg::Recording { active: true }).await;
    match next_notice(&mut host).await {
        ServerMsg::Error { code, .. } => assert_eq!(code, ErrorCode::RecordingRefused),
        m => panic!("{m:?}"),
    }
    host.send_msg(ClientMsg::Recording { active: false }).await;
    for site in [&mut host, &mut remote] {
        assert!(matches!(
            next_notice(site).await,
            ServerMsg::Recording {
                active: false,
                error: None,
                ..
            }
        ));
    }
    let auditor = server.login(Role::Auditor).await;
    let (_, audit) = body(auditor.get("/api/audit?action=recording.start").await).await;
    assert_eq!(audit[0]["actor"], format!("site:{HOST}"), "{audit}");
    let (_, audit) = body(auditor.get("/api/audit?action=recording.stop").await).await;
    assert_eq!(audit[0]["actor"], format!("site:{HOST}"), "{audit}");
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_automatically_session_starts_when_its_host_site_joins() {
    let server = TestServer::start().await;
    let secretariat = server.login(Role::Secretariat).await;
    let start = chrono::Utc::now() - chrono::Duration::minutes(5);
    let mut req = session(
        "Giao ban tự động ghi hình",
        &start.to_rfc3339(),
        &(start + chrono::Duration::hours(1)).to_rfc3339(),
        &[SITES[0]],
    );
    req["record_auto"] = true.into();
    let (status, created) = body(secretariat.post("/api/sessions", &req).await).await;
    assert_eq!(status, 201, "{created}");
    let sid = created["session_id"].as_str().unwrap().to_string();
    let link = |site: &str| token(created["links"][site].as_str().unwrap());
    let mut remote = SiteClient::join(&server.ws_url(), &link(SITES[0]), LOCAL)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        server.running.state.sfu.recording_in(&sid).is_none(),
        "a remote site does not start it"
    );
    let _host = SiteClient::join(&server.ws_url(), &link(HOST), LOCAL)
        .await
        .unwrap();
    assert!(matches!(
        next_notice(&mut remote).await,
        ServerMsg::Recording { active: true, .. }
    ));
    let operator = server.login(Role::Operator).await;
    let (_, list) = body(
        operator
            .get(&format!("/api/sessions/{sid}/recordings"))
            .await,
    )
    .await;
    assert_eq!(
        list[0]["recording"]["started_by"],
        "system:record-automatically"
    );
    server.running.stop().await;
}
