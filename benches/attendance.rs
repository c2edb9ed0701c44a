//! Attendance figures (not a test), against the real server started in this process on a
//! temporary data directory:
//! 1. drop-to-recorded: a real site (Rust signaling client with both peer connections) joins,
//!    its media connects, then its socket and connections vanish without a goodbye; the time from
//!    the drop until the interval's end is in the database (polled every 2 ms), over 20 drops;
//! 2. 150 sites joining within 10 s: their `joined` and `media connected` events go out on the
//!    server's live bus at that rate (the SFU's own path: the same bus and consumers: attendance,
//!    audit, invitations, webhook outbox), in a database holding 150 sites; database write
//!    transactions per second, the largest consumer backlog, and the drain time; then the same
//!    events for 150 more sites at once (the capacity);
//! 3. webhook delivery delay: a receiver on loopback; per event, arrival − `occurred_at`.
//!
//! Run: `cargo bench --bench attendance` (release build; `-- --drops 50` for more drops).

use chrono::{DateTime, Utc};
use giaoban::client::SiteClient;
use giaoban::config::{SiteConfig, UnitConfig};
use giaoban::live::Event;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
const SITES: usize = 150;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

type Arrivals = Arc<Mutex<Vec<(String, DateTime<Utc>, DateTime<Utc>)>>>;

/// A webhook receiver on loopback that keeps (type, occurred_at, arrival) of every delivery.
async fn receiver() -> (String, Arrivals) {
    let log: Arrivals = Arc::default();
    let l = log.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let l = l.clone();
            async move {
                let now = Utc::now();
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let at: DateTime<Utc> = v["occurred_at"].as_str().unwrap().parse().unwrap();
                l.lock()
                    .unwrap()
                    .push((v["type"].as_str().unwrap().to_string(), at, now));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, log)
}

