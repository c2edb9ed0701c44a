//! The login page in a real browser (headless Chromium, driven over the DevTools protocol): where
//! it goes after logging in. Skips when Chromium is missing, fails then if `CI` is set.

use crate::common;

use common::browser::*;
use common::*;
use serde_json::Value;

/// The login page goes on only to a path of this server: `?next=/.//host/x` (which the URL parser
/// turns into `//host/x`) and every other spelling of another origin lead to the home page.
/// The other origin is a loopback port, so nothing leaves the machine even when it goes wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_never_redirects_to_another_origin() {
    let Some(bin) = chromium_or_skip(Load::Pages).await else {
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

/// The audit viewer, after logging in through the form: every action group is in the filter with
/// the actions' Vietnamese names (the room-PC actions included), and the login just made is a row
/// named "Đăng nhập" (not the raw action string).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_viewer_names_every_action() {
    let Some(bin) = chromium_or_skip(Load::Pages).await else {
        return;
    };
    let server = TestServer::start().await;
    let admin = server.login(giaoban::auth::Role::Admin).await;
    let base = server.http_url();
    let (_browser, audit) = Browser::logged_in(&bin, &base, &admin.username, "/app/audit").await;
    wait_for(
        &audit,
        "document.querySelectorAll('#f-action optgroup').length === 8 && document.querySelectorAll('#rows td').length > 1",
        "the audit filter and rows",
    )
    .await;
    let option = |action: &str| {
        format!(
            "(document.querySelector('#f-action option[value=\"{action}\"]') || {{}}).textContent || null"
        )
    };
    for (action, name) in [
        ("device.pair", "Ghép nối máy tại phòng họp"),
        ("sitelink.issue", "Cấp đường dẫn cố định của điểm cầu"),
        ("floor.revoke", "Kết thúc phát biểu"),
        ("login.failed", "Đăng nhập không thành công"),
    ] {
        assert_eq!(
            eval(&audit, &option(action)).await,
            Value::String(name.into())
        );
    }
    wait_for(
        &audit,
        "[...document.querySelectorAll('#rows span[title=\"login\"]')].some(s => s.textContent === 'Đăng nhập')",
        "the login row, named",
    )
    .await;
}
