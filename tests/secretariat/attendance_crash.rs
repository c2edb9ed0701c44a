//! Crash safety: the server binary is killed with SIGKILL while sites are connected; the next
//! start closes every open interval at the last heartbeat, as "server interrupted", and nothing
//! written before the crash is lost.

use chrono::{DateTime, Utc};
use giaoban::client::SiteClient;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
const HOST: &str = "ubnd-tp-hoitruong";
const SITES: [&str; 2] = ["so-y-te-phonghop", "xa-ba-vi-phonghop"];

fn giaoban(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_giaoban"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("GIAOBAN_DATA_DIR", dir)
        .env("GIAOBAN_HTTP_ADDR", "127.0.0.1:0")
        .env("GIAOBAN_MEDIA_UDP_PORT", "0")
        .env("GIAOBAN_ATTENDANCE_HEARTBEAT_SECS", "1")
        .env("GIAOBAN_ATTENDANCE_RECONNECT_GRACE_SECS", "2");
    c
}

/// Starts `giaoban serve` and returns it with its address (read from its first line).
fn serve(dir: &std::path::Path) -> (Child, String) {
    let mut child = giaoban(dir)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (child, addr)
}

async fn admin(addr: &str, dir: &std::path::Path) -> reqwest::Client {
    let password = std::fs::read_to_string(dir.join("initial-admin-password")).unwrap();
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let r = client
        .post(format!("http://{addr}/api/login"))
        .json(&serde_json::json!({"username": "admin", "password": password.trim()}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "login: {}", r.status());
    client
}

async fn roll(client: &reqwest::Client, addr: &str, session: &str) -> Value {
    client
        .get(format!("http://{addr}/api/sessions/{session}/attendance"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sigkill_every_interval_is_closed_as_server_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let out = giaoban(dir.path())
        .args(["session", "create", "--title", "Giao ban", "--host", HOST])
        .args(["--site", SITES[0], "--site", SITES[1]])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let session = created["session_id"].as_str().unwrap().to_string();
    let token = |site: &str| {
        let link = created["links"][site].as_str().unwrap();
        link.rsplit('/').next().unwrap().to_string()
    };

    let (mut child, addr) = serve(dir.path());
    let ws = format!("ws://{addr}/ws");
    let mut clients = Vec::new();
    for site in [HOST, SITES[0], SITES[1]] {
        clients.push(SiteClient::join(&ws, &token(site), LOCAL).await.unwrap());
    }
    let api = admin(&addr, dir.path()).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let r = roll(&api, &addr, &session).await;
        if r["counts"]["online"] == 3 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not online: {r}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let a heartbeat or two pass with everyone present, then kill -9.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let killed_at = Utc::now();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for c in clients {
        c.drop_connection().await;
    }

    let (mut child, addr) = serve(dir.path());
    let api = admin(&addr, dir.path()).await;
    let r = roll(&api, &addr, &session).await;
    for site in [HOST, SITES[0], SITES[1]] {
        let s = r["sites"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["site_id"] == site)
            .unwrap();
        let iv = s["intervals"].as_array().unwrap();
        assert_eq!(iv.len(), 1, "{s}");
        assert_eq!(iv[0]["end_reason"], "server_interrupted", "{s}");
        let end: DateTime<Utc> = iv[0]["end"].as_str().unwrap().parse().unwrap();
        let start: DateTime<Utc> = iv[0]["start"].as_str().unwrap().parse().unwrap();
        assert!(end <= killed_at, "closed at {end}, killed at {killed_at}");
        assert!(
            killed_at - end <= chrono::Duration::milliseconds(1500),
            "closed at {end}: more than a heartbeat before the kill at {killed_at}"
        );
        assert!(end > start);
        assert_eq!(s["status"], "present");
    }
    assert_eq!(r["counts"]["online"], 0);
    // Nothing written before the crash was lost: the three joins are in the audit log.
    let audit: Value = api
        .get(format!("http://{addr}/api/audit?action=site.join"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit.as_array().unwrap().len(), 3, "{audit}");
    child.kill().unwrap();
    child.wait().unwrap();
}
