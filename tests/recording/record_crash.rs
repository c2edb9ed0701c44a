//! Crash safety of recordings: the server binary is killed with SIGKILL while a site is being
//! recorded. The file left behind decodes up to within 5 s of the kill (small clusters, flushed
//! every second); the next start finalises it (duration and cues, without re-encoding) and marks
//! the recording and the file `interrupted`.

use crate::record_common;

use giaoban::client::SiteClient;
use giaoban::client::api::ApiClient;
use record_common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
const HOST: &str = "ubnd-tp-hoitruong";

fn giaoban(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_giaoban"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("GIAOBAN_DATA_DIR", dir)
        .env("GIAOBAN_HTTP_ADDR", "127.0.0.1:0")
        .env("GIAOBAN_MEDIA_UDP_PORT", "0");
    c
}

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
    let addr = line.trim().rsplit("http://").next().unwrap().to_string();
    (child, addr)
}

async fn admin(addr: &str, dir: &std::path::Path) -> ApiClient {
    let password = std::fs::read_to_string(dir.join("initial-admin-password")).unwrap();
    ApiClient::login(&format!("http://{addr}"), "admin", password.trim())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_recording_plays_to_its_last_seconds_and_is_finalised_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = giaoban(dir.path())
        .args(["session", "create", "--title", "Giao ban", "--host", HOST])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let session = created["session_id"].as_str().unwrap().to_string();
    let token = created["links"][HOST]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();

    let (mut child, addr) = serve(dir.path());
    let api = admin(&addr, dir.path()).await;
    let r = api
        .post(
            &format!("/api/sessions/{session}/recording/start"),
            &serde_json::json!({}),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let started: Value = r.json().await.unwrap();
    let rid = started["recording_id"].as_str().unwrap().to_string();
    let site = SiteClient::join(&format!("ws://{addr}/ws"), &token, LOCAL)
        .await
        .unwrap();
    let sent = publish(&site, Instant::now() + Duration::from_secs(9)).await;
    let killed_at = SystemTime::now();
    child.kill().unwrap(); // SIGKILL: no chance to finalise anything
    child.wait().unwrap();
    site.drop_connection().await;

    let folder = dir.path().join("recordings").join(&rid);
    let file = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "webm"))
        .expect("a file was being written");
    let cut = dir.path().join("cut.webm");
    std::fs::copy(&file, &cut).unwrap();
    let sent_secs = secs_between(sent.first_key, killed_at);
    let decoded = decoded_secs(&cut);
    eprintln!("cut file decodes {decoded:.2} s of {sent_secs:.2} s sent before the kill");
    assert!(
        decoded >= sent_secs - 5.0,
        "the cut file decodes {decoded:.2} s of {sent_secs:.2} s sent before the kill"
    );

    let (mut child, addr) = serve(dir.path());
    let api = admin(&addr, dir.path()).await;
    let list: Value = api
        .get(&format!("/api/sessions/{session}/recordings"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rec = &list[0];
    assert_eq!(rec["recording"]["status"], "interrupted", "{rec}");
    let f = &rec["files"][0];
    assert_eq!(f["status"], "interrupted");
    let (streams, duration) = probe(&file);
    eprintln!("finalised: {duration:.2} s");
    assert_eq!(streams.len(), 2);
    assert!(
        duration >= sent_secs - 5.0 && duration <= sent_secs + 0.5,
        "finalised with a duration of {duration:.2} s; {sent_secs:.2} s sent"
    );
    assert!((f["duration_ms"].as_i64().unwrap() as f64 / 1000.0 - duration).abs() < 0.1);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(folder.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["status"], "interrupted");
    let kinds: Vec<&str> = manifest["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.last(), Some(&"recording_interrupted"), "{kinds:?}");
    // Nothing runs any more; a new recording can start.
    let r = api
        .post(
            &format!("/api/sessions/{session}/recording/start"),
            &serde_json::json!({}),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    child.kill().unwrap();
    child.wait().unwrap();
}
