//! Both languages in headless Chromium. Every page of the secretariat's app, loaded in
//! Vietnamese and then in English by a user holding every role, never shows a raw string key
//! (watched from before its first script), has each of its strings in both languages, marks the
//! document with the language, and in English shows no heading or label still in Vietnamese. The
//! room page, switched to English in the middle of a session, leaves Vietnamese at once, as a
//! fresh English load does.

use crate::common;
use common::browser::*;
use common::*;
use giaoban::auth::{Grant, Role};
use serde_json::json;
use std::time::Duration;

/// Every string key the page uses or registered that lacks a language, every element showing a
/// raw key or (in English) its Vietnamese text, and the document's language.
const CHECK: &str = r#"(() => {
  const S = window.GB_STRINGS || { vi: {}, en: {} };
  const both = (k) => k in S.vi && k in S.en;
  const registered = [...Object.keys(S.vi), ...Object.keys(S.en)].filter((k) => !both(k));
  const used = [...document.querySelectorAll('[data-i18n],[data-i18n-aria],[data-i18n-title],[data-i18n-placeholder]')]
    .flatMap((e) => [e.dataset.i18n, e.dataset.i18nAria, e.dataset.i18nTitle, e.dataset.i18nPlaceholder])
    .filter((k) => k && !both(k));
  const lang = document.documentElement.lang;
  const untranslated = lang !== 'en' ? [] : [...document.querySelectorAll('[data-i18n]')]
    .filter((e) => S.en[e.dataset.i18n] !== S.vi[e.dataset.i18n] && e.textContent === S.vi[e.dataset.i18n])
    .map((e) => e.dataset.i18n);
  return { lang, raw: window.__rawKeys, missing: [...new Set([...registered, ...used])], untranslated };
})()"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_app_page_speaks_vietnamese_and_english_without_raw_keys() {
    let Some(bin) = chromium_or_skip(Load::Pages).await else {
        return;
    };
    let server = TestServer::start().await;
    let created = server.create_session(HOST, &SITES[..3]).await;
    let sid = created.session_id.clone();
    // One user holding every role that needs no site, so that each page loads its data.
    let username = "moi-vai-tro";
    let grants = [
        Role::Admin,
        Role::Secretariat,
        Role::Operator,
        Role::Chair,
        Role::Reviewer,
        Role::Auditor,
    ]
    .map(|role| Grant {
        role,
        unit_id: None,
        site_id: None,
    });
    server
        .create_user(username, "Người dùng mọi vai trò", grants.to_vec())
        .await;
    let pages = [
        "/app/home".to_string(),
        "/app/calendar".into(),
        "/app/session?date=2026-12-07".into(),
        format!("/app/session?id={sid}"),
        "/app/org".into(),
        "/app/users".into(),
        "/app/audit".into(),
        format!("/app/board?session={sid}"),
        format!("/app/rollcall?session={sid}"),
        format!("/app/attendance-record?session={sid}"),
        format!("/app/console?session={sid}"),
        // No such recording: the page says so, in the page's language.
        "/app/review?id=00000000-0000-0000-0000-000000000000".into(),
    ];
    let (_browser, page) =
        Browser::logged_in(&bin, &server.http_url(), username, "/app/home").await;
    wait_for(&page, "document.readyState === 'complete'", "the home page").await;
    for lang in ["vi", "en"] {
        for path in &pages {
            eval(
                &page,
                &format!(
                    "window.__left = true; localStorage.setItem('giaoban.lang', '{lang}'); location.href = {path:?}; true"
                ),
            )
            .await;
            // A page may rewrite its query (the calendar adds its week): the path and a new
            // document (one without the mark set before leaving) tell it arrived.
            let pathname = path.split('?').next().unwrap();
            let arrived = format!(
                "!window.__left && location.pathname === {pathname:?} && document.readyState === 'complete'"
            );
            wait_for(&page, &arrived, path).await;
            let watch = reload_watching_raw_keys(&page).await;
            wait_for(
                &page,
                &format!("Array.isArray(window.__rawKeys) && {arrived} && !!window.GB"),
                path,
            )
            .await;
            // The panels fill in from the API after the load; their strings are watched too.
            tokio::time::sleep(Duration::from_millis(1200)).await;
            let seen = eval(&page, CHECK).await;
            drop(watch);
            assert_eq!(
                seen,
                json!({"lang": lang, "raw": [], "missing": [], "untranslated": []}),
                "{path} in {lang}"
            );
        }
    }
}

/// The visible lines of the page's text.
async fn lines(page: &str) -> Vec<String> {
    let text = eval(page, "document.body.innerText").await;
    text.as_str()
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The room page of the host site, joined with another site in the room: switched to English
/// while in the session, every heading, label and button leaves Vietnamese at once (only the
/// session's title and the sites' names stay), as on a fresh English load, which is watched for
/// raw string keys from before its first script.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_room_page_switches_to_english_during_a_session() {
    let Some(bin) = chromium_or_skip(Load::Media).await else {
        return;
    };
    let server = TestServer::start().await;
    let created = server.create_session(HOST, &SITES[..1]).await;
    let site = giaoban::client::SiteClient::join(
        &server.ws_url(),
        &token(&created.links[SITES[0]]),
        common::chair::LOCAL,
    )
    .await
    .unwrap();
    let browser = Browser::open(&bin, &format!("{}?autojoin=1", created.links[HOST]));
    let page = browser.page_ws().await;
    let joined = "window.giaoban && window.giaoban.state().joined && window.giaoban.state().peers.length > 0 && !!document.querySelector('[data-lang-switch]')";
    wait_for(&page, joined, "the host's room page in the session").await;
    // The data shown as is in both languages: the session's title and the sites' names.
    let names = eval(&page, "(() => { const s = window.giaoban.state(); return [s.siteName, ...s.peers.map((p) => p.siteName)]; })()").await;
    let mut data: Vec<String> = serde_json::from_value(names).unwrap();
    data.push("Giao ban kiểm thử".into());
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(eval(&page, "document.documentElement.lang").await, "vi");
    let vi = lines(&page).await;
    assert!(vi.iter().any(|l| l == "Rời phiên họp"), "{vi:?}");
    let still_vietnamese = |en: &[String]| -> Vec<String> {
        en.iter()
            .filter(|l| vi.contains(l) && !data.contains(l))
            .cloned()
            .collect()
    };

    eval(
        &page,
        "document.querySelector('[data-lang-switch]').click(); true",
    )
    .await;
    wait_for(&page, "document.documentElement.lang === 'en'", "English").await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let live = lines(&page).await;
    assert!(live.iter().any(|l| l == "Leave session"), "{live:?}");
    assert_eq!(
        still_vietnamese(&live),
        Vec::<String>::new(),
        "switched live: {live:?}"
    );

    let watch = reload_watching_raw_keys(&page).await;
    wait_for(
        &page,
        &format!("Array.isArray(window.__rawKeys) && {joined}"),
        "the page in the session again",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let fresh = lines(&page).await;
    assert_eq!(eval(&page, "window.__rawKeys").await, json!([]));
    drop(watch);
    assert_eq!(eval(&page, "document.documentElement.lang").await, "en");
    assert_eq!(
        still_vietnamese(&fresh),
        Vec::<String>::new(),
        "loaded in English: {fresh:?}"
    );
    drop(site);
}
