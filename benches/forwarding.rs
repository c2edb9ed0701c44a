//! Forwarding benchmark: the release server binary runs as its own process; N sites (Rust
//! clients in this process) all publish audio (50 packets/s, 120 B) and video (V packets/s,
//! 1100 B) and all receive. Reported:
//! - join → first video packet at another site (ms, per joining site: median and max);
//! - server CPU per forwarded packet (µs), from /proc/<pid>/stat utime+stime over a fixed window,
//!   divided by the packets the server sent out in that window (its /api/stats);
//! - forwarded packets per second per core at that cost, and drops.
//!
//! Run: `cargo bench --bench forwarding` (defaults: 10 sites, 100 video packets/s, 10 s window),
//! or with `-- --sites 10 --video-pps 100 --seconds 10`.

use bytes::Bytes;
use giaoban::client::SiteClient;
use giaoban::client::api::{self, ApiClient};
use giaoban::signal::protocol::MediaKind;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds of a process so far.
fn cpu_seconds(pid: u32) -> f64 {
    giaoban::metrics::process::sample(&pid.to_string())
        .expect("proc stat")
        .cpu_seconds
}

fn main() {
    let sites = arg("--sites", 10) as usize;
    let video_pps = arg("--video-pps", 100);
    let seconds = arg("--seconds", 10);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(run(sites, video_pps, seconds));
}

async fn run(n: usize, video_pps: u64, seconds: u64) {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let http = format!("http://127.0.0.1:{port}");
    let config_path =
        std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml"));
    // An admin account for the API, created with the CLI on the same data directory.
    let status = Command::new(env!("CARGO_BIN_EXE_giaoban"))
        .args(["--config"])
        .arg(&config_path)
        .args(["user", "add", "--name", "bench-admin", "--role", "admin"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("GIAOBAN_DATA_DIR", dir.path())
        .env("GIAOBAN_PASSWORD", "bench-password-2026")
        .stdout(Stdio::null())
        .status()
        .expect("create the admin");
    assert!(status.success(), "giaoban user add failed");
    let mut server = Command::new(env!("CARGO_BIN_EXE_giaoban"))
        .arg("--config")
        .arg(&config_path)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("GIAOBAN_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("GIAOBAN_DATA_DIR", dir.path())
        .env("GIAOBAN_MEDIA_UDP_PORT", "0")
        .env("GIAOBAN_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the server");
    let pid = server.id();
    let deadline = Instant::now() + Duration::from_secs(20);
    while api::check_giaoban(&http).await.is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let api = ApiClient::login(&http, "bench-admin", "bench-password-2026")
        .await
        .expect("login");
    let ids = api.ensure_sites("bench", n).await.expect("bench sites");
    let created = api
        .create_session("Đo hiệu năng", &ids[0], &ids[1..])
        .await
        .expect("session");
    let ws = format!("ws://127.0.0.1:{port}/ws");

    // Join one by one; every site already in keeps sending video; time from the join to the
    // first video packet of the new site at the first site.
    let mut clients: Vec<Arc<tokio::sync::Mutex<SiteClient>>> = Vec::new();
    let mut join_ms = Vec::new();
    for (i, id) in ids[..n].iter().enumerate() {
        let token = api::token_of(&created.links[id]).to_string();
        let t0 = Instant::now();
        let c = SiteClient::join(&ws, &token, LOCAL).await.expect("join");
        let pid_new = c.participant_id.clone();
        if i > 0 {
            let first = clients[0].clone();
            let mut first = first.lock().await;
            while first.try_recv_packet().is_some() {}
            loop {
                let _ = c.send(MediaKind::Video, Bytes::from(vec![0u8; 1100])).await;
                if let Some(p) = first.recv_packet(Duration::from_millis(5)).await
                    && p.stream_id == pid_new
                    && p.kind == MediaKind::Video
                {
                    join_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
                    break;
                }
                assert!(
                    t0.elapsed() < Duration::from_secs(20),
                    "no first packet from site {i}"
                );
            }
        }
        clients.push(Arc::new(tokio::sync::Mutex::new(c)));
    }
    join_ms.sort_by(|a, b| a.partial_cmp(b).unwrap());

    // Load: every site sends audio and video at fixed rates and drains what it receives.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let received = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in &clients {
        let (c, stop, received) = (c.clone(), stop.clone(), received.clone());
        tasks.push(tokio::spawn(async move {
            let audio = Bytes::from(vec![1u8; 120]);
            let video = Bytes::from(vec![2u8; 1100]);
            let tick = Duration::from_millis(10);
            let mut interval = tokio::time::interval(tick);
            let (mut a_due, mut v_due) = (0.0f64, 0.0f64);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                interval.tick().await;
                let mut c = c.lock().await;
                a_due += 50.0 / 100.0;
                v_due += video_pps as f64 / 100.0;
                while a_due >= 1.0 {
                    let _ = c.send(MediaKind::Audio, audio.clone()).await;
                    a_due -= 1.0;
                }
                while v_due >= 1.0 {
                    let _ = c.send(MediaKind::Video, video.clone()).await;
                    v_due -= 1.0;
                }
                while c.try_recv_packet().is_some() {
                    received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await; // warm-up
    let s0 = api.stats().await.expect("stats");
    let c0 = cpu_seconds(pid);
    let r0 = received.load(std::sync::atomic::Ordering::Relaxed);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let c1 = cpu_seconds(pid);
    let s1 = api.stats().await.expect("stats");
    let wall = t0.elapsed().as_secs_f64();
    let r1 = received.load(std::sync::atomic::Ordering::Relaxed);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }

    let d = |k: &str| s1[k].as_u64().unwrap() - s0[k].as_u64().unwrap();
    let (pin, pout, drop) = (d("packets_in"), d("packets_out"), d("packets_dropped"));
    let cpu_s = c1 - c0;
    let us_per_pkt = cpu_s * 1e6 / pout as f64;
    println!(
        "giaoban forwarding benchmark: {n} sites, each publishing audio 50 pps + video {video_pps} pps, all receiving"
    );
    println!("  window                       {wall:.1} s");
    println!(
        "  join -> first video packet   median {:.0} ms, max {:.0} ms ({} joins)",
        join_ms[join_ms.len() / 2],
        join_ms[join_ms.len() - 1],
        join_ms.len()
    );
    println!(
        "  packets in / out / dropped   {pin} / {pout} / {drop}  ({:.0} out/s)",
        pout as f64 / wall
    );
    println!(
        "  received by clients          {} ({:.0}/s)",
        r1 - r0,
        (r1 - r0) as f64 / wall
    );
    println!(
        "  server CPU                   {cpu_s:.2} s ({:.0}% of one core)",
        cpu_s / wall * 100.0
    );
    println!("  CPU per forwarded packet     {us_per_pkt:.1} µs");
    println!("  packets/s per core           {:.0}", 1e6 / us_per_pkt);
    for c in clients {
        if let Ok(m) = Arc::try_unwrap(c) {
            m.into_inner().leave().await;
        }
    }
    let _ = server.kill();
    let _ = server.wait();
}
