//! Attendance through the real signaling server: sites on time, late, leaving early, dropped
//! without a goodbye (recorded within 5 s), back within the grace (one interval with an incident)
//! and after it (two intervals); then the statuses, the CSV and the XLSX (read back with
//! calamine), manual marks and the bad input around them.

use crate::common;

use chrono::{DateTime, Duration as TimeDelta, Utc};
use common::*;
use giaoban::auth::Role;
use giaoban::client::SiteClient;
use giaoban::schedule::NewSession;
use serde_json::{Value, json};
use std::time::Duration;

const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// Grace 2 s, heartbeat 1 s; any arrival after the start is late, any departure before the end
/// is early, and there is no minimum presence.
const CONFIG: &[(&str, &str)] = &[
    ("GIAOBAN_ATTENDANCE_RECONNECT_GRACE_SECS", "2"),
    ("GIAOBAN_ATTENDANCE_HEARTBEAT_SECS", "1"),
    ("GIAOBAN_ATTENDANCE_LATE_AFTER_MINUTES", "0"),
    ("GIAOBAN_ATTENDANCE_LEFT_EARLY_MINUTES", "0"),
    ("GIAOBAN_ATTENDANCE_MIN_PRESENCE_PERCENT", "0"),
];

fn site<'a>(roll: &'a Value, id: &str) -> &'a Value {
    roll["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["site_id"] == id)
        .unwrap_or_else(|| panic!("{id} not in the roll call"))
}

