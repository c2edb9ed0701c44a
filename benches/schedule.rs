//! Scheduling figures (not a test): in a temporary database with 150 sites and 500 sessions in
//! one week (1-hour slots, 07:00–17:00 Hanoi, each session on a disjoint group of 18 sites of its
//! slot), it measures
//! - creating those 500 sessions through the service (validation, conflict check, audit, rows);
//! - listing that week (the API's list query and assembly);
//! - the conflict check (candidate query + `conflict::find_conflicts`) of a 150-site session
//!   against them, clashing and free, and of a 150-site weekly series of 52 occurrences;
//! - a refused creation end to end (the 409 path, rolled back).
//!
//! Run: `cargo bench --bench schedule` (release build; `-- --rounds 50` to repeat more).

#![cfg_attr(test, allow(dead_code, unused_imports))]

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use giaoban::auth::TokenKey;
use giaoban::schedule::Scheduler;
use giaoban::schedule::model::{SessionError, SessionInput};
use giaoban::schedule::service::check_conflicts;
use giaoban::store::sessions::SiteInvite;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

const SITES: usize = 150;
const SESSIONS: usize = 500;
const GROUP: usize = 18;

fn rounds() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
}

fn site(i: usize) -> String {
    format!("site-{i:03}")
}

/// Monday 07/12/2026 at `hour` Hanoi time, plus `day` days.
fn at(day: i64, hour: u32) -> DateTime<Utc> {
    let hanoi = chrono::FixedOffset::east_opt(7 * 3600).unwrap();
    hanoi
        .with_ymd_and_hms(2026, 12, 7, hour, 0, 0)
        .unwrap()
        .to_utc()
        + TimeDelta::days(day)
}

struct Stats(Vec<Duration>);

impl Stats {
    fn report(mut self, what: &str) {
        self.0.sort();
        let n = self.0.len();
        let mean = self.0.iter().sum::<Duration>() / n as u32;
        println!(
            "{what:<58} median {:>9.3} ms  mean {:>9.3} ms  max {:>9.3} ms  (n={n})",
            self.0[n / 2].as_secs_f64() * 1e3,
            mean.as_secs_f64() * 1e3,
            self.0[n - 1].as_secs_f64() * 1e3,
        );
    }
}

async fn time<T, F: std::future::Future<Output = T>>(n: usize, mut f: impl FnMut() -> F) -> Stats {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        std::hint::black_box(f().await);
        out.push(t.elapsed());
    }
    Stats(out)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n = rounds();
    let dir = tempfile::tempdir().unwrap();
    let pool = giaoban::store::open(dir.path()).await.unwrap();
    sqlx::query("INSERT INTO units (id, name, kind, valid_from) VALUES ('u', 'Thành phố', 'city', '2025-07-01')")
        .execute(&pool)
        .await
        .unwrap();
    for i in 0..SITES {
        sqlx::query("INSERT INTO sites (id, unit_id, name, is_host) VALUES (?, 'u', ?, ?)")
            .bind(site(i))
            .bind(format!("Phòng họp điểm cầu {i}"))
            .bind(i == 0)
            .execute(&pool)
            .await
            .unwrap();
    }
    let key = TokenKey::from_secret(b"bench-key-bench-key-bench-key-bench-key");
    let scheduler = Scheduler {
        pool: &pool,
        key: &key,
        public_url: "http://127.0.0.1:8080",
        grace_hours: 12,
        max_session_hours: 12,
    };

    // 500 sessions: 70 slots (7 days × 10 hours), up to 8 per slot on disjoint 18-site groups.
    let started = Instant::now();
    for i in 0..SESSIONS {
        let (slot, group) = (i % 70, i / 70);
        let start = at((slot / 10) as i64, 7 + (slot % 10) as u32);
        let sites: Vec<String> = (group * GROUP..(group + 1) * GROUP).map(site).collect();
        let req = SessionInput {
            title: format!("Phiên họp {i}"),
            host_site_id: sites[0].clone(),
            site_ids: sites,
            starts_at: Some(start),
            ends_at: Some(start + TimeDelta::hours(1)),
            ..Default::default()
        };
        scheduler.create_session(&req, "bench").await.unwrap();
    }
    let created = started.elapsed();
    println!(
        "created {SESSIONS} sessions on {SITES} sites in one week: {:.1} ms ({:.2} ms each)",
        created.as_secs_f64() * 1e3,
        created.as_secs_f64() * 1e3 / SESSIONS as f64
    );

    let (from, to) = (at(0, 0), at(7, 0));
    let listed = scheduler.list(from, to, None).await.unwrap();
    assert_eq!(listed.len(), SESSIONS);
    time(n, || scheduler.list(from, to, None))
        .await
        .report("list the week (500 sessions, query + assembly)");
    time(n, || scheduler.list(from, to, Some("site-005")))
        .await
        .report("list the week for one site");

    let all: Vec<SiteInvite> = (0..SITES)
        .map(|i| SiteInvite {
            site_id: site(i),
            required: true,
        })
        .collect();
    let names: HashMap<String, String> = HashMap::new();
    let none = HashSet::new();
    let clash = vec![(at(0, 8), at(0, 10))];
    let free = vec![(at(0, 19), at(0, 21))];
    let weekly: Vec<_> = (0..52).map(|w| (at(7 * w, 8), at(7 * w, 10))).collect();
    let weekly_free: Vec<_> = (0..52).map(|w| (at(7 * w, 19), at(7 * w, 21))).collect();
    let mut conn = pool.acquire().await.unwrap();
    for (what, spans) in [
        ("conflict check: 150-site session, 2 h, clashing", &clash),
        ("conflict check: 150-site session, free slot", &free),
        (
            "conflict check: 150-site weekly series × 52, clashing",
            &weekly,
        ),
        (
            "conflict check: 150-site weekly series × 52, free",
            &weekly_free,
        ),
    ] {
        let mut found = 0;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let r = check_conflicts(
                &mut conn,
                "Giao ban toàn thành phố",
                &all,
                spans,
                &none,
                &names,
            )
            .await;
            out.push(t.elapsed());
            found = match r {
                Err(SessionError::Conflict(report)) => report.total,
                Ok(()) => 0,
                Err(e) => panic!("{e}"),
            };
        }
        Stats(out).report(&format!("{what} ({found} conflicts)"));
    }
    drop(conn);

    // End to end: validation (site look-ups), audit row, check, rollback.
    let city_wide = |start: DateTime<Utc>, rrule: Option<&str>| SessionInput {
        title: "Giao ban toàn thành phố".into(),
        host_site_id: site(0),
        site_ids: (0..SITES).map(site).collect(),
        starts_at: Some(start),
        ends_at: Some(start + TimeDelta::hours(2)),
        rrule: rrule.map(str::to_string),
        ..Default::default()
    };
    let refused = city_wide(at(0, 8), None);
    time(n, || scheduler.create_session(&refused, "bench"))
        .await
        .report("create a 150-site session, refused with 409 (end to end)");
    let refused = city_wide(at(0, 8), Some("FREQ=WEEKLY;COUNT=52"));
    time(n, || scheduler.create_session(&refused, "bench"))
        .await
        .report("create a 150-site 52-week series, refused with 409");
    let day = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
    let accepted = Instant::now();
    scheduler
        .create_session(&city_wide(at(0, 19), Some("FREQ=WEEKLY;COUNT=52")), "bench")
        .await
        .unwrap();
    println!(
        "create a 150-site 52-week series from {day} 19:00, accepted (52 × 150 rows): {:.1} ms",
        accepted.elapsed().as_secs_f64() * 1e3
    );
}
