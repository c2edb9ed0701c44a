//! Room PCs without typing links, over HTTP: a site's stable link (`/s/<token>`) leads to its
//! current or next session and stops at once when revoked or re-issued; a kiosk pairs once with a
//! code and then learns its current join link from its cookie; every bad input of the issue
//! (wrong, used or expired codes, revoked credentials, a site without sessions, forged links) is
//! refused with a clear code and changes nothing; a revoked credential ends the kiosk's stream
//! at once and clears its cookie.

use crate::common;

use common::*;
use giaoban::auth::Role;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn hanoi(offset_minutes: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::minutes(offset_minutes)).to_rfc3339()
}

/// Whether the span from `from` to `to` minutes from now overlaps today in Asia/Ho_Chi_Minh.
fn on_hanoi_today(from: i64, to: i64) -> bool {
    use chrono::TimeZone;
    let tz = chrono_tz::Asia::Ho_Chi_Minh;
    let now = chrono::Utc::now();
    let day = now.with_timezone(&tz).date_naive();
    let start = tz
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
        .unwrap();
    let end = start + chrono::Duration::days(1);
    let (a, b) = (
        now + chrono::Duration::minutes(from),
        now + chrono::Duration::minutes(to),
    );
    a < end && b > start
}

async fn get_json(client: &reqwest::Client, url: &str) -> (u16, Value) {
    body(client.get(url).send().await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stable_link_leads_to_the_current_or_next_session_and_stops_when_revoked() {
    let server = TestServer::start().await;
    let sec = server.login(Role::Secretariat).await;
    let site = SITES[0];
    // A session later today is next; one running now is current.
    let (s, later) = body(
        sec.post(
            "/api/sessions",
            &session("Họp chiều", &hanoi(180), &hanoi(240), &[site]),
        )
        .await,
    )
    .await;
    assert_eq!(s, 201, "{later}");
    let (_, link) = body(sec.get(&format!("/api/sites/{site}/link")).await).await;
    let url = link["link"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&format!("{}/s/{site}.1.", server.http_url())),
        "{url}"
    );
    let tok = url.rsplit('/').next().unwrap().to_string();
    let anon = reqwest::Client::new();
    let api = |t: &str| format!("{}/api/s/{t}", server.http_url());
    let (status, st) = get_json(&anon, &api(&tok)).await;
    assert_eq!(status, 200, "{st}");
    assert_eq!(st["site"]["id"], site);
    assert!(st["current"].is_null());
    assert_eq!(st["next"]["id"], later["session_id"]);
    assert_eq!(st["next"]["state"], "upcoming");

    let (_, now) = body(
        sec.post(
            "/api/sessions",
            &session("Giao ban sáng", &hanoi(-5), &hanoi(60), &[site]),
        )
        .await,
    )
    .await;
    let (_, st) = get_json(&anon, &api(&tok)).await;
    assert_eq!(st["current"]["id"], now["session_id"], "{st}");
    assert_eq!(st["current"]["state"], "live");
    let path = st["current"]["join_path"].as_str().unwrap();
    assert!(path.starts_with("/room/"));
    let join = reqwest::get(format!("{}/api/join/{}", server.http_url(), &path[6..]))
        .await
        .unwrap();
    assert_eq!(join.status(), 200);
    // Both are today unless the later one starts after midnight in Hanoi (from 21:00 on).
    let today = [(-5, 60), (180, 240)]
        .iter()
        .filter(|&&(from, to)| on_hanoi_today(from, to))
        .count();
    assert_eq!(st["today"].as_array().unwrap().len(), today, "{st}");
    // The page behind the link.
    let page = anon
        .get(format!("{}/s/{tok}", server.http_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("kiosk.js"));

    // Re-issue: the old link is refused, the new one works.
    let (_, again) = body(
        sec.post(&format!("/api/sites/{site}/link/reissue"), &json!({}))
            .await,
    )
    .await;
    assert_eq!(again["version"], 2);
    let new_tok = again["link"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let (status, e) = get_json(&anon, &api(&tok)).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (410, Some("link_revoked")),
        "{e}"
    );
    assert_eq!(get_json(&anon, &api(&new_tok)).await.0, 200);
    // Revoke: refused, and the board's list shows no link for the site.
    let (_, r) = body(
        sec.post(&format!("/api/sites/{site}/link/revoke"), &json!({}))
            .await,
    )
    .await;
    assert!(r["link"].is_null() && r["revoked_at"].is_string(), "{r}");
    let (status, e) = get_json(&anon, &api(&new_tok)).await;
    assert_eq!((status, e["code"].as_str()), (410, Some("link_revoked")));
    assert!(e["message"].as_str().unwrap().contains("revoked"));
    let (_, list) = body(
        sec.get(&format!(
            "/api/sessions/{}/site-links",
            now["session_id"].as_str().unwrap()
        ))
        .await,
    )
    .await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "host and the site: {list:?}");
    assert_eq!(list[0]["site_id"], HOST);
    assert!(list[0]["link"].as_str().unwrap().contains("/s/"));
    assert!(
        list.iter()
            .any(|l| l["site_id"] == site && l["link"].is_null())
    );
    // Revoking twice is audited once; re-issuing brings the site back.
    sec.post(&format!("/api/sites/{site}/link/revoke"), &json!({}))
        .await;
    let (_, again) = body(
        sec.post(&format!("/api/sites/{site}/link/reissue"), &json!({}))
            .await,
    )
    .await;
    assert_eq!(again["version"], 3);
    let admin = server.login(Role::Admin).await;
    let (_, audit) = body(admin.get("/api/audit?action=sitelink.revoke").await).await;
    assert_eq!(audit.as_array().unwrap().len(), 1, "{audit}");

    // Forged, malformed and foreign tokens.
    let forged = format!("{}.3.{}", SITES[1], new_tok.rsplit('.').next().unwrap());
    for bad in [forged.as_str(), "x", "a.b.c", &"a".repeat(500)] {
        let (status, e) = get_json(&anon, &api(bad)).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (401, Some("invalid_token")),
            "{bad}: {e}"
        );
    }
    // A join token is not a site link, and a site link is not a join token.
    let (status, _) = get_json(&anon, &api(&token(&later_link(&sec, &later).await))).await;
    assert_eq!(status, 401);
    let (status, _) = get_json(&anon, &format!("{}/api/join/{new_tok}", server.http_url())).await;
    assert_eq!(status, 401);
    // Only organisers re-issue; a site operator of another site cannot read it.
    let op = server.login(Role::SiteOperator).await; // scoped to HOST
    assert_eq!(
        op.get(&format!("/api/sites/{site}/link")).await.status(),
        403
    );
    assert_eq!(
        op.get(&format!("/api/sites/{HOST}/link")).await.status(),
        200
    );
    assert_eq!(
        op.post(&format!("/api/sites/{HOST}/link/revoke"), &json!({}))
            .await
            .status(),
        403
    );
    assert_eq!(sec.get("/api/sites/khong-co/link").await.status(), 404);
}

