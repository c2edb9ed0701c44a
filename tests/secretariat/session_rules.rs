//! The sessions API refusing what it must: bad input of every kind with nothing half-written,
//! and who may read or write sessions by role and scope. The happy paths, conflicts and series
//! edits are in `sessions.rs`.

use crate::common;

use common::*;
use giaoban::auth::Role;
use serde_json::{Value, json};

#[tokio::test]
async fn bad_input_is_refused_and_nothing_is_written() {
    let server = TestServer::start().await;
    let sec = server.login(Role::Secretariat).await;
    let ok = || {
        session(
            "Giao ban",
            "2026-12-07T08:00:00+07:00",
            "2026-12-07T10:00:00+07:00",
            &[SITES[0]],
        )
    };
    let with = |k: &str, v: Value| {
        let mut b = ok();
        b[k] = v;
        b
    };
    let cases = [
        (
            with("ends_at", json!("2026-12-07T07:00:00+07:00")),
            422,
            Some("ends_at"),
        ),
        (
            with("ends_at", json!("2026-12-08T08:00:00+07:00")),
            422,
            Some("ends_at"),
        ),
        (with("title", json!("x".repeat(301))), 422, Some("title")),
        (with("chair", json!("x".repeat(201))), 422, Some("chair")),
        (
            with("agenda", json!([{ "title": "" }])),
            422,
            Some("agenda"),
        ),
        (
            with("rrule", json!("FREQ=WEEKLY;BYDAY=MO")),
            422,
            Some("rrule"),
        ),
        (
            with("rrule", json!("FREQ=WEEKLY;COUNT=600")),
            422,
            Some("rrule"),
        ),
        (
            with("rrule", json!("FREQ=DAILY;UNTIL=20350101")),
            422,
            Some("rrule"),
        ),
        (
            with("rrule", json!("FREQ=WEEKLY;BYDAY=TU;COUNT=3")),
            422,
            Some("rrule"),
        ),
        (with("record_auto", json!(true)), 200, None),
        (with("site_ids", json!(["khong-co"])), 422, None),
        (
            with("site_ids", json!(["quan-ba-dinh-phonghop"])),
            422,
            None,
        ),
        (with("colour", json!("red")), 400, None),
    ];
    for (mut req, status, field) in cases {
        if status == 200 {
            // classified and recorded automatically: contradictory.
            req["classified"] = json!(true);
        }
        let (s, v) = body(sec.post("/api/sessions", &req).await).await;
        let want = if status == 200 { 422 } else { status };
        assert_eq!(s, want, "{req} -> {v}");
        if let Some(f) = field {
            assert_eq!(v["field"], f, "{v}");
        }
        assert!(!v["message"].as_str().unwrap().is_empty());
    }
    let (s, v) = body(
        sec.post(
            "/api/sessions",
            &with("site_ids", json!(["quan-ba-dinh-phonghop"])),
        )
        .await,
    )
    .await;
    assert_eq!((s, v["code"].as_str()), (422, Some("site_not_valid")));
    assert_eq!(server.count("SELECT COUNT(*) FROM sessions").await, 0);
    assert_eq!(server.count("SELECT COUNT(*) FROM series").await, 0);
    assert_eq!(
        server
            .count("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'session.%'")
            .await,
        0
    );

    for (method, path) in [
        ("get", "/api/sessions/khong-co"),
        ("patch", "/api/sessions/khong-co"),
        ("post", "/api/sessions/khong-co/cancel"),
    ] {
        let r = match method {
            "get" => sec.get(path).await,
            "patch" => sec.patch(path, &json!({ "title": "x" })).await,
            _ => sec.post(path, &json!({})).await,
        };
        assert_eq!(r.status().as_u16(), 404, "{method} {path}");
    }
    assert_eq!(
        sec.get("/api/sessions?week=2026-W99")
            .await
            .status()
            .as_u16(),
        422
    );
    assert_eq!(
        sec.get("/api/sessions?from=2026-01-01&to=2026-12-31")
            .await
            .status()
            .as_u16(),
        422
    );
    assert_eq!(sec.get("/api/sessions").await.status().as_u16(), 422);
    // A rule only with scope following or series.
    let (_, created) = body(sec.post("/api/sessions", &ok()).await).await;
    let id = created["session_id"].as_str().unwrap();
    let r = sec
        .patch(
            &format!("/api/sessions/{id}"),
            &json!({ "rrule": "FREQ=DAILY;COUNT=2" }),
        )
        .await;
    assert_eq!(r.status().as_u16(), 422);
    let r = sec
        .patch(
            &format!("/api/sessions/{id}"),
            &json!({ "ends_at": "2026-12-07T00:00:00Z" }),
        )
        .await;
    assert_eq!(body(r).await.1["field"], "ends_at");
}

#[tokio::test]
async fn roles_decide_who_reads_and_who_writes() {
    let server = TestServer::start().await;
    let sec = server.login(Role::Secretariat).await;
    let req = session(
        "Giao ban",
        "2026-12-07T08:00:00+07:00",
        "2026-12-07T10:00:00+07:00",
        &[SITES[0]],
    );
    let (_, created) = body(sec.post("/api/sessions", &req).await).await;
    let id = created["session_id"].as_str().unwrap().to_string();
    let week = format!("/api/sessions?week={}", week_of("2026-12-07"));
    for (k, role) in Role::ALL.into_iter().enumerate() {
        let c = server.login(role).await;
        let read = ![Role::SiteOperator, Role::Reviewer].contains(&role);
        let write = [Role::Secretariat, Role::Admin].contains(&role);
        let expect = |ok: bool, good: u16| if ok { good } else { 403 };
        assert_eq!(
            c.get(&week).await.status().as_u16(),
            expect(read, 200),
            "{role:?} list"
        );
        assert_eq!(
            c.get(&format!("/api/sessions/{id}"))
                .await
                .status()
                .as_u16(),
            expect(read, 200),
            "{role:?} detail"
        );
        let (start, end) = (
            format!("2026-12-08T0{k}:00:00Z"),
            format!("2026-12-08T0{k}:30:00Z"),
        );
        let other = session("Khác", &start, &end, &[]);
        assert_eq!(
            c.post("/api/sessions", &other).await.status().as_u16(),
            expect(write, 201),
            "{role:?} create"
        );
        let r = c
            .patch(
                &format!("/api/sessions/{id}"),
                &json!({ "chair": "Trần Thị B – Phó Chủ tịch" }),
            )
            .await;
        assert_eq!(r.status().as_u16(), expect(write, 200), "{role:?} edit");
    }
    // A site operator lists the sessions of their own site only.
    let op = server.login(Role::SiteOperator).await;
    let own = op.get(&format!("{week}&site_id={HOST}")).await;
    assert_eq!(own.status().as_u16(), 200);
    assert_eq!(
        body(own).await.1.as_array().unwrap().len(),
        3,
        "the first and two created above"
    );
    let other = op.get(&format!("{week}&site_id={}", SITES[0])).await;
    assert_eq!(other.status().as_u16(), 403);
    let anonymous = reqwest::Client::new();
    let r = anonymous
        .get(format!("{}{week}", server.http_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // Without the CSRF header a write is refused.
    let r = sec
        .client
        .post(sec.url("/api/sessions"))
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
}
