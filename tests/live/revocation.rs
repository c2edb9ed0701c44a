//! Revocation reaches sites already in the room: re-issuing a site's link, revoking its
//! invitation, revoking the device credential it joined with, and cancelling the session (or a
//! series covering the occurrence) each remove the connected site within 1 s, with an `error`
//! of a stable code, its close code, and `participant_left` (`revoked` / `cancelled`) at the
//! others, whose media keeps flowing.

use crate::common;
use crate::common::live;

use common::*;
use giaoban::auth::Role;
use giaoban::client::SiteClient;
use giaoban::signal::protocol::{ErrorCode, LeaveReason};
use live::*;
use serde_json::json;
use std::time::{Duration, Instant};

const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
const WITHIN: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reissue_revoke_and_device_revocation_remove_live_sites_and_the_rest_keeps_flowing() {
    let server = TestServer::start().await;
    let sec = server.login(Role::Secretariat).await;
    let session = server.create_session(HOST, &SITES[..5]).await;
    let sid = &session.session_id;
    let link = |site: &str| token(&session.links[site]);
    let ws = server.ws_url();

    let mut host = SiteClient::join(&ws, &link(HOST), LOCAL).await.unwrap();
    let mut first = SiteClient::join(&ws, &link(SITES[0]), LOCAL).await.unwrap();
    media_flows(&mut host, &mut first, 0, 30).await;

    // A room PC of SITES[3] joins with its device credential; SITES[4] with a bare link.
    let (_, issued) = body(
        sec.post(
            &format!("/api/sites/{}/devices", SITES[3]),
            &json!({"label": "Máy phòng họp"}),
        )
        .await,
    )
    .await;
    let device = issued["token"].as_str().unwrap().to_string();
    let device_id = issued["id"].as_str().unwrap().to_string();
    let mut reissued = RawSite::join(&ws, &link(SITES[1]), None).await;
    let mut revoked = RawSite::join(&ws, &link(SITES[2]), None).await;
    let mut kiosk = RawSite::join(&ws, &link(SITES[3]), Some(&device)).await;
    let mut bare = RawSite::join(&ws, &link(SITES[4]), None).await;

    // Re-issue SITES[1]'s link.
    let t = Instant::now();
    let path = format!("/api/sessions/{sid}/invitations/{}/reissue", SITES[1]);
    assert_eq!(sec.post(&path, &json!({})).await.status(), 200);
    assert_eq!(
        reissued.removed(WITHIN).await,
        (ErrorCode::LinkRevoked, Some(4403))
    );
    assert_eq!(
        left_reason(&mut host, SITES[1], WITHIN).await,
        LeaveReason::Revoked
    );
    assert!(t.elapsed() < WITHIN, "re-issue took {:?}", t.elapsed());

    // Revoke SITES[2]'s invitation.
    let t = Instant::now();
    let path = format!("/api/sessions/{sid}/invitations/{}/revoke", SITES[2]);
    assert_eq!(sec.post(&path, &json!({})).await.status(), 200);
    assert_eq!(
        revoked.removed(WITHIN).await,
        (ErrorCode::InvitationRevoked, Some(4403))
    );
    assert_eq!(
        left_reason(&mut host, SITES[2], WITHIN).await,
        LeaveReason::Revoked
    );
    assert!(t.elapsed() < WITHIN, "revoke took {:?}", t.elapsed());

    // Revoke the device credential SITES[3] joined with; the bare link join of SITES[4] stays.
    let t = Instant::now();
    let path = format!("/api/devices/{device_id}/revoke");
    assert_eq!(sec.post(&path, &json!({})).await.status(), 204);
    assert_eq!(
        kiosk.removed(WITHIN).await,
        (ErrorCode::DeviceRevoked, Some(4403))
    );
    assert_eq!(
        left_reason(&mut first, SITES[3], WITHIN).await,
        LeaveReason::Revoked
    );
    assert!(t.elapsed() < WITHIN, "device revoke took {:?}", t.elapsed());
    // A link join is not touched by a device revocation.
    bare.stays(Duration::from_millis(300)).await;

    // The revoked credential cannot join again, even with a valid link.
    let mut again = connect(&ws, Some(&device)).await;
    match send_join(&mut again, &link(SITES[3])).await {
        Seen::Msg(giaoban::signal::protocol::ServerMsg::Error { code, .. }) => {
            assert_eq!(code, ErrorCode::DeviceRevoked)
        }
        other => panic!("expected device_revoked, got {other:?}"),
    }
    // Nor can the re-issued (old) link or the revoked invitation.
    for (site, code) in [
        (SITES[1], ErrorCode::InvalidToken),
        (SITES[2], ErrorCode::SiteNotInvited),
    ] {
        let mut s = connect(&ws, None).await;
        match send_join(&mut s, &link(site)).await {
            Seen::Msg(giaoban::signal::protocol::ServerMsg::Error { code: c, .. }) => {
                assert_eq!(c, code, "{site}")
            }
            other => panic!("{site}: expected {code:?}, got {other:?}"),
        }
    }

    // Host and SITES[0] kept their media through all of it, and so did SITES[4]'s socket.
    media_flows(&mut host, &mut first, 100_000, 30).await;
    assert_eq!(server.running.state.sfu.live(), (1, 3));

    // Cancelling the session removes everyone left, with the cancellation code.
    let t = Instant::now();
    let r = sec
        .post(&format!("/api/sessions/{sid}/cancel"), &json!({}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        bare.removed(WITHIN).await,
        (ErrorCode::SessionCancelled, Some(4410))
    );
    let mut codes = Vec::new();
    for c in [&mut host, &mut first] {
        let deadline = tokio::time::Instant::now() + WITHIN;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match c.next_message(left).await {
                Some(giaoban::signal::protocol::ServerMsg::Error { code, .. }) => {
                    codes.push(code);
                    break;
                }
                Some(_) => continue,
                None => panic!("a site was not told of the cancellation"),
            }
        }
    }
    assert_eq!(codes, vec![ErrorCode::SessionCancelled; 2]);
    assert!(t.elapsed() < WITHIN, "cancel took {:?}", t.elapsed());
    server
        .wait_stats("the room emptied", Duration::from_secs(5), |s| {
            s.participants == 0 && s.peer_connections == 0
        })
        .await;
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_an_occurrence_or_its_series_removes_its_sites() {
    let server = TestServer::start().await;
    let sec = server.login(Role::Secretariat).await;
    let start = chrono::Utc::now() + chrono::Duration::minutes(20);
    let end = start + chrono::Duration::hours(1);
    let mut req = session(
        "Giao ban hằng ngày",
        &start.to_rfc3339(),
        &end.to_rfc3339(),
        &[SITES[0], SITES[1]],
    );
    req["rrule"] = json!("FREQ=DAILY;COUNT=3");
    let (status, created) = body(sec.post("/api/sessions", &req).await).await;
    assert_eq!(status, 201, "{created}");
    let first_id = created["occurrence_ids"][0].as_str().unwrap().to_string();
    let link = |site: &str| token(created["links"][site].as_str().unwrap());
    let ws = server.ws_url();

    // Cancelling another occurrence (`this`) leaves the first one's sites connected.
    let mut host = SiteClient::join(&ws, &link(HOST), LOCAL).await.unwrap();
    let mut a = RawSite::join(&ws, &link(SITES[0]), None).await;
    let mut b = RawSite::join(&ws, &link(SITES[1]), None).await;
    let second = created["occurrence_ids"][1].as_str().unwrap();
    let r = sec
        .post(
            &format!("/api/sessions/{second}/cancel"),
            &json!({"scope": "this"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    // Another occurrence's cancellation does not touch this one.
    a.stays(Duration::from_millis(500)).await;
    assert_eq!(server.running.state.sfu.live(), (1, 3));

    // Cancelling the whole series, from its last occurrence, covers the first.
    let mut events = server.running.state.sfu.events().live();
    let third = created["occurrence_ids"][2].as_str().unwrap();
    let t = Instant::now();
    let r = sec
        .post(
            &format!("/api/sessions/{third}/cancel"),
            &json!({"scope": "series"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        a.removed(WITHIN).await,
        (ErrorCode::SessionCancelled, Some(4410))
    );
    assert_eq!(
        b.removed(WITHIN).await,
        (ErrorCode::SessionCancelled, Some(4410))
    );
    let mut host_told = false;
    while let Some(msg) = host.next_message(WITHIN.saturating_sub(t.elapsed())).await {
        if let giaoban::signal::protocol::ServerMsg::Error { code, .. } = msg {
            assert_eq!(code, ErrorCode::SessionCancelled);
            host_told = true;
            break;
        }
    }
    assert!(host_told, "the host was not told of the cancellation");
    // Every site left the first occurrence with the reason `cancelled`.
    let mut left = Vec::new();
    while left.len() < 3 {
        let e = tokio::time::timeout(WITHIN, events.recv())
            .await
            .unwrap()
            .unwrap();
        if let giaoban::sfu::SfuEvent::Left {
            session_id,
            site_id,
            reason,
            ..
        } = e.event.clone()
        {
            assert_eq!(session_id, first_id);
            assert_eq!(reason, LeaveReason::Cancelled, "{site_id}");
            left.push(site_id);
        }
    }
    assert!(t.elapsed() < WITHIN, "series cancel took {:?}", t.elapsed());
    server
        .wait_stats("the room emptied", Duration::from_secs(5), |s| {
            s.participants == 0
        })
        .await;
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_site_from_the_session_removes_it_from_the_room() {
    let server = TestServer::start().await;
    let sec = server.login(Role::Secretariat).await;
    let session = server.create_session(HOST, &SITES[..2]).await;
    let sid = &session.session_id;
    let ws = server.ws_url();
    let mut host = SiteClient::join(&ws, &token(&session.links[HOST]), LOCAL)
        .await
        .unwrap();
    let mut kept = RawSite::join(&ws, &token(&session.links[SITES[0]]), None).await;
    let mut dropped = RawSite::join(&ws, &token(&session.links[SITES[1]]), None).await;
    let t = Instant::now();
    let r = sec
        .patch(
            &format!("/api/sessions/{sid}"),
            &json!({"sites": [{"site_id": SITES[0]}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        dropped.removed(WITHIN).await,
        (ErrorCode::InvitationRevoked, Some(4403))
    );
    assert_eq!(
        left_reason(&mut host, SITES[1], WITHIN).await,
        LeaveReason::Revoked
    );
    assert!(t.elapsed() < WITHIN, "edit took {:?}", t.elapsed());
    kept.stays(Duration::from_millis(300)).await;
    assert_eq!(server.running.state.sfu.live(), (1, 2));
    server.running.stop().await;
}