async fn later_link(sec: &ApiClient, created: &Value) -> String {
    let sid = created["session_id"].as_str().unwrap();
    let (_, board) = body(sec.get(&format!("/api/sessions/{sid}/invitations")).await).await;
    board["invitations"][1]["link"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A browser-like client that keeps cookies.
fn browser_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap()
}

async fn new_pairing(sec: &ApiClient, site: &str) -> Value {
    let (status, p) = body(
        sec.post(
            &format!("/api/sites/{site}/pairings"),
            &json!({"label": "Máy tính phòng họp"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{p}");
    p
}

async fn pair(
    server: &TestServer,
    client: &reqwest::Client,
    code: &str,
) -> (u16, Value, Vec<String>) {
    let r = client
        .post(format!("{}/api/kiosk/pair", server.http_url()))
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    let cookies = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let (s, b) = body(r).await;
    (s, b, cookies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_pairs_once_and_learns_its_current_join_link() {
    let server = TestServer::start().await;
    let sec = server.login(Role::Secretariat).await;
    let site = SITES[1];
    let p = new_pairing(&sec, site).await;
    let code = p["code"].as_str().unwrap().to_string();
    assert!(regex_like_code(&code), "{code}");
    assert!(
        p["link"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/kiosk#pair={code}"))
    );
    let kiosk = browser_client();
    let current = format!("{}/api/device/current", server.http_url());

    // Not paired yet.
    let (status, e) = get_json(&kiosk, &current).await;
    assert_eq!((status, e["code"].as_str()), (401, Some("not_paired")));
    // Wrong codes: unknown, malformed.
    for bad in ["ABCD-EFGH", "nope", ""] {
        let (status, e, cookies) = pair(&server, &kiosk, bad).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (404, Some("pairing_invalid")),
            "{bad}"
        );
        assert!(cookies.is_empty());
    }
    // Typed in lower case without the dash: paired; the cookie is HttpOnly, long-lived, and
    // the credential appears nowhere in the body.
    let (status, paired, cookies) =
        pair(&server, &kiosk, &code.replace('-', "").to_lowercase()).await;
    assert_eq!(status, 200, "{paired}");
    assert_eq!(paired["site_id"], site);
    assert!(!paired.to_string().contains("gbd_"));
    let c = &cookies[0];
    assert!(
        c.starts_with("giaoban_device=gbd_")
            && c.contains("HttpOnly")
            && c.contains("SameSite=Strict"),
        "{c}"
    );
    assert!(c.contains("Max-Age=315360000"), "survives a reboot: {c}");
    // Used twice: refused, and the first pairing still works.
    let other = browser_client();
    let (status, e, cookies) = pair(&server, &other, &code).await;
    assert_eq!((status, e["code"].as_str()), (410, Some("pairing_used")));
    assert!(cookies.is_empty());

    // A site with no session today.
    let (status, st) = get_json(&kiosk, &current).await;
    assert_eq!(status, 200, "{st}");
    assert_eq!(st["site"]["id"], site);
    assert!(
        st["today"].as_array().unwrap().is_empty()
            && st["current"].is_null()
            && st["next"].is_null()
    );
    // A session opens: the current join link, which joins as this site.
    let created = server.create_session(HOST, &[site]).await;
    let (_, _) = body(
        sec.patch(
            &format!("/api/sessions/{}", created.session_id),
            &json!({"scope": "this", "starts_at": hanoi(-1), "ends_at": hanoi(30)}),
        )
        .await,
    )
    .await;
    let (_, st) = get_json(&kiosk, &current).await;
    assert_eq!(st["current"]["id"], created.session_id.as_str(), "{st}");
    let join_path = st["current"]["join_path"].as_str().unwrap();
    let (status, info) = get_json(
        &kiosk,
        &format!("{}/api/join/{}", server.http_url(), &join_path[6..]),
    )
    .await;
    assert_eq!((status, info["site"]["id"].as_str()), (200, Some(site)));

    // Revoked: the stream ends at once with `revoked`, the next request unpairs the browser.
    let mut events = kiosk
        .get(format!("{}/api/device/events", server.http_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let first = read_event(&mut events).await;
    assert!(first.starts_with("event: state"), "{first}");
    let t = Instant::now();
    let device_id = p["device"]["id"].as_str().unwrap();
    assert_eq!(
        sec.post(&format!("/api/devices/{device_id}/revoke"), &json!({}))
            .await
            .status(),
        204
    );
    let ev = tokio::time::timeout(Duration::from_secs(2), read_event(&mut events))
        .await
        .expect("revoked event");
    assert!(ev.starts_with("event: revoked"), "{ev}");
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    let r = kiosk.get(&current).send().await.unwrap();
    let cleared: Vec<_> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let (status, e) = body(r).await;
    assert_eq!((status, e["code"].as_str()), (401, Some("device_revoked")));
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("giaoban_device=;") && c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    // The cookie is gone: now simply not paired.
    let (status, e) = get_json(&kiosk, &current).await;
    assert_eq!((status, e["code"].as_str()), (401, Some("not_paired")));
    // A wrong credential in a bearer header.
    let (status, e) = body(
        reqwest::Client::new()
            .get(&current)
            .bearer_auth("gbd_forged")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, e["code"].as_str()), (401, Some("device_revoked")));
    // A code of a revoked device does not pair.
    let p2 = new_pairing(&sec, site).await;
    let id2 = p2["device"]["id"].as_str().unwrap();
    sec.post(&format!("/api/devices/{id2}/revoke"), &json!({}))
        .await;
    let (status, e, _) = pair(&server, &browser_client(), p2["code"].as_str().unwrap()).await;
    assert_eq!((status, e["code"].as_str()), (401, Some("device_revoked")));
}

fn regex_like_code(code: &str) -> bool {
    code.len() == 9
        && code.as_bytes()[4] == b'-'
        && code
            .bytes()
            .enumerate()
            .all(|(i, b)| i == 4 || giaoban::kiosk::pairing::ALPHABET.contains(&b))
}

async fn read_event(r: &mut reqwest::Response) -> String {
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = r.chunk().await.unwrap().expect("stream open");
        text.push_str(&String::from_utf8_lossy(&chunk));
        // Keep-alive comments are not events.
        if text.starts_with(':') && text.contains("\n\n") {
            text.clear();
        }
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_codes_and_code_guessing_are_refused() {
    let server = TestServer::start().await;
    let sec = server.login(Role::Secretariat).await;
    let p = new_pairing(&sec, SITES[2]).await;
    sqlx::query("UPDATE device_pairings SET expires_at = ?")
        .bind(chrono::Utc::now() - chrono::Duration::seconds(1))
        .execute(&server.running.state.pool)
        .await
        .unwrap();
    let (status, e, cookies) = pair(&server, &browser_client(), p["code"].as_str().unwrap()).await;
    assert_eq!((status, e["code"].as_str()), (410, Some("pairing_expired")));
    assert!(e["message"].as_str().unwrap().contains("expired") && cookies.is_empty());
    // Guessing: after a few wrong codes from one address, 429 with Retry-After, even for a
    // right code.
    let good = new_pairing(&sec, SITES[2]).await;
    let c = browser_client();
    let mut limited = false;
    for _ in 0..8 {
        let (status, _, _) = pair(&server, &c, "ZZZZ-ZZZZ").await;
        if status == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "wrong codes are throttled");
    let (status, _, _) = pair(&server, &c, good["code"].as_str().unwrap()).await;
    assert_eq!(status, 429);
    // Creating a pairing needs an organiser, a real site and a label.
    let op = server.login(Role::SiteOperator).await;
    let r = op
        .post(
            &format!("/api/sites/{HOST}/pairings"),
            &json!({"label": "x"}),
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = sec
        .post("/api/sites/khong-co/pairings", &json!({"label": "x"}))
        .await;
    assert_eq!(r.status(), 404);
    let r = sec
        .post(
            &format!("/api/sites/{HOST}/pairings"),
            &json!({"label": " "}),
        )
        .await;
    assert_eq!(r.status(), 422);
}