async fn scalar(pool: &giaoban::store::Pool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// Rows written by the consumers so far (each insert or update of a row counted once).
async fn written(pool: &giaoban::store::Pool) -> i64 {
    scalar(pool, "SELECT COUNT(*) FROM attendance_stints").await
        + scalar(
            pool,
            "SELECT COUNT(*) FROM attendance_stints WHERE started_at IS NOT NULL",
        )
        .await
        + scalar(pool, "SELECT COUNT(*) FROM audit_log").await
        + scalar(pool, "SELECT COUNT(*) FROM webhook_outbox").await
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let drops = arg("--drops", 20);
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml"))
        .unwrap();
    let (url, arrivals) = receiver().await;
    let env = [
        ("GIAOBAN_HTTP_ADDR", "127.0.0.1:0".to_string()),
        ("GIAOBAN_DATA_DIR", dir.path().display().to_string()),
        ("GIAOBAN_MEDIA_UDP_PORT", "0".to_string()),
        ("GIAOBAN_WEBHOOKS_URLS", format!("[\"{url}\"]")),
        (
            "GIAOBAN_WEBHOOKS_SECRET",
            "bench-secret-bench-secret-bench-secret".to_string(),
        ),
    ];
    let mut config = giaoban::config::Config::from_toml_str(
        &text,
        std::path::Path::new("default.toml"),
        env.into_iter().map(|(k, v)| (k.to_string(), v)),
    )
    .unwrap();
    for i in 0..2 * SITES {
        config.org.units.push(UnitConfig {
            id: format!("bench-unit-{i:03}"),
            name: format!("Đơn vị {i}"),
            kind: "commune".into(),
            parent: Some("ubnd-tp".into()),
            valid_from: "2025-07-01".parse().unwrap(),
            valid_to: None,
            sites: vec![SiteConfig {
                id: format!("bench-site-{i:03}"),
                name: format!("Phòng họp {i}"),
                host: false,
            }],
        });
    }
    let server = giaoban::app::start(config).await.unwrap();
    let state = server.state.clone();
    let pool = state.pool.clone();
    let ws = format!("ws://{}/ws", server.addr);

    // 1. Drop-to-recorded.
    let one = state
        .scheduler()
        .create(
            &giaoban::schedule::NewSession {
                title: "Đo thời gian ghi nhận mất kết nối".into(),
                host_site_id: "ubnd-tp-hoitruong".into(),
                site_ids: vec!["so-y-te-phonghop".into()],
                starts_at: None,
                ends_at: None,
            },
            "bench",
        )
        .await
        .unwrap();
    let token = one.links["so-y-te-phonghop"]
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let mut observed = Vec::new();
    let mut stamped = Vec::new();
    for _ in 0..drops {
        let site = SiteClient::join(&ws, &token, LOCAL).await.unwrap();
        let pid = site.participant_id.clone();
        loop {
            let started: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
                "SELECT started_at FROM attendance_stints WHERE participant_id = ?",
            )
            .bind(&pid)
            .fetch_optional(&pool)
            .await
            .unwrap();
            if matches!(started, Some(Some(_))) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (t0, u0) = (Instant::now(), Utc::now());
        site.drop_connection().await;
        let ended: DateTime<Utc> = loop {
            let e: Option<DateTime<Utc>> = sqlx::query_scalar(
                "SELECT ended_at FROM attendance_stints WHERE participant_id = ?",
            )
            .bind(&pid)
            .fetch_one(&pool)
            .await
            .unwrap();
            if let Some(e) = e {
                break e;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        observed.push(t0.elapsed().as_secs_f64() * 1e3);
        stamped.push((ended - u0).num_microseconds().unwrap() as f64 / 1e3);
    }
    let max = observed.iter().cloned().fold(0.0, f64::max);
    println!(
        "drop → interval closed in the database ({drops} drops): p50 {:.1} ms, max {:.1} ms; recorded end − drop: p50 {:.1} ms, max {:.1} ms",
        percentile(&mut observed, 0.5),
        max,
        percentile(&mut stamped.clone(), 0.5),
        stamped.iter().cloned().fold(0.0, f64::max),
    );

    // 2. 150 sites within 10 s, then 150 at once.
    let bus = state.sfu.events().clone();
    for (round, spacing) in [
        (0usize, Duration::from_millis(10_000 / SITES as u64)),
        (1, Duration::ZERO),
    ] {
        let sites: Vec<String> = (round * SITES..(round + 1) * SITES)
            .map(|i| format!("bench-site-{i:03}"))
            .collect();
        let created = state
            .scheduler()
            .create(
                &giaoban::schedule::NewSession {
                    title: format!("Giao ban {SITES} điểm cầu ({round})"),
                    host_site_id: "ubnd-tp-hoitruong".into(),
                    site_ids: sites.clone(),
                    starts_at: None,
                    ends_at: None,
                },
                "bench",
            )
            .await
            .unwrap();
        arrivals.lock().unwrap().clear();
        let before = written(&pool).await;
        let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let peak = {
            let (bus, sampling) = (bus.clone(), sampling.clone());
            tokio::spawn(async move {
                let mut peak = 0;
                while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                    peak = peak.max(bus.backlogs().iter().map(|(_, n)| *n).max().unwrap_or(0));
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                peak
            })
        };
        let t0 = Instant::now();
        for site in &sites {
            let participant_id = Uuid::new_v4();
            bus.emit(Event::Joined {
                session_id: created.session_id.clone(),
                site_id: site.clone(),
                participant_id,
            });
            bus.emit(Event::MediaConnected {
                session_id: created.session_id.clone(),
                site_id: site.clone(),
                participant_id,
            });
            if !spacing.is_zero() {
                tokio::time::sleep(spacing).await;
            }
        }
        let emitted = t0.elapsed();
        assert!(bus.drained(Duration::from_secs(120)).await);
        let drained = t0.elapsed();
        sampling.store(false, std::sync::atomic::Ordering::Relaxed);
        let peak = peak.await.unwrap();
        let rows = written(&pool).await - before;
        // Transactions: attendance 2 per site (joined, media connected), audit 1 per join.
        let tx = 3 * SITES;
        println!(
            "{SITES} sites over {:.1} s: {tx} write transactions ({rows} rows) done {:.0} ms after the last event; {:.0} transactions/s sustained over the run, {:.0} rows/s; largest consumer backlog {peak} events",
            emitted.as_secs_f64(),
            (drained - emitted).as_secs_f64() * 1e3,
            tx as f64 / drained.as_secs_f64(),
            rows as f64 / drained.as_secs_f64(),
        );
        // 3. Webhook delivery delay of those events (session.started + one site.joined per site).
        let deadline = Instant::now() + Duration::from_secs(120);
        while arrivals.lock().unwrap().len() < SITES + 1 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut delays: Vec<f64> = arrivals
            .lock()
            .unwrap()
            .iter()
            .map(|(_, at, got)| (*got - *at).num_microseconds().unwrap() as f64 / 1e3)
            .collect();
        let n = delays.len();
        println!(
            "  webhook delivery delay over {n} events (one receiver, one session, in order): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            percentile(&mut delays, 0.5),
            percentile(&mut delays, 0.99),
            delays.iter().cloned().fold(0.0, f64::max),
        );
    }
    server.stop().await;
}
