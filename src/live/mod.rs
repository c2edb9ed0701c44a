//! Live events: what happens in the SFU's rooms (a site joined, its media connected, it left and
//! why, tracks, mutes), numbered and timestamped at the moment the room emits them, and handed
//! to two kinds of consumer through one [`Bus`]:
//! - persistent consumers (attendance, audit, webhooks) each get their own unbounded queue: no
//!   event is ever lost and the SFU never waits; each queue's backlog is counted and a warning is
//!   logged when it grows past [`BACKLOG_WARN`] (a stalled database shows up there, not as loss);
//! - live views (the roll-call board's stream) read a bounded broadcast and may skip on lag.
//!
//! Consumers live in their own modules (`attendance`, `audit::live`, `webhooks`); `app` only
//! starts them.

use crate::signal::protocol::{LeaveReason, MediaKind};
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

/// A persistent consumer whose queue holds more than this many events is logged as falling behind.
pub const BACKLOG_WARN: usize = 10_000;

/// Who did something to a session: a site (by its signaling messages) or a user (by the API).
/// Events carry it, so that "muted by the chair" and "muted by the site itself" can be told apart
/// and the audit log names the user.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// A site, by its id.
    Site(String),
    /// A user, by their login name (as the audit log names them).
    User(String),
    /// The session's policy (sites join muted), not a person.
    Policy,
}

impl Actor {
    /// `site:<id>` or `user:<id>`, for logs and the audit log.
    pub fn label(&self) -> String {
        match self {
            Actor::Site(id) => format!("site:{id}"),
            Actor::User(id) => format!("user:{id}"),
            Actor::Policy => "policy".to_string(),
        }
    }
}

/// What happened in a live session.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The site's socket joined the room (media not yet connected).
    Joined {
        session_id: String,
        site_id: String,
        participant_id: Uuid,
    },
    /// One of the site's peer connections reached `connected`: the site is present.
    MediaConnected {
        session_id: String,
        site_id: String,
        participant_id: Uuid,
    },
    Left {
        session_id: String,
        site_id: String,
        participant_id: Uuid,
        reason: LeaveReason,
    },
    TrackPublished {
        session_id: String,
        site_id: String,
        kind: MediaKind,
    },
    TrackEnded {
        session_id: String,
        site_id: String,
        kind: MediaKind,
    },
    /// A site's microphone or camera was muted or unmuted: by the site itself (`by` is that
    /// site) or by a controller (the host site or a user). `muted` is the effective state: what
    /// the SFU forwards.
    MuteChanged {
        session_id: String,
        site_id: String,
        kind: MediaKind,
        muted: bool,
        by: Actor,
    },
    /// A site asked to speak (đăng ký phát biểu).
    HandRaised { session_id: String, site_id: String },
    /// A site's hand went down: by itself, by a controller, or because it got the floor or left.
    HandLowered {
        session_id: String,
        site_id: String,
        by: Actor,
    },
    /// A controller gave the site the floor (mời phát biểu).
    FloorGiven {
        session_id: String,
        site_id: String,
        by: Actor,
    },
    /// The site no longer holds the floor (taken back, given to another, or the site left).
    FloorRevoked {
        session_id: String,
        site_id: String,
        by: Actor,
    },
    /// The site started (`true`) or stopped speaking, from the audio levels it sends.
    Speaking {
        session_id: String,
        site_id: String,
        speaking: bool,
    },
    /// The site started or stopped sharing its screen (stopped by itself or by a controller,
    /// replaced by another site's share, or ended with its track); `reason` says which.
    ScreenShare {
        session_id: String,
        site_id: String,
        sharing: bool,
        by: Actor,
        reason: crate::signal::protocol::ShareReason,
    },
    /// A controller marked item `index` of the agenda as current (`None`: cleared it).
    AgendaItem {
        session_id: String,
        index: Option<u32>,
        title: Option<String>,
        by: Actor,
    },
}

