//! The shared media UDP port seen from outside. A server configured with one UDP port carries
//! every peer connection of every site of two sessions on it (each of a site's two connections
//! has a selected ICE pair, and the only server candidates it knows are on that port). Bad input on the port — garbage and truncated
//! datagrams, DTLS and RTP from unknown addresses, STUN naming no connection, a flood of binding
//! requests naming a real connection with wrong credentials — is dropped and counted by reason,
//! gets no answer, and the live session on the same port keeps its media flowing.

use crate::common;
use crate::common::live;

use common::*;
use giaoban::client::SiteClient;
use giaoban::metrics::UdpSnapshot;
use giaoban::signal::protocol::ServerMsg;
use live::*;
use rtc::stun::attributes::ATTR_USERNAME;
use rtc::stun::fingerprint::FINGERPRINT;
use rtc::stun::integrity::MessageIntegrity;
use rtc::stun::message::{BINDING_REQUEST, Message, Setter, TransactionId};
use rtc::stun::textattrs::TextAttribute;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_of_every_site_uses_the_one_configured_port() {
    let port = free_udp_port();
    let server = TestServer::start_with(&[("GIAOBAN_MEDIA_UDP_PORT", &port.to_string())]).await;
    let media = server.running.state.sfu.media_addr();
    assert_eq!(media, SocketAddr::from(([127, 0, 0, 1], port)));

    let first = server.create_session(HOST, &[SITES[0]]).await;
    let second = server.create_session(SITES[1], &[SITES[2]]).await;
    let mut pairs = Vec::new();
    for (session, a, b) in [(&first, HOST, SITES[0]), (&second, SITES[1], SITES[2])] {
        let ws = server.ws_url();
        let mut x = SiteClient::join(&ws, &token(&session.links[a]), LOCAL)
            .await
            .unwrap();
        let mut y = SiteClient::join(&ws, &token(&session.links[b]), LOCAL)
            .await
            .unwrap();
        media_flows(&mut x, &mut y, 0, 20).await;
        pairs.push((x, y));
    }
    server
        .wait_stats("eight connections", Duration::from_secs(5), |s| {
            s.peer_connections == 8
        })
        .await;
    for (x, y) in &pairs {
        for site in [x, y] {
            for (selected, servers) in site.media_peers().await {
                assert!(selected, "no ICE pair selected");
                assert!(!servers.is_empty(), "no server candidate known");
                assert!(
                    servers.iter().all(|a| *a == media),
                    "{servers:?} besides {media}"
                );
            }
        }
    }
    let s = server.stats();
    assert_eq!(s.udp_ports_in_use, 1);
    assert!(
        s.udp.datagrams_in > 100 && s.udp.datagrams_out > 100,
        "{:?}",
        s.udp
    );
    let refused = s.udp.dropped_malformed
        + s.udp.dropped_unknown_ufrag
        + s.udp.dropped_bad_credentials
        + s.udp.dropped_queue_full;
    assert_eq!(refused, 0, "legitimate traffic was refused: {:?}", s.udp);
    for (x, y) in pairs {
        x.leave().await;
        y.leave().await;
    }
    server
        .wait_stats("connections closed", Duration::from_secs(10), |s| {
            s.peer_connections == 0
        })
        .await;
}

fn binding_request(username: &str, pwd: &str) -> Vec<u8> {
    let provider = rtc::crypto::default_provider().unwrap();
    let mut m = Message::new();
    m.build(&[
        Box::new(BINDING_REQUEST),
        Box::new(TransactionId::new()),
        Box::new(TextAttribute::new(ATTR_USERNAME, username.to_owned())),
        Box::new(MessageIntegrity::new_short_term_integrity_with_provider(
            pwd.to_owned(),
            provider.crypto(),
        )) as Box<dyn Setter>,
        Box::new(FINGERPRINT),
    ])
    .unwrap();
    m.raw
}

