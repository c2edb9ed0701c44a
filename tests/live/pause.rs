//! Video nobody receives is paused at its site, through the real server with Rust clients: a
//! camera that no layout shows is told `video_paused` after the configured delay, and told to
//! resume as soon as a page shows it or a recording starts; a camera that is shown is not paused.

use crate::common;

use common::chair::*;
use common::*;
use giaoban::auth::Role;
use giaoban::client::SiteClient;
use giaoban::signal::protocol::{ClientMsg, MediaKind, ServerMsg, TileRequest, TrackSource};
use std::time::Duration;
use tokio::time::Instant;

const LIMIT: Duration = Duration::from_secs(30);

fn tiles(sites: &[&str]) -> ClientMsg {
    ClientMsg::Subscribe {
        video: Some(
            sites
                .iter()
                .map(|s| TileRequest {
                    site_id: s.to_string(),
                    width: 640,
                    height: 360,
                    source: Default::default(),
                })
                .collect(),
        ),
        page: None,
    }
}

/// The next `video_paused` of the camera, if one comes within `limit`.
async fn camera_paused(c: &mut SiteClient, limit: Duration) -> Option<bool> {
    next_msg(c, limit, |m| match m {
        ServerMsg::VideoPaused {
            source: TrackSource::Camera,
            paused,
        } => Some(*paused),
        _ => None,
    })
    .await
}

/// The last `video_paused` of the camera among the messages already queued (`None`: none).
async fn last_camera_pause(c: &mut SiteClient) -> Option<bool> {
    let mut last = None;
    while let Some(p) = camera_paused(c, Duration::from_millis(50)).await {
        last = Some(p);
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_nobody_sees_is_paused_and_resumes_when_shown_or_recorded() {
    let server = TestServer::start_with(&[("GIAOBAN_MEDIA_PAUSE_UNWATCHED_AFTER_MS", "600")]).await;
    let (a, b) = (SITES[0], SITES[1]);
    let session = server.create_session(HOST, &[a, b]).await;
    let mut sites = Sites::join(&server, &session.links, &[HOST, a, b]).await;
    // The host's page names only b's tile: a's camera is shown nowhere (remote sites see the
    // host), b's is shown at the host.
    sites.get(HOST).send_msg(tiles(&[b])).await;
    let since = Instant::now();
    sites
        .pump_until("the host receives b", LIMIT, |s| {
            !s.received(HOST, b, MediaKind::Video, since).is_empty()
        })
        .await;
    assert_eq!(
        camera_paused(sites.get(a), LIMIT).await,
        Some(true),
        "a's camera, shown nowhere, is paused"
    );
    // b may have been paused before the host's subscription reached it; it is not any more.
    assert_ne!(last_camera_pause(sites.get(b)).await, Some(true));

    // The host shows a again: a is told to resume at once, and its video reaches the host.
    sites.get(HOST).send_msg(tiles(&[a, b])).await;
    assert_eq!(camera_paused(sites.get(a), LIMIT).await, Some(false));
    let since = Instant::now();
    sites
        .pump_until("the host receives a again", LIMIT, |s| {
            !s.received(HOST, a, MediaKind::Video, since).is_empty()
        })
        .await;

    // Hidden again, then a recording starts: the recorder needs every camera.
    sites.get(HOST).send_msg(tiles(&[b])).await;
    assert_eq!(camera_paused(sites.get(a), LIMIT).await, Some(true));
    let operator = server.login(Role::Operator).await;
    let (status, started) = operator.recording(&session.session_id, "start").await;
    assert_eq!(status, 201, "{started}");
    assert_eq!(
        camera_paused(sites.get(a), LIMIT).await,
        Some(false),
        "a recording resumes every camera"
    );
    assert_ne!(last_camera_pause(sites.get(b)).await, Some(true));
    let (status, _) = operator.recording(&session.session_id, "stop").await;
    assert_eq!(status, 200);
    sites.leave().await;
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_delay_at_zero_nothing_is_ever_paused() {
    let server = TestServer::start_with(&[("GIAOBAN_MEDIA_PAUSE_UNWATCHED_AFTER_MS", "0")]).await;
    let a = SITES[0];
    let session = server.create_session(HOST, &[a]).await;
    // Alone in the session: nobody sees a's camera.
    let mut sites = Sites::join(&server, &session.links, &[a]).await;
    sites.pump(Duration::from_secs(2)).await;
    assert_eq!(
        camera_paused(sites.get(a), Duration::from_millis(500)).await,
        None
    );
    sites.leave().await;
    server.running.stop().await;
}
