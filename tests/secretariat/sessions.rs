//! The sessions API over real HTTP, logged in by role: one-off and recurring sessions, the week
//! list, edits and cancellations by scope (this / following / series), scheduling conflicts
//! (409 with the Vietnamese message, across series and time zones), bad input with nothing
//! half-written, who may do what, and a series' calendar file parsed back with `ical`. The
//! subscribable feeds are tested in `session_feeds.rs`.

use crate::common;

use common::*;
use giaoban::auth::Role;
use serde_json::{Value, json};

#[tokio::test]
async fn one_off_session_is_created_listed_and_detailed() {
    let server = TestServer::start().await;
    let sec = server.login(Role::Secretariat).await;
    let mut req = session(
        "Giao ban công tác tuần",
        "2026-12-07T08:00:00+07:00",
        "2026-12-07T10:00:00+07:00",
        &[SITES[0]],
    );
    req["sites"] = json!([{ "site_id": SITES[3], "required": false }]);
    req["agenda"] = json!([{ "title": "Báo cáo tình hình", "presenter": "Sở Nội vụ" }]);
    req["chair"] = json!("Nguyễn Văn A – Chủ tịch UBND Thành phố");
    req["classified"] = json!(true);
    let (status, created) = body(sec.post("/api/sessions", &req).await).await;
    assert_eq!(status, 201, "{created}");
    let id = created["session_id"].as_str().unwrap();
    assert_eq!(created["links"].as_object().unwrap().len(), 3);
    assert!(created["series_id"].is_null());

    let (status, d) = body(sec.get(&format!("/api/sessions/{id}")).await).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["site_ids"][0], HOST);
    assert_eq!(d["starts_at"], "2026-12-07T01:00:00Z");
    assert_eq!(d["agenda"][0]["presenter"], "Sở Nội vụ");
    assert_eq!(d["classified"], true);
    assert_eq!(d["status"], "scheduled");
    assert_eq!(d["sequence"], 0);
    let optional: Vec<&Value> = d["sites"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["required"] == false)
        .collect();
    assert_eq!(optional.len(), 1);
    assert_eq!(optional[0]["site_id"], SITES[3]);
    assert!(
        d["site_feeds"][0]["url"]
            .as_str()
            .unwrap()
            .contains("token=")
    );

    let (status, list) = body(
        sec.get(&format!("/api/sessions?week={}", week_of("2026-12-07")))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["host_name"], "Hội trường UBND Thành phố");
    assert_eq!(
        (
            list[0]["site_count"].as_i64(),
            list[0]["required_count"].as_i64()
        ),
        (Some(3), Some(2))
    );
    let (_, next) = body(
        sec.get(&format!("/api/sessions?week={}", week_of("2026-12-14")))
            .await,
    )
    .await;
    assert_eq!(next.as_array().unwrap().len(), 0);
    let (status, _) = body(sec.get("/api/sessions?from=2026-12-07&to=2026-12-08").await).await;
    assert_eq!(status, 200);

    let entries = giaoban::audit::list(&server.running.state.pool, &Default::default())
        .await
        .unwrap();
    let created = entries
        .iter()
        .find(|e| e.action == "session.create")
        .unwrap();
    assert_eq!(created.target, id);
    assert!(created.actor.starts_with("user:secretariat"));
}

