//! Chairing a briefing through the real server: who controls a session (the host site; a chair,
//! operator or admin in scope), the live view of the console.

mod common;

use common::*;
use giaoban::auth::{Grant, Role};
use giaoban::client::SiteClient;
use giaoban::signal::protocol::ServerMsg;

const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

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
