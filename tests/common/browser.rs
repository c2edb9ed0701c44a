//! Headless Chromium for the browser tests, driven over the DevTools protocol: find Chromium (a
//! missing one skips the test, or fails it when `CI` is set), start it with its own profile and the
//! flags of DESIGN.md, reach a page, evaluate script in it, wait for a condition, and save a
//! screenshot when `GIAOBAN_TEST_SCREENSHOTS` names a directory.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::ops::Deref;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_tungstenite::tungstenite::Message;

pub fn chromium() -> Option<PathBuf> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// What a browser test puts on the machine.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Load {
    /// Pages without camera or microphone: light, runs beside anything.
    Pages,
    /// Room pages encoding and decoding fake camera video, whose decoded frames the test counts:
    /// two of these at once on two cores starve each other's decoders, so they take turns.
    Media,
}

/// One media test at a time per test binary (the binary runs its tests on one thread per core).
static MEDIA: Semaphore = Semaphore::const_new(1);

/// The Chromium binary for one test; for a [`Load::Media`] test it also holds the media turn
/// until the test ends.
pub struct Chromium {
    bin: PathBuf,
    _turn: Option<SemaphorePermit<'static>>,
}

impl Deref for Chromium {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.bin
    }
}

/// Chromium, or `None` after saying the test is skipped. With `CI` set a missing Chromium fails.
/// A [`Load::Media`] test waits here for its turn.
pub async fn chromium_or_skip(load: Load) -> Option<Chromium> {
    let Some(bin) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but Chromium is not installed (.ci/run installs the Debian package chromium)"
        );
        eprintln!("SKIPPED: chromium not installed");
        return None;
    };
    let turn = match load {
        Load::Pages => None,
        Load::Media => Some(
            MEDIA
                .acquire()
                .await
                .expect("the media semaphore is never closed"),
        ),
    };
    Some(Chromium { bin, _turn: turn })
}

/// A Chromium process with its own profile, killed on drop.
pub struct Browser {
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
    /// Opens the login page of `base` with `next` set to `target` (a path of the server), logs in
    /// as `username` (test password) through the form, and returns the browser and the DevTools
    /// address of the page it lands on.
    pub async fn logged_in(
        bin: &PathBuf,
        base: &str,
        username: &str,
        target: &str,
    ) -> (Browser, String) {
        let next: String = url::form_urlencoded::byte_serialize(target.as_bytes()).collect();
        let browser = Browser::open(bin, &format!("{base}/login?next={next}"));
        let login = browser.page_ws_matching("/login").await;
        wait_for(
            &login,
            "window.GB && !document.getElementById('login-submit').disabled",
            "the login form",
        )
        .await;
        let fill = format!(
            "(() => {{ document.getElementById('username').value = {username:?}; document.getElementById('password').value = {:?}; document.getElementById('login-submit').click(); return true; }})()",
            super::PASSWORD
        );
        eval(&login, &fill).await;
        let path = target.split(['?', '#']).next().unwrap_or(target);
        let page = browser.page_ws_matching(path).await;
        (browser, page)
    }

    pub fn open(bin: &PathBuf, url: &str) -> Browser {
        Self::open_with(bin, url, &[])
    }

    /// As [`Browser::open`], with more command-line flags.
    pub fn open_with(bin: &PathBuf, url: &str, extra: &[String]) -> Browser {
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
            .args(extra)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        Browser { child, profile }
    }

    /// The DevTools WebSocket of the page showing the room.
    pub async fn page_ws(&self) -> String {
        self.page_ws_matching("/room/").await
    }

    /// The DevTools WebSocket of the first page whose URL contains `marker`.
    pub async fn page_ws_matching(&self, marker: &str) -> String {
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
                    t["type"] == "page" && t["url"].as_str().is_some_and(|u| u.contains(marker))
                })
            {
                return t["webSocketDebuggerUrl"].as_str().unwrap().to_string();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromium did not open a page at {marker}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Evaluates `expr` (awaiting a promise) in the page and returns its JSON value.
pub async fn eval(ws: &str, expr: &str) -> Value {
    let (mut s, _) = tokio_tungstenite::connect_async(ws).await.unwrap();
    let req = json!({"id": 1, "method": "Runtime.evaluate", "params": {"expression": expr, "awaitPromise": true, "returnByValue": true, "userGesture": true}});
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

/// Saves a PNG of the page to `$GIAOBAN_TEST_SCREENSHOTS/<name>.png` when that variable is set
/// (to look at a page by eye); does nothing otherwise.
pub async fn screenshot(ws: &str, name: &str) {
    let Some(dir) = std::env::var_os("GIAOBAN_TEST_SCREENSHOTS") else {
        return;
    };
    let (mut s, _) = tokio_tungstenite::connect_async(ws).await.unwrap();
    let req = json!({"id": 1, "method": "Page.captureScreenshot", "params": {"format": "png", "captureBeyondViewport": true}});
    s.send(Message::Text(req.to_string().into())).await.unwrap();
    while let Some(Ok(m)) = s.next().await {
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["id"] == 1 {
                use base64::Engine;
                let png = base64::engine::general_purpose::STANDARD
                    .decode(v["result"]["data"].as_str().unwrap_or(""))
                    .unwrap();
                std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png)
                    .unwrap();
                return;
            }
        }
    }
}

/// Polls `expr` in the page until it is `true`; an expression giving a promise (an async call, the
/// page's statistics) is awaited.
pub async fn wait_for(ws: &str, expr: &str, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if eval(
            ws,
            &format!(
                "(async () => {{ try {{ return !!(await ({expr})); }} catch (_) {{ return false; }} }})()"
            ),
        )
        .await
            == Value::Bool(true)
        {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            let body = eval(
                ws,
                "document.body ? document.body.innerText.slice(0, 2000) : ''",
            )
            .await;
            panic!("timed out waiting for {what}; page shows:\n{body}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Reloads the page with a watch installed before any of its scripts runs: every element with
/// `data-i18n` that ever shows its own key (a string not translated when it was applied) is
/// recorded in `window.__rawKeys`. The returned DevTools connection keeps the watch installed:
/// hold it until the page has loaded.
pub async fn reload_watching_raw_keys(
    ws: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    const WATCH: &str = r#"
        window.__rawKeys = [];
        new MutationObserver((records) => {
          for (const r of records) {
            const n = r.target.nodeType === 1 ? r.target : r.target.parentElement;
            if (n && n.dataset && n.dataset.i18n && n.textContent === n.dataset.i18n) {
              window.__rawKeys.push(n.dataset.i18n);
            }
          }
        }).observe(document, { subtree: true, childList: true, characterData: true });
    "#;
    let (mut s, _) = tokio_tungstenite::connect_async(ws).await.unwrap();
    let calls = [
        json!({"id": 3, "method": "Page.enable"}),
        json!({"id": 1, "method": "Page.addScriptToEvaluateOnNewDocument", "params": {"source": WATCH}}),
        json!({"id": 2, "method": "Runtime.evaluate", "params": {"expression": "location.reload(); true"}}),
    ];
    for call in calls {
        let id = call["id"].clone();
        s.send(Message::Text(call.to_string().into()))
            .await
            .unwrap();
        while let Some(Ok(m)) = s.next().await {
            if let Message::Text(t) = m
                && serde_json::from_str::<Value>(&t).unwrap()["id"] == id
            {
                break;
            }
        }
    }
    s
}
