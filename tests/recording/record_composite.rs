//! The composite file: two sites recorded (the second joins 2 s late); the job is asked for
//! through the API, its progress followed to the end, and the MP4 checked with ffprobe (H.264 +
//! AAC, the recording's length). A second job while one runs is refused; a reviewer without
//! download access may not ask.

use crate::common;
use crate::record_common;

use common::*;
use giaoban::auth::Role;
use giaoban::client::SiteClient;
use record_common::*;
use std::time::{Duration, Instant};

const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_composite_mp4_is_built_in_the_background_with_progress() {
    let server = TestServer::start().await;
    let operator = server.login(Role::Operator).await;
    let created = server.create_session(HOST, &SITES[..1]).await;
    let sid = created.session_id.clone();
    let (status, started) = operator.recording(&sid, "start").await;
    assert_eq!(status, 201);
    let rid = started["recording_id"].as_str().unwrap().to_string();
    let end = Instant::now() + Duration::from_secs(6);
    let mut tasks = Vec::new();
    for (i, site) in [HOST, SITES[0]].into_iter().enumerate() {
        let ws = server.ws_url();
        let token = token(&created.links[site]);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2 * i as u64)).await;
            let c = SiteClient::join(&ws, &token, LOCAL).await.unwrap();
            publish(&c, end).await;
            c
        }));
    }
    let mut clients = Vec::new();
    for t in tasks {
        clients.push(t.await.unwrap());
    }
    let path = format!("/api/recordings/{rid}/composite");
    let (status, _) = body(operator.post(&path, &serde_json::json!({})).await).await;
    assert_eq!(status, 409, "not while it records");
    let (status, _) = operator.recording(&sid, "stop").await;
    assert_eq!(status, 200);
    for c in clients {
        c.leave().await;
    }
    let (status, _) = body(operator.get(&path).await).await;
    assert_eq!(status, 404, "none asked for yet");
    let reviewer = server.login(Role::Reviewer).await;
    let (status, _) = body(reviewer.post(&path, &serde_json::json!({})).await).await;
    assert_eq!(status, 403);

    let asked = Instant::now();
    let (status, job) = body(operator.post(&path, &serde_json::json!({})).await).await;
    assert_eq!(status, 202, "{job}");
    let (status, _) = body(operator.post(&path, &serde_json::json!({})).await).await;
    assert_eq!(status, 409, "one job at a time");
    let mut seen = Vec::new();
    let job = loop {
        let (_, j) = body(operator.get(&path).await).await;
        seen.push(j["progress"].as_f64().unwrap());
        match j["status"].as_str().unwrap() {
            "done" => break j,
            "failed" => panic!("composite failed: {j}"),
            _ => {}
        }
        assert!(asked.elapsed() < Duration::from_secs(120), "still {j}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let took = asked.elapsed();
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "progress only grows: {seen:?}"
    );
    let url = server.http_url() + job["url"].as_str().unwrap();
    let bytes = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
    let file = server.dir.path().join("composite.mp4");
    std::fs::write(&file, &bytes).unwrap();
    let (streams, duration) = probe(&file);
    let codecs: Vec<&str> = streams.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(codecs, ["h264", "aac"]);
    let (_, list) = body(
        operator
            .get(&format!("/api/sessions/{sid}/recordings"))
            .await,
    )
    .await;
    let total = list[0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["offset_ms"].as_i64().unwrap() + f["duration_ms"].as_i64().unwrap())
        .max()
        .unwrap() as f64
        / 1000.0;
    assert!(
        (duration - total).abs() <= 0.5,
        "composite {duration:.2} s, recording {total:.2} s"
    );
    eprintln!(
        "composite of {total:.1} s (2 sites) built in {:.2} s: {:.1} s per minute of recording",
        took.as_secs_f64(),
        took.as_secs_f64() * 60.0 / total
    );
    server.running.stop().await;
}
