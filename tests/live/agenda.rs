//! The agenda item a live session is on: the host site marks it from its room page
//! (`set_agenda_item`), an operator from the console (REST); every site hears `agenda_item` (one
//! that joins later too), the change is audited with who made it. Refused, changing nothing:
//! another site, a user without the role, an index out of range, a session with no agenda, a
//! session with no site connected, a malformed request.

use crate::common;

use common::*;
use giaoban::auth::Role;
use giaoban::client::SiteClient;
use giaoban::client::site::{Incoming, Signaling};
use giaoban::signal::protocol::{AgendaNow, ClientMsg, ErrorCode, ServerMsg};
use serde_json::{Value, json};
use std::time::Duration;

const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// The agenda item or error a site hears next (other messages skipped); `None` after `wait`.
async fn next_agenda(site: &mut SiteClient, wait: Duration) -> Option<ServerMsg> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match site.next_message(left).await {
            Some(m @ (ServerMsg::AgendaItem { .. } | ServerMsg::Error { .. })) => return Some(m),
            Some(_) => {}
            None => return None,
        }
    }
}

async fn item(site: &mut SiteClient) -> Option<AgendaNow> {
    match next_agenda(site, Duration::from_secs(10)).await {
        Some(ServerMsg::AgendaItem { item }) => item,
        m => panic!("expected agenda_item, got {m:?}"),
    }
}

async fn error(site: &mut SiteClient) -> ErrorCode {
    match next_agenda(site, Duration::from_secs(10)).await {
        Some(ServerMsg::Error { code, .. }) => code,
        m => panic!("expected an error, got {m:?}"),
    }
}

/// Gives the session an agenda of `titles`.
async fn set_agenda(server: &TestServer, sid: &str, titles: &[&str]) {
    let agenda: Vec<Value> = titles
        .iter()
        .map(|t| json!({"title": t, "presenter": "Văn phòng UBND"}))
        .collect();
    server.set_agenda(sid, &Value::from(agenda)).await;
}

const AGENDA: [&str; 3] = [
    "Khai mạc",
    "Báo cáo tình hình kinh tế - xã hội tháng 11",
    "Kết luận của Chủ tịch",
];