#[tokio::test]
async fn conflicts_are_refused_with_409_across_time_zones_and_series() {
    let server = TestServer::start().await;
    let sec = server.login(Role::Secretariat).await;
    // 08:00–10:00 Hanoi on Monday 07/12/2026, with Sở Nội vụ.
    let req = session(
        "Giao ban tuần",
        "2026-12-07T08:00:00+07:00",
        "2026-12-07T10:00:00+07:00",
        &[SITES[0]],
    );
    let (status, first) = body(sec.post("/api/sessions", &req).await).await;
    assert_eq!(status, 201);
    let first_id = first["session_id"].as_str().unwrap().to_string();
    let sessions_before = server.count("SELECT COUNT(*) FROM sessions").await;

    // 02:30–03:30 UTC is 09:30–10:30 in Hanoi: overlaps at Sở Nội vụ (and the host).
    let clash = session(
        "Họp chuyên đề",
        "2026-12-07T02:30:00Z",
        "2026-12-07T03:30:00Z",
        &[SITES[0], SITES[1]],
    );
    let (status, err) = body(sec.post("/api/sessions", &clash).await).await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["code"], "conflict");
    let message = err["message"].as_str().unwrap();
    assert!(message.contains("Trùng lịch: điểm cầu Phòng họp Sở Nội vụ đã tham gia phiên họp \"Giao ban tuần\" lúc 08:00 07/12/2026"), "{message}");
    let conflicts = err["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 2, "host and Sở Nội vụ: {err}");
    assert!(
        conflicts
            .iter()
            .all(|c| c["session_id"] == first_id.as_str())
    );
    assert!(
        conflicts
            .iter()
            .any(|c| c["site_id"] == SITES[0] && c["site_name"] == "Phòng họp Sở Nội vụ")
    );
    assert_eq!(conflicts[0]["starts_at"], "2026-12-07T01:00:00Z");
    assert_eq!(
        server.count("SELECT COUNT(*) FROM sessions").await,
        sessions_before,
        "nothing written"
    );

    // 03:00 UTC = 10:00 Hanoi: touching is not overlapping.
    let after = session(
        "Họp chiều",
        "2026-12-07T03:00:00Z",
        "2026-12-07T04:00:00Z",
        &[SITES[0]],
    );
    assert_eq!(
        sec.post("/api/sessions", &after).await.status().as_u16(),
        201
    );

    // A weekly series on Mondays 14:00–15:00 for 4 weeks at Sở Tài chính, another host time.
    let mut weekly = session(
        "Giao ban Sở Tài chính",
        "2026-12-07T14:00:00+07:00",
        "2026-12-07T15:00:00+07:00",
        &[SITES[1]],
    );
    weekly["rrule"] = json!("FREQ=WEEKLY;BYDAY=MO;COUNT=4");
    let (status, series) = body(sec.post("/api/sessions", &weekly).await).await;
    assert_eq!(status, 201, "{series}");
    let occ: Vec<String> = series["occurrence_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(occ.len(), 4);
    // A one-off on the third Monday, in UTC, clashes with that occurrence.
    let third = session(
        "Họp đột xuất",
        "2026-12-21T07:30:00Z",
        "2026-12-21T08:30:00Z",
        &[SITES[1]],
    );
    let (status, err) = body(sec.post("/api/sessions", &third).await).await;
    assert_eq!(status, 409);
    assert!(
        err["conflicts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["session_id"] == occ[2].as_str())
    );
    // A second series over the same Mondays clashes with every occurrence at both shared sites.
    let mut other = session(
        "Chuỗi trùng",
        "2026-12-07T14:30:00+07:00",
        "2026-12-07T15:30:00+07:00",
        &[SITES[1]],
    );
    other["rrule"] = json!("FREQ=WEEKLY;UNTIL=20261231");
    let (status, err) = body(sec.post("/api/sessions", &other).await).await;
    assert_eq!(status, 409);
    assert_eq!(
        err["total"], 8,
        "4 occurrences × (host + Sở Tài chính): {err}"
    );
    // Cancelling the third occurrence frees its slot.
    let r = sec
        .post(
            &format!("/api/sessions/{}/cancel", occ[2]),
            &json!({ "scope": "this" }),
        )
        .await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        sec.post("/api/sessions", &third).await.status().as_u16(),
        201
    );
    // Editing into a conflict is refused too, for one occurrence and for the whole series.
    let into = json!({ "scope": "this", "starts_at": "2026-12-07T02:00:00Z", "ends_at": "2026-12-07T02:30:00Z" });
    let (status, err) = body(sec.patch(&format!("/api/sessions/{}", occ[0]), &into).await).await;
    assert_eq!(status, 409, "{err}");
    let (status, _) = body(
        sec.patch(
            &format!("/api/sessions/{}", occ[1]),
            &json!({ "scope": "series", "starts_at": "2026-12-14T01:30:00Z" }),
        )
        .await,
    )
    .await;
    // The series moved to 08:30 Hanoi would meet the 08:00–10:00 session of 07/12 at the host.
    assert_eq!(status, 409);
    let (_, d) = body(sec.get(&format!("/api/sessions/{}", occ[0])).await).await;
    assert_eq!(
        d["starts_at"], "2026-12-07T07:00:00Z",
        "unchanged after the refusals"
    );
}

#[tokio::test]
async fn series_edits_and_cancellations_by_scope() {
    let server = TestServer::start().await;
    let sec = server.login(Role::Secretariat).await;
    let mut weekly = session(
        "Giao ban tuần",
        "2026-12-07T08:00:00+07:00",
        "2026-12-07T09:00:00+07:00",
        &[SITES[0], SITES[2]],
    );
    weekly["rrule"] = json!("FREQ=WEEKLY;BYDAY=MO;COUNT=6");
    let (status, created) = body(sec.post("/api/sessions", &weekly).await).await;
    assert_eq!(status, 201, "{created}");
    let series_id = created["series_id"].as_str().unwrap().to_string();
    let occ: Vec<String> = created["occurrence_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();

    // This occurrence only: an override.
    let (status, d) = body(
        sec.patch(
            &format!("/api/sessions/{}", occ[1]),
            &json!({ "scope": "this", "title": "Giao ban tuần (dời phòng)" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(
        (d["overridden"].as_bool(), d["sequence"].as_i64()),
        (Some(true), Some(1))
    );
    // Cancel one occurrence: an EXDATE.
    let (status, d) = body(
        sec.post(
            &format!("/api/sessions/{}/cancel", occ[2]),
            &json!({ "scope": "this" }),
        )
        .await,
    )
    .await;
    assert_eq!((status, d["status"].as_str()), (200, Some("cancelled")));

    let text = sec
        .get(&format!("/api/sessions/{}/calendar.ics", occ[0]))
        .await
        .text()
        .await
        .unwrap();
    let cal = parse_ics(&text);
    let master = cal
        .events
        .iter()
        .find(|e| prop(e, "RRULE").len() == 1)
        .expect("master");
    assert_eq!(prop(master, "UID"), [format!("{series_id}@giaoban")]);
    assert_eq!(prop(master, "RRULE"), ["FREQ=WEEKLY;BYDAY=MO;COUNT=6"]);
    assert_eq!(prop(master, "DTSTART"), ["20261207T080000"]);
    assert_eq!(prop(master, "EXDATE"), ["20261221T080000"]);
    let over = cal
        .events
        .iter()
        .find(|e| !prop(e, "RECURRENCE-ID").is_empty())
        .expect("override");
    assert_eq!(prop(over, "RECURRENCE-ID"), ["20261214T080000"]);
    assert_eq!(prop(over, "SUMMARY"), ["Giao ban tuần (dời phòng)"]);
    assert_eq!(prop(over, "SEQUENCE"), ["1"]);

    // This and following, from the 4th: one hour later; the series is split.
    let patch = json!({ "scope": "following", "starts_at": "2026-12-28T02:00:00Z" });
    let (status, d) = body(
        sec.patch(&format!("/api/sessions/{}", occ[3]), &patch)
            .await,
    )
    .await;
    assert_eq!(status, 200, "{d}");
    let new_series = d["series"]["id"].as_str().unwrap();
    assert_ne!(new_series, series_id);
    assert_eq!(d["series"]["rrule"], "FREQ=WEEKLY;BYDAY=MO;COUNT=3");
    assert_eq!(d["series"]["occurrences"].as_array().unwrap().len(), 3);
    assert_eq!(
        d["id"],
        occ[3].as_str(),
        "occurrences keep their ids (and join links)"
    );
    assert_eq!(
        (d["starts_at"].as_str(), d["ends_at"].as_str()),
        (Some("2026-12-28T02:00:00Z"), Some("2026-12-28T03:00:00Z"))
    );
    let (_, last) = body(sec.get(&format!("/api/sessions/{}", occ[5])).await).await;
    assert_eq!(last["starts_at"], "2027-01-11T02:00:00Z");
    let (_, first) = body(sec.get(&format!("/api/sessions/{}", occ[0])).await).await;
    assert_eq!(first["starts_at"], "2026-12-07T01:00:00Z");
    assert_eq!(first["series"]["rrule"], "FREQ=WEEKLY;BYDAY=MO;COUNT=3");

    // The whole (first) series: a new title everywhere, the override keeps its own start.
    let (status, d) = body(sec.patch(&format!("/api/sessions/{}", occ[0]), &json!({ "scope": "series", "title": "Giao ban thường kỳ", "sites": [{ "site_id": SITES[4] }] })).await).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["title"], "Giao ban thường kỳ");
    assert_eq!(d["site_ids"], json!([HOST, SITES[4]]));
    let (_, second) = body(sec.get(&format!("/api/sessions/{}", occ[1])).await).await;
    assert_eq!(second["title"], "Giao ban thường kỳ");
    assert_eq!(second["sequence"], 2);
    let (_, moved) = body(sec.get(&format!("/api/sessions/{}", occ[4])).await).await;
    assert_eq!(
        moved["title"], "Giao ban tuần",
        "the split-off series is not touched"
    );

    // Cancel the split-off series from its second occurrence on.
    let (status, _) = body(
        sec.post(
            &format!("/api/sessions/{}/cancel", occ[4]),
            &json!({ "scope": "following" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    let (_, d) = body(sec.get(&format!("/api/sessions/{}", occ[3])).await).await;
    assert_eq!(d["status"], "scheduled");
    let (_, d) = body(sec.get(&format!("/api/sessions/{}", occ[5])).await).await;
    assert_eq!(
        (d["status"].as_str(), d["series"]["status"].as_str()),
        (Some("cancelled"), Some("cancelled"))
    );
    // And a whole series.
    let (status, _) = body(
        sec.post(
            &format!("/api/sessions/{}/cancel", occ[0]),
            &json!({ "scope": "series" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        server
            .count("SELECT COUNT(*) FROM sessions WHERE status = 'scheduled'")
            .await,
        1
    );
    let actions: Vec<String> =
        giaoban::audit::list(&server.running.state.pool, &Default::default())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
    assert_eq!(actions.iter().filter(|a| *a == "session.update").count(), 3);
    assert_eq!(actions.iter().filter(|a| *a == "session.cancel").count(), 3);
    giaoban::audit::verify_all(&server.running.state.pool)
        .await
        .unwrap();
}
