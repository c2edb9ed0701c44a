//! The subscribable calendar feeds over real HTTP: a site's feed by token URL (for calendar apps
//! that cannot log in) or logged in, a user's feed (sites and sessions they chair), the links
//! endpoint, refusals; every document parsed back with the independent `ical` crate.

use crate::common;

use common::*;
use giaoban::auth::Role;
use serde_json::json;

#[tokio::test]
async fn site_and_user_feeds_with_tokens() {
    let server = TestServer::start().await;
    let sec = server.login(Role::Secretariat).await;
    let mut weekly = session(
        "Giao ban tuần",
        "2026-12-07T08:00:00+07:00",
        "2026-12-07T09:00:00+07:00",
        &[SITES[0]],
    );
    weekly["rrule"] = json!("FREQ=WEEKLY;BYDAY=MO;UNTIL=20261231");
    weekly["chair"] = json!("Người dùng kiểm thử – chair");
    let (_, series) = body(sec.post("/api/sessions", &weekly).await).await;
    let occ = series["occurrence_ids"].as_array().unwrap().clone();
    assert_eq!(occ.len(), 4);
    let one = session(
        "Họp chuyên đề",
        "2026-12-08T08:00:00+07:00",
        "2026-12-08T09:00:00+07:00",
        &[SITES[0]],
    );
    let (_, one) = body(sec.post("/api/sessions", &one).await).await;
    let one_id = one["session_id"].as_str().unwrap();
    sec.post(&format!("/api/sessions/{one_id}/cancel"), &json!({}))
        .await;
    sec.post(
        &format!("/api/sessions/{}/cancel", occ[1].as_str().unwrap()),
        &json!({ "scope": "this" }),
    )
    .await;

    let (_, d) = body(sec.get(&format!("/api/sessions/{one_id}")).await).await;
    let feed = d["site_feeds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["site_id"] == SITES[0])
        .unwrap();
    let url = feed["url"].as_str().unwrap();
    // A calendar app: no cookie, only the token URL.
    let r = reqwest::get(url).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let cal = parse_ics(&r.text().await.unwrap());
    assert_eq!(
        cal.events.len(),
        2,
        "the series master and the cancelled one-off"
    );
    let master = cal
        .events
        .iter()
        .find(|e| !prop(e, "RRULE").is_empty())
        .unwrap();
    assert_eq!(
        prop(master, "RRULE"),
        ["FREQ=WEEKLY;BYDAY=MO;UNTIL=20261231T165959Z"]
    );
    assert_eq!(prop(master, "EXDATE"), ["20261214T080000"]);
    // The event links to the site's own join link (its room page), which resolves without a
    // login, not to the secretariat's session page.
    let link = prop(master, "URL").pop().expect("a URL");
    assert!(link.contains("/room/"), "{link}");
    let join_token = link.rsplit('/').next().unwrap();
    let (status, info) = body(
        reqwest::get(format!("{}/api/join/{join_token}", server.http_url()))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["site"]["id"], SITES[0]);
    assert_eq!(
        prop(master, "SEQUENCE"),
        ["1"],
        "an EXDATE is a change of the master"
    );
    let cancelled = cal
        .events
        .iter()
        .find(|e| prop(e, "RRULE").is_empty())
        .unwrap();
    assert_eq!(prop(cancelled, "STATUS"), ["CANCELLED"]);
    assert_eq!(prop(cancelled, "SEQUENCE"), ["1"]);
    // A site that is not invited has an empty feed; a wrong token is refused.
    let other = url.replace(SITES[0], SITES[6]);
    assert_eq!(reqwest::get(&other).await.unwrap().status().as_u16(), 401);
    let bare = url.split('?').next().unwrap();
    assert_eq!(reqwest::get(bare).await.unwrap().status().as_u16(), 401);
    // A site operator (of the host site) reads their own feed logged in, not another site's.
    let op = server.login(Role::SiteOperator).await;
    let own = op.get(&format!("/api/calendar/site/{HOST}.ics")).await;
    assert_eq!(own.status().as_u16(), 200);
    assert_eq!(parse_ics(&own.text().await.unwrap()).events.len(), 2);
    assert_eq!(
        op.get(&format!("/api/calendar/site/{}.ics", SITES[0]))
            .await
            .status()
            .as_u16(),
        403
    );
    assert_eq!(
        op.get("/api/calendar/site/khong-co.ics")
            .await
            .status()
            .as_u16(),
        403
    );
    assert_eq!(
        sec.get("/api/calendar/site/khong-co.ics")
            .await
            .status()
            .as_u16(),
        404
    );

    // A chair's feed: the series they chair, by name.
    let chair = server.login(Role::Chair).await;
    let (_, me) = body(chair.get("/api/me").await).await;
    let uid = me["identity"]["id"].as_str().unwrap().to_string();
    let r = chair.get(&format!("/api/calendar/user/{uid}.ics")).await;
    assert_eq!(r.status().as_u16(), 200);
    let cal = parse_ics(&r.text().await.unwrap());
    assert_eq!(cal.events.len(), 1);
    assert_eq!(
        prop(&cal.events[0], "DESCRIPTION"),
        ["Chủ trì: Người dùng kiểm thử – chair"]
    );
    let (_, links) = body(chair.get("/api/calendar/links").await).await;
    let url = links["user_feed"].as_str().unwrap();
    assert!(url.contains(&format!("/api/calendar/user/{uid}.ics?token=")));
    assert_eq!(reqwest::get(url).await.unwrap().status().as_u16(), 200);
    let (_, links) = body(op.get("/api/calendar/links").await).await;
    assert_eq!(links["site_feeds"][0]["site_id"], HOST);
    let site_url = links["site_feeds"][0]["url"].as_str().unwrap();
    assert_eq!(reqwest::get(site_url).await.unwrap().status().as_u16(), 200);
    assert_eq!(
        op.get(&format!("/api/calendar/user/{uid}.ics"))
            .await
            .status()
            .as_u16(),
        403
    );
}