async fn current(api: &ApiClient, sid: &str) -> Value {
    let (status, body) = body(
        api.get(&format!("/api/sessions/{sid}/agenda/current"))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["current"].clone()
}

async fn audited(server: &TestServer) -> Vec<Value> {
    let auditor = server.login(Role::Auditor).await;
    let (_, list) = body(auditor.get("/api/audit?action=agenda.item").await).await;
    list.as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_site_marks_the_agenda_item_and_every_site_sees_it() {
    let server = TestServer::start().await;
    let created = server.create_session(HOST, &SITES[..2]).await;
    let sid = created.session_id.clone();
    set_agenda(&server, &sid, &AGENDA).await;
    let ws = server.ws_url();
    let join = |site: &str| {
        let (ws, token) = (ws.clone(), token(&created.links[site]));
        async move { SiteClient::join(&ws, &token, LOCAL).await.unwrap() }
    };
    let mut host = join(HOST).await;
    let mut remote = join(SITES[0]).await;
    // Nothing is current yet: no notice after joined.
    assert!(
        next_agenda(&mut remote, Duration::from_millis(300))
            .await
            .is_none()
    );

    host.send_msg(ClientMsg::SetAgendaItem { index: Some(1) })
        .await;
    for site in [&mut host, &mut remote] {
        let now = item(site).await.expect("an item");
        assert_eq!(now.index, 1);
        assert_eq!(now.title, AGENDA[1]);
        assert_eq!(now.presenter, "Văn phòng UBND");
        assert_eq!(now.by, format!("site:{HOST}"));
    }
    // A site that joins now hears it right after joined.
    let mut late = join(SITES[1]).await;
    assert_eq!(item(&mut late).await.unwrap().index, 1);
    // The same item again changes nothing and sends nothing.
    host.send_msg(ClientMsg::SetAgendaItem { index: Some(1) })
        .await;
    assert!(
        next_agenda(&mut remote, Duration::from_millis(500))
            .await
            .is_none()
    );
    // Cleared: everyone hears null.
    host.send_msg(ClientMsg::SetAgendaItem { index: None })
        .await;
    for site in [&mut host, &mut remote, &mut late] {
        assert_eq!(item(site).await, None);
    }
    let operator = server.login(Role::Operator).await;
    assert_eq!(current(&operator, &sid).await, Value::Null);

    // Audited with the host site as the actor: the mark and the clear.
    server
        .running
        .state
        .sfu
        .events()
        .drained(Duration::from_secs(5))
        .await;
    let entries = audited(&server).await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(
        entries
            .iter()
            .all(|e| e["actor"] == format!("site:{HOST}") && e["target"] == sid.as_str()),
        "{entries:?}"
    );
    assert!(
        entries
            .iter()
            .any(|e| e["detail"]["index"] == 1 && e["detail"]["title"] == AGENDA[1]),
        "{entries:?}"
    );
    for s in [host, remote, late] {
        s.leave().await;
    }
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_agenda_messages_are_refused_and_change_nothing() {
    let server = TestServer::start().await;
    let created = server.create_session(HOST, &SITES[..1]).await;
    let sid = created.session_id.clone();
    set_agenda(&server, &sid, &AGENDA).await;
    let ws = server.ws_url();
    let mut host = SiteClient::join(&ws, &token(&created.links[HOST]), LOCAL)
        .await
        .unwrap();
    let mut remote = SiteClient::join(&ws, &token(&created.links[SITES[0]]), LOCAL)
        .await
        .unwrap();
    host.send_msg(ClientMsg::SetAgendaItem { index: Some(0) })
        .await;
    assert_eq!(item(&mut host).await.unwrap().index, 0);
    assert_eq!(item(&mut remote).await.unwrap().index, 0);

    // Another site is not a controller.
    remote
        .send_msg(ClientMsg::SetAgendaItem { index: Some(2) })
        .await;
    assert_eq!(error(&mut remote).await, ErrorCode::NotController);
    remote
        .send_msg(ClientMsg::SetAgendaItem { index: None })
        .await;
    assert_eq!(error(&mut remote).await, ErrorCode::NotController);
    // Out of range: the index after the last, and the largest there is.
    for index in [3, u32::MAX] {
        host.send_msg(ClientMsg::SetAgendaItem { index: Some(index) })
            .await;
        assert_eq!(error(&mut host).await, ErrorCode::AgendaItemOutOfRange);
    }
    // Malformed: a negative or textual index, or an unknown field, is not a set_agenda_item.
    let mut raw = Signaling::connect(&ws).await.unwrap();
    for text in [
        r#"{"type":"set_agenda_item","index":-1}"#,
        r#"{"type":"set_agenda_item","index":"1"}"#,
        r#"{"type":"set_agenda_item","index":1,"title":"Khác"}"#,
    ] {
        raw.send_text(text.into()).await.unwrap();
        match raw.recv_timeout(Duration::from_secs(5)).await.unwrap() {
            Incoming::Msg(ServerMsg::Error { code, .. }) => {
                assert_eq!(code, ErrorCode::BadJson, "{text}")
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    // Nothing changed: item 0 still current, and no site heard of anything else.
    assert!(
        next_agenda(&mut remote, Duration::from_millis(500))
            .await
            .is_none()
    );
    let operator = server.login(Role::Operator).await;
    assert_eq!(current(&operator, &sid).await["index"], 0);

    // A session without agenda refuses every mark, the clear included.
    let bare = server.create_session(HOST, &SITES[1..2]).await;
    let mut bare_host = SiteClient::join(&ws, &token(&bare.links[HOST]), LOCAL)
        .await
        .unwrap();
    for index in [Some(0), None] {
        bare_host.send_msg(ClientMsg::SetAgendaItem { index }).await;
        assert_eq!(error(&mut bare_host).await, ErrorCode::NoAgenda);
    }
    assert_eq!(current(&operator, &bare.session_id).await, Value::Null);
    server
        .running
        .state
        .sfu
        .events()
        .drained(Duration::from_secs(5))
        .await;
    assert_eq!(audited(&server).await.len(), 1, "only the one change");
    for s in [host, remote, bare_host] {
        s.leave().await;
    }
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_marks_agenda_items_through_the_api_with_the_same_rules() {
    let server = TestServer::start().await;
    let created = server.create_session(HOST, &SITES[..1]).await;
    let sid = created.session_id.clone();
    set_agenda(&server, &sid, &AGENDA).await;
    let operator = server.login(Role::Operator).await;
    let path = format!("/api/sessions/{sid}/agenda/current");

    // No site connected yet: nobody would see it.
    let (status, err) = body(operator.put(&path, &json!({"index": 0})).await).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (409, Some("site_not_connected"))
    );
    let mut remote = SiteClient::join(&server.ws_url(), &token(&created.links[SITES[0]]), LOCAL)
        .await
        .unwrap();

    let (status, state) = body(operator.put(&path, &json!({"index": 2})).await).await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["agenda"].as_array().unwrap().len(), 3);
    assert_eq!(state["current"]["index"], 2);
    assert_eq!(state["current"]["title"], AGENDA[2]);
    assert_eq!(
        state["current"]["by"],
        format!("user:{}", operator.username)
    );
    let now = item(&mut remote).await.unwrap();
    assert_eq!(
        (now.index, now.by),
        (2, format!("user:{}", operator.username))
    );

    // Refused, changing nothing.
    let cases: [(Value, u16, &str); 4] = [
        (json!({"index": 3}), 422, "agenda_item_out_of_range"),
        (json!({"index": -1}), 400, "bad_request"),
        (json!({"index": "2"}), 400, "bad_request"),
        (json!({}), 400, "bad_request"),
    ];
    for (req, want_status, want_code) in cases {
        let (status, err) = body(operator.put(&path, &req).await).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (want_status, Some(want_code)),
            "{req}: {err}"
        );
    }
    for role in [Role::Secretariat, Role::Reviewer, Role::Auditor] {
        let user = server.login(role).await;
        let (status, err) = body(user.put(&path, &json!({"index": 0})).await).await;
        assert_eq!(status, 403, "{role:?}: {err}");
        let (status, _) = body(user.delete(&path).await).await;
        assert_eq!(status, 403, "{role:?}");
        let (status, _) = body(user.get(&path).await).await;
        assert_eq!(status, 403, "{role:?}");
    }
    let (status, err) = body(
        operator
            .put(
                "/api/sessions/no-such-session/agenda/current",
                &json!({"index": 0}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (404, Some("session_not_found")),
        "{err}"
    );
    assert!(
        next_agenda(&mut remote, Duration::from_millis(500))
            .await
            .is_none(),
        "no site heard of a refused request"
    );
    assert_eq!(current(&operator, &sid).await["index"], 2);

    // Cleared by the console.
    let (status, state) = body(operator.delete(&path).await).await;
    assert_eq!((status, &state["current"]), (200, &Value::Null));
    assert_eq!(item(&mut remote).await, None);

    // A session without agenda: 409 no_agenda.
    let bare = server.create_session(HOST, &SITES[1..2]).await;
    let bare_site = SiteClient::join(&server.ws_url(), &token(&bare.links[SITES[1]]), LOCAL)
        .await
        .unwrap();
    let (status, err) = body(
        operator
            .put(
                &format!("/api/sessions/{}/agenda/current", bare.session_id),
                &json!({"index": 0}),
            )
            .await,
    )
    .await;
    assert_eq!((status, err["code"].as_str()), (409, Some("no_agenda")));

    server
        .running
        .state
        .sfu
        .events()
        .drained(Duration::from_secs(5))
        .await;
    let entries = audited(&server).await;
    assert_eq!(entries.len(), 2, "the mark and the clear: {entries:?}");
    assert!(
        entries
            .iter()
            .all(|e| e["actor"] == format!("user:{}", operator.username)),
        "{entries:?}"
    );
    remote.leave().await;
    bare_site.leave().await;
    server.running.stop().await;
}
