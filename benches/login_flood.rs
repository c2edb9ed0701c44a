//! Login flood figures (not a test): starts the server binary of the build profile (release under
//! `cargo bench`) as a separate process with a
//! temporary data directory, then fires rounds of concurrent wrong logins (default 500 at once,
//! from 50 loopback addresses 127.0.0.2–51, for `admin` and for unknown names) and reports per
//! round the answers (401 verified, 429 refused), the server's RSS before, at its highest during
//! (sampled every 5 ms from /proc/<pid>/status) and 2 s after the flood, and how long after the
//! flood a right password (another account, from 127.0.0.1) logs in. VmHWM at the end.
//!
//! Run: `cargo bench --bench login_flood` (`-- --logins 500 --rounds 3`); without a release build,
//! `cargo bench --profile dev --bench login_flood` (argon2 is optimised in the dev profile too).

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A field of /proc/<pid>/status in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

async fn login(base: &str, from: &str, username: &str, password: &str) -> u16 {
    let client = reqwest::Client::builder()
        .local_address(from.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    match client
        .post(format!("{base}/api/login"))
        .json(&serde_json::json!({ "username": username, "password": password }))
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

fn main() {
    let logins = arg("--logins", 500);
    let rounds = arg("--rounds", 3);
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_giaoban"))
        .arg("serve")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("GIAOBAN_DATA_DIR", dir.path())
        .env("GIAOBAN_HTTP_ADDR", "127.0.0.1:0")
        .env("GIAOBAN_MEDIA_UDP_PORT", "0")
        .env("GIAOBAN_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    let pid = child.id();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("server output").unwrap();
        if let Some(url) = line.strip_prefix("giaoban: listening on ") {
            break url.trim().to_string();
        }
    };
    let admin_password = std::fs::read_to_string(dir.path().join("initial-admin-password"))
        .unwrap()
        .trim()
        .to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let workers = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("server pid {pid} at {base}; {workers} cores; {logins} wrong logins per round");
    rt.block_on(async {
        // The account whose owner logs in after each flood.
        let admin = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let r = admin
            .post(format!("{base}/api/login"))
            .json(&serde_json::json!({"username": "admin", "password": admin_password}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "admin login: {}", r.status());
        let csrf = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix("giaoban_csrf="))
            .map(|v| v.split(';').next().unwrap().to_string())
            .unwrap();
        let r = admin
            .post(format!("{base}/api/users"))
            .header("x-csrf-token", csrf)
            .json(
                &serde_json::json!({"username": "thuky", "display_name": "Thư ký",
                "password": "mat-khau-thu-ky-2026", "grants": [{"role": "secretariat"}]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
    });
    println!(
        "RSS after start and two logins: {:.1} MiB",
        mib(status_kib(pid, "VmRSS:"))
    );

    for round in 1..=rounds {
        let before = status_kib(pid, "VmRSS:");
        let peak = Arc::new(AtomicU64::new(before));
        let sampling = Arc::new(AtomicBool::new(true));
        let sampler = {
            let (peak, sampling) = (peak.clone(), sampling.clone());
            std::thread::spawn(move || {
                while sampling.load(Ordering::Relaxed) {
                    peak.fetch_max(status_kib(pid, "VmRSS:"), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        let started = Instant::now();
        let statuses: Vec<u16> = rt.block_on(async {
            let gate = Arc::new(tokio::sync::Barrier::new(logins));
            let tasks: Vec<_> = (0..logins)
                .map(|i| {
                    let (base, gate) = (base.clone(), gate.clone());
                    tokio::spawn(async move {
                        let from = format!("127.0.0.{}", 2 + i % 50);
                        let user = if i % 2 == 0 {
                            "admin".to_string()
                        } else {
                            format!("ke-la-{round}-{i}")
                        };
                        gate.wait().await;
                        login(&base, &from, &user, "mat-khau-sai-0000").await
                    })
                })
                .collect();
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.unwrap());
            }
            out
        });
        let flood_ms = started.elapsed().as_millis();
        let flood_end = Instant::now();
        let ok_after = rt.block_on(async {
            loop {
                if login(&base, "127.0.0.1", "thuky", "mat-khau-thu-ky-2026").await == 200 {
                    return flood_end.elapsed();
                }
                if flood_end.elapsed() > Duration::from_secs(30) {
                    return Duration::MAX;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        std::thread::sleep(Duration::from_secs(2));
        sampling.store(false, Ordering::Relaxed);
        sampler.join().unwrap();
        let after = status_kib(pid, "VmRSS:");
        let count = |s: u16| statuses.iter().filter(|&&x| x == s).count();
        println!(
            "round {round}: {logins} wrong logins in {flood_ms} ms: 401×{} 429×{} other×{}; \
             RSS before {:.1} MiB, peak {:.1} MiB, 2 s after {:.1} MiB; right password OK {} ms after the flood",
            count(401),
            count(429),
            statuses.len() - count(401) - count(429),
            mib(before),
            mib(peak.load(Ordering::Relaxed)),
            mib(after),
            ok_after.as_millis()
        );
    }
    println!(
        "VmHWM (highest RSS of the server's life): {:.1} MiB",
        mib(status_kib(pid, "VmHWM:"))
    );
    let _ = child.kill();
    let _ = child.wait();
}
