//! Recording from the room: the host site starts and stops it with `recording` messages, every
//! site hears the notice (also one that joins while it runs), another site is refused with
//! `not_controller`, a start twice with `recording_refused`; a "record automatically" session
//! starts recording when its host site joins (not before); an agenda item marked during the
//! recording is on its timeline (a chapter) at the moment it was marked.

use crate::common;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agenda_item_marked_during_the_recording_is_a_chapter_at_its_moment() {
    let server = TestServer::start().await;
    let created = server.create_session(HOST, &SITES[..1]).await;
    let sid = created.session_id.clone();
    let agenda = serde_json::json!([
        {"title": "Khai mạc", "presenter": ""},
        {"title": "Báo cáo công tác phòng, chống thiên tai", "presenter": "Sở Nông nghiệp và Môi trường"},
    ]);
    server.set_agenda(&sid, &agenda).await;
    let mut host = SiteClient::join(&server.ws_url(), &token(&created.links[HOST]), LOCAL)
        .await
        .unwrap();
    host.send_msg(ClientMsg::Recording { active: true }).await;
    assert!(matches!(
        next_notice(&mut host).await,
        ServerMsg::Recording { active: true, .. }
    ));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let marked = chrono::Utc::now();
    host.send_msg(ClientMsg::SetAgendaItem { index: Some(1) })
        .await;
    let since = loop {
        match host.next_message(Duration::from_secs(10)).await {
            Some(ServerMsg::AgendaItem { item: Some(item) }) => break item.since,
            Some(_) => {}
            None => panic!("no agenda_item"),
        }
    };
    tokio::time::sleep(Duration::from_millis(1000)).await;
    host.send_msg(ClientMsg::Recording { active: false }).await;
    assert!(matches!(
        next_notice(&mut host).await,
        ServerMsg::Recording { active: false, .. }
    ));

    let operator = server.login(Role::Operator).await;
    let (_, list) = body(
        operator
            .get(&format!("/api/sessions/{sid}/recordings"))
            .await,
    )
    .await;
    let rec = &list[0];
    let started: chrono::DateTime<chrono::Utc> = rec["recording"]["started_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let chapters: Vec<&serde_json::Value> = rec["manifest"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "agenda_item")
        .collect();
    assert_eq!(chapters.len(), 1, "{}", rec["manifest"]["timeline"]);
    let at_ms = chapters[0]["at_ms"].as_i64().unwrap();
    // At the moment it was marked on the recording's clock: the server's own stamp (a few ms),
    // and this test's clock around the message (its round trip on a loaded machine).
    let stamped = (since - started).num_milliseconds();
    assert!(
        (at_ms - stamped).abs() <= 20,
        "at {at_ms} ms, marked at {stamped} ms"
    );
    let sent = (marked - started).num_milliseconds();
    assert!(
        at_ms >= sent - 20 && at_ms - sent <= 500,
        "at {at_ms} ms, sent at {sent} ms"
    );
    assert!((1400..=3000).contains(&at_ms), "{at_ms}");
    let detail: serde_json::Value =
        serde_json::from_str(chapters[0]["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["index"], 1);
    assert_eq!(detail["title"], "Báo cáo công tác phòng, chống thiên tai");
    assert_eq!(detail["by"], format!("site:{HOST}"));
    // The manifest on disk has the same chapter.
    let rid = rec["recording"]["id"].as_str().unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            server
                .dir
                .path()
                .join("recordings")
                .join(rid)
                .join("manifest.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(
        manifest["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "agenda_item" && e["at_ms"].as_i64() == Some(at_ms)),
        "{manifest}"
    );
    host.leave().await;
    server.running.stop().await;
}
