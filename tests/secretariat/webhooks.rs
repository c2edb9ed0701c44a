//! Signed webhooks against real HTTP receivers (axum on loopback): one that answers at once, one
//! that answers 500 at first, one that is too slow at first, and one that is down until after a
//! server restart. Every receiver ends up with every event, in order, each verified with the
//! documented HMAC; the slow and failing ones never hold up the others; a restart loses none.

use crate::common;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{DateTime, Utc};
use common::*;
use giaoban::client::SiteClient;
use hmac::{Hmac, Mac};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
const SECRET: &str = "khoa-bi-mat-webhook-kiem-thu-2026-0123456789";

/// What a receiver accepted: (event, when it arrived).
type Log = Arc<Mutex<Vec<(Value, DateTime<Utc>)>>>;

#[derive(Clone)]
struct Receiver {
    log: Log,
    calls: Arc<Mutex<u32>>,
    /// The first `fail` calls answer 500; the first `slow` calls take 2 s.
    fail: u32,
    slow: u32,
}

/// Verifies the signature as docs/webhooks.md tells a receiver to.
fn verify(headers: &HeaderMap, body: &[u8]) -> bool {
    let (Some(ts), Some(sig)) = (
        headers.get("x-giaoban-timestamp"),
        headers.get("x-giaoban-signature"),
    ) else {
        return false;
    };
    let ts = ts.to_str().unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let fresh = (Utc::now().timestamp() - ts.parse::<i64>().unwrap()).abs() < 300;
    fresh && sig.to_str().unwrap() == format!("v1={hex}")
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let n = {
        let mut c = r.calls.lock().unwrap();
        *c += 1;
        *c
    };
    if !verify(&headers, &body) {
        return StatusCode::UNAUTHORIZED;
    }
    if n <= r.fail {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    if n <= r.slow {
        tokio::time::sleep(Duration::from_secs(2)).await;
        return StatusCode::OK; // too late: the sender gave up and will retry
    }
    let event: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        headers["x-giaoban-event-id"].to_str().unwrap(),
        event["id"].as_str().unwrap()
    );
    r.log.lock().unwrap().push((event, Utc::now()));
    StatusCode::NO_CONTENT
}

async fn receiver_on(listener: tokio::net::TcpListener, fail: u32, slow: u32) -> Log {
    let r = Receiver {
        log: Log::default(),
        calls: Arc::default(),
        fail,
        slow,
    };
    let log = r.log.clone();
    let app = Router::new().route("/hook", post(hook)).with_state(r);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    log
}

async fn listener() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()
}

/// The event types a log holds, first delivery of each id only, in arrival order.
fn types(log: &Log) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    log.lock()
        .unwrap()
        .iter()
        .filter(|(e, _)| seen.insert(e["id"].as_str().unwrap().to_string()))
        .map(|(e, _)| e["type"].as_str().unwrap().to_string())
        .collect()
}

