//! Room PCs in real browsers: two headless Chromium processes (fake camera and microphone) open
//! the join links of one session with `?autojoin=1`; each must decode the other's video and
//! receive its audio, judged by `getStats()` through the page's `giaoban.stats()`, read over the
//! DevTools protocol; and a room page opened too early. The secretariat's pages are in
//! `secretariat_browser.rs`. Runs in CI; when `CI` is set and Chromium is missing it fails,
//! elsewhere it says it skipped.

use crate::common;

use common::browser::*;
use common::*;
use serde_json::Value;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_see_and_hear_each_other() {
    let Some(bin) = chromium_or_skip(Load::Media).await else {
        return;
    };
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..1]).await;
    let sites = [HOST, SITES[0]];
    let browsers: Vec<Browser> = sites
        .iter()
        .map(|s| Browser::open(&bin, &format!("{}?autojoin=1", session.links[*s])))
        .collect();
    let mut pages = Vec::new();
    for b in &browsers {
        pages.push(b.page_ws().await);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut last = Vec::new();
    loop {
        last.clear();
        for p in &pages {
            last.push(eval(p, "(async () => ({state: window.giaoban && window.giaoban.state(), stats: window.giaoban && await window.giaoban.stats()}))()").await);
        }
        let ok = last.iter().enumerate().all(|(i, v)| {
            let other = sites[1 - i];
            let s = &v["stats"];
            s["inboundVideo"]["framesDecoded"].as_u64().unwrap_or(0) > 0
                && s["inboundAudio"]["packetsReceived"].as_u64().unwrap_or(0) > 0
                && s["perSite"][other]["framesDecoded"].as_u64().unwrap_or(0) > 0
                && v["state"]["peers"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p["siteId"] == other))
        });
        if ok {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "browsers did not exchange media: {last:#?}\nserver: {:?}",
            server.stats()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The site names shown on the tiles come from the organisation.
    let names = eval(
        &pages[0],
        "Array.from(document.querySelectorAll('figure.tile')).map(f => f.textContent).join('|')",
    )
    .await;
    assert!(
        names.as_str().unwrap_or("").contains("Phòng họp Sở Nội vụ"),
        "tile captions: {names}"
    );
    drop(browsers);
    server
        .wait_stats("browsers gone", Duration::from_secs(30), |s| {
            s.participants == 0 && s.peer_connections == 0
        })
        .await;
}

/// Before the join window: the room page says *Chưa đến giờ họp* with the start (dd/mm/yyyy
/// HH:mm, Asia/Ho_Chi_Minh), keeps the camera and microphone check, and does not join, even
/// with `?autojoin=1`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_early_the_room_page_says_when_the_session_starts() {
    let Some(bin) = chromium_or_skip(Load::Pages).await else {
        return;
    };
    let server = TestServer::start().await;
    let start = chrono::Utc::now() + chrono::Duration::hours(3);
    let req = giaoban::schedule::NewSession {
        title: "Giao ban chiều".into(),
        host_site_id: HOST.into(),
        site_ids: vec![SITES[0].into()],
        starts_at: Some(start),
        ends_at: Some(start + chrono::Duration::hours(1)),
    };
    let created = server
        .running
        .state
        .scheduler()
        .create(&req, "test")
        .await
        .unwrap();
    let browser = Browser::open(&bin, &format!("{}?autojoin=1", created.links[SITES[0]]));
    let page = browser.page_ws().await;
    let local = start.with_timezone(&chrono_tz::Asia::Ho_Chi_Minh);
    let shown = local.format("%d/%m/%Y %H:%M").to_string();
    wait_for(
        &page,
        &format!(
            "!document.getElementById('early').hidden && document.getElementById('early').innerText.includes('Chưa đến giờ họp') && document.getElementById('early-text').textContent.includes({shown:?})"
        ),
        "the too-early notice with the start time",
    )
    .await;
    // The device check runs: the local preview has a live camera track.
    wait_for(
        &page,
        "document.getElementById('local-video').srcObject.getVideoTracks().some(t => t.readyState === 'live')",
        "the camera preview",
    )
    .await;
    assert_eq!(
        eval(&page, "document.getElementById('join-btn').disabled").await,
        Value::Bool(true)
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        eval(&page, "giaoban.state().joined").await,
        Value::Bool(false)
    );
    assert_eq!(server.running.state.sfu.live(), (0, 0));
}
