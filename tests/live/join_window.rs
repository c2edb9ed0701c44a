//! The join window through the real server: a link opens the room an hour (config) before the
//! start; earlier, `/api/join/{token}` says when (state `too_early`, `opens_at`, `starts_at`) and
//! `join` is refused with `too_early` (close 4425); inside the window the site joins; after the
//! end plus the grace the link is expired. Sessions without a start stay open.

use crate::common;
use crate::common::live;

use chrono::{Duration, Utc};
use common::*;
use giaoban::auth::Role;
use giaoban::signal::protocol::{ErrorCode, ServerMsg};
use live::*;

async fn create(sec: &ApiClient, title: &str, start_in_min: i64) -> serde_json::Value {
    let start = Utc::now() + Duration::minutes(start_in_min);
    let req = session(
        title,
        &start.to_rfc3339(),
        &(start + Duration::hours(1)).to_rfc3339(),
        &[SITES[0]],
    );
    let (status, created) = body(sec.post("/api/sessions", &req).await).await;
    assert_eq!(status, 201, "{created}");
    created
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_opens_the_room_an_hour_before_the_start() {
    let server = TestServer::start().await;
    let sec = server.login(Role::Secretariat).await;
    let anon = reqwest::Client::new();

    // Three hours ahead: too early. The page learns when the room opens; join is refused.
    let later = create(&sec, "Họp chiều", 180).await;
    let link = token(later["links"][SITES[0]].as_str().unwrap());
    let (status, info) = body(
        anon.get(format!("{}/api/join/{link}", server.http_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["window"]["state"], "too_early");
    let starts: chrono::DateTime<Utc> = info["window"]["starts_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let opens: chrono::DateTime<Utc> = info["window"]["opens_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(starts - opens, Duration::minutes(60));
    assert_eq!(info["session"]["starts_at"], info["window"]["starts_at"]);
    let mut ws = connect(&server.ws_url(), None).await;
    match send_join(&mut ws, &link).await {
        Seen::Msg(ServerMsg::Error { code, message }) => {
            assert_eq!(code, ErrorCode::TooEarly);
            assert!(message.contains("opens at"), "{message}");
        }
        other => panic!("expected too_early, got {other:?}"),
    }
    assert_eq!(
        next(&mut ws, std::time::Duration::from_secs(2)).await,
        Some(Seen::Closed(Some(4425)))
    );
    assert_eq!(server.running.state.sfu.live(), (0, 0));
    // The connection test is still accepted before the window.
    let r = anon
        .post(format!("{}/api/join/{link}/test-result", server.http_url()))
        .json(&serde_json::json!({"camera": true, "microphone": true, "network_ms": 12}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);

    // Thirty minutes ahead: inside the window.
    let soon = create(&sec, "Họp sắp diễn ra", 30).await;
    let link = token(soon["links"][SITES[0]].as_str().unwrap());
    let (status, info) = body(
        anon.get(format!("{}/api/join/{link}", server.http_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, info["window"]["state"].clone()),
        (200, "open".into())
    );
    let _site = RawSite::join(&server.ws_url(), &link, None).await;

    // A session without a start (as the CLI and tests create) is open.
    let open = server.create_session(HOST, &[]).await;
    let _host = RawSite::join(&server.ws_url(), &token(&open.links[HOST]), None).await;

    // After the end plus the grace, the link is expired (the session moved into the past).
    let id = soon["session_id"].as_str().unwrap();
    let past = Utc::now() - Duration::hours(14);
    sqlx::query("UPDATE sessions SET starts_at = ?, ends_at = ? WHERE id = ?")
        .bind(past)
        .bind(past + Duration::hours(1))
        .bind(id)
        .execute(&server.running.state.pool)
        .await
        .unwrap();
    let (status, err) = body(
        anon.get(format!("{}/api/join/{link}", server.http_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, err["code"].clone()),
        (401, "token_expired".into()),
        "{err}"
    );
    let mut ws = connect(&server.ws_url(), None).await;
    match send_join(&mut ws, &link).await {
        Seen::Msg(ServerMsg::Error { code, .. }) => assert_eq!(code, ErrorCode::TokenExpired),
        other => panic!("expected token_expired, got {other:?}"),
    }
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_is_in_the_api_document() {
    let server = TestServer::start().await;
    let doc: serde_json::Value = reqwest::get(format!("{}/api/openapi.json", server.http_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let window = &doc["components"]["schemas"]["JoinWindow"];
    assert!(window.is_object(), "JoinWindow missing");
    assert!(window.to_string().contains("too_early"), "{window}");
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lead_time_is_configurable() {
    let server = TestServer::start_with(&[("GIAOBAN_AUTH_JOIN_OPENS_MINUTES_BEFORE", "240")]).await;
    let sec = server.login(Role::Secretariat).await;
    let later = create(&sec, "Họp chiều", 180).await;
    let link = token(later["links"][SITES[0]].as_str().unwrap());
    let _site = RawSite::join(&server.ws_url(), &link, None).await;
    server.running.stop().await;
}
