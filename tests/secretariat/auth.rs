//! Accounts over real HTTP: login and its cookies, logout, CSRF, expired and forged sessions,
//! users (admin only), room-PC device credentials and their revocation, and the audit trail.

use crate::common;

use common::*;
use giaoban::auth::Role;
use serde_json::{Value, json};

#[tokio::test]
async fn login_sets_safe_cookies_and_logout_ends_the_session() {
    let server = TestServer::start().await;
    let admin = server.login(Role::Admin).await;
    // The cookies as a browser gets them.
    let r = reqwest::Client::new()
        .post(format!("{}/api/login", server.http_url()))
        .json(&json!({"username": admin.username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("giaoban_session="))
        .unwrap();
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Strict")
            && session.contains("Path=/"),
        "{session}"
    );
    let csrf = cookies
        .iter()
        .find(|c| c.starts_with("giaoban_csrf="))
        .unwrap();
    assert!(
        !csrf.contains("HttpOnly"),
        "the page must be able to read the CSRF cookie"
    );
    let me: Value = admin.get("/api/me").await.json().await.unwrap();
    assert_eq!(me["identity"]["username"], admin.username);
    assert_eq!(me["grants"][0]["role"], "admin");
    assert_eq!(
        admin
            .post("/api/logout", &json!({}))
            .await
            .status()
            .as_u16(),
        204
    );
    assert_eq!(
        admin.get("/api/me").await.status().as_u16(),
        401,
        "the old cookie no longer works"
    );
}

#[tokio::test]
async fn wrong_passwords_unknown_users_and_forged_cookies_are_refused() {
    let server = TestServer::start().await;
    let admin = server.login(Role::Admin).await;
    assert_eq!(
        server
            .login_as(&admin.username, "wrong-password-123")
            .await
            .err(),
        Some(401)
    );
    assert_eq!(
        server.login_as("no-such-user", PASSWORD).await.err(),
        Some(401)
    );
    let anonymous = reqwest::get(format!("{}/api/me", server.http_url()))
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["code"], "unauthorized");
    let forged = reqwest::Client::new()
        .get(format!("{}/api/me", server.http_url()))
        .header(
            "cookie",
            "giaoban_session=gbs_forgedforgedforgedforgedforgedforgedforged",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 401);
    // An expired login session.
    sqlx::query("UPDATE login_sessions SET expires_at = '2020-01-01T00:00:00Z'")
        .execute(&server.running.state.pool)
        .await
        .unwrap();
    assert_eq!(admin.get("/api/me").await.status().as_u16(), 401);
}

#[tokio::test]
async fn state_changes_need_the_csrf_header() {
    let server = TestServer::start().await;
    let admin = server.login(Role::Admin).await;
    let body = json!({"username": "csrf-test", "display_name": "X", "password": "mat-khau-du-dai", "grants": [{"role": "auditor"}]});
    let r = admin
        .client
        .post(admin.url("/api/users"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "csrf");
    let r = admin
        .client
        .post(admin.url("/api/users"))
        .header("x-csrf-token", "guess")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(admin.post("/api/users", &body).await.status().as_u16(), 201);
}

#[tokio::test]
async fn only_admins_manage_users_and_bad_users_are_refused() {
    let server = TestServer::start().await;
    let admin = server.login(Role::Admin).await;
    let secretariat = server.login(Role::Secretariat).await;
    let good = json!({"username": "thuky.vp", "display_name": "Trần Thị B – Chuyên viên – Văn phòng", "password": "mat-khau-du-dai", "grants": [{"role": "secretariat"}]});
    assert_eq!(
        secretariat
            .post("/api/users", &good)
            .await
            .status()
            .as_u16(),
        403
    );
    assert_eq!(secretariat.get("/api/users").await.status().as_u16(), 403);
    assert_eq!(admin.post("/api/users", &good).await.status().as_u16(), 201);
    assert_eq!(
        admin.post("/api/users", &good).await.status().as_u16(),
        409,
        "username taken"
    );
    for bad in [
        json!({"username": "A B", "display_name": "x", "password": "mat-khau-du-dai", "grants": [{"role": "auditor"}]}),
        json!({"username": "ngan", "display_name": "x", "password": "short", "grants": [{"role": "auditor"}]}),
        json!({"username": "khong-vai-tro", "display_name": "x", "password": "mat-khau-du-dai", "grants": []}),
        json!({"username": "ky-thuat", "display_name": "x", "password": "mat-khau-du-dai", "grants": [{"role": "site_operator"}]}),
        json!({"username": "sai-diem-cau", "display_name": "x", "password": "mat-khau-du-dai", "grants": [{"role": "site_operator", "site_id": "khong-co"}]}),
    ] {
        assert_eq!(
            admin.post("/api/users", &bad).await.status().as_u16(),
            422,
            "{bad}"
        );
    }
    let r = admin
        .post(
            "/api/users",
            &json!({"username": "x", "grants": [{"role": "emperor"}]}),
        )
        .await;
    assert_eq!(r.status().as_u16(), 400);
    let users: Value = admin.get("/api/users").await.json().await.unwrap();
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["username"] == "thuky.vp" && u.get("password_hash").is_none())
    );
    // The new user can log in with the password given.
    assert!(server.login_as("thuky.vp", "mat-khau-du-dai").await.is_ok());
}

