//! Screen sharing in real browsers: three headless Chromium room pages (the host, a presenting
//! site, a third site watching) with fake devices and a fake screen (`getDisplayMedia` answered by
//! the fake UI). The site clicks "Trình chiếu"; on the third site's page the shared screen is the
//! large view and its frames are decoded (`framesDecoded` of the screen track, from `getStats()`);
//! the host page stops the share from its "Dừng trình chiếu" button; the presenting page stops its
//! capture and says why, and the screen stops arriving. Then a second share replaces a first (the
//! replaced page says so), the browser's own "stop sharing" (the capture track ends) stops a
//! share, and an operator stops one from the console page.

use crate::common;

use common::browser::*;
use common::*;
use std::time::Duration;

async fn screen_frames(page: &str) -> u64 {
    eval(
        page,
        "(async () => (await window.giaoban.stats()).perSite.screen.framesDecoded)()",
    )
    .await
    .as_u64()
    .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_shares_its_screen_another_decodes_it_large_and_the_host_stops_it() {
    let Some(bin) = chromium_or_skip(Load::Media).await else {
        return;
    };
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..2]).await;
    let (a, b) = (SITES[0], SITES[1]);
    // The presenting site's browser picks a screen without asking (the fake UI).
    let capture = [
        "--auto-select-desktop-capture-source=Entire screen".to_string(),
        "--enable-usermedia-screen-capturing".to_string(),
    ];
    let browsers: Vec<Browser> = [HOST, a, b]
        .iter()
        .map(|s| {
            let url = format!("{}?autojoin=1", session.links[*s]);
            if *s == HOST {
                Browser::open(&bin, &url)
            } else {
                Browser::open_with(&bin, &url, &capture)
            }
        })
        .collect();
    let mut pages = Vec::new();
    for br in &browsers {
        pages.push(br.page_ws().await);
    }
    let (host, pa, pb) = (&pages[0], &pages[1], &pages[2]);
    let joined = |n: usize| {
        format!("window.giaoban.state().connected && window.giaoban.state().peers.length >= {n}")
    };
    for p in [host, pa, pb] {
        wait_for(p, &joined(2), "every page to see the other two").await;
    }
    wait_for(
        pa,
        "!document.getElementById('share-btn').hidden",
        "the share button",
    )
    .await;
    assert!(
        eval(pb, "document.getElementById('screen-view').hidden").await == true,
        "no screen view before a share"
    );

    // Keep each page's capture at hand, as the browser's "stop sharing" bar would end it.
    for p in [pa, pb] {
        eval(
            p,
            "(() => { const md = navigator.mediaDevices; const orig = md.getDisplayMedia.bind(md); md.getDisplayMedia = async (c) => { const s = await orig(c); window.__capture = s; return s; }; return true; })()",
        )
        .await;
    }

    // The site shares its screen.
    eval(pa, "document.getElementById('share-btn').click()").await;
    wait_for(
        pa,
        &format!(
            "window.giaoban.state().share.sharing && window.giaoban.state().share.sharer === {a:?}"
        ),
        "the presenting page to share",
    )
    .await;
    // On the third site's page: the large screen view, decoded.
    wait_for(
        pb,
        &format!("window.giaoban.state().share.sharer === {a:?} && window.giaoban.state().share.showing && !document.getElementById('screen-view').hidden"),
        "the shared screen at the third site",
    )
    .await;
    wait_for(
        pb,
        "(async () => (await window.giaoban.stats()).perSite.screen.framesDecoded > 0)()",
        "the screen's first decoded frame",
    )
    .await;
    let f1 = screen_frames(pb).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let f2 = screen_frames(pb).await;
    assert!(
        f2 > f1,
        "the screen's frames keep being decoded: {f1} then {f2}"
    );
    // Large: wider than any camera tile on that page.
    let wider = eval(
        pb,
        "(() => { const s = document.getElementById('screen-view').getBoundingClientRect().width; return [...document.querySelectorAll('#tiles figure.tile')].every((t) => t.getBoundingClientRect().width < s); })()",
    )
    .await;
    assert_eq!(wider, true, "the screen is the large view");
    // The host sees it too, with a stop button.
    wait_for(
        host,
        "window.giaoban.state().share.showing && !document.getElementById('screen-stop').hidden",
        "the screen and its stop button at the host",
    )
    .await;
    screenshot(pb, "share-third-site").await;
    screenshot(host, "share-host").await;

    // The host stops it: the presenting page ends its capture and says why; the screen is gone.
    eval(host, "document.getElementById('screen-stop').click()").await;
    wait_for(
        pa,
        "!window.giaoban.state().share.sharing && document.getElementById('status-text').textContent.length > 0",
        "the presenting page to stop its capture",
    )
    .await;
    let said = eval(pa, "document.getElementById('status-text').textContent").await;
    assert_eq!(said, "Chủ trì đã dừng trình chiếu của điểm cầu.");
    wait_for(
        pb,
        "window.giaoban.state().share.sharer === null && document.getElementById('screen-view').hidden",
        "the screen view to close at the third site",
    )
    .await;
    wait_for(
        pa,
        "document.getElementById('share-btn').textContent === 'Trình chiếu'",
        "the share button back",
    )
    .await;

    // A shares again, then B: A's share is replaced and A's page says so.
    let share = |p: &'static str| {
        format!("(() => {{ document.getElementById('share-btn').click(); return {p:?}; }})()")
    };
    eval(pa, &share("a")).await;
    let showing = |site: &str| {
        format!(
            "window.giaoban.state().share.sharer === {site:?} && window.giaoban.state().share.showing"
        )
    };
    wait_for(host, &showing(a), "a's screen at the host again").await;
    eval(pb, &share("b")).await;
    wait_for(host, &showing(b), "b's screen at the host").await;
    wait_for(
        pa,
        "!window.giaoban.state().share.sharing && document.getElementById('status-text').textContent.startsWith('Trình chiếu của điểm cầu đã dừng:')",
        "a's page to say it was replaced",
    )
    .await;
    // The browser's own "stop sharing": B's capture track ends.
    eval(
        pb,
        "(() => { const tr = window.__capture.getVideoTracks()[0]; tr.stop(); tr.dispatchEvent(new Event('ended')); return true; })()",
    )
    .await;
    wait_for(
        host,
        "window.giaoban.state().share.sharer === null && document.getElementById('screen-view').hidden",
        "the share to end with b's capture",
    )
    .await;
    assert_eq!(
        eval(pb, "window.giaoban.state().share.sharing").await,
        false
    );

    // An operator stops A's share from the console page.
    eval(pa, &share("a")).await;
    wait_for(host, &showing(a), "a's screen at the host a third time").await;
    let operator = server.login(giaoban::auth::Role::Operator).await;
    let target = format!("/app/console?session={}", session.session_id);
    let (console, page) =
        Browser::logged_in(&bin, &server.http_url(), &operator.username, &target).await;
    wait_for(
        &page,
        "!document.getElementById('c-stop-share').disabled",
        "the console's stop button",
    )
    .await;
    eval(&page, "document.getElementById('c-stop-share').click()").await;
    wait_for(
        pa,
        "!window.giaoban.state().share.sharing && document.getElementById('status-text').textContent === 'Chủ trì đã dừng trình chiếu của điểm cầu.'",
        "a's page to stop its capture at the operator's stop",
    )
    .await;
    wait_for(
        &page,
        "document.getElementById('c-stop-share').disabled",
        "the console to show no share",
    )
    .await;
    drop(console);
    drop(browsers);
}
