//! What each site's subscribe connection negotiates, through the real server: a muted site's
//! audio is negotiated to nobody, so a commune joining muted (as in a city-wide briefing) causes
//! no renegotiation at the other communes; only the host's grid takes up its camera. Unmuting
//! brings the audio to every site; muting it again takes it away.

use crate::common;

use common::chair::*;
use common::*;
use giaoban::client::SiteClient;
use giaoban::signal::protocol::{ClientMsg, MediaKind, ServerMsg};
use std::time::Duration;
use tokio::time::Instant;

const SECS5: Duration = Duration::from_secs(5);
const SECS20: Duration = Duration::from_secs(20);

/// Joins one more site to `sites`.
async fn join_one(server: &TestServer, sites: &mut Sites, link: &str, id: &str) {
    let c = SiteClient::join(&server.ws_url(), &token(link), LOCAL)
        .await
        .unwrap_or_else(|e| panic!("{id} joins: {e}"));
    sites.clients.push((id.to_string(), c));
}

/// The signaling messages a site received so far (without waiting).
async fn drain(sites: &mut Sites, id: &str) -> Vec<ServerMsg> {
    let mut out = Vec::new();
    while let Some(m) = sites.get(id).next_message(Duration::from_millis(1)).await {
        out.push(m);
    }
    out
}

fn offers(msgs: &[ServerMsg]) -> usize {
    msgs.iter()
        .filter(|m| matches!(m, ServerMsg::SubscribeOffer { .. }))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_joining_muted_renegotiates_only_the_hosts_grid() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..3]).await;
    let (a, b, c) = (SITES[0], SITES[1], SITES[2]);
    let mut sites = Sites::join(&server, &session.links, &[HOST]).await;
    sites
        .get(HOST)
        .send_msg(ClientMsg::SetJoinMuted { on: true })
        .await;
    wait_msg(sites.get(HOST), "chair_policy", SECS5, |m| match m {
        ServerMsg::ChairPolicy {
            join_muted: true, ..
        } => Some(()),
        _ => None,
    })
    .await;
    join_one(&server, &mut sites, &session.links[a], a).await;
    join_one(&server, &mut sites, &session.links[b], b).await;
    let start = Instant::now();
    sites
        .pump_until("the host at b, a's video at the host", SECS20, |s| {
            !s.received(b, HOST, MediaKind::Audio, start).is_empty()
                && !s.received(b, HOST, MediaKind::Video, start).is_empty()
                && !s.received(HOST, a, MediaKind::Video, start).is_empty()
        })
        .await;
    assert!(
        sites.received(b, a, MediaKind::Audio, start).is_empty()
            && sites.received(HOST, a, MediaKind::Audio, start).is_empty(),
        "a joined muted: its audio reaches nobody"
    );

    // c joins muted: b hears of its tracks, but its subscriptions do not change.
    sites.pump(Duration::from_millis(300)).await;
    drain(&mut sites, b).await;
    drain(&mut sites, HOST).await;
    join_one(&server, &mut sites, &session.links[c], c).await;
    let joined = Instant::now();
    sites
        .pump_until("c's video at the host", SECS20, |s| {
            !s.received(HOST, c, MediaKind::Video, joined).is_empty()
        })
        .await;
    sites.pump(Duration::from_millis(500)).await;
    let at_b = drain(&mut sites, b).await;
    let announced = at_b
        .iter()
        .filter(|m| matches!(m, ServerMsg::TrackPublished { site_id, .. } if site_id == c))
        .count();
    assert_eq!(announced, 2, "b is told of c's two tracks: {at_b:?}");
    assert_eq!(offers(&at_b), 0, "b is not renegotiated: {at_b:?}");
    assert!(
        offers(&drain(&mut sites, HOST).await) >= 1,
        "the host's grid takes up c's camera"
    );
    assert!(sites.received(HOST, c, MediaKind::Audio, joined).is_empty());
    assert!(sites.received(b, c, MediaKind::Audio, joined).is_empty());

    // Unmuted by the host: every other site is offered c's audio and hears it.
    sites
        .get(HOST)
        .send_msg(ClientMsg::SetMute {
            site_id: c.into(),
            kind: MediaKind::Audio,
            muted: false,
        })
        .await;
    let unmuted = Instant::now();
    sites
        .pump_until("c's audio at the host, a and b", SECS20, |s| {
            [HOST, a, b]
                .iter()
                .all(|to| s.received(to, c, MediaKind::Audio, unmuted).len() > 10)
        })
        .await;
    assert!(offers(&drain(&mut sites, b).await) >= 1);

    // Muted again: the audio stops at once and is taken out of the others' connections.
    sites
        .get(HOST)
        .send_msg(ClientMsg::SetMute {
            site_id: c.into(),
            kind: MediaKind::Audio,
            muted: true,
        })
        .await;
    let muted = Instant::now();
    sites.pump(Duration::from_millis(1000)).await;
    let late = sites.received(b, c, MediaKind::Audio, muted + Duration::from_millis(200));
    assert!(late.is_empty(), "{} packets after the mute", late.len());
    assert!(
        offers(&drain(&mut sites, b).await) >= 1,
        "c's audio is taken out of b's connection"
    );
    // The others' media is undisturbed.
    assert!(sites.received(b, HOST, MediaKind::Audio, muted).len() > 10);
    sites.leave().await;
}
