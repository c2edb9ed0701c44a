//! The secretariat's pages in a real browser (headless Chromium over the DevTools protocol):
//! scheduling a weekly briefing with its conflicts, the invitation board, the roll-call board
//! following a site live, and what a new secretary met on the session form. Runs in CI; when
//! `CI` is set and Chromium is missing it fails, elsewhere it says it skipped.

use crate::common;

use common::browser::*;
use common::*;
use serde_json::{Value, json};
use std::time::Duration;

/// Clicks the checkbox labelled with a site's name in the session form's site picker.
fn pick_site(name: &str) -> String {
    format!(
        "(() => {{ const l = [...document.querySelectorAll('#site-picker label.check')].find(l => l.textContent.trim() === {name:?}); l.querySelector('input').click(); return true; }})()"
    )
}

/// Fills the session form (already open) and saves it.
fn fill_session(title: &str, start: &str, end: &str, host: &str) -> String {
    format!(
        "(() => {{ const v = (id, x) => {{ const e = document.getElementById(id); e.value = x; e.dispatchEvent(new Event('input', {{bubbles: true}})); e.dispatchEvent(new Event('change', {{bubbles: true}})); }};
            v('f-title', {title:?}); v('f-start', {start:?}); v('f-end', {end:?}); v('f-host', {host:?}); return true; }})()"
    )
}