impl Event {
    pub fn session_id(&self) -> &str {
        match self {
            Event::Joined { session_id, .. }
            | Event::MediaConnected { session_id, .. }
            | Event::Left { session_id, .. }
            | Event::TrackPublished { session_id, .. }
            | Event::TrackEnded { session_id, .. }
            | Event::MuteChanged { session_id, .. }
            | Event::HandRaised { session_id, .. }
            | Event::HandLowered { session_id, .. }
            | Event::FloorGiven { session_id, .. }
            | Event::FloorRevoked { session_id, .. }
            | Event::Speaking { session_id, .. }
            | Event::ScreenShare { session_id, .. }
            | Event::AgendaItem { session_id, .. } => session_id,
        }
    }

    /// The site concerned (empty for an event of the whole session, such as an agenda item).
    pub fn site_id(&self) -> &str {
        match self {
            Event::Joined { site_id, .. }
            | Event::MediaConnected { site_id, .. }
            | Event::Left { site_id, .. }
            | Event::TrackPublished { site_id, .. }
            | Event::TrackEnded { site_id, .. }
            | Event::MuteChanged { site_id, .. }
            | Event::HandRaised { site_id, .. }
            | Event::HandLowered { site_id, .. }
            | Event::FloorGiven { site_id, .. }
            | Event::FloorRevoked { site_id, .. }
            | Event::Speaking { site_id, .. }
            | Event::ScreenShare { site_id, .. } => site_id,
            // The session's, not a site's.
            Event::AgendaItem { .. } => "",
        }
    }
}

/// An event with its place in the server's sequence and the moment it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Stamped {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub event: Event,
}

struct Consumer {
    name: &'static str,
    tx: mpsc::UnboundedSender<Arc<Stamped>>,
    backlog: Arc<AtomicUsize>,
    warned: AtomicBool,
}

/// The event bus of one server. `emit` never blocks and never fails.
pub struct Bus {
    seq: AtomicU64,
    consumers: Mutex<Vec<Consumer>>,
    live: broadcast::Sender<Arc<Stamped>>,
}

impl Default for Bus {
    fn default() -> Self {
        Bus::new(1024)
    }
}

impl Bus {
    /// A bus whose live (lossy) channel holds `live_capacity` events per slow viewer.
    pub fn new(live_capacity: usize) -> Self {
        Bus {
            seq: AtomicU64::new(0),
            consumers: Mutex::new(Vec::new()),
            live: broadcast::channel(live_capacity.max(1)).0,
        }
    }

    /// Stamps the event and hands it to every persistent consumer (unbounded: never lost, never
    /// waited for) and to the live views. Numbering happens under the same lock as delivery, so
    /// every consumer sees events in `seq` order.
    pub fn emit(&self, event: Event) {
        let mut consumers = self.consumers.lock().expect("live consumers");
        let stamped = Arc::new(Stamped {
            seq: self.seq.fetch_add(1, Relaxed) + 1,
            at: Utc::now(),
            event,
        });
        consumers.retain(|c| {
            let backlog = c.backlog.fetch_add(1, Relaxed) + 1;
            if backlog > BACKLOG_WARN && !c.warned.swap(true, Relaxed) {
                tracing::warn!(
                    consumer = c.name,
                    backlog,
                    "live event consumer falls behind"
                );
            } else if backlog < BACKLOG_WARN / 2 {
                c.warned.store(false, Relaxed);
            }
            // A consumer that stopped (its receiver dropped) is forgotten.
            c.tx.send(stamped.clone()).is_ok()
        });
        drop(consumers);
        let _ = self.live.send(stamped);
    }

    /// A lossless queue of every event emitted from now on, for a consumer that persists.
    pub fn persistent(&self, name: &'static str) -> Persistent {
        let (tx, rx) = mpsc::unbounded_channel();
        let backlog = Arc::new(AtomicUsize::new(0));
        self.consumers
            .lock()
            .expect("live consumers")
            .push(Consumer {
                name,
                tx,
                backlog: backlog.clone(),
                warned: AtomicBool::new(false),
            });
        Persistent {
            rx,
            backlog,
            in_hand: false,
        }
    }