async fn until_len(log: &Log, n: usize, timeout: Duration, what: &str) {
    let deadline = tokio::time::Instant::now() + timeout;
    while types(log).len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: {:?}",
            types(log)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn urls(addrs: &[std::net::SocketAddr]) -> String {
    let list: Vec<String> = addrs
        .iter()
        .map(|a| format!("\"http://{a}/hook\""))
        .collect();
    format!("[{}]", list.join(","))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_receiver_gets_every_event_in_order_signed_and_a_restart_loses_none() {
    let mut addrs = Vec::new();
    let mut logs = Vec::new();
    for (fail, slow) in [(0, 0), (2, 0), (0, 1)] {
        let l = listener().await;
        addrs.push(l.local_addr().unwrap());
        logs.push(receiver_on(l, fail, slow).await);
    }
    // The fourth receiver is down: its port is free until after the restart.
    let down = listener().await;
    let down_addr = down.local_addr().unwrap();
    drop(down);
    addrs.push(down_addr);
    let env_urls = urls(&addrs);
    let env: Vec<(&str, &str)> = vec![
        ("GIAOBAN_WEBHOOKS_URLS", env_urls.as_str()),
        ("GIAOBAN_WEBHOOKS_SECRET", SECRET),
        ("GIAOBAN_WEBHOOKS_TIMEOUT_MS", "300"),
        ("GIAOBAN_WEBHOOKS_RETRY_INITIAL_MS", "100"),
        ("GIAOBAN_WEBHOOKS_RETRY_MAX_MS", "400"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let config = || test_config_with(dir.path(), &env);
    let server = giaoban::app::start(config()).await.unwrap();
    let ws = format!("ws://{}/ws", server.addr);
    let created = server
        .state
        .scheduler()
        .create(
            &giaoban::schedule::NewSession {
                title: "Giao ban webhook".into(),
                host_site_id: HOST.into(),
                site_ids: vec![SITES[0].into()],
                starts_at: None,
                ends_at: None,
            },
            "test",
        )
        .await
        .unwrap();
    let join = |site: &str| {
        let t = token(&created.links[site]);
        let ws = ws.clone();
        async move { SiteClient::join(&ws, &t, LOCAL).await.unwrap() }
    };
    let host = join(HOST).await;
    let site = join(SITES[0]).await;
    // Both present: session.started + two site.joined.
    let [good, failing, slow] = [&logs[0], &logs[1], &logs[2]];
    until_len(good, 3, Duration::from_secs(15), "joins").await;
    site.drop_connection().await;
    until_len(good, 4, Duration::from_secs(10), "drop").await;
    host.leave().await;
    // The good receiver is not held up by the slow or failing ones.
    until_len(good, 6, Duration::from_secs(5), "everything").await;
    let expected = [
        "session.started",
        "site.joined",
        "site.joined",
        "site.dropped",
        "site.left",
        "session.ended",
    ];
    assert_eq!(types(good), expected);
    for log in [failing, slow] {
        until_len(log, 6, Duration::from_secs(15), "retried").await;
        assert_eq!(types(log), expected);
    }
    // The same ids everywhere, and the body says what happened.
    let ids = |log: &Log| -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        log.lock()
            .unwrap()
            .iter()
            .map(|(e, _)| e["id"].as_str().unwrap().to_string())
            .filter(|id| seen.insert(id.clone()))
            .collect()
    };
    assert_eq!(ids(good), ids(failing));
    assert_eq!(ids(good), ids(slow));
    {
        let g = good.lock().unwrap();
        assert!(
            g.iter()
                .all(|(e, _)| e["session_id"] == created.session_id.as_str())
        );
        assert_eq!(g[3].0["data"]["site_id"], SITES[0]);
        assert_eq!(g[3].0["data"]["reason"], "drop");
    }
    // The receiver that is down has nothing yet; the outbox keeps its six.
    let pending = giaoban::webhooks::pending(&server.state.pool)
        .await
        .unwrap();
    assert_eq!(pending, 6);
    server.stop().await;

    // Restart with the receiver up: every event arrives, in order, once each id.
    let l = tokio::net::TcpListener::bind(down_addr).await.unwrap();
    let late = receiver_on(l, 0, 0).await;
    let server = giaoban::app::start(config()).await.unwrap();
    until_len(&late, 6, Duration::from_secs(15), "after the restart").await;
    assert_eq!(types(&late), expected);
    assert_eq!(ids(&late), ids(good));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while giaoban::webhooks::pending(&server.state.pool)
        .await
        .unwrap()
        > 0
    {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn a_bad_webhook_configuration_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml"))
        .unwrap();
    let load = |env: &[(&str, &str)]| {
        giaoban::config::Config::from_toml_str(
            &text,
            std::path::Path::new("default.toml"),
            env.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .chain([(
                    "GIAOBAN_DATA_DIR".to_string(),
                    dir.path().display().to_string(),
                )]),
        )
    };
    let e = load(&[
        ("GIAOBAN_WEBHOOKS_URLS", "[\"ftp://x/\"]"),
        ("GIAOBAN_WEBHOOKS_SECRET", SECRET),
    ])
    .unwrap_err()
    .to_string();
    assert!(e.contains("webhooks.urls"), "{e}");
    let e = load(&[("GIAOBAN_WEBHOOKS_URLS", "[\"http://127.0.0.1:9/\"]")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("webhooks.secret"), "{e}");
    let e = load(&[("GIAOBAN_ATTENDANCE_HEARTBEAT_SECS", "0")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("attendance.heartbeat_secs"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_session_is_finalised_once() {
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    let log = receiver_on(l, 0, 0).await;
    let env_urls = urls(&[addr]);
    let env: Vec<(&str, &str)> = vec![
        ("GIAOBAN_WEBHOOKS_URLS", env_urls.as_str()),
        ("GIAOBAN_WEBHOOKS_SECRET", SECRET),
        ("GIAOBAN_ATTENDANCE_HEARTBEAT_SECS", "1"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let config = || test_config_with(dir.path(), &env);
    let server = giaoban::app::start(config()).await.unwrap();
    let now = Utc::now();
    let created = server
        .state
        .scheduler()
        .create(
            &giaoban::schedule::NewSession {
                title: "Giao ban đã kết thúc".into(),
                host_site_id: HOST.into(),
                site_ids: vec![SITES[1].into()],
                starts_at: Some(now - chrono::Duration::hours(1)),
                ends_at: Some(now - chrono::Duration::minutes(1)),
            },
            "test",
        )
        .await
        .unwrap();
    until_len(&log, 1, Duration::from_secs(10), "finalised").await;
    {
        let g = log.lock().unwrap();
        let e = &g[0].0;
        assert_eq!(e["type"], "attendance.finalised");
        assert_eq!(e["session_id"], created.session_id.as_str());
        assert_eq!(e["data"]["counts"]["absent"], 2, "{e}");
        assert_eq!(e["data"]["sites"][1]["status"], "absent");
    }
    server.stop().await;
    // Not again after a restart.
    let server = giaoban::app::start(config()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(types(&log), ["attendance.finalised"]);
    server.stop().await;
}
