//! The login page in a real browser (headless Chromium, driven over the DevTools protocol): where
//! it goes after logging in. Skips when Chromium is missing, fails then if `CI` is set.
//! (The Chromium helpers here are a small copy of those in tests/browser.rs, which is over the
//! file-size budget; both belong in tests/common once that file is split.)

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

fn chromium_or_skip() -> Option<PathBuf> {
    let bin = [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists());
    if bin.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but Chromium is not installed"
        );
        eprintln!("SKIPPED: chromium not installed");
    }
    bin
}

/// A headless Chromium with its own profile, killed on drop.
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

    /// The DevTools WebSocket of the first page whose URL contains `marker`.
    async fn page_ws_matching(&self, marker: &str) -> String {
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
                && let Some(t) = targets.iter().find(|t| {
                    t["type"] == "page" && t["url"].as_str().is_some_and(|u| u.contains(marker))
                })
            {
                return t["webSocketDebuggerUrl"].as_str().unwrap().to_string();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromium did not open a page at {marker}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Evaluates `expr` (awaiting a promise) in the page and returns its JSON value.
async fn eval(ws: &str, expr: &str) -> Value {
    let (mut s, _) = tokio_tungstenite::connect_async(ws).await.unwrap();
    let req = json!({"id": 1, "method": "Runtime.evaluate", "params": {"expression": expr, "awaitPromise": true, "returnByValue": true}});
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

/// Polls `expr` in the page until it is `true`.
async fn wait_for(ws: &str, expr: &str, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let check =
        format!("(() => {{ try {{ return !!({expr}); }} catch (_) {{ return false; }} }})()");
    while eval(ws, &check).await != Value::Bool(true) {
        if tokio::time::Instant::now() > deadline {
            let url = eval(ws, "location.href").await;
            panic!("timed out waiting for {what}; the page is at {url}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The login page goes on only to a path of this server: `?next=/.//host/x` (which the URL parser
/// turns into `//host/x`) and every other spelling of another origin lead to the home page.
/// The other origin is a loopback port, so nothing leaves the machine even when it goes wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_never_redirects_to_another_origin() {
    let Some(bin) = chromium_or_skip() else {
        return;
    };
    let server = TestServer::start().await;
    let user = server.login(giaoban::auth::Role::Chair).await;
    let base = server.http_url();
    let attack = "/.//127.0.0.1:9/x";
    let next: String = url::form_urlencoded::byte_serialize(attack.as_bytes()).collect();
    let browser = Browser::open(&bin, &format!("{base}/login?next={next}"));
    let page = browser.page_ws_matching("/login").await;
    wait_for(
        &page,
        "window.GB && window.GB.safeNext && !document.getElementById('login-submit').disabled",
        "the login form",
    )
    .await;
    let cases = [
        ("/.//127.0.0.1:9/x", "/app/home"),
        ("//127.0.0.1:9/x", "/app/home"),
        ("/\\127.0.0.1:9/x", "/app/home"),
        ("\\\\127.0.0.1:9/x", "/app/home"),
        ("/./\\127.0.0.1:9/x", "/app/home"),
        ("http://127.0.0.1:9/x", "/app/home"),
        ("javascript:alert(1)", "/app/home"),
        ("/login", "/app/home"),
        ("", "/app/home"),
        (
            "/app/session?date=2026-12-07",
            "/app/session?date=2026-12-07",
        ),
        ("/app/board?session=a#b", "/app/board?session=a#b"),
        ("/%2F127.0.0.1:9/x", "/%2F127.0.0.1:9/x"),
    ];
    for (raw, want) in cases {
        let got = eval(&page, &format!("window.GB.safeNext({raw:?})")).await;
        assert_eq!(got, Value::String(want.into()), "next={raw:?}");
    }
    let login = format!(
        "(() => {{ document.getElementById('username').value = {:?}; document.getElementById('password').value = {PASSWORD:?}; document.getElementById('login-submit').click(); return true; }})()",
        user.username
    );
    eval(&page, &login).await;
    let home = browser.page_ws_matching(&format!("{base}/app/home")).await;
    wait_for(
        &home,
        &format!("location.origin === {base:?} && location.pathname === '/app/home'"),
        "the home page",
    )
    .await;
}