    /// A lossy view of the events (for pages): a receiver that lags skips events.
    pub fn live(&self) -> broadcast::Receiver<Arc<Stamped>> {
        self.live.subscribe()
    }

    /// Waits (up to `limit`) until every persistent consumer has handled every event so far.
    pub async fn drained(&self, limit: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if self.backlogs().iter().all(|(_, n)| *n == 0) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Events queued or in hand, per persistent consumer.
    pub fn backlogs(&self) -> Vec<(&'static str, usize)> {
        self.consumers
            .lock()
            .expect("live consumers")
            .iter()
            .map(|c| (c.name, c.backlog.load(Relaxed)))
            .collect()
    }
}

/// The receiving end of a persistent consumer's queue. An event counts in the backlog until the
/// consumer asks for the next one (it is then taken as handled), so a backlog of zero means every
/// event emitted so far has been fully processed: the server's stop waits for that.
pub struct Persistent {
    rx: mpsc::UnboundedReceiver<Arc<Stamped>>,
    backlog: Arc<AtomicUsize>,
    in_hand: bool,
}

impl Persistent {
    fn ack(&mut self) {
        if std::mem::take(&mut self.in_hand) {
            self.backlog.fetch_sub(1, Relaxed);
        }
    }

    /// The next event, in order (the previous one is taken as handled); `None` once the bus is gone.
    pub async fn recv(&mut self) -> Option<Arc<Stamped>> {
        self.ack();
        let e = self.rx.recv().await?;
        self.in_hand = true;
        Some(e)
    }

    /// The next event if one is queued.
    pub fn try_recv(&mut self) -> Option<Arc<Stamped>> {
        self.ack();
        let e = self.rx.try_recv().ok()?;
        self.in_hand = true;
        Some(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn muted(i: u64) -> Event {
        Event::MuteChanged {
            session_id: "s".into(),
            site_id: format!("site-{i}"),
            kind: MediaKind::Audio,
            muted: i.is_multiple_of(2),
            by: Actor::Site(format!("site-{i}")),
        }
    }

    #[tokio::test]
    async fn persistent_consumers_lose_nothing_while_live_views_lag() {
        let bus = Bus::new(8);
        let mut audit = bus.persistent("audit");
        let mut attendance = bus.persistent("attendance");
        let mut view = bus.live();
        for i in 0..50_000 {
            bus.emit(muted(i));
        }
        assert_eq!(
            bus.backlogs(),
            vec![("audit", 50_000), ("attendance", 50_000)]
        );
        for consumer in [&mut audit, &mut attendance] {
            for expected in 1..=50_000u64 {
                let e = consumer.try_recv().expect("every event is queued");
                assert_eq!(e.seq, expected);
            }
            assert!(consumer.try_recv().is_none());
        }
        assert_eq!(bus.backlogs(), vec![("audit", 0), ("attendance", 0)]);
        // The live view skipped (it lagged) and then reads the newest events.
        assert!(matches!(
            view.recv().await,
            Err(broadcast::error::RecvError::Lagged(_))
        ));
        assert!(view.recv().await.unwrap().seq > 49_000);
    }

    #[tokio::test]
    async fn events_are_stamped_in_order_and_a_gone_consumer_is_forgotten() {
        let bus = Bus::default();
        let mut kept = bus.persistent("kept");
        drop(bus.persistent("gone"));
        let before = Utc::now();
        bus.emit(muted(1));
        bus.emit(muted(2));
        let a = kept.recv().await.unwrap();
        let b = kept.recv().await.unwrap();
        assert!(a.seq < b.seq && a.at <= b.at && a.at >= before);
        assert_eq!(a.event.site_id(), "site-1");
        assert_eq!(b.event.session_id(), "s");
        // The last event counts until the consumer comes back for the next one.
        assert_eq!(bus.backlogs(), vec![("kept", 1)]);
        assert!(kept.try_recv().is_none());
        assert_eq!(bus.backlogs(), vec![("kept", 0)]);
        assert!(bus.drained(std::time::Duration::from_millis(1)).await);
    }
}
