//! Chairing a briefing through the real server: who controls a session (the host site; a chair,
//! operator or admin in scope), the live view of the console, the queue of hands and the floor,
//! server-enforced mutes (not forwarded), the same actions through the API, audited.

use crate::common;

use common::chair::*;
use common::*;
use giaoban::auth::{Grant, Role};
use giaoban::client::SiteClient;
use giaoban::signal::protocol::{ClientMsg, ErrorCode, MediaKind, MutedBy, ServerMsg};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::Instant;

const SECS5: Duration = Duration::from_secs(5);

/// A user holding `role` scoped to `site_id`, logged in.
async fn login_scoped(server: &TestServer, role: Role, site_id: &str) -> ApiClient {
    let username = format!("scoped-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
    let new = giaoban::auth::users::NewUser {
        username: username.clone(),
        display_name: "Người dùng phạm vi – Thử".into(),
        password: PASSWORD.into(),
        grants: vec![Grant {
            role,
            unit_id: None,
            site_id: Some(site_id.into()),
        }],
    };
    giaoban::auth::users::create(&server.running.state.pool, &new, "test")
        .await
        .unwrap();
    server.login_as(&username, PASSWORD).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_site_and_chairs_in_scope_control_a_session_others_do_not() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..1]).await;
    let host = SiteClient::join_with(&server.ws_url(), &token(&session.links[HOST]), LOCAL, false)
        .await
        .unwrap();
    let ServerMsg::Joined { session: s, .. } = &host.joined else {
        panic!("joined")
    };
    assert_eq!(s.host_site_id, HOST, "joined names the host site");
    let room = server.running.state.sfu.room(&session.session_id).unwrap();
    assert!(room.is_host(HOST) && !room.is_host(SITES[0]));
    assert!(room.controller(HOST).is_ok());
    assert!(room.controller(SITES[0]).is_err());

    let path = format!("/api/sessions/{}/live", session.session_id);
    for role in [Role::Chair, Role::Operator, Role::Admin] {
        let (status, v) = body(server.login(role).await.get(&path).await).await;
        assert_eq!(status, 200, "{role:?}: {v}");
        assert_eq!(v["host_site_id"], HOST);
        assert_eq!(v["sites"][0]["site_id"], HOST);
    }
    for role in [Role::Secretariat, Role::SiteOperator, Role::Auditor] {
        let (status, _) = body(server.login(role).await.get(&path).await).await;
        assert_eq!(status, 403, "{role:?} does not control the session");
    }
    let scoped_here = login_scoped(&server, Role::Chair, HOST).await;
    assert_eq!(scoped_here.get(&path).await.status(), 200);
    let scoped_elsewhere = login_scoped(&server, Role::Operator, SITES[0]).await;
    assert_eq!(scoped_elsewhere.get(&path).await.status(), 403);
    let chair = server.login(Role::Chair).await;
    let (status, v) = body(chair.get("/api/sessions/no-such-session/live").await).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (404, Some("session_not_found"))
    );
    host.leave().await;
}

