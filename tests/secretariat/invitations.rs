//! Invitations and readiness against the real server: the board lists every invited site with its
//! link; re-issuing retires the old link (HTTP and WebSocket), revoking retires every link; a site
//! that joins and publishes audio and video becomes `tested`; hand-set statuses are audited and the
//! audit chain verifies; wrong roles, unknown ids and bad values get their errors.

use crate::common;

use bytes::Bytes;
use common::*;
use giaoban::auth::Role;
use giaoban::client::{Incoming, Signaling, SiteClient};
use giaoban::signal::protocol::{ClientMsg, ErrorCode, MediaKind, ServerMsg};
use serde_json::{Value, json};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);
const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn board_path(session: &str) -> String {
    format!("/api/sessions/{session}/invitations")
}

fn action_path(session: &str, site: &str, action: &str) -> String {
    format!("/api/sessions/{session}/invitations/{site}/{action}")
}

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn board(api: &ApiClient, session: &str) -> Value {
    let (status, body) = json_of(api.get(&board_path(session)).await).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn line<'a>(board: &'a Value, site: &str) -> &'a Value {
    board["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["site_id"] == site)
        .unwrap_or_else(|| panic!("{site} not on the board: {board}"))
}

/// `GET /api/join/<token>` without login: status and error code.
async fn join_info(server: &TestServer, token: &str) -> (u16, Value) {
    let r = reqwest::get(format!("{}/api/join/{token}", server.http_url()))
        .await
        .unwrap();
    json_of(r).await
}

/// Joins over the WebSocket: `Ok(())` on `joined`, else the error code and the close code.
async fn ws_join(server: &TestServer, token: &str) -> Result<(), (ErrorCode, Incoming)> {
    let mut sig = Signaling::connect(&server.ws_url()).await.unwrap();
    sig.send(&ClientMsg::Join {
        v: 1,
        token: token.to_string(),
    })
    .await
    .unwrap();
    match sig.recv_timeout(T).await.unwrap() {
        Incoming::Msg(ServerMsg::Joined { .. }) => {
            sig.send(&ClientMsg::Leave).await.unwrap();
            Ok(())
        }
        Incoming::Msg(ServerMsg::Error { code, .. }) => {
            Err((code, sig.recv_timeout(T).await.unwrap()))
        }
        other => panic!("unexpected {other:?}"),
    }
}

async fn audit(server: &TestServer, action: &str) -> Vec<giaoban::audit::Entry> {
    let filter = giaoban::audit::AuditFilter {
        action: Some(action.into()),
        ..Default::default()
    };
    giaoban::audit::list(&server.running.state.pool, &filter)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_board_lists_every_invited_site_as_invited_with_its_link() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..3]).await;
    let api = server.login(Role::Secretariat).await;
    let b = board(&api, &session.session_id).await;
    assert_eq!(b["session"]["id"], session.session_id.as_str());
    let lines = b["invitations"].as_array().unwrap();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["site_id"], HOST, "host first");
    assert_eq!(lines[0]["is_host"], true);
    for (site, link) in &session.links {
        let l = line(&b, site);
        assert_eq!(l["status"], "invited");
        assert_eq!(l["link_version"], 1);
        // The board signs the same link again: the one handed out at creation.
        assert_eq!(l["link"], link.as_str(), "{site}");
        assert!(!l["site_name"].as_str().unwrap().is_empty());
        assert!(!l["unit_name"].as_str().unwrap().is_empty());
        assert!(l["confirmed_at"].is_null() && l["tested_at"].is_null());
    }
    assert_eq!(b["counts"]["invited"], 4);
    assert_eq!(b["counts"]["ready"], 0);
    // Invitations lost after the session was stored are made again on first use, with the
    // links already handed out still valid.
    sqlx::query("DELETE FROM invitations WHERE session_id = ?")
        .bind(&session.session_id)
        .execute(&server.running.state.pool)
        .await
        .unwrap();
    assert_eq!(
        join_info(&server, &token(&session.links[SITES[1]])).await.0,
        200
    );
    let b = board(&api, &session.session_id).await;
    assert_eq!(b["counts"]["invited"], 4);
    assert_eq!(line(&b, SITES[2])["link_version"], 1);
    assert_eq!(
        join_info(&server, &token(&session.links[SITES[2]])).await.0,
        200
    );
    // The page is served.
    let r = reqwest::get(format!(
        "{}/static/app/board.html?session=x",
        server.http_url()
    ))
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains("/static/app/board.js"));
    let r = reqwest::get(format!("{}/app/board?session=x", server.http_url()))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        reqwest::get(format!("{}/static/app/board.js", server.http_url()))
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn reissue_retires_the_old_link_and_the_new_one_joins() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..2]).await;
    let api = server.login(Role::Secretariat).await;
    let old = token(&session.links[SITES[0]]);
    assert_eq!(join_info(&server, &old).await.0, 200);

    let (status, inv) = json_of(
        api.post(
            &action_path(&session.session_id, SITES[0], "reissue"),
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{inv}");
    assert_eq!(inv["link_version"], 2);
    assert_eq!(inv["status"], "invited");
    let new = token(inv["link"].as_str().unwrap());
    assert_ne!(new, old);

    let (status, body) = join_info(&server, &old).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_token"))
    );
    let (code, closed) = ws_join(&server, &old).await.unwrap_err();
    assert_eq!(code, ErrorCode::InvalidToken);
    assert_eq!(closed, Incoming::Closed(Some(4401)));

    assert_eq!(join_info(&server, &new).await.0, 200);
    ws_join(&server, &new).await.unwrap();
    // Other sites' links are untouched.
    ws_join(&server, &token(&session.links[SITES[1]]))
        .await
        .unwrap();
    // The board shows the new link; the re-issue is audited.
    let b = board(&api, &session.session_id).await;
    assert_eq!(line(&b, SITES[0])["link"], inv["link"]);
    let issued = audit(&server, "invitation.issue").await;
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].actor, format!("user:{}", api.username));
    assert_eq!(issued[0].target, session.session_id);
    assert_eq!(issued[0].detail["site_id"], SITES[0]);
}

