//! Active speaker end to end with the Rust client: sites publish Opus packets carrying the RFC 6464
//! audio level in the header extension they negotiated; the server reads the levels (without
//! decoding), and every site is told who starts and stops speaking (`speaking`), with live events.
//! A loud site becomes the speaker, a quiet one never does; when the loud one goes quiet and the
//! other speaks, the speaking state moves.

use crate::common;

use common::chair::*;
use common::*;
use giaoban::live::Event;
use giaoban::signal::protocol::ServerMsg;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// RFC 6464 levels (−dBov): speech at a room microphone, and silence.
const LOUD: u8 = 20;
const QUIET: u8 = 127;

/// Everyone sends one audio packet each 20 ms at the level `levels` gives it, for `d`; returns
/// the `speaking` messages each site received meanwhile, (receiver, speaker, speaking).
async fn talk(
    sites: &mut Sites,
    levels: &HashMap<&str, u8>,
    d: Duration,
) -> Vec<(String, String, bool)> {
    let end = Instant::now() + d;
    let mut n: u32 = 0;
    let mut heard = Vec::new();
    while Instant::now() < end {
        n += 1;
        for (id, c) in &sites.clients {
            let level = levels.get(id.as_str()).copied().unwrap_or(QUIET);
            let _ = c
                .send_audio_level(bytes::Bytes::from(n.to_be_bytes().to_vec()), level)
                .await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        for (id, c) in sites.clients.iter_mut() {
            while let Some(m) = c.next_message(Duration::ZERO).await {
                if let ServerMsg::Speaking { site_id, speaking } = m {
                    heard.push((id.clone(), site_id, speaking));
                }
            }
            while c.try_recv_packet().is_some() {}
        }
    }
    heard
}

/// Talks until every site but `speaker` has been told `speaker` is `speaking`, or panics; returns
/// everything heard meanwhile.
async fn until_told(
    sites: &mut Sites,
    levels: &HashMap<&str, u8>,
    speaker: &str,
    speaking: bool,
) -> Vec<(String, String, bool)> {
    let end = Instant::now() + Duration::from_secs(20);
    let mut heard = Vec::new();
    let ids: Vec<String> = sites.clients.iter().map(|(s, _)| s.clone()).collect();
    loop {
        heard.extend(talk(sites, levels, Duration::from_millis(200)).await);
        let told = |to: &String| {
            heard
                .iter()
                .any(|(r, s, on)| r == to && s == speaker && *on == speaking)
        };
        if ids.iter().filter(|s| *s != speaker).all(told) {
            return heard;
        }
        assert!(
            Instant::now() < end,
            "not every site was told {speaker} speaking={speaking}: {heard:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loud_site_is_the_speaker_and_the_turn_moves_when_it_goes_quiet() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..2]).await;
    let (a, b) = (SITES[0], SITES[1]);
    let mut sites = Sites::join(&server, &session.links, &[HOST, a, b]).await;
    let mut events = server.running.state.sfu.events().live();

    // The levels can be sent: the extension was negotiated with the publisher.
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let sent = sites
            .get(a)
            .send_audio_level(bytes::Bytes::from_static(b"x"), QUIET)
            .await;
        if sent.is_ok() {
            break;
        }
        assert!(
            Instant::now() < end,
            "audio levels cannot be sent: {sent:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A speaks, B and the host are quiet: everyone is told A speaks, nobody that B or the host does.
    let a_loud: HashMap<&str, u8> = [(a, LOUD)].into();
    let heard = until_told(&mut sites, &a_loud, a, true).await;
    let heard2 = talk(&mut sites, &a_loud, Duration::from_millis(1500)).await;
    for (to, who, on) in heard.iter().chain(&heard2) {
        assert!(
            who == a && *on,
            "{to} was told {who} speaking={on} while only {a} spoke"
        );
    }

    // A goes quiet and B speaks: B's turn starts, A's ends.
    let b_loud: HashMap<&str, u8> = [(b, LOUD)].into();
    let heard = until_told(&mut sites, &b_loud, b, true).await;
    assert!(
        !heard.iter().any(|(_, who, on)| who == a && *on),
        "a is not told to speak again: {heard:?}"
    );
    let mut heard = heard;
    if !heard
        .iter()
        .any(|(r, who, on)| r == HOST && who == a && !on)
    {
        heard.extend(until_told(&mut sites, &b_loud, a, false).await);
    }
    // Then silence: B's turn ends too.
    until_told(&mut sites, &HashMap::new(), b, false).await;

    // The live events follow the turns.
    let mut turns = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let Event::Speaking {
            site_id, speaking, ..
        } = &e.event
        {
            turns.push((site_id.clone(), *speaking));
        }
    }
    let started: Vec<_> = turns.iter().filter(|t| t.1).map(|t| t.0.as_str()).collect();
    let stopped: Vec<_> = turns
        .iter()
        .filter(|t| !t.1)
        .map(|t| t.0.as_str())
        .collect();
    assert_eq!(started, [a, b], "turns: {turns:?}");
    assert_eq!(stopped, [a, b], "turns: {turns:?}");
    sites.leave().await;
}
