//! The audit log's consumer of live events: every site join and leave (with its reason) becomes
//! an audit entry, read from a lossless queue (see `crate::live`), so none is skipped; so does
//! every floor and mute action of a controller (a user or the host site), named as the actor,
//! a controller's stop of a screen share, and every agenda item a controller marks.
//! A site muting itself, and the join-muted policy, are not audited.

use super::actions::{
    AGENDA_ITEM, FLOOR_GIVE, FLOOR_REVOKE, SCREEN_SHARE_STOP, SITE_JOIN, SITE_LEAVE, SITE_MUTE,
    SITE_UNMUTE,
};
use crate::live::{Actor, Event, Persistent};
use crate::signal::protocol::ShareReason;
use crate::store::Pool;

/// Appends joins and leaves until the bus is gone; a failed append is retried.
pub async fn run(pool: Pool, mut events: Persistent) {
    while let Some(e) = events.recv().await {
        if let Some((actor, action, session, detail)) = chair_entry(&e.event, e.at) {
            append(&pool, e.seq, &actor, action, session, detail).await;
            continue;
        }
        let (site, action, session, detail) = match &e.event {
            Event::Joined {
                session_id,
                site_id,
                participant_id,
            } => (
                site_id,
                SITE_JOIN,
                session_id,
                serde_json::json!({ "participant_id": participant_id, "at": e.at }),
            ),
            Event::Left {
                session_id,
                site_id,
                participant_id,
                reason,
            } => (
                site_id,
                SITE_LEAVE,
                session_id,
                serde_json::json!({
                    "participant_id": participant_id, "reason": reason, "at": e.at,
                }),
            ),
            _ => continue,
        };
        let actor = format!("site:{site}");
        append(&pool, e.seq, &actor, action, session, detail).await;
    }
}

/// Appends one entry; a failed append is retried with a growing delay.
async fn append(
    pool: &Pool,
    seq: u64,
    actor: &str,
    action: &str,
    session: &str,
    detail: serde_json::Value,
) {
    let mut delay = std::time::Duration::from_millis(50);
    while let Err(err) = super::append(pool, actor, action, session, detail.clone()).await {
        tracing::error!(seq, "audit log: {err}; retrying");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(std::time::Duration::from_secs(5));
    }
}

/// The audit entry of a controller's floor or mute action: (actor, action, session, detail).
fn chair_entry(
    event: &Event,
    at: chrono::DateTime<chrono::Utc>,
) -> Option<(String, &'static str, &str, serde_json::Value)> {
    let by_controller = |by: &Actor, site: &str| match by {
        Actor::Policy => false,
        Actor::Site(s) => s != site,
        Actor::User(_) => true,
    };
    match event {
        Event::FloorGiven {
            session_id,
            site_id,
            by,
        } => Some((
            by.label(),
            FLOOR_GIVE,
            session_id,
            serde_json::json!({ "site_id": site_id, "at": at }),
        )),
        Event::FloorRevoked {
            session_id,
            site_id,
            by,
        } if by_controller(by, site_id) => Some((
            by.label(),
            FLOOR_REVOKE,
            session_id,
            serde_json::json!({ "site_id": site_id, "at": at }),
        )),
        Event::MuteChanged {
            session_id,
            site_id,
            kind,
            muted,
            by,
        } if by_controller(by, site_id) => Some((
            by.label(),
            if *muted { SITE_MUTE } else { SITE_UNMUTE },
            session_id,
            serde_json::json!({ "site_id": site_id, "kind": kind, "at": at }),
        )),
        Event::ScreenShare {
            session_id,
            site_id,
            sharing: false,
            by,
            reason: ShareReason::StoppedByController,
        } => Some((
            by.label(),
            SCREEN_SHARE_STOP,
            session_id,
            serde_json::json!({ "site_id": site_id, "at": at }),
        )),
        Event::AgendaItem {
            session_id,
            index,
            title,
            by,
        } => Some((
            by.label(),
            AGENDA_ITEM,
            session_id,
            serde_json::json!({ "index": index, "title": title, "at": at }),
        )),
        _ => None,
    }
}