#[tokio::test]
async fn revoke_refuses_every_link_until_reissued() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..1]).await;
    let api = server.login(Role::Secretariat).await;
    let link = token(&session.links[SITES[0]]);
    let path = action_path(&session.session_id, SITES[0], "revoke");
    let (status, inv) = json_of(api.post(&path, &json!({})).await).await;
    assert_eq!(status, 200, "{inv}");
    assert_eq!(inv["status"], "revoked");
    assert!(inv["link"].is_null());
    assert!(inv["revoked_at"].is_string());

    let (status, body) = join_info(&server, &link).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("site_not_invited"))
    );
    let (code, closed) = ws_join(&server, &link).await.unwrap_err();
    assert_eq!(code, ErrorCode::SiteNotInvited);
    assert_eq!(closed, Incoming::Closed(Some(4403)));
    let r = reqwest::Client::new()
        .post(format!("{}/api/join/{link}/test-result", server.http_url()))
        .json(&json!({"camera": true, "microphone": true, "network_ms": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    // A revoked invitation's status cannot be set; revoking again changes nothing.
    let status_path = action_path(&session.session_id, SITES[0], "status");
    let (status, body) = json_of(api.post(&status_path, &json!({"status": "ready"})).await).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(json_of(api.post(&path, &json!({})).await).await.0, 200);
    assert_eq!(audit(&server, "invitation.revoke").await.len(), 1);
    let b = board(&api, &session.session_id).await;
    assert_eq!(b["counts"]["revoked"], 1);
    assert_eq!(b["counts"]["invited"], 1);

    // Re-issuing restores the invitation with a new link; the revoked one stays dead.
    let reissue = action_path(&session.session_id, SITES[0], "reissue");
    let (status, inv) = json_of(api.post(&reissue, &json!({})).await).await;
    assert_eq!(status, 200);
    assert_eq!(inv["status"], "invited");
    assert!(inv["revoked_at"].is_null());
    ws_join(&server, &token(inv["link"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(join_info(&server, &link).await.0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_that_joins_and_publishes_becomes_tested() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..1]).await;
    let api = server.login(Role::Secretariat).await;
    let link = token(&session.links[SITES[0]]);
    // Confirmed first: the test moves it forward.
    let status_path = action_path(&session.session_id, SITES[0], "status");
    let (status, inv) = json_of(
        api.post(&status_path, &json!({"status": "confirmed"}))
            .await,
    )
    .await;
    assert_eq!((status, inv["status"].as_str()), (200, Some("confirmed")));

    let site = SiteClient::join(&server.ws_url(), &link, LOCAL)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let tested = loop {
        let _ = site.send(MediaKind::Audio, Bytes::from_static(b"a")).await;
        let _ = site.send(MediaKind::Video, Bytes::from_static(b"v")).await;
        let b = board(&api, &session.session_id).await;
        if line(&b, SITES[0])["status"] == "tested" {
            break b;
        }
        assert!(tokio::time::Instant::now() < deadline, "not tested: {b}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let l = line(&tested, SITES[0]);
    assert!(l["tested_at"].is_string() && l["confirmed_at"].is_string());
    assert_eq!(
        line(&tested, HOST)["status"],
        "invited",
        "the host did not join"
    );

    // The room page's own report is stored and shown.
    let r = reqwest::Client::new()
        .post(format!("{}/api/join/{link}/test-result", server.http_url()))
        .json(&json!({"camera": true, "microphone": false, "network_ms": 23.5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let b = board(&api, &session.session_id).await;
    let test = &line(&b, SITES[0])["test"];
    assert_eq!(test["camera"], true);
    assert_eq!(test["microphone"], false);
    assert_eq!(test["network_ms"], 23.5);
    assert!(test["at"].is_string());
    site.leave().await;

    let entries = audit(&server, "invitation.status").await;
    let by_site = entries
        .iter()
        .find(|e| e.actor == format!("site:{}", SITES[0]))
        .expect("tested is audited with the site as actor");
    assert_eq!(by_site.detail["status"], "tested");
    giaoban::audit::verify_all(&server.running.state.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn status_changes_move_forward_and_are_audited() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..2]).await;
    let sid = &session.session_id;
    let secretariat = server.login(Role::Secretariat).await;
    let path = action_path(sid, SITES[0], "status");
    let (status, inv) = json_of(
        secretariat
            .post(&path, &json!({"status": "confirmed"}))
            .await,
    )
    .await;
    assert_eq!((status, inv["status"].as_str()), (200, Some("confirmed")));
    assert!(inv["confirmed_at"].is_string());
    let (_, inv) = json_of(secretariat.post(&path, &json!({"status": "ready"})).await).await;
    assert_eq!(inv["status"], "ready");
    assert!(inv["ready_at"].is_string());
    // Confirming a ready site records nothing backwards.
    let (_, inv) = json_of(
        secretariat
            .post(&path, &json!({"status": "confirmed"}))
            .await,
    )
    .await;
    assert_eq!(inv["status"], "ready");

    // The site's own operator (scoped to the host site) may set the host's status, not others'.
    let site_op = server.login(Role::SiteOperator).await;
    let own = action_path(sid, HOST, "status");
    let (status, inv) = json_of(site_op.post(&own, &json!({"status": "confirmed"})).await).await;
    assert_eq!((status, inv["status"].as_str()), (200, Some("confirmed")));
    let other = action_path(sid, SITES[1], "status");
    assert_eq!(
        json_of(site_op.post(&other, &json!({"status": "ready"})).await)
            .await
            .0,
        403
    );

    let entries = audit(&server, "invitation.status").await;
    assert_eq!(entries.len(), 4);
    assert!(entries.iter().any(|e| e.actor == format!("user:{}", site_op.username)
        && e.detail["site_id"] == HOST));
    assert!(entries.iter().all(|e| e.target == *sid));
    let b = board(&secretariat, sid).await;
    assert_eq!(b["counts"]["ready"], 1);
    assert_eq!(b["counts"]["confirmed"], 1);
    assert_eq!(b["counts"]["invited"], 1);
    giaoban::audit::verify_all(&server.running.state.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn roles_are_checked() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..1]).await;
    let sid = &session.session_id;
    let reissue = action_path(sid, SITES[0], "reissue");
    let revoke = action_path(sid, SITES[0], "revoke");
    let status = action_path(sid, SITES[0], "status");
    for role in [Role::Chair, Role::Reviewer, Role::Auditor] {
        let api = server.login(role).await;
        assert_eq!(
            api.get(&board_path(sid)).await.status().as_u16(),
            403,
            "{role:?}"
        );
        for path in [&reissue, &revoke] {
            assert_eq!(
                api.post(path, &json!({})).await.status().as_u16(),
                403,
                "{role:?}"
            );
        }
        let r = api.post(&status, &json!({"status": "ready"})).await;
        assert_eq!(r.status().as_u16(), 403, "{role:?}");
    }
    // The central operator sees the board but does not issue links or set statuses.
    let operator = server.login(Role::Operator).await;
    assert_eq!(
        board(&operator, sid).await["invitations"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        operator.post(&reissue, &json!({})).await.status().as_u16(),
        403
    );
    let r = operator.post(&status, &json!({"status": "ready"})).await;
    assert_eq!(r.status().as_u16(), 403);
    // A site operator sees their own site's line only, and issues nothing.
    let site_op = server.login(Role::SiteOperator).await;
    let b = board(&site_op, sid).await;
    let lines = b["invitations"].as_array().unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["site_id"], HOST);
    let own = action_path(sid, HOST, "revoke");
    assert_eq!(site_op.post(&own, &json!({})).await.status().as_u16(), 403);
    // An admin may.
    let admin = server.login(Role::Admin).await;
    assert_eq!(
        admin.post(&reissue, &json!({})).await.status().as_u16(),
        200
    );
    // Nobody logged in: 401; a POST without the CSRF header: 403.
    let anon = reqwest::get(format!("{}{}", server.http_url(), board_path(sid)))
        .await
        .unwrap();
    assert_eq!(anon.status().as_u16(), 401);
    let r = admin.client.post(admin.url(&revoke)).send().await.unwrap();
    let (code, body) = json_of(r).await;
    assert_eq!((code, body["code"].as_str()), (403, Some("csrf")));
    assert_eq!(audit(&server, "invitation.revoke").await.len(), 0);
}

#[tokio::test]
async fn unknown_ids_and_bad_values_get_clear_errors() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..1]).await;
    let sid = &session.session_id;
    let api = server.login(Role::Secretariat).await;
    let nobody = uuid::Uuid::new_v4().to_string();
    let (status, body) = json_of(api.get(&board_path(&nobody)).await).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("session_not_found"))
    );
    for action in ["reissue", "revoke"] {
        let (status, _) = json_of(
            api.post(&action_path(&nobody, HOST, action), &json!({}))
                .await,
        )
        .await;
        assert_eq!(status, 404, "{action} on an unknown session");
        // A site that exists but is not invited, and one that does not exist.
        for site in [SITES[4], "khong-co-diem-cau"] {
            let (status, body) =
                json_of(api.post(&action_path(sid, site, action), &json!({})).await).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (404, Some("not_found")),
                "{action} {site}"
            );
        }
    }
    let status_path = action_path(sid, SITES[0], "status");
    for bad in ["tested", "revoked", "invited", "READY", "sẵn sàng", ""] {
        let (status, body) = json_of(api.post(&status_path, &json!({"status": bad})).await).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("invalid")),
            "{bad}"
        );
    }
    let (status, _) = json_of(api.post(&status_path, &json!({"state": "ready"})).await).await;
    assert_eq!(status, 400, "missing field");
    let unknown = action_path(&nobody, SITES[0], "status");
    let (status, _) = json_of(api.post(&unknown, &json!({"status": "ready"})).await).await;
    assert_eq!(status, 404);
    let not_invited = action_path(sid, SITES[4], "status");
    let (status, _) = json_of(api.post(&not_invited, &json!({"status": "ready"})).await).await;
    assert_eq!(status, 404);

    // The test report: its token and values are checked.
    let client = reqwest::Client::new();
    let post = |token: String, body: Value| {
        let client = client.clone();
        let url = format!("{}/api/join/{token}/test-result", server.http_url());
        async move {
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let link = token(&session.links[SITES[0]]);
    let ok = json!({"camera": true, "microphone": true, "network_ms": 40});
    assert_eq!(post("not-a-token".into(), ok.clone()).await, 401);
    assert_eq!(
        post(
            link.clone(),
            json!({"camera": true, "microphone": true, "network_ms": -1})
        )
        .await,
        422
    );
    assert_eq!(
        post(
            link.clone(),
            json!({"camera": true, "microphone": true, "network_ms": 1e12})
        )
        .await,
        422
    );
    assert_eq!(post(link.clone(), json!({"camera": "yes"})).await, 400);
    assert_eq!(post(link, ok).await, 204);
    // Nothing above changed a status.
    let b = board(&api, sid).await;
    assert_eq!(b["counts"]["invited"], 2);
}
