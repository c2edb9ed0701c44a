//! The agenda on room pages in headless Chromium: the host site's page lists the session's agenda
//! and marks an item; every page shows it ("Nội dung 2/3: …"), a page that joins later too; an
//! operator's mark through the API reaches the pages; ending the item hides it on remote pages.

use crate::common;

use common::browser::*;
use common::*;
use giaoban::auth::Role;

const NOW: &str = "document.getElementById('agenda-now')";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_page_marks_an_agenda_item_and_every_page_shows_it() {
    let Some(bin) = chromium_or_skip(Load::Media).await else {
        return;
    };
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..2]).await;
    let sid = session.session_id.clone();
    let agenda = serde_json::json!([
        {"title": "Khai mạc", "presenter": ""},
        {"title": "Báo cáo tình hình kinh tế - xã hội tháng 11", "presenter": "Sở Tài chính"},
        {"title": "Kết luận của Chủ tịch", "presenter": ""},
    ]);
    server.set_agenda(&sid, &agenda).await;
    let host_browser = Browser::open(&bin, &format!("{}?autojoin=1", session.links[HOST]));
    let remote_browser = Browser::open(&bin, &format!("{}?autojoin=1", session.links[SITES[0]]));
    let host = host_browser.page_ws().await;
    let remote = remote_browser.page_ws().await;
    wait_for(
        &host,
        "window.giaoban.state().connected",
        "the host page to join",
    )
    .await;
    wait_for(
        &remote,
        "window.giaoban.state().connected",
        "the remote page to join",
    )
    .await;
    // The host sees the picker with the three items; the remote page shows nothing yet.
    wait_for(
        &host,
        "!document.getElementById('agenda-bar').hidden && document.getElementById('agenda-select').options.length === 3",
        "the host's agenda picker",
    )
    .await;
    assert_eq!(
        eval(&remote, "[document.getElementById('agenda-bar').hidden, document.getElementById('agenda-control').hidden]").await,
        serde_json::json!([true, true])
    );
    eval(
        &host,
        "(() => { document.getElementById('agenda-select').value = '1'; document.getElementById('agenda-set').click(); return true; })()",
    )
    .await;
    let shown = "Nội dung 2/3: Báo cáo tình hình kinh tế - xã hội tháng 11 — Sở Tài chính";
    for page in [&host, &remote] {
        wait_for(
            page,
            &format!(
                "{NOW}.textContent === {shown:?} && !document.getElementById('agenda-bar').hidden"
            ),
            "the item on the page",
        )
        .await;
    }
    // A page that joins now shows it at once.
    let late_browser = Browser::open(&bin, &format!("{}?autojoin=1", session.links[SITES[1]]));
    let late = late_browser.page_ws().await;
    wait_for(
        &late,
        &format!("window.giaoban.state().connected && {NOW}.textContent === {shown:?}"),
        "the item on a page that joined later",
    )
    .await;
    screenshot(&host, "agenda-host").await;
    // The console (REST) marks the last item: the pages follow; the host page proposes nothing
    // past the end.
    let operator = server.login(Role::Operator).await;
    let (status, _) = body(
        operator
            .put(
                &format!("/api/sessions/{sid}/agenda/current"),
                &serde_json::json!({"index": 2}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200);
    for page in [&host, &remote, &late] {
        wait_for(
            page,
            &format!("{NOW}.dataset.index === '2' && {NOW}.textContent.startsWith('Nội dung 3/3: Kết luận')"),
            "the operator's item on the page",
        )
        .await;
    }
    // The host ends the item: remote pages hide the bar, the host keeps its picker.
    eval(
        &host,
        "document.getElementById('agenda-clear').click(); true",
    )
    .await;
    wait_for(
        &remote,
        "document.getElementById('agenda-bar').hidden",
        "the bar hidden on the remote page",
    )
    .await;
    wait_for(
        &host,
        &format!("{NOW}.dataset.index === '' && !document.getElementById('agenda-bar').hidden"),
        "the host's bar with no item",
    )
    .await;
    server.running.stop().await;
}
