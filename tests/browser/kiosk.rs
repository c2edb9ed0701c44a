//! The kiosk in a real browser: a headless Chromium opens the pairing link of a site's room PC,
//! waits on the kiosk page before a session (next session, countdown, camera and microphone
//! check), joins it by itself when its join window opens and decodes the host's video (judged by
//! `getStats()` of the room page in the kiosk's frame), returns to the waiting screen when the
//! session ends, and is unpaired at once when its credential is revoked; then a second pairing,
//! and a server gone away is said on screen with its retry countdown. The host is a second
//! Chromium on its join link. The join window opens at the start here
//! (`auth.join_opens_minutes_before = 0`) so the test waits seconds, not an hour. Prints the
//! delay from the window's opening to the kiosk's first decoded frame.

use crate::common;

use common::browser::*;
use common::*;
use giaoban::auth::Role;
use serde_json::{Value, json};
use std::time::Duration;

const STATE: &str = "window.kiosk.state()";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paired_kiosk_joins_its_session_when_the_window_opens_and_returns_after() {
    let Some(bin) = chromium_or_skip(Load::Media).await else {
        return;
    };
    let server = TestServer::start_with(&[("GIAOBAN_AUTH_JOIN_OPENS_MINUTES_BEFORE", "0")]).await;
    let sec = server.login(Role::Secretariat).await;
    let site = SITES[0];
    let (_, pairing) = body(
        sec.post(
            &format!("/api/sites/{site}/pairings"),
            &json!({"label": "Máy tính phòng họp"}),
        )
        .await,
    )
    .await;
    let start = chrono::Utc::now() + chrono::Duration::seconds(14);
    let end = start + chrono::Duration::seconds(30);
    let (status, created) = body(
        sec.post(
            "/api/sessions",
            &session(
                "Giao ban kiểm thử kiosk",
                &start.to_rfc3339(),
                &end.to_rfc3339(),
                &[site],
            ),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let sid = created["session_id"].as_str().unwrap().to_string();
    let host_link = created["links"][HOST].as_str().unwrap().to_string();

    let kiosk = Browser::open(&bin, pairing["link"].as_str().unwrap());
    let page = kiosk.page_ws_matching("/kiosk").await;
    wait_for(
        &page,
        &format!("{STATE}.phase === 'wait' && {STATE}.next && {STATE}.next.id === '{sid}'"),
        "the waiting screen with the next session",
    )
    .await;
    let shown = eval(&page, "document.body.innerText").await;
    let shown = shown.as_str().unwrap();
    assert!(
        shown.contains("Phòng họp Sở Nội vụ")
            && shown.contains("Giao ban kiểm thử kiosk")
            && shown.contains("Tự động tham gia sau"),
        "{shown}"
    );
    // The pairing code is gone from the address; the credential is in no script-visible place.
    assert_eq!(eval(&page, "location.hash").await, json!(""));
    assert_eq!(
        eval(&page, "document.cookie.includes('gbd_')").await,
        json!(false)
    );
    wait_for(
        &page,
        &format!("{STATE}.check.camera === 'ok' && {STATE}.check.microphone === 'ok'"),
        "the camera and microphone check",
    )
    .await;
    screenshot(&page, "kiosk-waiting").await;

    // The host joins on its link (its page waits for the window too).
    let host = Browser::open(&bin, &format!("{host_link}?autojoin=1"));
    let host_page = host.page_ws().await;

    // The window opens at `start`: the kiosk joins by itself and decodes the host's video.
    let decoded = format!(
        "(async () => {{ const r = window.kiosk && window.kiosk.room(); if (!r || !r.giaoban) return 0; const s = await r.giaoban.stats(); return (s.perSite && s.perSite['{HOST}'] && s.perSite['{HOST}'].framesDecoded) || 0; }})()"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let first_frame = loop {
        let before = chrono::Utc::now();
        if eval(&page, &decoded).await.as_u64().unwrap_or(0) > 0 {
            break before;
        }
        if tokio::time::Instant::now() > deadline {
            let st = eval(&page, STATE).await;
            let hs = eval(
                &host_page,
                "(async () => window.giaoban && window.giaoban.state())()",
            )
            .await;
            panic!(
                "the kiosk decoded nothing: {st:#}\nhost: {hs:#}\nserver: {:?}",
                server.stats()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let delay = (first_frame - start).num_milliseconds();
    eprintln!("kiosk: window opened → first decoded frame of the host: {delay} ms");
    let st = eval(&page, STATE).await;
    assert_eq!(st["phase"], "room", "{st}");
    assert_eq!(st["roomSession"], json!(sid));
    assert!(st["frame"].as_str().unwrap().starts_with("/room/"), "{st}");
    screenshot(&page, "kiosk-in-session").await;
    // The server knows the kiosk joined with its device credential: as the site.
    let (_, board) = body(sec.get(&format!("/api/sessions/{sid}/invitations")).await).await;
    assert!(
        board["online_site_ids"]
            .as_array()
            .unwrap()
            .contains(&json!(site)),
        "{board}"
    );

    // The session ends: back to the waiting screen, the frame gone, the site left.
    wait_until(
        &page,
        &format!("{STATE}.phase === 'wait' && !{STATE}.frame"),
        end,
        "the waiting screen after the end",
    )
    .await;
    let st = eval(&page, STATE).await;
    assert!(st["next"].is_null(), "{st}");
    assert!(
        st["today"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == json!(sid) && s["state"] == "ended"),
        "{st}"
    );
    server
        .wait_stats("the kiosk left", Duration::from_secs(10), |s| {
            s.participants <= 1
        })
        .await;
    drop(host);

    // Revoked: unpaired at once, with the reason on screen.
    let device_id = pairing["device"]["id"].as_str().unwrap();
    let t = std::time::Instant::now();
    assert_eq!(
        sec.post(&format!("/api/devices/{device_id}/revoke"), &json!({}))
            .await
            .status(),
        204
    );
    wait_for(
        &page,
        &format!("{STATE}.phase === 'pair' && {STATE}.pairReason"),
        "the kiosk unpaired",
    )
    .await;
    eprintln!(
        "kiosk: revocation → pairing screen: {} ms",
        t.elapsed().as_millis()
    );
    assert!(t.elapsed() < Duration::from_secs(3));
    let st = eval(&page, STATE).await;
    assert!(
        st["pairReason"].as_str().unwrap().contains("thu hồi"),
        "{st}"
    );

    // A used code typed again: a clear message. Then a new code pairs it again.
    let typed = |code: &str| {
        format!(
            "(() => {{ document.getElementById('pair-code').value = {code:?}; document.getElementById('pair-btn').click(); return true; }})()"
        )
    };
    eval(&page, &typed(pairing["code"].as_str().unwrap())).await;
    wait_for(
        &page,
        &format!("({STATE}.pairError || '').includes('đã được sử dụng')"),
        "the used-code message",
    )
    .await;
    let (_, again) = body(
        sec.post(
            &format!("/api/sites/{site}/pairings"),
            &json!({"label": "Máy thay thế"}),
        )
        .await,
    )
    .await;
    eval(
        &page,
        &typed(&again["code"].as_str().unwrap().to_lowercase()),
    )
    .await;
    wait_for(
        &page,
        &format!("{STATE}.phase === 'wait' && {STATE}.site && {STATE}.site.id === '{site}'"),
        "paired again",
    )
    .await;

    // The server goes away: the page says so and counts down to its next try.
    let TestServer { running, dir: _dir } = server;
    running.stop().await;
    wait_for(
        &page,
        &format!("({STATE}.status || '').includes('Mất kết nối tới máy chủ')"),
        "the lost-server notice",
    )
    .await;
    let st: Value = eval(&page, STATE).await;
    assert_eq!(st["phase"], "wait", "the waiting screen stays: {st}");
}

/// Polls `expr` until true, with a deadline some seconds after `after` (a wall-clock instant).
async fn wait_until(page: &str, expr: &str, after: chrono::DateTime<chrono::Utc>, what: &str) {
    let wait = (after - chrono::Utc::now()).num_milliseconds().max(0) as u64;
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(wait) + Duration::from_secs(20);
    loop {
        let ok = eval(
            page,
            &format!("(() => {{ try {{ return !!({expr}); }} catch (_) {{ return false; }} }})()"),
        )
        .await;
        if ok == Value::Bool(true) {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "timed out waiting for {what}: {:#}",
                eval(page, STATE).await
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
