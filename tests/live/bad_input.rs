//! Every kind of bad input gets an error with a stable code (and a close where the protocol says
//! so), and neither the server nor the other sites notice: one test per case, then all of them at
//! once against a live session whose media must keep flowing.

use crate::common;

use bytes::Bytes;
use common::*;
use giaoban::auth::JoinClaims;
use giaoban::client::{Incoming, Signaling, SiteClient};
use giaoban::signal::protocol::{ClientMsg, ErrorCode, MediaKind, ServerMsg};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const T: Duration = Duration::from_secs(10);

/// The chairing state every site is sent after `joined` (see docs/protocol.md, *Chairing*).
fn chair_state(m: &ServerMsg) -> bool {
    matches!(
        m,
        ServerMsg::HandsChanged { .. }
            | ServerMsg::FloorChanged { .. }
            | ServerMsg::ChairPolicy { .. }
            | ServerMsg::ShareChanged { .. }
            | ServerMsg::MuteChanged { .. }
    )
}

async fn expect_error(sig: &mut Signaling, code: ErrorCode) {
    let mut next = sig.recv_timeout(T).await.unwrap();
    while matches!(&next, Incoming::Msg(m) if chair_state(m)) {
        next = sig.recv_timeout(T).await.unwrap();
    }
    match next {
        Incoming::Msg(ServerMsg::Error { code: c, message }) => {
            assert_eq!(c, code, "{message}");
            assert!(!message.is_empty());
        }
        other => panic!("expected error {code:?}, got {other:?}"),
    }
}

async fn expect_close(sig: &mut Signaling, code: u16) {
    assert_eq!(
        sig.recv_timeout(T).await.unwrap(),
        Incoming::Closed(Some(code))
    );
}

/// The socket still answers.
async fn expect_alive(sig: &mut Signaling) {
    sig.send(&ClientMsg::Ping).await.unwrap();
    loop {
        match sig.recv_timeout(T).await.unwrap() {
            Incoming::Msg(ServerMsg::Pong) => return,
            Incoming::Msg(_) => continue,
            other => panic!("socket not alive: {other:?}"),
        }
    }
}

async fn joined(server: &TestServer, site: &str) -> (Signaling, giaoban::schedule::CreatedSession) {
    let session = server.create_session(HOST, &SITES[..2]).await;
    let mut sig = Signaling::connect(&server.ws_url()).await.unwrap();
    sig.send(&ClientMsg::Join {
        v: 1,
        token: token(&session.links[site]),
    })
    .await
    .unwrap();
    match sig.recv_timeout(T).await.unwrap() {
        Incoming::Msg(ServerMsg::Joined { .. }) => {}
        other => panic!("not joined: {other:?}"),
    }
    (sig, session)
}

#[tokio::test]
async fn malformed_json_is_refused_and_the_socket_stays() {
    let server = TestServer::start().await;
    let mut sig = Signaling::connect(&server.ws_url()).await.unwrap();
    sig.send_text("{\"type\": \"join\", ".into()).await.unwrap();
    expect_error(&mut sig, ErrorCode::BadJson).await;
    sig.send_text(r#"{"type":"join","v":1}"#.into())
        .await
        .unwrap();
    expect_error(&mut sig, ErrorCode::BadJson).await;
    expect_alive(&mut sig).await;
}

#[tokio::test]
async fn unknown_message_type() {
    let server = TestServer::start().await;
    let mut sig = Signaling::connect(&server.ws_url()).await.unwrap();
    sig.send_text(r#"{"type":"open_the_pod_bay_doors"}"#.into())
        .await
        .unwrap();
    expect_error(&mut sig, ErrorCode::UnknownType).await;
    expect_alive(&mut sig).await;
}

#[tokio::test]
async fn binary_frames_are_refused() {
    let server = TestServer::start().await;
    let mut sig = Signaling::connect(&server.ws_url()).await.unwrap();
    sig.send_raw(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    expect_error(&mut sig, ErrorCode::BadMessage).await;
    expect_alive(&mut sig).await;
}

#[tokio::test]
async fn media_before_join_is_refused() {
    let server = TestServer::start().await;
    let mut sig = Signaling::connect(&server.ws_url()).await.unwrap();
    sig.send(&ClientMsg::PublishOffer { sdp: "v=0".into() })
        .await
        .unwrap();
    expect_error(&mut sig, ErrorCode::NotJoined).await;
    sig.send(&ClientMsg::Mute {
        kind: MediaKind::Audio,
        muted: true,
    })
    .await
    .unwrap();
    expect_error(&mut sig, ErrorCode::NotJoined).await;
    expect_alive(&mut sig).await;
}

#[tokio::test]
async fn answer_before_offer_is_refused() {
    let server = TestServer::start().await;
    let (mut sig, _) = joined(&server, HOST).await;
    sig.send(&ClientMsg::SubscribeAnswer {
        sdp: "v=0\r\n".into(),
    })
    .await
    .unwrap();
    expect_error(&mut sig, ErrorCode::UnexpectedAnswer).await;
    expect_alive(&mut sig).await;
}

#[tokio::test]
async fn frames_over_64_kib_are_refused_with_a_close() {
    let server = TestServer::start().await;
    let mut sig = Signaling::connect(&server.ws_url()).await.unwrap();
    let big = format!(
        r#"{{"type":"publish_offer","sdp":"{}"}}"#,
        "a".repeat(70 * 1024)
    );
    sig.send_text(big).await.unwrap();
    expect_error(&mut sig, ErrorCode::FrameTooLarge).await;
    expect_close(&mut sig, 1009).await;
}

#[tokio::test]
async fn forged_token_is_refused_with_a_close() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..1]).await;
    let good = token(&session.links[HOST]);
    // Same claims, signature of another key.
    let forged = giaoban::auth::TokenKey::from_secret(b"not-the-server-key-not-the-server")
        .sign(&server.running.state.token_key.verify(&good, 0).unwrap());
    for bad in [
        forged,
        "garbage".to_string(),
        format!("{good}x"),
        String::new(),
    ] {
        let mut sig = Signaling::connect(&server.ws_url()).await.unwrap();
        sig.send(&ClientMsg::Join { v: 1, token: bad })
            .await
            .unwrap();
        expect_error(&mut sig, ErrorCode::InvalidToken).await;
        expect_close(&mut sig, 4401).await;
    }
}

