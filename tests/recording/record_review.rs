//! The review page in headless Chromium: a reviewer with a grant opens a recording, the host's
//! video plays (its `currentTime` advances, served through signed range requests), a chapter
//! click seeks both players to that moment of the recording's clock; a reviewer without a grant
//! gets 403.

use crate::common;
use crate::record_common;

use common::browser::*;
use common::*;
use giaoban::auth::Role;
use giaoban::client::SiteClient;
use record_common::*;
use serde_json::Value;
use std::time::{Duration, Instant};

const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_reviewer_plays_a_recording_and_seeks_by_chapter() {
    let Some(bin) = chromium_or_skip(Load::Media).await else {
        return;
    };
    let server = TestServer::start().await;
    let operator = server.login(Role::Operator).await;
    let created = server.create_session(HOST, &SITES[..1]).await;
    let sid = created.session_id.clone();
    let (status, started) = operator.recording(&sid, "start").await;
    assert_eq!(status, 201);
    let rid = started["recording_id"].as_str().unwrap().to_string();
    let end = Instant::now() + Duration::from_secs(6);
    let mut tasks = Vec::new();
    for (i, site) in [HOST, SITES[0]].into_iter().enumerate() {
        let ws = server.ws_url();
        let token = token(&created.links[site]);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2 * i as u64)).await;
            let c = SiteClient::join(&ws, &token, LOCAL).await.unwrap();
            publish(&c, end).await;
            c
        }));
    }
    let mut clients = Vec::new();
    for t in tasks {
        clients.push(t.await.unwrap());
    }
    let (status, _) = operator.recording(&sid, "stop").await;
    assert_eq!(status, 200);
    for c in clients {
        c.leave().await;
    }

    let reviewer = server.login(Role::Reviewer).await;
    let outsider = server.login(Role::Reviewer).await;
    let secretariat = server.login(Role::Secretariat).await;
    let soon = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let (status, _) = body(
        secretariat
            .post(
                &format!("/api/recordings/{rid}/grants"),
                &serde_json::json!({"username": reviewer.username, "view": true, "download": true, "expires_at": soon}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 201);
    let (status, err) = body(outsider.get(&format!("/api/recordings/{rid}")).await).await;
    assert_eq!((status, err["code"].as_str()), (403, Some("no_grant")));

    let base = server.http_url();
    let target = format!("/app/review?id={rid}");
    let (_browser, page) = Browser::logged_in(&bin, &base, &reviewer.username, &target).await;
    wait_for(
        &page,
        "document.querySelectorAll('.chapter').length >= 3 && document.getElementById('v-host').readyState >= 1",
        "the player with its chapters",
    )
    .await;
    eval(
        &page,
        "document.getElementById('v-host').play().then(() => true)",
    )
    .await;
    wait_for(
        &page,
        "document.getElementById('v-host').currentTime > 1.0",
        "the host's video playing",
    )
    .await;
    screenshot(&page, "review-playing").await;

    // The chapter of the second site's arrival: both players go there.
    let chapters = eval(
        &page,
        "[...document.querySelectorAll('.chapter')].map(b => [b.dataset.at, b.textContent])",
    )
    .await;
    let joined: Vec<i64> = chapters
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c[1].as_str().unwrap().contains("tham gia"))
        .map(|c| c[0].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(joined.len(), 2, "{chapters}");
    let at = joined[1];
    eval(
        &page,
        &format!("document.querySelector('.chapter[data-at=\"{at}\"]').click(); true"),
    )
    .await;
    wait_for(
        &page,
        &format!(
            "Math.abs(window.REVIEW.clock() - {at}) < 1500 && !document.getElementById('v-site').hidden"
        ),
        "the seek to the chapter",
    )
    .await;
    let side = eval(
        &page,
        "[document.getElementById('v-site').dataset.file, document.getElementById('v-site').currentTime]",
    )
    .await;
    assert!(side[0].as_str().unwrap().starts_with(SITES[0]), "{side}");
    // A view was audited for the reviewer.
    let audit: Value = body(
        server
            .login(Role::Auditor)
            .await
            .get("/api/audit?action=recording.view")
            .await,
    )
    .await
    .1;
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor"] == format!("user:{}", reviewer.username)),
        "{audit}"
    );
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_form_says_a_classified_session_is_not_recorded_and_unticks_nothing() {
    let Some(bin) = chromium_or_skip(Load::Pages).await else {
        return;
    };
    let server = TestServer::start().await;
    let secretariat = server.login(Role::Secretariat).await;
    let base = server.http_url();
    let (_browser, page) =
        Browser::logged_in(&bin, &base, &secretariat.username, "/app/session").await;
    wait_for(
        &page,
        "!document.getElementById('editor').hidden",
        "the session form",
    )
    .await;
    let tick = |id: &str| {
        format!(
            "(() => {{ const b = document.getElementById({id:?}); b.click(); return true; }})()"
        )
    };
    eval(&page, &tick("f-record")).await;
    eval(&page, &tick("f-classified")).await;
    let state = eval(
        &page,
        "[document.getElementById('f-classified').checked, document.getElementById('f-record').checked, document.getElementById('record-hint').hidden]",
    )
    .await;
    assert_eq!(
        state,
        serde_json::json!([true, true, false]),
        "both stay ticked and the form says why not"
    );
    let hint = eval(&page, "document.getElementById('record-hint').textContent").await;
    assert_eq!(hint, "Phiên họp mật không được ghi hình.");
    eval(&page, &tick("f-record")).await;
    let state = eval(
        &page,
        "[document.getElementById('f-classified').checked, document.getElementById('record-hint').hidden]",
    )
    .await;
    assert_eq!(
        state,
        serde_json::json!([true, true]),
        "unticking one box changes nothing else"
    );
    server.running.stop().await;
}

/// Logs `username` in through the login page and opens `target`; the browser stays open while
/// the returned value lives.
async fn open_as(
    bin: &std::path::PathBuf,
    server: &TestServer,
    username: &str,
    target: &str,
) -> (Browser, String) {
    Browser::logged_in(bin, &server.http_url(), username, target).await
}

const TOGGLE: &str = "document.getElementById('crec-toggle')";

/// The console starts a recording, shows it running, marks an agenda item (a chapter of the
/// recording), stops it and lists it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_starts_and_stops_a_recording_and_lists_it() {
    let Some(bin) = chromium_or_skip(Load::Pages).await else {
        return;
    };
    let server = TestServer::start().await;
    let operator = server.login(Role::Operator).await;
    let created = server.create_session(HOST, &SITES[..1]).await;
    let sid = created.session_id.clone();
    let agenda = serde_json::json!([
        {"title": "Khai mạc", "presenter": ""},
        {"title": "Tình hình thực hiện dự toán ngân sách", "presenter": "Sở Tài chính"},
    ]);
    server.set_agenda(&sid, &agenda).await;
    let host = SiteClient::join(&server.ws_url(), &token(&created.links[HOST]), LOCAL)
        .await
        .unwrap();
    let publisher = tokio::spawn(async move {
        publish(&host, Instant::now() + Duration::from_secs(60)).await;
        host
    });
    let (_browser, page) = open_as(
        &bin,
        &server,
        &operator.username,
        &format!("/app/console?session={sid}"),
    )
    .await;
    wait_for(
        &page,
        &format!("{TOGGLE}.dataset.action === 'start' && !{TOGGLE}.disabled && document.getElementById('crec-none').hidden === false"),
        "the recording panel, not recording",
    )
    .await;
    assert_eq!(
        eval(&page, &format!("{TOGGLE}.textContent")).await,
        "Bắt đầu ghi hình"
    );
    // Loading again, watched from before its first script: no heading or label of the console
    // or its panels ever shows a raw string key (its panels' strings are added in time).
    let watch = reload_watching_raw_keys(&page).await;
    wait_for(
        &page,
        // The panel's first listing shows `crec-none` (hidden in the HTML): its script ran and
        // listens for clicks. The button and the heading alone are the static HTML.
        &format!("Array.isArray(window.__rawKeys) && {TOGGLE} && {TOGGLE}.dataset.action === 'start' && !{TOGGLE}.disabled && document.getElementById('crec-none').hidden === false && document.getElementById('cag-title').textContent === 'Chương trình họp'"),
        "the console loaded again",
    )
    .await;
    drop(watch);
    assert_eq!(
        eval(&page, "window.__rawKeys").await,
        serde_json::json!([]),
        "raw string keys shown while the console loaded"
    );
    eval(&page, &format!("{TOGGLE}.click(); true")).await;
    wait_for(
        &page,
        &format!("!!document.getElementById('crec-on') && {TOGGLE}.dataset.action === 'stop'"),
        "Đang ghi hình",
    )
    .await;
    let since = eval(&page, "document.getElementById('crec-since').textContent").await;
    let since = since.as_str().unwrap().to_string();
    assert!(since.starts_with("từ "), "{since}");
    // The running time is kept live: at least 3 s recorded, shown without a reload.
    wait_for(
        &page,
        "/\\(đã ghi 00:0[3-9]\\)|\\(đã ghi 00:[1-5]/.test(document.getElementById('crec-since').textContent)",
        "the running time advancing",
    )
    .await;
    // The console marks the second agenda item: a chapter of the recording.
    wait_for(
        &page,
        "document.querySelectorAll('#cag-list li').length === 2 && document.getElementById('cag-now').textContent === 'Chưa chuyển sang nội dung nào.'",
        "the agenda panel",
    )
    .await;
    eval(
        &page,
        "document.querySelector('#cag-list li[data-index=\"1\"] button').click(); true",
    )
    .await;
    wait_for(
        &page,
        "document.getElementById('cag-now').dataset.index === '1' && document.getElementById('cag-now').textContent.startsWith('Đang thảo luận: nội dung 2 — Tình hình thực hiện dự toán ngân sách')",
        "the item marked from the console",
    )
    .await;
    let (_, list) = body(
        operator
            .get(&format!("/api/sessions/{sid}/recordings"))
            .await,
    )
    .await;
    assert_eq!(list[0]["recording"]["status"], "recording", "{list}");
    assert_eq!(
        list[0]["recording"]["started_by"],
        format!("user:{}", operator.username)
    );
    eval(&page, &format!("{TOGGLE}.click(); true")).await;
    wait_for(
        &page,
        "!!document.querySelector('#crec-list li[data-status=\"complete\"]') && !document.getElementById('crec-on')",
        "the finished recording in the list",
    )
    .await;
    let item = eval(&page, "document.querySelector('#crec-list li').textContent").await;
    assert!(
        item.as_str().unwrap().contains("1 tệp · hoàn tất"),
        "{item}"
    );
    let link = eval(
        &page,
        "document.querySelector('#crec-list li a').getAttribute('href')",
    )
    .await;
    let rid = list[0]["recording"]["id"].as_str().unwrap();
    assert_eq!(link, format!("/app/review?id={rid}").as_str());
    let (_, list) = body(
        operator
            .get(&format!("/api/sessions/{sid}/recordings"))
            .await,
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["recording"]["status"], "complete");
    assert_eq!(list[0]["files"].as_array().unwrap().len(), 1);
    let chapters: Vec<&Value> = list[0]["manifest"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "agenda_item")
        .collect();
    assert_eq!(chapters.len(), 1, "{list}");
    assert!(
        chapters[0]["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("\"by\":\"user:{}\"", operator.username)),
        "{list}"
    );
    screenshot(&page, "console-recording").await;
    publisher.abort();
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_says_a_classified_session_is_not_recorded_and_a_full_disk_stopped_it() {
    let Some(bin) = chromium_or_skip(Load::Pages).await else {
        return;
    };
    let server = TestServer::start_with(&[("GIAOBAN_RECORD_MAX_BYTES", "150000")]).await;
    let operator = server.login(Role::Operator).await;
    let secretariat = server.login(Role::Secretariat).await;
    let mut req = session(
        "Họp mật",
        "2030-01-07T02:00:00Z",
        "2030-01-07T03:00:00Z",
        &[SITES[0]],
    );
    req["classified"] = true.into();
    let (status, classified) = body(secretariat.post("/api/sessions", &req).await).await;
    assert_eq!(status, 201, "{classified}");
    let classified = classified["session_id"].as_str().unwrap().to_string();

    let (_browser, page) = open_as(
        &bin,
        &server,
        &operator.username,
        &format!("/app/console?session={classified}"),
    )
    .await;
    wait_for(
        &page,
        &format!("!document.getElementById('crec-classified').hidden && {TOGGLE}.disabled"),
        "the classified notice and no start button",
    )
    .await;
    // Forced anyway, the server refuses and the console says why; nothing is created.
    eval(
        &page,
        &format!("{TOGGLE}.disabled = false; {TOGGLE}.click(); true"),
    )
    .await;
    wait_for(
        &page,
        "document.getElementById('crec-error').textContent === 'Không thể ghi hình: phiên họp mật không được ghi hình.'",
        "the refusal",
    )
    .await;
    let (_, list) = body(
        operator
            .get(&format!("/api/sessions/{classified}/recordings"))
            .await,
    )
    .await;
    assert_eq!(list, serde_json::json!([]));

    // A recording that outgrows the space stops with an error the console shows.
    let created = server.create_session(HOST, &SITES[..1]).await;
    let sid = created.session_id.clone();
    let host = SiteClient::join(&server.ws_url(), &token(&created.links[HOST]), LOCAL)
        .await
        .unwrap();
    let publisher = tokio::spawn(async move {
        publish(&host, Instant::now() + Duration::from_secs(60)).await;
        host
    });
    eval(
        &page,
        &format!("location.href = '/app/console?session={sid}'; true"),
    )
    .await;
    wait_for(
        &page,
        &format!("location.search.includes({sid:?}) && {TOGGLE} && {TOGGLE}.dataset.action === 'start' && !{TOGGLE}.disabled && !document.getElementById('crec-none').hidden"),
        "the console of the open session",
    )
    .await;
    eval(&page, &format!("{TOGGLE}.click(); true")).await;
    wait_for(
        &page,
        "document.getElementById('crec-error').textContent.includes('hết dung lượng lưu trữ') && !!document.querySelector('#crec-list li[data-status=\"failed\"]')",
        "the full disk",
    )
    .await;
    let state = eval(
        &page,
        &format!("[{TOGGLE}.dataset.action, !!document.getElementById('crec-on')]"),
    )
    .await;
    assert_eq!(state, serde_json::json!(["start", false]), "it stopped");
    assert_eq!(
        server.running.state.sfu.sites_in(&sid),
        vec![HOST.to_string()],
        "the session goes on"
    );
    publisher.abort();
    server.running.stop().await;
}
