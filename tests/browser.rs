//! Two room PCs in real browsers: two headless Chromium processes (fake camera and microphone)
//! open the join links of one session with `?autojoin=1`; each must decode the other's video and
//! receive its audio, judged by `getStats()` through the page's `giaoban.stats()`, read over the
//! DevTools protocol. Runs in CI; when `CI` is set and Chromium is missing it fails, elsewhere it
//! says it skipped.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

fn chromium() -> Option<PathBuf> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// A Chromium process with its own profile, killed on drop.
struct Browser {
    child: Child,
    profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    fn open(bin: &PathBuf, url: &str) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new(bin)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                "--allow-loopback-in-peer-connection",
                "--disable-features=WebRtcHideLocalIpsWithMdns",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
                "--autoplay-policy=no-user-gesture-required",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        Browser { child, profile }
    }

    /// The DevTools WebSocket of the page showing the room.
    async fn page_ws(&self) -> String {
        let port_file = self.profile.path().join("DevToolsActivePort");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(text) = std::fs::read_to_string(&port_file)
                && let Some(port) = text
                    .lines()
                    .next()
                    .and_then(|l| l.trim().parse::<u16>().ok())
                && let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/json/list")).await
                && let Ok(targets) = r.json::<Vec<Value>>().await
                && let Some(t) = targets.iter().find(|t| {
                    t["type"] == "page" && t["url"].as_str().is_some_and(|u| u.contains("/room/"))
                })
            {
                return t["webSocketDebuggerUrl"].as_str().unwrap().to_string();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromium did not open the room page"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Evaluates `expr` (awaiting a promise) in the page and returns its JSON value.
async fn eval(ws: &str, expr: &str) -> Value {
    let (mut s, _) = tokio_tungstenite::connect_async(ws).await.unwrap();
    let req = json!({"id": 1, "method": "Runtime.evaluate", "params": {"expression": expr, "awaitPromise": true, "returnByValue": true}});
    s.send(Message::Text(req.to_string().into())).await.unwrap();
    while let Some(Ok(m)) = s.next().await {
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["id"] == 1 {
                return v["result"]["result"]["value"].clone();
            }
        }
    }
    Value::Null
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_see_and_hear_each_other() {
    let Some(bin) = chromium() else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "CI is set but Chromium is not installed (.ci/run installs the Debian package chromium)"
            );
        }
        eprintln!("SKIPPED: chromium not installed");
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