#[tokio::test]
async fn device_credentials_work_until_revoked() {
    let server = TestServer::start().await;
    let secretariat = server.login(Role::Secretariat).await;
    let r = secretariat
        .post(
            &format!("/api/sites/{HOST}/devices"),
            &json!({"label": "Máy tính phòng họp"}),
        )
        .await;
    assert_eq!(r.status().as_u16(), 201);
    let issued: Value = r.json().await.unwrap();
    let token = issued["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("gbd_"));
    let with_device = |path: &str| {
        reqwest::Client::new()
            .get(format!("{}{path}", server.http_url()))
            .bearer_auth(&token)
            .send()
    };
    let me: Value = with_device("/api/me").await.unwrap().json().await.unwrap();
    assert_eq!(me["identity"]["kind"], "device");
    assert_eq!(me["identity"]["site_id"], HOST);
    assert_eq!(
        with_device("/api/sites").await.unwrap().status().as_u16(),
        200
    );
    assert_eq!(
        with_device("/api/users").await.unwrap().status().as_u16(),
        403,
        "a room PC is no admin"
    );
    let listed: Value = secretariat
        .get(&format!("/api/sites/{HOST}/devices"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        listed[0].get("token").is_none(),
        "the token is shown once only"
    );
    let id = issued["id"].as_str().unwrap();
    assert_eq!(
        secretariat
            .post(&format!("/api/devices/{id}/revoke"), &json!({}))
            .await
            .status()
            .as_u16(),
        204
    );
    assert_eq!(
        with_device("/api/me").await.unwrap().status().as_u16(),
        401,
        "revoked"
    );
    assert_eq!(
        secretariat
            .post(&format!("/api/devices/{id}/revoke"), &json!({}))
            .await
            .status()
            .as_u16(),
        404
    );
    assert_eq!(
        secretariat
            .post("/api/sites/khong-co/devices", &json!({"label": "x"}))
            .await
            .status()
            .as_u16(),
        404
    );
    assert_eq!(
        secretariat
            .post(&format!("/api/sites/{HOST}/devices"), &json!({"label": ""}))
            .await
            .status()
            .as_u16(),
        422
    );
}

#[tokio::test]
async fn logins_grants_and_revocations_are_audited() {
    let server = TestServer::start().await;
    let admin = server.login(Role::Admin).await;
    let auditor = server.login(Role::Auditor).await;
    let operator = server.login(Role::Operator).await;
    assert_eq!(operator.get("/api/audit").await.status().as_u16(), 403);
    let entries: Value = auditor
        .get("/api/audit?action=login")
        .await
        .json()
        .await
        .unwrap();
    let logins: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert!(
        logins.contains(&format!("user:{}", admin.username).as_str()),
        "{logins:?}"
    );
    let verify: Value = auditor.get("/api/audit/verify").await.json().await.unwrap();
    assert_eq!(verify["ok"], true);
    assert!(
        verify["entries"].as_u64().unwrap() >= 6,
        "3 users granted, 3 logins: {verify}"
    );
}

#[tokio::test]
async fn a_fresh_install_has_one_admin_with_a_private_password_file() {
    let server = TestServer::start().await;
    let file = server.dir.path().join("initial-admin-password");
    let password = std::fs::read_to_string(&file).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let admin = server
        .login_as("admin", password.trim())
        .await
        .expect("the first admin logs in");
    let me: Value = admin.get("/api/me").await.json().await.unwrap();
    assert_eq!(me["grants"][0]["role"], "admin");
    // A restart does not create another one.
    drop(admin);
    let again = giaoban::app::open_state(test_config(server.dir.path()))
        .await
        .unwrap();
    assert_eq!(
        giaoban::store::accounts::count_users(&again.0)
            .await
            .unwrap(),
        1
    );
}

/// A wrong login from `from` (a loopback address) for `username`: status and Retry-After.
async fn attempt(
    server: &TestServer,
    from: &str,
    username: &str,
    password: &str,
) -> (u16, Option<u64>) {
    let client = reqwest::Client::builder()
        .local_address(from.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let r = client
        .post(format!("{}/api/login", server.http_url()))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (r.status().as_u16(), retry)
}

async fn audit_count(server: &TestServer, action: &str, target: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = ? AND target = ?")
        .bind(action)
        .bind(target)
        .fetch_one(&server.running.state.pool)
        .await
        .unwrap()
}

/// Five wrong passwords are free; the sixth shuts the account for 1 s (then 2, 4, …) from every
/// address, even for the right password; other accounts are not affected; all of it is audited.
#[tokio::test]
async fn repeated_failures_shut_the_account_with_retry_after() {
    let server = TestServer::start().await;
    let victim = server.login(Role::Secretariat).await.username;
    let other = server.login(Role::Chair).await.username;
    for i in 1..=6 {
        let from = if i % 2 == 0 { "127.0.0.3" } else { "127.0.0.4" };
        let got = attempt(&server, from, &victim, "sai-mat-khau-123").await;
        assert_eq!(got, (401, None), "attempt {i}");
    }
    let (status, retry) = attempt(&server, "127.0.0.5", &victim, "sai-mat-khau-123").await;
    assert_eq!((status, retry), (429, Some(1)));
    // Shut means shut: the right password waits too, and nothing was hashed for it.
    assert_eq!(
        attempt(&server, "127.0.0.1", &victim, PASSWORD).await.0,
        429
    );
    assert_eq!(server.login_as(&other, PASSWORD).await.err(), None);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(server.login_as(&victim, PASSWORD).await.is_ok());
    // A right password cleared the account: the next failure is free again.
    assert_eq!(attempt(&server, "127.0.0.3", &victim, "sai").await.0, 401);
    let target = format!("user:{victim}");
    assert_eq!(audit_count(&server, "login.failed", &target).await, 7);
    assert_eq!(audit_count(&server, "login.backoff", &target).await, 1);
    let unknown = attempt(&server, "127.0.0.3", "khong-co-ai", "x").await;
    assert_eq!(unknown.0, 401);
    assert_eq!(
        audit_count(&server, "login.failed", "user:khong-co-ai").await,
        1
    );
}

/// A small flood: 80 wrong logins at once from one address. Never more hashes in flight than
/// workers (one here); the excess is refused at once with 429; the address is then shut for every
/// account; a user elsewhere logs in at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_is_bounded_and_the_right_password_still_works() {
    let server = TestServer::start_with(&[("GIAOBAN_AUTH_LOGIN_HASH_WORKERS", "1")]).await;
    let user = server.login(Role::Operator).await.username;
    let server = std::sync::Arc::new(server);
    let flood: Vec<_> = (0..80)
        .map(|i| {
            let server = server.clone();
            tokio::spawn(async move {
                attempt(&server, "127.0.0.2", &format!("ke-tan-cong-{i}"), "sai").await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in flood {
        statuses.push(t.await.unwrap());
    }
    let refused = statuses.iter().filter(|s| s.0 == 429).count();
    assert!(
        statuses.iter().all(|s| s.0 == 401 || s.0 == 429),
        "{statuses:?}"
    );
    assert!(refused > 0, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .filter(|s| s.0 == 429)
            .all(|s| s.1 >= Some(1))
    );
    assert_eq!(server.running.state.login.hasher.peak_in_flight(), 1);
    // The right password from another address works at once.
    let t = std::time::Instant::now();
    assert!(server.login_as(&user, PASSWORD).await.is_ok());
    assert!(t.elapsed() < std::time::Duration::from_secs(2));
    // The flooding address: after 20 free failures it is shut, whatever the account.
    let mut shut = None;
    for i in 0..25 {
        let got = attempt(&server, "127.0.0.2", &format!("tiep-{i}"), "sai").await;
        if got.0 == 429 && got.1.is_some() {
            shut = Some(i);
            break;
        }
        assert_eq!(got.0, 401);
    }
    assert!(shut.is_some(), "the address was never shut");
    assert_eq!(attempt(&server, "127.0.0.2", &user, PASSWORD).await.0, 429);
}
