//! The invitations' consumer of live events: a site that joined and published audio and video
//! has its invitation marked `tested` ([`super::invitations::TestWatch`] decides, purely).

use super::invitations::{TestWatch, mark_tested};
use crate::live::{Event, Persistent};
use crate::store::Pool;

/// Runs until the bus is gone.
pub async fn run(pool: Pool, mut events: Persistent) {
    let mut tests = TestWatch::default();
    while let Some(e) = events.recv().await {
        match &e.event {
            Event::Joined {
                session_id,
                site_id,
                ..
            } => tests.joined(session_id, site_id),
            Event::Left {
                session_id,
                site_id,
                ..
            } => tests.left(session_id, site_id),
            Event::TrackPublished {
                session_id,
                site_id,
                kind,
            } if tests.published(session_id, site_id, *kind) => {
                if let Err(err) = mark_tested(&pool, session_id, site_id).await {
                    tracing::error!("invitation of {site_id} in {session_id}: {err}");
                }
            }
            _ => {}
        }
    }
}
