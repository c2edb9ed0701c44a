//! The recording's persistent consumer of the live events: the events of a recorded session go
//! to its timeline (on the recording's clock), a site that leaves closes its file, and a session
//! marked "record automatically" starts recording when its host site joins. Which events make
//! timeline entries, and what they say, is decided by [`entry`] (pure).

use super::Recorder;
use crate::live::{Event, Persistent};
use serde_json::{Value, json};
use std::sync::Arc;

/// The timeline entry of an event: (kind, site, detail), or `None` for events not kept.
/// The match is exhaustive on purpose: a new live event must say here whether it is kept. The
/// composite layout (`composite::layout`) follows the kinds `floor_given`, `floor_taken`,
/// `speaking_turn`, `screen_share_started` and `screen_share_stopped` (with the site concerned),
/// and the review page names them; floor, speaking and screen-share events should map to those.
pub fn entry(e: &Event) -> Option<(&'static str, Option<&str>, Value)> {
    match e {
        Event::Joined { site_id, .. } => Some(("site_joined", Some(site_id), json!({}))),
        Event::Left {
            site_id, reason, ..
        } => Some(("site_left", Some(site_id), json!({ "reason": reason }))),
        Event::TrackPublished { site_id, kind, .. } => {
            Some(("track_published", Some(site_id), json!({ "kind": kind })))
        }
        Event::TrackEnded { site_id, kind, .. } => {
            Some(("track_ended", Some(site_id), json!({ "kind": kind })))
        }
        Event::MuteChanged {
            site_id,
            kind,
            muted,
            by,
            ..
        } => Some((
            "mute_changed",
            Some(site_id),
            json!({ "kind": kind, "muted": muted, "by": by.label() }),
        )),
        Event::FloorGiven { site_id, by, .. } => {
            Some(("floor_given", Some(site_id), json!({ "by": by.label() })))
        }
        Event::FloorRevoked { site_id, by, .. } => {
            Some(("floor_taken", Some(site_id), json!({ "by": by.label() })))
        }
        // A speaking turn starts when the site starts speaking; its end is the next turn.
        Event::Speaking {
            site_id,
            speaking: true,
            ..
        } => Some(("speaking_turn", Some(site_id), json!({}))),
        Event::Speaking { .. } => None,
        Event::ScreenShare {
            site_id,
            sharing,
            by,
            ..
        } => Some((
            if *sharing {
                "screen_share_started"
            } else {
                "screen_share_stopped"
            },
            Some(site_id),
            json!({ "by": by.label() }),
        )),
        // A chapter of the review page: the item's title from the moment it was marked.
        Event::AgendaItem {
            index: Some(index),
            title,
            by,
            ..
        } => Some((
            "agenda_item",
            None,
            json!({ "index": index, "title": title, "by": by.label() }),
        )),
        Event::AgendaItem {
            index: None, by, ..
        } => Some(("agenda_item_cleared", None, json!({ "by": by.label() }))),
        Event::MediaConnected { .. } | Event::HandRaised { .. } | Event::HandLowered { .. } => None,
    }
}

/// Consumes the events until the bus is gone.
pub async fn run(recorder: Arc<Recorder>, mut events: Persistent) {
    while let Some(s) = events.recv().await {
        let session_id = s.event.session_id().to_string();
        if let Event::Joined { site_id, .. } = &s.event
            && recorder.active(&session_id).is_none()
        {
            auto_start(&recorder, &session_id, site_id).await;
        }
        let Some(active) = recorder.active(&session_id) else {
            continue;
        };
        if let Event::Left { participant_id, .. } = &s.event {
            active.close_participant(*participant_id);
        }
        if let Some((kind, site, detail)) = entry(&s.event) {
            let at = active.at_ms(s.at);
            if let Err(e) =
                super::store::add_event(&recorder.pool, &active.id, at, kind, site, &detail).await
            {
                tracing::error!(recording = %active.id, "timeline: {e}");
            }
        }
    }
}

async fn auto_start(recorder: &Recorder, session_id: &str, site_id: &str) {
    let Ok(Some(session)) = crate::store::sessions::get(&recorder.pool, session_id).await else {
        return;
    };
    if !session.record_auto || session.classified || session.host_site_id != site_id {
        return;
    }
    match recorder
        .start(session_id, "system:record-automatically")
        .await
    {
        Ok(s) => tracing::info!(recording = %s.recording_id, "recording started automatically"),
        Err(e) => tracing::warn!(session = %session_id, "automatic recording: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::protocol::{LeaveReason, MediaKind};

    #[test]
    fn events_become_timeline_entries() {
        let p = uuid::Uuid::new_v4();
        let left = Event::Left {
            session_id: "s".into(),
            site_id: "a".into(),
            participant_id: p,
            reason: LeaveReason::Drop,
        };
        let (kind, site, detail) = entry(&left).unwrap();
        assert_eq!((kind, site), ("site_left", Some("a")));
        assert_eq!(detail["reason"], "drop");
        let mute = Event::MuteChanged {
            session_id: "s".into(),
            site_id: "b".into(),
            kind: MediaKind::Audio,
            muted: true,
            by: crate::live::Actor::User("op".into()),
        };
        assert_eq!(
            entry(&mute).unwrap().2,
            json!({"kind": "audio", "muted": true, "by": "user:op"})
        );
        let connected = Event::MediaConnected {
            session_id: "s".into(),
            site_id: "a".into(),
            participant_id: p,
        };
        assert!(entry(&connected).is_none());
        let agenda = Event::AgendaItem {
            session_id: "s".into(),
            index: Some(2),
            title: Some("Kết luận".into()),
            by: crate::live::Actor::Site("a".into()),
        };
        assert_eq!(
            entry(&agenda).unwrap(),
            (
                "agenda_item",
                None,
                json!({"index": 2, "title": "Kết luận", "by": "site:a"})
            )
        );
        let cleared = Event::AgendaItem {
            session_id: "s".into(),
            index: None,
            title: None,
            by: crate::live::Actor::User("op".into()),
        };
        assert_eq!(entry(&cleared).unwrap().0, "agenda_item_cleared");
    }
}
