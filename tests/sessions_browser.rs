//! The secretariat in a real browser (headless Chromium, driven over the DevTools protocol): log
//! in on /login, create a weekly session with three sites on the session page, see it on the week
//! calendar, then try a fourth, overlapping session that reuses one of the sites and read the
//! Vietnamese 409 message the page shows. When Chromium is missing it says it skipped (and fails
//! when `CI` is set).

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

fn chromium() -> Option<PathBuf> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// A Chromium process with its own profile, killed on drop.
struct Browser {
    child: Child,
    profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    fn open(bin: &PathBuf, url: &str) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new(bin)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--window-size=1400,1000",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        Browser { child, profile }
    }

    /// The DevTools WebSocket of the (only) page.
    async fn page_ws(&self) -> String {
        let port_file = self.profile.path().join("DevToolsActivePort");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(text) = std::fs::read_to_string(&port_file)
                && let Some(port) = text
                    .lines()
                    .next()
                    .and_then(|l| l.trim().parse::<u16>().ok())
                && let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/json/list")).await
                && let Ok(targets) = r.json::<Vec<Value>>().await
                && let Some(t) = targets.iter().find(|t| t["type"] == "page")
            {
                return t["webSocketDebuggerUrl"].as_str().unwrap().to_string();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no page in chromium"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Evaluates `expr` (awaiting a promise) in the page and returns its JSON value.
async fn eval(ws: &str, expr: &str) -> Value {
    let (mut s, _) = tokio_tungstenite::connect_async(ws).await.unwrap();
    let req = json!({"id": 1, "method": "Runtime.evaluate",
        "params": {"expression": expr, "awaitPromise": true, "returnByValue": true}});
    s.send(Message::Text(req.to_string().into())).await.unwrap();
    while let Some(Ok(m)) = s.next().await {
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["id"] == 1 {
                return v["result"]["result"]["value"].clone();
            }
        }
    }
    Value::Null
}

/// Waits until `expr` is truthy in the page (page loads and navigations included).
async fn wait_for(ws: &str, what: &str, expr: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let v = eval(
            ws,
            &format!("(() => {{ try {{ return {expr}; }} catch (_) {{ return null; }} }})()"),
        )
        .await;
        if !(v.is_null() || v == false || v == "" || v == 0) {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Fills the session form and submits it: `sites` are ticked in the picker by site id.
fn fill_form(
    title: &str,
    date: &str,
    start: &str,
    end: &str,
    sites: &[&str],
    weekly: bool,
) -> String {
    format!(
        r##"(() => {{
        const $ = (i) => document.getElementById(i);
        $("f-title").value = {title};
        $("f-date").value = {date};
        $("f-date").dispatchEvent(new Event("change"));
        $("f-start").value = {start};
        $("f-end").value = {end};
        $("f-host").value = {host};
        for (const id of {sites}) {{
          const li = [...document.querySelectorAll("#site-picker .picker-site")]
            .find((n) => n.querySelector("select").getAttribute("aria-label") === SITE_NAMES[id]);
          li.querySelector("input[type=checkbox]").click();
        }}
        if ({weekly}) {{ $("f-weekly").click(); $("f-end-count").click(); $("f-count").value = "4"; }}
        document.querySelector(".a-title").value = "Báo cáo tình hình tuần";
        $("save").click();
        return true;
      }})()"##,
        title = json!(title),
        date = json!(date),
        start = json!(start),
        end = json!(end),
        host = json!(HOST),
        sites = json!(sites),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secretariat_creates_a_weekly_session_and_sees_the_conflict_message() {
    let Some(bin) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is required in CI"
        );
        eprintln!("skipped: no chromium");
        return;
    };
    let server = TestServer::start().await;
    let new = giaoban::auth::users::NewUser {
        username: "thuky".into(),
        display_name: "Nguyễn Thị Thu – Chuyên viên Văn phòng".into(),
        password: PASSWORD.into(),
        grants: vec![giaoban::auth::Grant::new(giaoban::auth::Role::Secretariat)],
    };
    giaoban::auth::users::create(&server.running.state.pool, &new, "test")
        .await
        .unwrap();
    let base = server.http_url();
    let browser = Browser::open(&bin, &format!("{base}/login?next=/static/app/session.html"));
    let ws = browser.page_ws().await;

    // Log in.
    wait_for(
        &ws,
        "the login form",
        r##"document.getElementById("login-form")"##,
    )
    .await;
    eval(
        &ws,
        &format!(
            r##"(() => {{ document.getElementById("username").value = "thuky";
            document.getElementById("password").value = {};
            document.getElementById("login-submit").click(); return true; }})()"##,
            json!(PASSWORD)
        ),
    )
    .await;
    wait_for(
        &ws,
        "the session form with the site picker",
        r##"document.querySelectorAll("#site-picker input[type=checkbox]").length > 5"##,
    )
    .await;

    // The site names the picker shows, by id.
    let names: serde_json::Map<String, Value> = {
        let admin = server.login(giaoban::auth::Role::Admin).await;
        let list: Vec<Value> = admin.get("/api/sites").await.json().await.unwrap();
        list.iter()
            .map(|s| (s["id"].as_str().unwrap().to_string(), s["name"].clone()))
            .collect()
    };
    let prelude = format!("var SITE_NAMES = {};", Value::Object(names));
    let three = [SITES[0], SITES[1], SITES[3]];
    let js = fill_form(
        "Giao ban trực tuyến tuần",
        "07/12/2026",
        "08:00",
        "10:00",
        &three,
        true,
    );
    eval(&ws, &format!("{prelude}{js}")).await;
    let href = wait_for(&ws, "the detail page of the new session", r##"location.search.includes("id=") && document.querySelector("#detail h1") && location.href"##).await;
    let id = href
        .as_str()
        .unwrap()
        .rsplit("id=")
        .next()
        .unwrap()
        .to_string();
    let title = eval(&ws, r##"document.querySelector("#detail h1").textContent"##).await;
    assert_eq!(title, "Giao ban trực tuyến tuần");
    let rule = eval(&ws, r##"document.querySelector("#detail dl").textContent"##).await;
    assert!(
        rule.as_str().unwrap().contains("Hằng tuần vào T2; 4 lần"),
        "{rule}"
    );
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE series_id IS NOT NULL")
            .fetch_one(&server.running.state.pool)
            .await
            .unwrap();
    assert_eq!(count, 4, "four weekly occurrences of {id}");

    // The week calendar shows it on Monday 07/12/2026.
    eval(
        &ws,
        r##"location.assign("/static/app/calendar.html?week=2026-W50"); true"##,
    )
    .await;
    let card = wait_for(&ws, "the session card", r##"document.querySelector(".session-card") && document.querySelector(".day").textContent"##).await;
    let monday = card.as_str().unwrap();
    assert!(
        monday.starts_with("Thứ Hai07/12/2026") && monday.contains("08:00–10:00"),
        "{monday}"
    );

    // A fourth session the next Monday at 09:00, reusing Sở Tài chính: refused, in Vietnamese.
    eval(
        &ws,
        r##"location.assign("/static/app/session.html"); true"##,
    )
    .await;
    wait_for(
        &ws,
        "the session form",
        r##"document.querySelectorAll("#site-picker input[type=checkbox]").length > 5"##,
    )
    .await;
    let js = fill_form(
        "Họp chuyên đề",
        "14/12/2026",
        "09:00",
        "11:00",
        &[SITES[1]],
        false,
    );
    eval(&ws, &format!("{prelude}{js}")).await;
    let message = wait_for(&ws, "the conflict message", r##"!document.getElementById("conflict-box").hidden && document.getElementById("conflict-message").textContent"##).await;
    let message = message.as_str().unwrap();
    assert!(
        message.contains("Trùng lịch: điểm cầu Phòng họp Sở Tài chính đã tham gia phiên họp \"Giao ban trực tuyến tuần\" lúc 08:00 14/12/2026"),
        "{message}"
    );
    let rows = eval(
        &ws,
        r##"document.querySelectorAll("#conflict-rows tr").length"##,
    )
    .await;
    assert_eq!(rows, 2, "Sở Tài chính and the host site");
}