#[tokio::test]
async fn expired_token_is_refused() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..1]).await;
    let key = &server.running.state.token_key;
    let expired = key.sign(&JoinClaims {
        sid: session.session_id.clone(),
        site: HOST.into(),
        exp: chrono::Utc::now().timestamp() - 1,
        v: 1,
    });
    let mut sig = Signaling::connect(&server.ws_url()).await.unwrap();
    sig.send(&ClientMsg::Join {
        v: 1,
        token: expired,
    })
    .await
    .unwrap();
    expect_error(&mut sig, ErrorCode::TokenExpired).await;
    expect_close(&mut sig, 4401).await;
}

#[tokio::test]
async fn other_session_and_uninvited_site_tokens_are_refused() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..1]).await;
    let key = &server.running.state.token_key;
    let exp = chrono::Utc::now().timestamp() + 3600;
    // A validly signed token for a session that does not exist.
    let other = key.sign(&JoinClaims {
        sid: uuid::Uuid::new_v4().to_string(),
        site: HOST.into(),
        exp,
        v: 1,
    });
    let mut sig = Signaling::connect(&server.ws_url()).await.unwrap();
    sig.send(&ClientMsg::Join { v: 1, token: other })
        .await
        .unwrap();
    expect_error(&mut sig, ErrorCode::SessionNotFound).await;
    expect_close(&mut sig, 4404).await;
    // A site that was not invited to this session.
    let uninvited = key.sign(&JoinClaims {
        sid: session.session_id.clone(),
        site: SITES[5].into(),
        exp,
        v: 1,
    });
    let mut sig = Signaling::connect(&server.ws_url()).await.unwrap();
    sig.send(&ClientMsg::Join {
        v: 1,
        token: uninvited,
    })
    .await
    .unwrap();
    expect_error(&mut sig, ErrorCode::SiteNotInvited).await;
    expect_close(&mut sig, 4403).await;
}

#[tokio::test]
async fn unsupported_version_is_refused_with_a_close() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..1]).await;
    let mut sig = Signaling::connect(&server.ws_url()).await.unwrap();
    sig.send(&ClientMsg::Join {
        v: 2,
        token: token(&session.links[HOST]),
    })
    .await
    .unwrap();
    expect_error(&mut sig, ErrorCode::UnsupportedVersion).await;
    expect_close(&mut sig, 4400).await;
}

#[tokio::test]
async fn garbage_sdp_is_refused_and_the_site_can_try_again() {
    let server = TestServer::start().await;
    let (mut sig, _) = joined(&server, HOST).await;
    sig.send(&ClientMsg::PublishOffer {
        sdp: "this is not SDP".into(),
    })
    .await
    .unwrap();
    expect_error(&mut sig, ErrorCode::BadSdp).await;
    sig.send(&ClientMsg::PublishOffer {
        sdp: "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
            .into(),
    })
    .await
    .unwrap();
    expect_error(&mut sig, ErrorCode::BadSdp).await;
    expect_alive(&mut sig).await;
}

#[tokio::test]
async fn a_second_join_on_the_same_socket_is_refused() {
    let server = TestServer::start().await;
    let (mut sig, session) = joined(&server, HOST).await;
    sig.send(&ClientMsg::Join {
        v: 1,
        token: token(&session.links[SITES[0]]),
    })
    .await
    .unwrap();
    expect_error(&mut sig, ErrorCode::AlreadyJoined).await;
    expect_alive(&mut sig).await;
}