fn hands_of(m: &ServerMsg) -> Option<Vec<String>> {
    match m {
        ServerMsg::HandsChanged { hands } => {
            Some(hands.iter().map(|h| h.site_id.clone()).collect())
        }
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hands_queue_in_order_and_only_the_host_gives_the_floor() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..3]).await;
    let mut sites = Sites::join(
        &server,
        &session.links,
        &[HOST, SITES[0], SITES[1], SITES[2]],
    )
    .await;
    // Raised in the order 2, 0, 1: the host sees that order, with times.
    for s in [SITES[2], SITES[0], SITES[1]] {
        sites.get(s).send_msg(ClientMsg::RaiseHand).await;
        let who = s.to_string();
        wait_msg(sites.get(HOST), "the hand", SECS5, |m| {
            hands_of(m).filter(|h| h.last() == Some(&who))
        })
        .await;
    }
    let room = server.running.state.sfu.room(&session.session_id).unwrap();
    let view = room.view();
    let order: Vec<_> = view.hands.iter().map(|h| h.site_id.as_str()).collect();
    assert_eq!(order, [SITES[2], SITES[0], SITES[1]]);
    assert!(
        view.hands
            .windows(2)
            .all(|w| w[0].raised_at <= w[1].raised_at)
    );

    // Bad input from a site that does not control: refused, nothing changes.
    let before = room.view();
    let a = sites.get(SITES[0]);
    a.send_msg(ClientMsg::GiveFloor {
        site_id: Some(SITES[0].into()),
    })
    .await;
    expect_error(a, ErrorCode::NotController).await;
    a.send_msg(ClientMsg::GiveFloor { site_id: None }).await;
    expect_error(a, ErrorCode::NotController).await;
    a.send_msg(ClientMsg::SetMute {
        site_id: SITES[1].into(),
        kind: MediaKind::Audio,
        muted: true,
    })
    .await;
    expect_error(a, ErrorCode::NotController).await;
    for msg in [
        ClientMsg::RevokeFloor,
        ClientMsg::MuteAll,
        ClientMsg::SetJoinMuted { on: true },
        ClientMsg::LowerHand {
            site_id: Some(SITES[2].into()),
        },
    ] {
        a.send_msg(msg).await;
        expect_error(a, ErrorCode::NotController).await;
    }
    assert_eq!(room.view(), before, "refusals change nothing");
    // The host: a site not in the session, then the next in the queue.
    let host = sites.get(HOST);
    host.send_msg(ClientMsg::GiveFloor {
        site_id: Some("xa-khong-moi".into()),
    })
    .await;
    expect_error(host, ErrorCode::UnknownSite).await;
    host.send_msg(ClientMsg::GiveFloor { site_id: None }).await;
    for s in [HOST, SITES[0], SITES[1], SITES[2]] {
        let holder = wait_msg(sites.get(s), "floor_changed", SECS5, |m| match m {
            ServerMsg::FloorChanged {
                site_id: Some(h), ..
            } => Some(h.clone()),
            _ => None,
        })
        .await;
        assert_eq!(holder, SITES[2], "{s} sees who holds the floor");
    }
    let view = room.view();
    assert_eq!(view.floor.as_deref(), Some(SITES[2]));
    let order: Vec<_> = view.hands.iter().map(|h| h.site_id.as_str()).collect();
    assert_eq!(order, [SITES[0], SITES[1]], "the holder's hand went down");
    // A site lowers its own hand; the host lowers another's.
    sites
        .get(SITES[1])
        .send_msg(ClientMsg::LowerHand { site_id: None })
        .await;
    sites
        .get(HOST)
        .send_msg(ClientMsg::LowerHand {
            site_id: Some(SITES[0].into()),
        })
        .await;
    wait_msg(sites.get(HOST), "an empty queue", SECS5, |m| {
        hands_of(m).filter(|h| h.is_empty())
    })
    .await;
    sites
        .get(HOST)
        .send_msg(ClientMsg::GiveFloor { site_id: None })
        .await;
    expect_error(sites.get(HOST), ErrorCode::QueueEmpty).await;
    sites.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_muted_site_is_not_forwarded_and_cannot_unmute_itself() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..2]).await;
    let (a, b) = (SITES[0], SITES[1]);
    let mut sites = Sites::join(&server, &session.links, &[HOST, a, b]).await;
    let start = Instant::now();
    sites
        .pump_until("a's audio at b", Duration::from_secs(20), |s| {
            !s.received(b, a, MediaKind::Audio, start).is_empty()
                && !s.received(HOST, a, MediaKind::Video, start).is_empty()
        })
        .await;
    // The host mutes a's microphone.
    let muted_at = Instant::now();
    sites
        .get(HOST)
        .send_msg(ClientMsg::SetMute {
            site_id: a.into(),
            kind: MediaKind::Audio,
            muted: true,
        })
        .await;
    sites.pump(Duration::from_millis(1000)).await;
    let after = sites.received(
        b,
        a,
        MediaKind::Audio,
        muted_at + Duration::from_millis(200),
    );
    assert!(
        after.is_empty(),
        "{} audio packets of a reached b later than 200 ms after the mute",
        after.len()
    );
    assert!(
        sites
            .received(
                HOST,
                a,
                MediaKind::Video,
                muted_at + Duration::from_millis(300)
            )
            .len()
            > 3,
        "a's video still flows"
    );
    assert!(
        sites
            .received(
                b,
                HOST,
                MediaKind::Audio,
                muted_at + Duration::from_millis(300)
            )
            .len()
            > 3,
        "the others' audio still flows"
    );
    // a is told who muted it, and cannot lift it.
    let by = wait_msg(sites.get(a), "mute_changed", SECS5, |m| match m {
        ServerMsg::MuteChanged {
            site_id,
            muted: true,
            by,
            ..
        } if site_id == a => Some(*by),
        _ => None,
    })
    .await;
    assert_eq!(by, MutedBy::Chair);
    sites
        .get(a)
        .send_msg(ClientMsg::Mute {
            kind: MediaKind::Audio,
            muted: false,
        })
        .await;
    expect_error(sites.get(a), ErrorCode::MutedByChair).await;
    let tried = Instant::now();
    sites.pump(Duration::from_millis(400)).await;
    assert!(sites.received(b, a, MediaKind::Audio, tried).is_empty());
    // Unmuted by the host: the audio comes back.
    sites
        .get(HOST)
        .send_msg(ClientMsg::SetMute {
            site_id: a.into(),
            kind: MediaKind::Audio,
            muted: false,
        })
        .await;
    let unmuted = Instant::now();
    sites
        .pump_until("a's audio again", Duration::from_secs(5), |s| {
            s.received(b, a, MediaKind::Audio, unmuted).len() > 10
        })
        .await;
    sites.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_chair_through_the_api_and_their_actions_are_audited() {
    let server = TestServer::start().await;
    // Six sites: above the default threshold of five, so sites join muted.
    let session = server.create_session(HOST, &SITES[..6]).await;
    let id = &session.session_id;
    let op = server.login(Role::Operator).await;
    let path = |p: &str| format!("/api/sessions/{id}/{p}");
    // No site connected yet.
    let (status, v) = body(op.post(&path("floor"), &json!({"site_id": SITES[0]})).await).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (409, Some("site_not_connected"))
    );
    let mut sites = Sites::join(&server, &session.links, &[HOST, SITES[0]]).await;
    let a = sites.get(SITES[0]);
    let by = wait_msg(a, "joined muted", SECS5, |m| match m {
        ServerMsg::MuteChanged {
            site_id,
            kind: MediaKind::Audio,
            muted: true,
            by,
            ..
        } if site_id == SITES[0] => Some(*by),
        _ => None,
    })
    .await;
    assert_eq!(
        by,
        MutedBy::Chair,
        "a site of a large session joins muted by the chair"
    );
    let (status, v) = body(op.get(&path("live")).await).await;
    assert_eq!(status, 200);
    assert_eq!(v["join_muted"], true);
    let host_row = &v["sites"][0];
    assert_eq!(
        (
            host_row["site_id"].as_str(),
            host_row["audio_muted"].as_bool()
        ),
        (Some(HOST), Some(false))
    );
    assert_eq!(v["sites"][1]["audio_muted_by_chair"], true);

    // Bad input: nothing changes.
    for (route, body_) in [
        ("floor", json!({"site_id": "xa-khong-moi"})),
        (
            "mute",
            json!({"site_id": "xa-khong-moi", "kind": "audio", "muted": true}),
        ),
    ] {
        let (status, v) = body(op.post(&path(route), &body_).await).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (422, Some("unknown_site")),
            "{route}"
        );
    }
    let (status, v) = body(op.post(&path("floor"), &json!({"site_id": SITES[1]})).await).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (409, Some("site_not_connected"))
    );
    for bad in [json!({"site_id": 7}), json!({"site": SITES[0]})] {
        assert_eq!(op.post(&path("floor"), &bad).await.status(), 400);
    }
    let bad_kind = json!({"site_id": SITES[0], "kind": "smell", "muted": true});
    assert_eq!(op.post(&path("mute"), &bad_kind).await.status(), 400);
    let sec = server.login(Role::Secretariat).await;
    let (status, _) = body(
        sec.post(&path("floor"), &json!({"site_id": SITES[0]}))
            .await,
    )
    .await;
    assert_eq!(status, 403);
    let (_, v) = body(op.get(&path("live")).await).await;
    assert_eq!(v["floor"], Value::Null);

    // Give the floor: a is unmuted by the server; take it back: muted again.
    let (status, v) = body(op.post(&path("floor"), &json!({"site_id": SITES[0]})).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["floor"], SITES[0]);
    assert_eq!(v["sites"][1]["audio_muted"], false);
    let a = sites.get(SITES[0]);
    wait_msg(a, "unmuted", SECS5, |m| match m {
        ServerMsg::MuteChanged {
            site_id,
            muted: false,
            ..
        } if site_id == SITES[0] => Some(()),
        _ => None,
    })
    .await;
    let (_, v) = body(op.delete(&path("floor")).await).await;
    assert_eq!(
        (
            v["floor"].clone(),
            v["sites"][1]["audio_muted_by_chair"].clone()
        ),
        (Value::Null, json!(true))
    );
    let (_, v) = body(op.put(&path("policy"), &json!({"join_muted": false})).await).await;
    assert_eq!(v["join_muted"], false);
    let (_, v) = body(op.post(&path("mute-all"), &json!({})).await).await;
    assert_eq!(
        v["sites"][0]["audio_muted"], false,
        "the host is never muted by mute-all"
    );

    // The audit log names the operator.
    assert!(server.running.state.sfu.events().drained(SECS5).await);
    let filter = giaoban::audit::AuditFilter {
        target: Some(id.clone()),
        ..Default::default()
    };
    let entries = giaoban::audit::list(&server.running.state.pool, &filter)
        .await
        .unwrap();
    let by_op: Vec<_> = entries
        .iter()
        .filter(|e| e.actor == format!("user:{}", op.username))
        .map(|e| e.action.as_str())
        .collect();
    for action in ["floor.give", "floor.revoke", "site.mute", "site.unmute"] {
        assert!(
            by_op.contains(&action),
            "{action} by the operator is audited: {by_op:?}"
        );
    }
    sites.leave().await;
}
