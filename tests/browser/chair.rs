//! Chairing in real browsers: three headless Chromium room pages (host, a site asking to speak,
//! a third site watching) with fake camera and microphone. A session of more than five sites, so
//! sites join muted. The site raises its hand on its page; the host page gives it the floor from
//! its queue; the server unmutes the site's microphone, its video becomes the main view on the
//! third site's page and is decoded there (`framesDecoded`, from `getStats()`); the host mutes it
//! again from its tile and its audio packets stop arriving. Also gives the time from the click on
//! "Mời phát biểu" to the first decoded frame of the new speaker at the third site.

use crate::common;

use common::browser::*;
use common::*;
use serde_json::Value;
use std::time::Duration;

async fn site_stats(page: &str, site: &str) -> (u64, u64) {
    let v = eval(
        page,
        &format!("(async () => (await window.giaoban.stats()).perSite[{site:?}] || null)()"),
    )
    .await;
    (
        v["framesDecoded"].as_u64().unwrap_or(0),
        v["audioPackets"].as_u64().unwrap_or(0),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_gives_the_floor_and_mutes_again_in_browsers() {
    let Some(bin) = chromium_or_skip(Load::Media).await else {
        return;
    };
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..6]).await;
    let (a, b) = (SITES[0], SITES[1]);
    let browsers: Vec<Browser> = [HOST, a, b]
        .iter()
        .map(|s| Browser::open(&bin, &format!("{}?autojoin=1", session.links[*s])))
        .collect();
    let mut pages = Vec::new();
    for br in &browsers {
        pages.push(br.page_ws().await);
    }
    let (host, pa, pb) = (&pages[0], &pages[1], &pages[2]);
    let joined = |n: usize| {
        format!("window.giaoban.state().connected && window.giaoban.state().peers.length >= {n}")
    };
    wait_for(host, &joined(2), "the host page to see both sites").await;
    wait_for(pb, &joined(2), "the third site to join").await;
    // Joined muted by the chair: the page shows it and cannot lift it.
    wait_for(
        pa,
        "window.giaoban.state().chair.chairMuted.audio && window.giaoban.state().micMuted && document.getElementById('mic-btn').disabled",
        "the site to be muted by the chair",
    )
    .await;
    // Muted, its page sends silence with DTX (usedtx=1): a packet every 400 ms, not 50 a second.
    let sent = || async {
        eval(
            pa,
            "(async () => (await window.giaoban.stats()).outboundAudio.packetsSent)()",
        )
        .await
        .as_u64()
        .unwrap_or(0)
    };
    let s1 = sent().await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let s2 = sent().await;
    eprintln!("muted page: {} audio packets sent in 2 s", s2 - s1);
    assert!(
        s2 - s1 < 40,
        "a muted page sends {} audio packets in 2 s",
        s2 - s1
    );
    // The site asks to speak; the host sees it in its queue.
    wait_for(
        pa,
        "!document.getElementById('hand-btn').hidden",
        "the hand button",
    )
    .await;
    eval(pa, "document.getElementById('hand-btn').click()").await;
    wait_for(
        host,
        "document.querySelectorAll('#hands-list li button').length === 1",
        "the hand in the host's queue",
    )
    .await;
    assert_eq!(
        site_stats(pb, a).await.0,
        0,
        "no video of a before it has the floor"
    );
    // In the third page, note when a's first frame is decoded.
    eval(
        pb,
        &format!(
            "(() => {{ window.__first = 0; const t = setInterval(async () => {{ const s = (await window.giaoban.stats()).perSite[{a:?}]; if (s && s.framesDecoded > 0) {{ window.__first = Date.now(); clearInterval(t); }} }}, 20); return true; }})()"
        ),
    )
    .await;
    let clicked = eval(
        host,
        "(() => { const t = Date.now(); document.querySelector('#hands-list li button').click(); return t; })()",
    )
    .await
    .as_f64()
    .unwrap();
    // The server unmuted the site's microphone.
    wait_for(
        pa,
        "!window.giaoban.state().micMuted && !window.giaoban.state().chair.chairMuted.audio && window.giaoban.state().chair.floor === window.giaoban.state().siteId",
        "the site to be unmuted by the floor",
    )
    .await;
    // Its video is the main view at the third site, and decoded there.
    wait_for(
        pb,
        &format!("document.querySelector('figure.tile[data-site-id=\"{a}\"]').classList.contains('tile-main') && window.__first > 0"),
        "a's video as the main view of the third site",
    )
    .await;
    let first = eval(pb, "window.__first").await.as_f64().unwrap();
    eprintln!(
        "give_floor click -> first decoded frame of the floor holder at another site: {:.0} ms",
        first - clicked
    );
    let (f1, a1) = site_stats(pb, a).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (f2, a2) = site_stats(pb, a).await;
    assert!(f2 > f1, "frames keep being decoded: {f1} then {f2}");
    assert!(a2 > a1, "a is heard: audio packets {a1} then {a2}");
    screenshot(pb, "chair-third-site").await;
    screenshot(host, "chair-host").await;

    // The host mutes it again from its tile: its audio stops arriving.
    eval(
        host,
        &format!("document.querySelector('figure.tile[data-site-id=\"{a}\"] .tile-mute').click()"),
    )
    .await;
    wait_for(
        pa,
        "window.giaoban.state().chair.chairMuted.audio && window.giaoban.state().micMuted",
        "the site to be muted by the chair again",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, m1) = site_stats(pb, a).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let (f3, m2) = site_stats(pb, a).await;
    assert_eq!(m1, m2, "no audio packet of a arrives once it is muted");
    assert!(f3 > f2, "its video still plays");
    let state: Value = eval(pb, "window.giaoban.state()").await;
    assert_eq!(state["chair"]["floor"], a);
    drop(browsers);
}