/// The secretariat's day: log in, create a weekly session with three sites, see the scheduling
/// conflict (409, in Vietnamese) when another overlapping session reuses one of them, and copy a
/// site's join link from the invitation board.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secretariat_schedules_a_weekly_briefing_and_sees_conflicts() {
    let Some(bin) = chromium_or_skip(Load::Pages).await else {
        return;
    };
    let server = TestServer::start().await;
    let secretariat = server.login(giaoban::auth::Role::Secretariat).await;
    let base = server.http_url();
    // Monday 07/12/2026, weekly for 4 weeks.
    let (browser, page) = Browser::logged_in(
        &bin,
        &base,
        &secretariat.username,
        "/app/session?date=2026-12-07",
    )
    .await;
    wait_for(&page, "document.querySelectorAll('#site-picker label.check').length > 5 && !document.getElementById('editor').hidden", "the session form").await;
    eval(
        &page,
        &fill_session(
            "Giao ban trực tuyến hằng tuần – kiểm thử",
            "08:00",
            "10:00",
            HOST,
        ),
    )
    .await;
    for name in [
        "Phòng họp Sở Nội vụ",
        "Phòng họp Sở Tài chính",
        "Phòng họp Sở Y tế",
    ] {
        eval(&page, &pick_site(name)).await;
    }
    let weekly = "(() => { const w = document.getElementById('f-weekly'); w.click(); document.getElementById('f-end-count').click(); document.getElementById('f-count').value = '4'; return true; })()";
    eval(&page, weekly).await;
    eval(
        &page,
        "(() => { document.getElementById('save').click(); return true; })()",
    )
    .await;
    wait_for(
        &page,
        "location.search.includes('id=')",
        "the saved session's page",
    )
    .await;
    wait_for(
        &page,
        "document.querySelector('a[href^=\"/app/board?session=\"]')",
        "the link to the invitation board on the session's page",
    )
    .await;
    let url = eval(&page, "location.href").await;
    let session_id = url
        .as_str()
        .unwrap()
        .split("id=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let stored: Value = secretariat
        .get(&format!("/api/sessions/{session_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        stored["series"]["occurrences"].as_array().map(Vec::len),
        Some(4),
        "four weekly occurrences"
    );

    // The week calendar shows it on Monday 07/12/2026, 08:00–10:00 Hanoi time.
    eval(
        &page,
        &format!(
            "(() => {{ location.assign('{base}/app/calendar?week=2026-W50'); return true; }})()"
        ),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let page = browser.page_ws_matching("/app/calendar").await;
    wait_for(
        &page,
        "document.querySelector('.session-card')",
        "the week calendar",
    )
    .await;
    let monday = eval(&page, "document.querySelector('.day').textContent").await;
    let monday = monday.as_str().unwrap();
    assert!(
        monday.starts_with("Thứ Hai07/12/2026") && monday.contains("08:00–10:00"),
        "{monday}"
    );

    // Another session on the second Monday, 09:00–11:00, reusing the Sở Tài chính site.
    eval(
        &page,
        &format!(
            "(() => {{ location.assign('{base}/app/session?date=2026-12-14'); return true; }})()"
        ),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let page = browser.page_ws_matching("/app/session").await;
    wait_for(&page, "document.querySelectorAll('#site-picker label.check').length > 5 && !document.getElementById('editor').hidden", "a new session form").await;
    eval(
        &page,
        &fill_session(
            "Họp chuyên đề tài chính",
            "09:00",
            "11:00",
            "phuong-hoan-kiem-phonghop",
        ),
    )
    .await;
    eval(&page, &pick_site("Phòng họp Sở Tài chính")).await;
    eval(
        &page,
        "(() => { document.getElementById('save').click(); return true; })()",
    )
    .await;
    wait_for(
        &page,
        "!document.getElementById('conflict-box').hidden",
        "the conflict message",
    )
    .await;
    let message = eval(
        &page,
        "document.getElementById('conflict-message').textContent",
    )
    .await;
    let message = message.as_str().unwrap();
    assert!(
        message.contains("Trùng lịch") && message.contains("Phòng họp Sở Tài chính"),
        "conflict message: {message}"
    );
    assert!(
        message.contains("14/12/2026"),
        "the clashing occurrence's date: {message}"
    );

    // The invitation board of the weekly session: copy the Sở Nội vụ site's join link.
    eval(
        &page,
        &format!(
            "(() => {{ location.assign('{base}/app/board?session={session_id}'); return true; }})()"
        ),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let page = browser.page_ws_matching("/app/board").await;
    wait_for(&page, "[...document.querySelectorAll('tr')].some(r => r.textContent.includes('Phòng họp Sở Nội vụ') && r.querySelector('button'))", "the invitation board").await;
    let copy = "(() => { const row = [...document.querySelectorAll('tr')].find(r => r.textContent.includes('Phòng họp Sở Nội vụ')); const b = [...row.querySelectorAll('button')].find(b => b.textContent.trim() === 'Sao chép'); b.click(); return true; })()";
    // Record what reaches the clipboard (reading it back needs a permission headless cannot give).
    let spy = "(() => { const write = navigator.clipboard.writeText.bind(navigator.clipboard); window.__copied = null; navigator.clipboard.writeText = (t) => { window.__copied = t; return write(t); }; return true; })()";
    eval(&page, spy).await;
    eval(&page, copy).await;
    wait_for(
        &page,
        "document.body.innerText.includes('Đã sao chép')",
        "the copied notice",
    )
    .await;
    let copied = eval(&page, "window.__copied").await;
    let link = copied.as_str().unwrap_or_default().to_string();
    assert!(
        link.starts_with(&format!("{base}/room/")),
        "clipboard holds a join link: {link:?}"
    );
    let token = link.rsplit('/').next().unwrap();
    let info: Value = reqwest::get(format!("{base}/api/join/{token}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["site"]["id"], "so-noi-vu-phonghop");
    assert_eq!(info["session"]["id"], session_id);

    // "Copy all stable links": one "site: link" line per invited site, each a /s/ link of it.
    eval(
        &page,
        "(() => { window.__copied = null; document.getElementById('copy-all-site').click(); return true; })()",
    )
    .await;
    wait_for(
        &page,
        "window.__copied && window.__copied.includes('/s/')",
        "the copied stable links",
    )
    .await;
    let copied = eval(&page, "window.__copied").await;
    let lines: Vec<&str> = copied.as_str().unwrap().lines().collect();
    assert_eq!(lines.len(), 4, "the host and three sites: {lines:?}");
    assert!(
        lines[0].starts_with("Hội trường UBND Thành phố: "),
        "{lines:?}"
    );
    let noi_vu = lines
        .iter()
        .find(|l| l.starts_with("Phòng họp Sở Nội vụ: "))
        .unwrap();
    let url = noi_vu.split(": ").nth(1).unwrap();
    let state: Value = reqwest::get(url.replace("/s/", "/api/s/"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["site"]["id"], "so-noi-vu-phonghop");
    // And this session's links, the same way.
    eval(
        &page,
        "(() => { window.__copied = null; document.getElementById('copy-all-session').click(); return true; })()",
    )
    .await;
    wait_for(
        &page,
        "window.__copied && window.__copied.includes('/room/')",
        "the copied session links",
    )
    .await;
    let copied = eval(&page, "window.__copied").await;
    assert_eq!(copied.as_str().unwrap().lines().count(), 4);
}

/// The roll-call board (bảng điểm danh) in a browser: a site turns present when its room page
/// joins, and absent-now when that browser goes away, without the board being reloaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_roll_call_board_follows_a_site_live() {
    let Some(bin) = chromium_or_skip(Load::Pages).await else {
        return;
    };
    let server = TestServer::start_with(&[("GIAOBAN_ATTENDANCE_RECONNECT_GRACE_SECS", "2")]).await;
    let secretariat = server.login(giaoban::auth::Role::Secretariat).await;
    let session = server.create_session(HOST, &SITES[..1]).await;
    let sid = &session.session_id;
    let base = server.http_url();
    let (browser, page) = Browser::logged_in(
        &bin,
        &base,
        &secretariat.username,
        &format!("/app/rollcall?session={sid}"),
    )
    .await;
    let row = |site: &str| format!("document.querySelector('tr[data-site=\"{site}\"]')");
    let site = SITES[0];
    wait_for(
        &page,
        &format!("{}.dataset.live === 'never_joined'", row(site)),
        "the site's row, never joined",
    )
    .await;
    // A marker that a reload would erase.
    eval(&page, "(() => { window.__noReload = 1; return true; })()").await;

    let room = Browser::open(&bin, &format!("{}?autojoin=1", session.links[site]));
    wait_for(
        &page,
        &format!(
            "{}.dataset.live === 'online' && window.__noReload === 1",
            row(site)
        ),
        "the site online on the board",
    )
    .await;
    screenshot(&page, "rollcall-online").await;
    let headline = eval(&page, "document.getElementById('headline').textContent").await;
    assert!(
        headline.as_str().unwrap_or("").contains("Có mặt: 1/2"),
        "{headline}"
    );
    // The room PC's browser is gone: reconnecting within the grace, then left.
    drop(room);
    wait_for(
        &page,
        &format!(
            "{}.dataset.live === 'left' && window.__noReload === 1",
            row(site)
        ),
        "the site gone from the board",
    )
    .await;
    let text = eval(&page, &format!("{}.textContent", row(site))).await;
    assert!(text.as_str().unwrap_or("").contains("Đã rời lúc"), "{text}");
    screenshot(&page, "rollcall-left").await;
    // The printable record of the same session.
    eval(
        &page,
        &format!("(() => {{ location.assign('{base}/app/attendance-record?session={sid}'); return true; }})()"),
    )
    .await;
    let page = browser.page_ws_matching("/app/attendance-record").await;
    wait_for(
        &page,
        &format!("document.querySelector('#rec-rows tr[data-site=\"{site}\"]')"),
        "the attendance record",
    )
    .await;
    let title = eval(&page, "document.querySelector('.record-title').textContent").await;
    assert_eq!(title, "BIÊN BẢN ĐIỂM DANH");
    let line = eval(
        &page,
        &format!("document.querySelector('#rec-rows tr[data-site=\"{site}\"]').textContent"),
    )
    .await;
    assert!(line.as_str().unwrap().contains("Có mặt"), "{line}");
    screenshot(&page, "attendance-record").await;
}

/// What a new secretary met, fixed: units past their validity are not offered for the date,
/// validation messages are in Vietnamese only, a session in the past needs a second "Lưu"; on
/// the invitation board re-issue sits under the link, apart from "Xác nhận", rows refresh as
/// actions land while a button is armed, and the stage chips count the sites that reached them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secretariat_pages_offer_valid_sites_speak_vietnamese_and_keep_actions_apart() {
    let Some(bin) = chromium_or_skip(Load::Pages).await else {
        return;
    };
    let server = TestServer::start().await;
    let secretariat = server.login(giaoban::auth::Role::Secretariat).await;
    let base = server.http_url();
    let (browser, page) = Browser::logged_in(
        &bin,
        &base,
        &secretariat.username,
        "/app/session?date=2026-12-07",
    )
    .await;
    wait_for(&page, "document.querySelectorAll('#site-picker label.check').length > 5 && !document.getElementById('editor').hidden", "the session form").await;
    let offered = "[...document.querySelectorAll('#site-picker label.check'), ...document.querySelectorAll('#f-host option')].map(n => n.textContent).join('|')";
    let now = eval(&page, offered).await;
    assert!(!now.as_str().unwrap().contains("(cũ)"), "{now}");
    // Before the 2025 reform the old district is a valid choice again.
    eval(&page, "(() => { const d = document.getElementById('f-date'); d.value = '01/06/2025'; d.dispatchEvent(new Event('change', {bubbles: true})); return true; })()").await;
    let then = eval(&page, offered).await;
    assert!(then.as_str().unwrap().contains("(cũ)"), "{then}");
    eval(&page, "(() => { const d = document.getElementById('f-date'); d.value = '07/12/2026'; d.dispatchEvent(new Event('change', {bubbles: true})); return true; })()").await;

    // An empty title: the server's 422 is shown in Vietnamese only.
    eval(&page, &fill_session("", "08:00", "10:00", HOST)).await;
    eval(
        &page,
        "(() => { document.getElementById('save').click(); return true; })()",
    )
    .await;
    wait_for(
        &page,
        "!document.getElementById('form-error').hidden",
        "the error",
    )
    .await;
    let error = eval(&page, "document.getElementById('form-error').textContent").await;
    assert_eq!(
        error.as_str().unwrap(),
        "Tên phiên họp không được để trống và không quá 300 ký tự."
    );

    // A session in the past: a warning first, created on the second "Lưu".
    eval(&page, "(() => { const d = document.getElementById('f-date'); d.value = '02/11/2026'; d.dispatchEvent(new Event('change', {bubbles: true})); return true; })()").await;
    eval(
        &page,
        &fill_session("Giao ban đã qua – kiểm thử", "08:00", "09:00", HOST),
    )
    .await;
    for name in ["Phòng họp Sở Nội vụ", "Phòng họp Sở Y tế"] {
        eval(&page, &pick_site(name)).await;
    }
    let save = "(() => { document.getElementById('save').click(); return true; })()";
    eval(&page, save).await;
    wait_for(
        &page,
        "document.getElementById('form-error').dataset.kind === 'past' && !document.getElementById('form-error').hidden",
        "the warning about the past",
    )
    .await;
    assert!(
        !eval(&page, "location.search")
            .await
            .as_str()
            .unwrap()
            .contains("id=")
    );
    eval(&page, save).await;
    wait_for(
        &page,
        "location.search.includes('id=')",
        "the created session",
    )
    .await;
    let url = eval(&page, "location.href").await;
    let session_id = url
        .as_str()
        .unwrap()
        .split("id=")
        .nth(1)
        .unwrap()
        .to_string();

    // The invitation board.
    eval(
        &page,
        &format!(
            "(() => {{ location.assign('{base}/app/board?session={session_id}'); return true; }})()"
        ),
    )
    .await;
    let page = browser.page_ws_matching("/app/board").await;
    let row = |name: &str| {
        format!(
            "[...document.querySelectorAll('#rows tr')].find(r => r.textContent.includes('{name}'))"
        )
    };
    wait_for(&page, &row("Sở Y tế"), "the board").await;
    // Re-issue and revoke sit under the link, the confirm button in the actions column.
    let placed = eval(&page, &format!("(() => {{ const r = {}; return {{ reissueInLink: !!r.querySelector('td.link button[data-action=reissue]'), reissueInActions: !!r.querySelector('td.actions button[data-action=reissue]'), confirm: !!r.querySelector('td.actions button[data-action=confirm]') }}; }})()", row("Sở Y tế"))).await;
    assert_eq!(
        placed,
        json!({"reissueInLink": true, "reissueInActions": false, "confirm": true})
    );
    // Arm re-issue on one row, confirm another: that row refreshes, the armed one stays armed.
    eval(
        &page,
        &format!(
            "(() => {{ {}.querySelector('button[data-action=reissue]').click(); return true; }})()",
            row("Sở Y tế")
        ),
    )
    .await;
    eval(
        &page,
        &format!(
            "(() => {{ {}.querySelector('button[data-action=confirm]').click(); return true; }})()",
            row("Sở Nội vụ")
        ),
    )
    .await;
    wait_for(
        &page,
        &format!(
            "{}.textContent.includes('Đã xác nhận') && {}.querySelector('button.is-armed')",
            row("Sở Nội vụ"),
            row("Sở Y tế")
        ),
        "the confirmed row refreshed beside the armed one",
    )
    .await;
    // Stage chips: sites that reached the stage, out of those invited; revoked is not struck.
    let chips = eval(&page, "[...document.querySelectorAll('#counts li')].map(li => li.textContent + (getComputedStyle(li).textDecorationLine.includes('line-through') ? ' (struck)' : '')).join('|')").await;
    let chips = chips.as_str().unwrap();
    assert!(chips.contains("Đã mời: 3/3"), "{chips}");
    assert!(chips.contains("Đã xác nhận: 1/3"), "{chips}");
    assert!(
        chips.contains("Đã thu hồi: 0") && !chips.contains("struck"),
        "{chips}"
    );
}
