//! A room PC in a real browser (headless Chromium, fake camera) stops encoding and sending its
//! camera while nobody receives it (`video_paused`), and starts again with a keyframe when the
//! host site joins and its grid shows it; judged by the page's `getStats()` (frames encoded,
//! packets sent) and by the Rust host receiving the page's video. Runs in CI; when `CI` is set
//! and Chromium is missing it fails, elsewhere it says it skipped.

use crate::common;

use common::browser::*;
use common::chair::LOCAL;
use common::*;
use giaoban::client::SiteClient;
use giaoban::signal::protocol::MediaKind;
use serde_json::Value;
use std::time::Duration;

const STATS: &str =
    "(async () => ({state: window.giaoban.state(), stats: await window.giaoban.stats()}))()";

async fn frames_encoded(page: &str) -> (u64, Value) {
    let v = eval(page, STATS).await;
    let n = v["stats"]["outboundVideo"]["framesEncoded"]
        .as_u64()
        .unwrap_or(0);
    (n, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_nobody_sees_stops_encoding_its_camera_until_the_host_shows_it() {
    let Some(bin) = chromium_or_skip(Load::Media).await else {
        return;
    };
    let server =
        TestServer::start_with(&[("GIAOBAN_MEDIA_PAUSE_UNWATCHED_AFTER_MS", "1000")]).await;
    let site = SITES[0];
    let session = server.create_session(HOST, &[site]).await;
    // The commune joins first and alone: nobody receives its camera.
    let browser = Browser::open(&bin, &format!("{}?autojoin=1", session.links[site]));
    let page = browser.page_ws().await;
    wait_for(
        &page,
        "window.giaoban.state().publishing",
        "the page publishes",
    )
    .await;
    wait_for(
        &page,
        "window.giaoban.state().videoPaused",
        "the camera is paused",
    )
    .await;
    // Paused: no frame is encoded any more (one in flight may still finish).
    let (before, _) = frames_encoded(&page).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (after, v) = frames_encoded(&page).await;
    assert!(
        after <= before + 1,
        "still encoding while paused: {before} -> {after}; {v:#}"
    );
    assert_eq!(
        v["stats"]["videoPaused"], true,
        "the statistics panel says so"
    );

    // The host joins: its grid shows the commune, which resumes at once.
    let mut host = SiteClient::join(&server.ws_url(), &token(&session.links[HOST]), LOCAL)
        .await
        .unwrap();
    wait_for(
        &page,
        "!window.giaoban.state().videoPaused",
        "the camera resumes",
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut video = 0;
    while video < 20 {
        if let Some(rx) = host.recv_packet(Duration::from_millis(500)).await {
            video += u32::from(rx.kind == MediaKind::Video);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the host received {video} video packets of the resumed camera; page: {:#}",
            frames_encoded(&page).await.1
        );
    }
    let (resumed, _) = frames_encoded(&page).await;
    assert!(resumed > after, "encoding again: {after} -> {resumed}");
    host.leave().await;
    drop(browser);
    server.running.stop().await;
}