/// Waits until the port's counters satisfy `pred`.
async fn wait_udp(server: &TestServer, what: &str, pred: impl Fn(&UdpSnapshot) -> bool) {
    server
        .wait_stats(what, Duration::from_secs(10), |s| pred(&s.udp))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_on_the_shared_port_is_dropped_counted_and_harmless() {
    let server = TestServer::start().await;
    let media = server.running.state.sfu.media_addr();
    let session = server.create_session(HOST, &[SITES[0], SITES[1]]).await;
    let ws = server.ws_url();
    let mut a = SiteClient::join(&ws, &token(&session.links[HOST]), LOCAL)
        .await
        .unwrap();
    let mut b = SiteClient::join(&ws, &token(&session.links[SITES[0]]), LOCAL)
        .await
        .unwrap();
    media_flows(&mut a, &mut b, 0, 20).await;
    // A third site joins by hand: it is offered the others' tracks (an offer naming its
    // subscribe connection's ICE ufrag) and never answers. The attacker knows that ufrag.
    let mut victim = RawSite::join(&ws, &token(&session.links[SITES[1]]), None).await;
    let offer = loop {
        match tokio::time::timeout(Duration::from_secs(10), victim.rx.recv()).await {
            Ok(Some(Seen::Msg(ServerMsg::SubscribeOffer { sdp }))) => break sdp,
            Ok(Some(_)) => continue,
            other => panic!("no subscribe offer: {other:?}"),
        }
    };
    let ufrag = offer
        .lines()
        .find_map(|l| l.trim().strip_prefix("a=ice-ufrag:"))
        .expect("ufrag")
        .to_owned();
    assert!(
        offer
            .lines()
            .filter(|l| l.starts_with("a=candidate:") && l.contains(" typ host"))
            .all(|l| l.contains(&format!(" {} typ host", media.port()))),
        "host candidates name the shared port:\n{offer}"
    );
    let before = server.stats().udp;

    let attacker = UdpSocket::bind("127.0.0.1:0").unwrap();
    attacker
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut truncated = binding_request(&format!("{ufrag}:evil"), "x");
    truncated.truncate(30);
    let garbage: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xff; 300],
        vec![0x00; 7],
        truncated,
        vec![0x80; 4],
        b"GET / HTTP/1.1\r\n\r\n".to_vec(),
    ];
    for d in &garbage {
        attacker.send_to(d, media).unwrap();
    }
    wait_udp(&server, "garbage counted", |u| {
        u.dropped_malformed == before.dropped_malformed + garbage.len() as u64
    })
    .await;

    // DTLS (a handshake record) and RTP from an address no connection accepted.
    let mut dtls = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 40];
    dtls.extend_from_slice(&[1; 40]);
    let mut rtp = vec![0x80, 96, 0, 1, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef];
    rtp.extend_from_slice(&[7; 100]);
    for d in [&dtls, &rtp] {
        for _ in 0..10 {
            attacker.send_to(d, media).unwrap();
        }
    }
    wait_udp(&server, "unknown sources counted", |u| {
        u.dropped_unknown_source == before.dropped_unknown_source + 20
    })
    .await;

    // STUN naming no connection, then a flood naming the victim's with a wrong password.
    for _ in 0..50 {
        attacker
            .send_to(&binding_request("nobody:evil", "whatever"), media)
            .unwrap();
    }
    wait_udp(&server, "unknown ufrags counted", |u| {
        u.dropped_unknown_ufrag == before.dropped_unknown_ufrag + 50
    })
    .await;
    // Bursts of 250 (what the socket buffer holds for sure, so that the count is exact: beyond
    // it the kernel drops before the server sees anything).
    let wrong = binding_request(&format!("{ufrag}:evil"), "not-the-password-at-all");
    let mut flood = 0u64;
    for _ in 0..8 {
        for _ in 0..250 {
            attacker.send_to(&wrong, media).unwrap();
        }
        flood += 250;
        wait_udp(&server, "the flood counted", |u| {
            u.dropped_bad_credentials == before.dropped_bad_credentials + flood
        })
        .await;
    }
    // Nothing answered the attacker (no STUN response, no binding of its address).
    let mut buf = [0u8; 1500];
    assert!(
        attacker.recv_from(&mut buf).is_err(),
        "the server answered bad input"
    );
    // The session on the same port is unaffected: media still flows both ways, nothing lost.
    media_flows(&mut a, &mut b, 1_000_000, 30).await;
    let after = server.stats();
    assert_eq!(after.packets_dropped, 0);
    assert_eq!(after.udp.dropped_queue_full, 0);
    // The exposition carries the drops by reason.
    let text = reqwest::get(format!("{}/metrics", server.http_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = format!(
        "giaoban_udp_dropped_total{{reason=\"bad_credentials\"}} {}",
        after.udp.dropped_bad_credentials
    );
    assert!(text.contains(&line), "{line} not in /metrics");
    victim.stays(Duration::from_millis(200)).await;
    a.leave().await;
    b.leave().await;
}
