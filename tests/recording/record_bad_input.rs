//! Recording, as an attacker or a careless user would try it: a classified session, roles that
//! may not record, a reviewer without a grant, forged, altered and expired file URLs, ranges out
//! of bounds, and a recording that runs out of space (it stops with an error the sites hear of;
//! the session goes on). Each gets a clear error and changes nothing.

use crate::common;
use crate::record_common;

use common::*;
use giaoban::auth::{Grant, Role};
use giaoban::client::SiteClient;
use giaoban::signal::protocol::ServerMsg;
use record_common::*;
use std::time::{Duration, Instant};

const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

async fn user(server: &TestServer, username: &str, role: Role) -> ApiClient {
    let new = giaoban::auth::users::NewUser {
        username: username.into(),
        display_name: format!("Người dùng kiểm thử – {username}"),
        password: PASSWORD.into(),
        grants: vec![Grant::new(role)],
    };
    giaoban::auth::users::create(&server.running.state.pool, &new, "test")
        .await
        .unwrap();
    server.login_as(username, PASSWORD).await.unwrap()
}

/// Records the host site publishing for `secs`; returns (session id, recording id).
async fn record_a_little(server: &TestServer, operator: &ApiClient, secs: u64) -> (String, String) {
    let created = server.create_session(HOST, &SITES[..1]).await;
    let sid = created.session_id.clone();
    let (status, started) = operator.recording(&sid, "start").await;
    assert_eq!(status, 201, "{started}");
    let site = SiteClient::join(&server.ws_url(), &token(&created.links[HOST]), LOCAL)
        .await
        .unwrap();
    publish(&site, Instant::now() + Duration::from_secs(secs)).await;
    let (status, _) = operator.recording(&sid, "stop").await;
    assert_eq!(status, 200);
    site.leave().await;
    (sid, started["recording_id"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classified_sessions_and_the_wrong_roles_cannot_record() {
    let server = TestServer::start().await;
    let secretariat = server.login(Role::Secretariat).await;
    let mut req = session(
        "Họp mật",
        "2030-01-07T02:00:00Z",
        "2030-01-07T03:00:00Z",
        &[SITES[0]],
    );
    req["classified"] = true.into();
    req["record_auto"] = true.into();
    let (status, err) = body(secretariat.post("/api/sessions", &req).await).await;
    assert_eq!(
        (status, err["field"].as_str()),
        (422, Some("record_auto")),
        "{err}"
    );
    req["record_auto"] = false.into();
    let (status, created) = body(secretariat.post("/api/sessions", &req).await).await;
    assert_eq!(status, 201, "{created}");
    let sid = created["session_id"].as_str().unwrap();

    let chair = server.login(Role::Chair).await;
    let (status, err) = chair.recording(sid, "start").await;
    assert_eq!(
        (status, err["code"].as_str()),
        (409, Some("classified")),
        "{err}"
    );
    let (_, list) = body(chair.get(&format!("/api/sessions/{sid}/recordings")).await).await;
    assert_eq!(list, serde_json::json!([]), "nothing was created");

    let open = server.create_session(HOST, &SITES[..1]).await;
    let start = format!("/api/sessions/{}/recording/start", open.session_id);
    for role in [
        Role::Secretariat,
        Role::Reviewer,
        Role::Auditor,
        Role::SiteOperator,
    ] {
        let c = server.login(role).await;
        let (status, _) = body(c.post(&start, &serde_json::json!({})).await).await;
        assert_eq!(status, 403, "{role:?} may not start a recording");
    }
    let (status, err) = body(
        chair
            .post(
                "/api/sessions/no-such-session/recording/start",
                &serde_json::json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (404, Some("session_not_found"))
    );
    let anonymous = reqwest::Client::new();
    let r = anonymous
        .post(server.http_url() + &start)
        .send()
        .await
        .unwrap();
    assert!(matches!(r.status().as_u16(), 401 | 403), "{}", r.status());
    assert!(
        server
            .running
            .state
            .sfu
            .recording_in(&open.session_id)
            .is_none()
    );
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewers_need_a_grant_and_file_urls_cannot_be_forged() {
    let server = TestServer::start().await;
    let operator = server.login(Role::Operator).await;
    let (_, rid) = record_a_little(&server, &operator, 2).await;
    let reviewer = user(&server, "nguoi-xem-lai", Role::Reviewer).await;
    let (status, err) = body(reviewer.get(&format!("/api/recordings/{rid}")).await).await;
    assert_eq!((status, err["code"].as_str()), (403, Some("no_grant")));
    let (_, list) = body(reviewer.get("/api/recordings").await).await;
    assert_eq!(list, serde_json::json!([]));

    // Grants: only the secretariat; a bad one changes nothing.
    let secretariat = server.login(Role::Secretariat).await;
    let grants = format!("/api/recordings/{rid}/grants");
    let soon = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let grant = serde_json::json!({"username": "nguoi-xem-lai", "view": true, "expires_at": soon});
    let (status, _) = body(operator.post(&grants, &grant).await).await;
    assert_eq!(status, 403, "an operator does not grant");
    for bad in [
        serde_json::json!({"username": "nguoi-xem-lai", "expires_at": past}),
        serde_json::json!({"username": "khong-co-ai", "expires_at": soon}),
        serde_json::json!({"username": "nguoi-xem-lai", "view": false, "expires_at": soon}),
    ] {
        let (status, _) = body(secretariat.post(&grants, &bad).await).await;
        assert_eq!(status, 422, "{bad}");
    }
    let (status, _) = body(reviewer.get(&format!("/api/recordings/{rid}")).await).await;
    assert_eq!(status, 403);
    let (status, g) = body(secretariat.post(&grants, &grant).await).await;
    assert_eq!(status, 201, "{g}");

    let (status, detail) = body(reviewer.get(&format!("/api/recordings/{rid}")).await).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(
        detail["access"],
        serde_json::json!({"view": true, "download": false})
    );
    let file = &detail["files"][0];
    assert!(
        file["download_url"].is_null(),
        "view only: no download link"
    );
    let url = file["url"].as_str().unwrap().to_string();
    let http = reqwest::Client::new();
    let get = |u: String, range: Option<&'static str>| {
        let mut r = http.get(server.http_url() + &u);
        if let Some(range) = range {
            r = r.header("Range", range);
        }
        async move { r.send().await.unwrap() }
    };
    let whole = get(url.clone(), None).await;
    assert_eq!(whole.status(), 200);
    let size = whole.bytes().await.unwrap().len();
    assert!(size > 10_000, "{size} bytes");
    let part = get(url.clone(), Some("bytes=100-199")).await;
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"].to_str().unwrap(),
        format!("bytes 100-199/{size}")
    );
    assert_eq!(part.bytes().await.unwrap().len(), 100);
    let beyond = get(url.clone(), Some("bytes=999999999-")).await;
    assert_eq!(beyond.status(), 416, "a range past the end");

    // Forged: another signature, another file, a download flag, a later expiry.
    let forged = url.replace("sig=", "sig=AAAA");
    let (status, err) = body(get(forged, None).await).await;
    assert_eq!((status, err["code"].as_str()), (403, Some("bad_signature")));
    let name = file["file"].as_str().unwrap();
    let other = url.replace(name, "manifest.json");
    assert_eq!(get(other, None).await.status(), 403);
    assert_eq!(get(url.replace("dl=0", "dl=1"), None).await.status(), 403);
    let exp = url.split("exp=").nth(1).unwrap().split('&').next().unwrap();
    let later = url.replace(
        &format!("exp={exp}"),
        &format!("exp={}", exp.parse::<i64>().unwrap() + 3600),
    );
    assert_eq!(get(later, None).await.status(), 403);
    // Expired: signed by the server's own key, an hour ago.
    let key = server.running.state.token_key.derive("recording-urls");
    let expired = giaoban::record::signed::url(
        &key,
        &giaoban::record::signed::Claims {
            recording_id: rid.clone(),
            file: name.into(),
            download: false,
            user: "user:nguoi-xem-lai".into(),
            exp: chrono::Utc::now().timestamp() - 3600,
        },
    );
    let (status, err) = body(get(expired, None).await).await;
    assert_eq!((status, err["code"].as_str()), (403, Some("link_expired")));

    // Revoked: the reviewer is shut out again.
    let gid = g["id"].as_str().unwrap();
    let (status, _) = body(secretariat.delete(&format!("{grants}/{gid}")).await).await;
    assert_eq!(status, 204);
    let (status, _) = body(reviewer.get(&format!("/api/recordings/{rid}")).await).await;
    assert_eq!(status, 403);
    let (status, _) = body(secretariat.delete(&format!("{grants}/{gid}")).await).await;
    assert_eq!(status, 404, "revoked once");

    // Every view was audited.
    let pool = &server.running.state.pool;
    let views: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'recording.view' AND target = ?",
    )
    .bind(format!("recording:{rid}"))
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(views, 1);
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_the_recording_and_the_session_goes_on() {
    let server = TestServer::start_with(&[("GIAOBAN_RECORD_MAX_BYTES", "150000")]).await;
    let operator = server.login(Role::Operator).await;
    let created = server.create_session(HOST, &SITES[..1]).await;
    let sid = created.session_id.clone();
    let mut site = SiteClient::join(&server.ws_url(), &token(&created.links[HOST]), LOCAL)
        .await
        .unwrap();
    let (status, started) = operator.recording(&sid, "start").await;
    assert_eq!(status, 201);
    let rid = started["recording_id"].as_str().unwrap().to_string();
    publish(&site, Instant::now() + Duration::from_secs(5)).await;
    let mut notices = Vec::new();
    while let Some(m) = site.next_message(Duration::from_millis(300)).await {
        if let ServerMsg::Recording { active, error, .. } = m {
            notices.push((active, error));
        }
    }
    assert_eq!(notices.first(), Some(&(true, None)), "{notices:?}");
    let (active, error) = notices.last().unwrap().clone();
    assert!(
        !active && error.as_deref().unwrap_or("").contains("size limit"),
        "{notices:?}"
    );
    let (_, list) = body(
        operator
            .get(&format!("/api/sessions/{sid}/recordings"))
            .await,
    )
    .await;
    assert_eq!(list[0]["recording"]["id"], rid.as_str());
    assert_eq!(list[0]["recording"]["status"], "failed");
    assert!(
        list[0]["recording"]["error"]
            .as_str()
            .unwrap()
            .contains("size limit")
    );
    // The session goes on: the site is still there, and recording can be asked again.
    assert_eq!(
        server.running.state.sfu.sites_in(&sid),
        vec![HOST.to_string()]
    );
    let (status, _) = operator.recording(&sid, "stop").await;
    assert_eq!(status, 409, "it stopped already");
    site.leave().await;
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_expired_recordings_except_those_on_legal_hold() {
    let server = TestServer::start().await;
    let operator = server.login(Role::Operator).await;
    let (kept_session, kept) = record_a_little(&server, &operator, 1).await;
    let (gone_session, gone) = record_a_little(&server, &operator, 1).await;
    let secretariat = server.login(Role::Secretariat).await;
    let hold = serde_json::json!({"hold": true});
    let (status, _) = body(
        operator
            .put(&format!("/api/recordings/{kept}/hold"), &hold)
            .await,
    )
    .await;
    assert_eq!(status, 403, "an operator sets no legal hold");
    let (status, _) = body(secretariat.put("/api/recordings/nope/hold", &hold).await).await;
    assert_eq!(status, 404);
    let (status, _) = body(
        secretariat
            .put(&format!("/api/recordings/{kept}/hold"), &hold)
            .await,
    )
    .await;
    assert_eq!(status, 204);

    let state = &server.running.state;
    let dir = state.config.record_dir();
    let policy = giaoban::record::retention::Policy {
        one_off_days: 30,
        recurring_days: 30,
    };
    let soon = chrono::Utc::now() + chrono::Duration::days(29);
    let none = giaoban::record::retention::sweep(&state.pool, &dir, policy, soon)
        .await
        .unwrap();
    assert!(none.is_empty(), "nothing expires before its time");
    let later = chrono::Utc::now() + chrono::Duration::days(31);
    let deleted = giaoban::record::retention::sweep(&state.pool, &dir, policy, later)
        .await
        .unwrap();
    assert_eq!(deleted, vec![gone.clone()]);
    assert!(!dir.join(&gone).exists(), "its files are gone");
    assert!(
        dir.join(&kept).join("manifest.json").exists(),
        "the held one stays"
    );
    let (_, list) = body(
        operator
            .get(&format!("/api/sessions/{gone_session}/recordings"))
            .await,
    )
    .await;
    assert_eq!(list, serde_json::json!([]));
    let (_, list) = body(
        operator
            .get(&format!("/api/sessions/{kept_session}/recordings"))
            .await,
    )
    .await;
    assert_eq!(list[0]["recording"]["legal_hold"], true);
    let (status, _) = body(operator.get(&format!("/api/recordings/{gone}")).await).await;
    assert_eq!(status, 404);
    let auditor = server.login(Role::Auditor).await;
    let (_, audit) = body(auditor.get("/api/audit?action=recording.delete").await).await;
    assert_eq!(audit[0]["actor"], "system:retention", "{audit}");
    assert_eq!(audit[0]["target"], format!("recording:{gone}"));
    let (_, audit) = body(auditor.get("/api/audit?action=recording.hold").await).await;
    assert_eq!(audit.as_array().unwrap().len(), 1);
    server.running.stop().await;
}
