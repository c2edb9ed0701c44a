//! The HTTP API and the pages over real HTTP: sites, session creation with join links, join-token
//! resolution, the room page and static files, and the errors for bad requests.

use crate::common;

use common::*;
use serde_json::{Value, json};

/// POST /api/sessions as the secretariat.
async fn post(server: &TestServer, body: Value) -> (u16, Value) {
    let c = server.login(giaoban::auth::Role::Secretariat).await;
    let r = c.post("/api/sessions", &body).await;
    (r.status().as_u16(), r.json().await.unwrap())
}

/// GET as the secretariat (public routes answer the same with or without a login).
async fn get(server: &TestServer, path: &str) -> (u16, String) {
    let c = server.login(giaoban::auth::Role::Secretariat).await;
    let r = c.get(path).await;
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn sites_are_listed_with_their_units() {
    let server = TestServer::start().await;
    let (status, body) = get(&server, "/api/sites").await;
    assert_eq!(status, 200);
    let sites: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(sites[0]["id"], HOST, "host site first");
    assert_eq!(sites[0]["is_host"], true);
    assert_eq!(sites[0]["unit_name"], "Ủy ban nhân dân Thành phố Hà Nội");
    assert!(
        sites
            .iter()
            .any(|s| s["id"] == "xa-ba-vi-phonghop" && s["name"] == "Phòng họp UBND xã Ba Vì")
    );
}

#[tokio::test]
async fn a_session_gets_one_link_per_site_and_links_resolve() {
    let server = TestServer::start().await;
    let (status, body) = post(
        &server,
        json!({
            "title": "Giao ban trực tuyến tuần 48",
            "host_site_id": HOST,
            "site_ids": [SITES[0], SITES[3]],
            "starts_at": "2026-11-30T01:00:00Z",
            "ends_at": "2026-11-30T03:00:00Z"
        }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let links = body["links"].as_object().unwrap();
    assert_eq!(links.len(), 3);
    let link = links[SITES[3]].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}/room/", server.http_url())),
        "{link}"
    );
    let (status, info) = get(&server, &format!("/api/join/{}", token(link))).await;
    assert_eq!(status, 200);
    let info: Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["session"]["title"], "Giao ban trực tuyến tuần 48");
    assert_eq!(info["site"]["id"], SITES[3]);
    let (status, view) = get(
        &server,
        &format!("/api/sessions/{}", body["session_id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 200);
    let view: Value = serde_json::from_str(&view).unwrap();
    assert_eq!(view["site_ids"][0], HOST);
    // The room page and its assets are served by the binary.
    let (status, html) = get(&server, &format!("/room/{}", token(link))).await;
    assert_eq!(status, 200);
    assert!(html.contains("/static/room.js"));
    assert_eq!(get(&server, "/static/room.js").await.0, 200);
    assert_eq!(get(&server, "/static/i18n.js").await.0, 200);
    assert_eq!(get(&server, "/static/no-such-file.js").await.0, 404);
    let (status, doc) = get(&server, "/api/openapi.json").await;
    assert_eq!(status, 200);
    assert!(
        serde_json::from_str::<Value>(&doc).unwrap()["paths"]["/api/sessions"]["post"].is_object()
    );
}

#[tokio::test]
async fn bad_session_requests_get_clear_errors_and_store_nothing() {
    let server = TestServer::start().await;
    let cases = [
        (
            json!({"title": "x", "host_site_id": HOST, "site_ids": ["khong-co"]}),
            422,
            "unknown_site",
        ),
        (
            json!({"title": "x", "host_site_id": HOST, "site_ids": ["quan-ba-dinh-phonghop"]}),
            422,
            "site_not_valid",
        ),
        (json!({"title": "  ", "host_site_id": HOST}), 422, "invalid"),
        (
            json!({"title": "x".repeat(301), "host_site_id": HOST}),
            422,
            "invalid",
        ),
        (
            json!({"title": "x", "host_site_id": HOST, "starts_at": "2026-11-30T03:00:00Z", "ends_at": "2026-11-30T01:00:00Z"}),
            422,
            "invalid",
        ),
        (
            json!({"title": "x", "host_site_id": HOST, "starts_at": "2026-11-30T00:00:00Z", "ends_at": "2026-12-01T00:00:00Z"}),
            422,
            "invalid",
        ),
        (json!({"title": "x"}), 400, "bad_request"),
        (
            json!({"title": "x", "host_site_id": HOST, "starts_at": "yesterday"}),
            400,
            "bad_request",
        ),
    ];
    for (body, status, code) in cases {
        let (s, v) = post(&server, body.clone()).await;
        assert_eq!(
            (s, v["code"].as_str().unwrap()),
            (status, code),
            "{body} -> {v}"
        );
        assert!(!v["message"].as_str().unwrap().is_empty());
    }
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
        .fetch_one(&server.running.state.pool)
        .await
        .unwrap();
    assert_eq!(n, 0, "nothing half-written");
    // Not JSON at all, and an oversized body.
    let c = server.login(giaoban::auth::Role::Secretariat).await;
    let r = c
        .client
        .post(c.url("/api/sessions"))
        .header("x-csrf-token", &c.csrf)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = c
        .client
        .post(c.url("/api/sessions"))
        .header("x-csrf-token", &c.csrf)
        .header("content-type", "application/json")
        .body(vec![b' '; 300 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    // Join-token resolution errors.
    let (s, v) = get(&server, "/api/join/forged.token").await;
    assert_eq!(s, 401);
    assert!(v.contains("invalid_token"));
    assert_eq!(get(&server, "/api/sessions/no-such-session").await.0, 404);
}

#[tokio::test]
async fn a_session_has_an_icalendar_file_and_is_audited() {
    let server = TestServer::start().await;
    let (status, body) = post(
        &server,
        json!({
            "title": "Giao ban, tuần 48; quý IV",
            "host_site_id": HOST,
            "site_ids": [SITES[1]],
            "starts_at": "2026-11-30T01:00:00Z",
            "ends_at": "2026-11-30T03:00:00Z"
        }),
    )
    .await;
    assert_eq!(status, 201);
    let id = body["session_id"].as_str().unwrap();
    let c = server.login(giaoban::auth::Role::Secretariat).await;
    let r = c.get(&format!("/api/sessions/{id}/calendar.ics")).await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let text = r.text().await.unwrap();
    let cal = ical::IcalParser::new(std::io::BufReader::new(text.as_bytes()))
        .next()
        .unwrap()
        .unwrap();
    let event = &cal.events[0];
    let prop = |name: &str| {
        event
            .properties
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.value.clone())
            .unwrap()
    };
    assert_eq!(prop("UID"), format!("{id}@giaoban"));
    assert_eq!(prop("DTSTART"), "20261130T080000", "08:00 in Hanoi");
    assert!(prop("SUMMARY").contains("Giao ban"));
    assert_eq!(prop("LOCATION"), "Hội trường UBND Thành phố");
    // The creation is in the audit log, with who asked.
    let entries = giaoban::audit::list(&server.running.state.pool, &Default::default())
        .await
        .unwrap();
    let created = entries
        .iter()
        .find(|e| e.action == "session.create")
        .unwrap();
    assert_eq!(created.target, id);
    assert!(
        created.actor.starts_with("user:secretariat-"),
        "the logged-in user: {}",
        created.actor
    );
    assert_eq!(
        giaoban::audit::verify_all(&server.running.state.pool)
            .await
            .unwrap(),
        entries.len()
    );
    // A session without times has no calendar entry.
    let (_, body) = post(&server, json!({"title": "x", "host_site_id": HOST})).await;
    let id = body["session_id"].as_str().unwrap();
    let r = c.get(&format!("/api/sessions/{id}/calendar.ics")).await;
    assert_eq!(r.status().as_u16(), 422);
}

#[tokio::test]
async fn a_cancelled_session_refuses_its_join_links() {
    let server = TestServer::start().await;
    let secretariat = server.login(giaoban::auth::Role::Secretariat).await;
    let body = json!({"title": "Họp sẽ hủy", "host_site_id": HOST, "site_ids": [SITES[0]],
        "starts_at": "2026-12-01T01:00:00Z", "ends_at": "2026-12-01T02:00:00Z"});
    let created: Value = secretariat
        .post("/api/sessions", &body)
        .await
        .json()
        .await
        .unwrap();
    let id = created["session_id"].as_str().unwrap();
    let token = token(created["links"][SITES[0]].as_str().unwrap());
    assert_eq!(get(&server, &format!("/api/join/{token}")).await.0, 200);
    let r = secretariat
        .post(&format!("/api/sessions/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let (status, body) = get(&server, &format!("/api/join/{token}")).await;
    assert_eq!(status, 410);
    assert!(body.contains("session_cancelled"));
    let mut sig = giaoban::client::Signaling::connect(&server.ws_url())
        .await
        .unwrap();
    sig.send(&giaoban::signal::protocol::ClientMsg::Join { v: 1, token })
        .await
        .unwrap();
    let t = std::time::Duration::from_secs(5);
    assert!(matches!(
        sig.recv_timeout(t).await.unwrap(),
        giaoban::client::Incoming::Msg(giaoban::signal::protocol::ServerMsg::Error {
            code: giaoban::signal::protocol::ErrorCode::SessionCancelled,
            ..
        })
    ));
    assert_eq!(
        sig.recv_timeout(t).await.unwrap(),
        giaoban::client::Incoming::Closed(Some(4410))
    );
}