#[tokio::test]
async fn bad_candidates_are_refused() {
    let server = TestServer::start().await;
    let (mut sig, _) = joined(&server, HOST).await;
    let candidate = giaoban::signal::protocol::Candidate {
        candidate: "nonsense".into(),
        sdp_mid: Some("0".into()),
        sdp_mline_index: Some(0),
        username_fragment: None,
    };
    sig.send(&ClientMsg::IceCandidate {
        pc: giaoban::signal::protocol::PcKind::Publish,
        candidate,
    })
    .await
    .unwrap();
    expect_error(&mut sig, ErrorCode::BadCandidate).await;
    expect_alive(&mut sig).await;
}

#[tokio::test]
async fn the_same_site_joining_again_replaces_the_first_connection() {
    let server = TestServer::start().await;
    let (mut first, session) = joined(&server, HOST).await;
    let mut second = Signaling::connect(&server.ws_url()).await.unwrap();
    second
        .send(&ClientMsg::Join {
            v: 1,
            token: token(&session.links[HOST]),
        })
        .await
        .unwrap();
    assert!(matches!(
        second.recv_timeout(T).await.unwrap(),
        Incoming::Msg(ServerMsg::Joined { .. })
    ));
    expect_error(&mut first, ErrorCode::Replaced).await;
    expect_close(&mut first, 4000).await;
    expect_alive(&mut second).await;
}

const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// All of the above at once, while two sites exchange media: nothing reaches them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_does_not_disturb_a_live_session() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..2]).await;
    let mut a = SiteClient::join(&server.ws_url(), &token(&session.links[HOST]), LOCAL)
        .await
        .unwrap();
    let mut b = SiteClient::join(&server.ws_url(), &token(&session.links[SITES[0]]), LOCAL)
        .await
        .unwrap();
    // Media flows b -> a.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut n: u32 = 0;
    while a.try_recv_packet().is_none() {
        n += 1;
        let _ = b
            .send(MediaKind::Video, Bytes::from(n.to_be_bytes().to_vec()))
            .await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "no media before the attack"
        );
    }
    // The attack: every bad input on its own socket, while b keeps sending.
    let ws = server.ws_url();
    let third = token(&session.links[SITES[1]]);
    let attack = tokio::spawn(async move {
        for text in [
            "{bad json".to_string(),
            r#"{"type":"nope"}"#.to_string(),
            r#"{"type":"publish_offer","sdp":"x"}"#.to_string(),
            format!(r#"{{"type":"join","v":1,"token":"{}"}}"#, "forged.token"),
            format!(
                r#"{{"type":"publish_offer","sdp":"{}"}}"#,
                "a".repeat(70_000)
            ),
        ] {
            let mut s = Signaling::connect(&ws).await.unwrap();
            s.send_text(text).await.unwrap();
            let _ = s.recv_timeout(T).await;
        }
        // A real site that sends garbage SDP and answers nothing.
        let mut s = Signaling::connect(&ws).await.unwrap();
        s.send(&ClientMsg::Join { v: 1, token: third })
            .await
            .unwrap();
        s.send(&ClientMsg::PublishOffer {
            sdp: "garbage".into(),
        })
        .await
        .unwrap();
        s.send(&ClientMsg::SubscribeAnswer {
            sdp: "garbage".into(),
        })
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    });
    let mut got = Vec::new();
    let until = tokio::time::Instant::now() + Duration::from_secs(2);
    while tokio::time::Instant::now() < until || !attack.is_finished() {
        n += 1;
        let _ = b
            .send(MediaKind::Video, Bytes::from(n.to_be_bytes().to_vec()))
            .await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        while let Some(p) = a.try_recv_packet() {
            if p.stream_id == b.participant_id && p.packet.payload.len() == 4 {
                got.push(u32::from_be_bytes(
                    p.packet.payload[..4].try_into().unwrap(),
                ));
            }
        }
    }
    attack.await.unwrap();
    assert!(
        got.len() > 100,
        "media kept flowing during the attack: {} packets",
        got.len()
    );
    assert!(got.windows(2).all(|w| w[0] < w[1]), "in order");
    // No stray message reached the live sites beyond the third site's join/leave.
    while let Some(m) = a.next_message(Duration::from_millis(100)).await {
        assert!(
            chair_state(&m)
                || matches!(
                    m,
                    ServerMsg::ParticipantJoined { .. }
                        | ServerMsg::ParticipantLeft { .. }
                        | ServerMsg::IceCandidate { .. }
                        | ServerMsg::SubscribeOffer { .. }
                        | ServerMsg::PublishAnswer { .. }
                        | ServerMsg::TrackPublished { .. }
                ),
            "unexpected message at a live site: {m:?}"
        );
    }
    let _ = b.next_message(Duration::from_millis(10)).await;
    a.leave().await;
    b.leave().await;
}