async fn roll(api: &ApiClient, session: &str) -> Value {
    let (status, body) = body(
        api.get(&format!("/api/sessions/{session}/attendance"))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Polls the roll call until `pred` holds for the site, or panics after `timeout`.
async fn until(
    api: &ApiClient,
    session: &str,
    id: &str,
    timeout: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let r = roll(api, session).await;
        if pred(site(&r, id)) {
            return r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id}: timed out; last {}",
            site(&r, id)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn online(s: &Value) -> bool {
    s["live"]["state"] == "online"
}

fn ts(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

async fn join(server: &TestServer, link: &str) -> SiteClient {
    SiteClient::join(&server.ws_url(), &token(link), LOCAL)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_intervals_and_reports_from_real_sites() {
    let server = TestServer::start_with(CONFIG).await;
    let api = server.login(Role::Secretariat).await;
    let start = Utc::now() + TimeDelta::seconds(8);
    let created = server
        .running
        .state
        .scheduler()
        .create(
            &NewSession {
                title: "Giao ban điểm danh".into(),
                host_site_id: HOST.into(),
                site_ids: SITES.iter().map(|s| s.to_string()).collect(),
                starts_at: Some(start),
                ends_at: Some(start + TimeDelta::hours(1)),
            },
            "test",
        )
        .await
        .unwrap();
    let sid = created.session_id.clone();
    let link = |s: &str| created.links[s].clone();
    let [on_time, late, leaves, dropped, back_soon, back_late, never] = SITES;

    // Before the start: everyone but the late and the absent site joins.
    let host = join(&server, &link(HOST)).await;
    let a = join(&server, &link(on_time)).await;
    let c = join(&server, &link(leaves)).await;
    let d = join(&server, &link(dropped)).await;
    let e = join(&server, &link(back_soon)).await;
    let f = join(&server, &link(back_late)).await;
    for s in [HOST, on_time, leaves, dropped, back_soon, back_late] {
        until(&api, &sid, s, Duration::from_secs(15), online).await;
    }
    let r = roll(&api, &sid).await;
    assert_eq!(site(&r, never)["status"], "not_checked");
    assert_eq!(r["counts"]["online"], 6);
    assert_eq!(r["counts"]["expected"], 8);
    // The session API and the invitation board see the live sites too.
    let (_, detail) = body(api.get(&format!("/api/sessions/{sid}")).await).await;
    assert_eq!(detail["live_sites"], 6);
    let (_, board) = body(api.get(&format!("/api/sessions/{sid}/invitations")).await).await;
    assert_eq!(board["online_site_ids"].as_array().unwrap().len(), 6);

    let wait = (start - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(300);
    tokio::time::sleep(wait).await;
    let b = join(&server, &link(late)).await;
    until(&api, &sid, late, Duration::from_secs(15), online).await;

    // Leaves with a goodbye.
    c.leave().await;
    // Dropped without a goodbye: recorded within 5 s.
    let dropped_at = Utc::now();
    d.drop_connection().await;
    let r = until(&api, &sid, dropped, Duration::from_secs(5), |s| {
        !s["last_leave"].is_null()
    })
    .await;
    let recorded = ts(&site(&r, dropped)["last_leave"]);
    assert!(
        recorded - dropped_at < TimeDelta::seconds(5),
        "{recorded} vs {dropped_at}"
    );
    assert_eq!(site(&r, dropped)["live"]["state"], "reconnecting");
    assert_eq!(
        site(&r, dropped)["intervals"][0]["end_reason"],
        "drop",
        "{}",
        site(&r, dropped)
    );

    // Back within the grace: the same interval with a "connection lost" incident.
    e.drop_connection().await;
    until(&api, &sid, back_soon, Duration::from_secs(5), |s| {
        s["live"]["state"] == "reconnecting"
    })
    .await;
    let e2 = join(&server, &link(back_soon)).await;
    let r = until(&api, &sid, back_soon, Duration::from_secs(15), online).await;
    let s = site(&r, back_soon);
    assert_eq!(s["intervals"].as_array().unwrap().len(), 1, "{s}");
    assert_eq!(s["incidents"], 1);
    assert_eq!(s["intervals"][0]["incidents"][0]["kind"], "connection_lost");

    // Back after the grace: a second interval.
    f.drop_connection().await;
    until(&api, &sid, back_late, Duration::from_secs(10), |s| {
        s["live"]["state"] == "left"
    })
    .await;
    let f2 = join(&server, &link(back_late)).await;
    let r = until(&api, &sid, back_late, Duration::from_secs(15), online).await;
    let s = site(&r, back_late);
    assert_eq!(s["intervals"].as_array().unwrap().len(), 2, "{s}");
    assert_eq!(s["incidents"], 0);

    // Beyond the grace for the dropped site, then the statuses.
    let r = until(&api, &sid, dropped, Duration::from_secs(10), |s| {
        s["live"]["state"] == "left"
    })
    .await;
    let status = |id: &str| site(&r, id)["status"].as_str().unwrap().to_string();
    assert_eq!(status(on_time), "present");
    assert_eq!(status(HOST), "present");
    assert_eq!(status(late), "late");
    assert_eq!(status(leaves), "left_early");
    assert_eq!(site(&r, leaves)["intervals"][0]["end_reason"], "leave");
    assert_eq!(status(dropped), "left_early");
    assert_eq!(status(back_soon), "present");
    assert_eq!(status(back_late), "present");
    assert_eq!(status(never), "absent");
    assert_eq!(site(&r, never)["live"]["state"], "never_joined");
    assert_eq!(r["counts"]["online"], 5);
    assert_eq!(r["counts"]["attended"], 7);
    assert!(site(&r, late)["late"].as_bool().unwrap());

    // A manual mark: absent with a reason, by the secretariat, audited.
    let (st, marked) = body(
        api.post(
            &format!("/api/sessions/{sid}/attendance/marks"),
            &json!({"site_id": never, "status": "absent_with_reason", "reason": "Đi công tác"}),
        )
        .await,
    )
    .await;
    assert_eq!(st, 200, "{marked}");
    let s = site(&marked, never);
    assert_eq!(s["status"], "absent_with_reason");
    assert_eq!(s["computed_status"], "absent");
    assert_eq!(s["mark"]["reason"], "Đi công tác");
    assert!(
        s["mark"]["marked_by"]
            .as_str()
            .unwrap()
            .contains(&api.username)
    );

    // CSV: headers in Vietnamese, one row per site, Hanoi times.
    let csv_resp = api
        .get(&format!("/api/sessions/{sid}/attendance.csv"))
        .await;
    assert_eq!(csv_resp.status(), 200);
    assert!(
        csv_resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv_resp.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(headers[1], "Điểm cầu");
    assert_eq!(headers[3], "Trạng thái");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 8);
    let row_of = |name_part: &str| {
        rows.iter()
            .find(|r| r[1].contains(name_part))
            .unwrap_or_else(|| panic!("{name_part} in CSV"))
            .clone()
    };
    assert_eq!(&row_of("Sở Tài chính")[3], "Đến muộn");
    assert_eq!(&row_of("Sở Y tế")[3], "Về sớm");
    assert_eq!(&row_of("Sóc Sơn")[3], "Có mặt");
    assert_eq!(&row_of("Sóc Sơn")[7], "0");
    assert_eq!(&row_of("Hoàn Kiếm")[7], "1");
    assert_eq!(&row_of("Ba Vì")[3], "Vắng mặt có lý do");
    assert_eq!(&row_of("Ba Vì")[10], "Đi công tác");
    let first_join = ts(&site(&r, on_time)["first_join"]);
    let hanoi = first_join
        .with_timezone(&giaoban::tz())
        .format("%d/%m/%Y %H:%M")
        .to_string();
    assert_eq!(&row_of("Sở Nội vụ")[4], hanoi.as_str());

    // XLSX, read back with an independent reader.
    let x = api
        .get(&format!("/api/sessions/{sid}/attendance.xlsx"))
        .await;
    assert_eq!(x.status(), 200);
    let bytes = x.bytes().await.unwrap().to_vec();
    use calamine::{Reader, Xlsx};
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let range = book.worksheet_range("Điểm danh").unwrap();
    let cell = |r: u32, c: u32| {
        range
            .get_value((r, c))
            .map(|v| v.to_string())
            .unwrap_or_default()
    };
    assert_eq!(cell(0, 0), "BIÊN BẢN ĐIỂM DANH");
    assert!(cell(1, 0).contains("Giao ban điểm danh"));
    assert_eq!(cell(6, 1), "Điểm cầu");
    let statuses: Vec<(String, String)> = (7..15).map(|y| (cell(y, 1), cell(y, 3))).collect();
    assert!(
        statuses
            .iter()
            .any(|(n, s)| n.contains("Sở Tài chính") && s == "Đến muộn"),
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .any(|(n, s)| n.contains("Ba Vì") && s == "Vắng mặt có lý do")
    );
    assert_eq!(cell(15, 1), "", "exactly eight rows");

    // Today's sessions with live counts (the home page), and the per-site report over a range.
    let (st, today) = body(api.get("/api/attendance/today").await).await;
    assert_eq!(st, 200, "{today}");
    let item = today
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["session_id"] == sid.as_str())
        .expect("today's session listed");
    assert_eq!(
        (item["online"].as_u64(), item["expected"].as_u64()),
        (Some(5), Some(8))
    );
    let day = Utc::now()
        .with_timezone(&giaoban::tz())
        .format("%Y-%m-%d")
        .to_string();
    let (st, records) = body(
        api.get(&format!("/api/attendance/sites?from={day}&to={day}"))
            .await,
    )
    .await;
    assert_eq!(st, 200, "{records}");
    let record = |id: &str| {
        records
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["site_id"] == id)
            .unwrap_or_else(|| panic!("{id} in {records}"))
            .clone()
    };
    assert_eq!(record(late)["invited"], 1);
    assert_eq!(record(late)["attended"], 1);
    assert_eq!(record(late)["late"], 1);
    assert_eq!(record(never)["attended"], 0);
    assert_eq!(record(never)["absent_with_reason"], 1);
    assert_eq!(record(leaves)["left_early"], 1);
    // One unit only.
    let (_, unit) = body(
        api.get(&format!(
            "/api/attendance/sites?from={day}&to={day}&unit_id=xa-ba-vi"
        ))
        .await,
    )
    .await;
    assert_eq!(unit.as_array().unwrap().len(), 1, "{unit}");
    assert_eq!(unit[0]["site_id"], never);

    for s in [host, a, b, e2, f2] {
        s.leave().await;
    }
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marks_and_reports_refuse_bad_input() {
    let server = TestServer::start_with(CONFIG).await;
    let api = server.login(Role::Secretariat).await;
    let session = server.create_session(HOST, &SITES[..2]).await;
    let sid = &session.session_id;
    let marks = format!("/api/sessions/{sid}/attendance/marks");
    let post = |body: Value| {
        let api = &api;
        let marks = marks.clone();
        async move { body_of(api.post(&marks, &body).await).await }
    };
    async fn body_of(r: reqwest::Response) -> (u16, Value) {
        body(r).await
    }
    // Not invited, bad status, missing or huge reason, unknown fields, not JSON.
    let (st, b) = post(json!({"site_id": "xa-ba-vi-phonghop", "status": "present"})).await;
    assert_eq!(st, 404, "{b}");
    let (st, _) = post(json!({"site_id": "khong-co", "status": "present"})).await;
    assert_eq!(st, 404);
    let (st, b) = post(json!({"site_id": SITES[0], "status": "có mặt"})).await;
    assert_eq!(st, 422, "{b}");
    let (st, _) = post(json!({"site_id": SITES[0], "status": "not_checked"})).await;
    assert_eq!(st, 422);
    let (st, b) = post(json!({"site_id": SITES[0], "status": "excused"})).await;
    assert_eq!(st, 422, "{b}");
    let (st, _) =
        post(json!({"site_id": SITES[0], "status": "excused", "reason": "x".repeat(501)})).await;
    assert_eq!(st, 422);
    let (st, _) = post(json!({"site_id": SITES[0], "status": "present", "by": "admin"})).await;
    assert_eq!(st, 400);
    // Nothing was stored.
    let r = roll(&api, sid).await;
    assert!(
        r["sites"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["mark"].is_null())
    );
    // Roles without the right: the chair reads but does not mark; a site operator does neither.
    let chair = server.login(Role::Chair).await;
    assert_eq!(roll(&chair, sid).await["session_id"], *sid);
    let (st, _) = body(
        chair
            .post(&marks, &json!({"site_id": SITES[0], "status": "present"}))
            .await,
    )
    .await;
    assert_eq!(st, 403);
    let op = server.login(Role::SiteOperator).await;
    assert_eq!(
        op.get(&format!("/api/sessions/{sid}/attendance"))
            .await
            .status(),
        403
    );
    // A secretariat scoped to another unit cannot mark this site.
    let scoped = giaoban::auth::users::NewUser {
        username: "thu-ky-ba-vi".into(),
        display_name: "Thư ký – xã Ba Vì".into(),
        password: PASSWORD.into(),
        grants: vec![giaoban::auth::Grant {
            role: Role::Secretariat,
            unit_id: Some("xa-ba-vi".into()),
            site_id: None,
        }],
    };
    giaoban::auth::users::create(&server.running.state.pool, &scoped, "test")
        .await
        .unwrap();
    let scoped = server.login_as("thu-ky-ba-vi", PASSWORD).await.unwrap();
    let (st, b) = body(
        scoped
            .post(&marks, &json!({"site_id": SITES[0], "status": "present"}))
            .await,
    )
    .await;
    assert_eq!(st, 403, "{b}");
    // Unknown sessions.
    for path in [
        "/api/sessions/khong-co/attendance",
        "/api/sessions/khong-co/attendance.csv",
        "/api/sessions/khong-co/attendance.xlsx",
        "/api/sessions/khong-co/attendance/stream",
    ] {
        assert_eq!(api.get(path).await.status(), 404, "{path}");
    }
    let (st, _) = body(
        api.post(
            "/api/sessions/khong-co/attendance/marks",
            &json!({"site_id": SITES[0], "status": "present"}),
        )
        .await,
    )
    .await;
    assert_eq!(st, 404);
    // Absurd date ranges.
    for q in [
        "from=2026-11-30&to=2026-11-01",
        "from=2020-01-01&to=2026-12-31",
        "from=30/11/2026&to=2026-12-01",
        "from=2026-11-30",
    ] {
        let st = api
            .get(&format!("/api/attendance/sites?{q}"))
            .await
            .status();
        assert!(st == 422 || st == 400, "{q}: {st}");
    }
    // A cancelled session cannot be marked.
    let (st, _) = body(
        api.post(&format!("/api/sessions/{sid}/cancel"), &json!({}))
            .await,
    )
    .await;
    assert_eq!(st, 200);
    let (st, b) = post(json!({"site_id": SITES[0], "status": "present"})).await;
    assert_eq!(st, 409, "{b}");
    // A good mark on another session lands in the audit log.
    let other = server.create_session(HOST, &SITES[2..3]).await;
    let (st, _) = body(
        api.post(
            &format!("/api/sessions/{}/attendance/marks", other.session_id),
            &json!({"site_id": SITES[2], "status": "excused", "reason": "Được miễn theo giấy mời"}),
        )
        .await,
    )
    .await;
    assert_eq!(st, 200);
    let admin = server.login(Role::Admin).await;
    let (_, stats) = body(admin.get("/api/stats").await).await;
    let backlog = &stats["live_event_backlog"];
    for consumer in ["attendance", "audit", "invitations"] {
        assert!(backlog[consumer].is_u64(), "{stats}");
    }
    let (_, audit) = body(admin.get("/api/audit?action=attendance.mark").await).await;
    assert!(
        audit.to_string().contains("Được miễn theo giấy mời"),
        "{audit}"
    );
    server.running.stop().await;
}

/// An event that can never be written (its session is gone) is logged and skipped: the events
/// after it are still recorded, in order; none waits behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_cannot_be_written_does_not_hold_up_the_others() {
    use giaoban::live::Event;
    let server = TestServer::start_with(CONFIG).await;
    let session = server.create_session(HOST, &SITES[..1]).await;
    let bus = server.running.state.sfu.events().clone();
    let (gone, kept) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    bus.emit(Event::Joined {
        session_id: "phien-da-xoa".into(),
        site_id: HOST.into(),
        participant_id: gone,
    });
    for e in [
        Event::Joined {
            session_id: session.session_id.clone(),
            site_id: SITES[0].into(),
            participant_id: kept,
        },
        Event::MediaConnected {
            session_id: session.session_id.clone(),
            site_id: SITES[0].into(),
            participant_id: kept,
        },
    ] {
        bus.emit(e);
    }
    assert!(bus.drained(Duration::from_secs(5)).await);
    let pool = &server.running.state.pool;
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT participant_id, started_at FROM attendance_stints")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, kept.to_string());
    assert!(rows[0].1.is_some());
    server.running.stop().await;
}
