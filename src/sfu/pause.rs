//! Pausing video that nobody receives. In a city-wide briefing the layouts show a few dozen of
//! 150 cameras (the host's grid page, the floor, the shared screen); the others would still be
//! encoded by their meeting-room PCs, sent up the communes' links and decrypted by the server
//! only to be dropped. A published video track is *watched* while some site's down-track
//! forwards it or a recording taps it. When it has not been watched for `media.pause_unwatched_after_ms`,
//! its site is told `video_paused {paused: true}` and may stop sending; as soon as it is watched
//! again it is told `paused: false` (the new down-track asks for a keyframe as always).
//!
//! [`PauseGate`] is the decision, a plain function of watched/unwatched changes and time; the
//! task that applies it to one track lives here too.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::forward::PublishedTrack;
use crate::signal::protocol::ServerMsg;

/// What to tell the publishing site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseAction {
    Pause,
    Resume,
}

/// Whether a track's site should send it: paused only after it has been unwatched for `after`
/// without a break (a page flipped back and forth does not stop a camera), resumed at once.
#[derive(Debug, Clone)]
pub struct PauseGate {
    after: Duration,
    watched: bool,
    paused: bool,
    /// Since when the track has been unwatched (while not paused).
    since: Option<Instant>,
}

impl PauseGate {
    /// A new track: unwatched from `now` (subscribers attach right after it is published).
    pub fn new(after: Duration, now: Instant) -> Self {
        PauseGate {
            after,
            watched: false,
            paused: false,
            since: Some(now),
        }
    }

    /// The track became watched (`true`) or unwatched at `now`.
    pub fn watched(&mut self, watched: bool, now: Instant) -> Option<PauseAction> {
        if watched == self.watched {
            return None;
        }
        self.watched = watched;
        if watched {
            self.since = None;
            if std::mem::replace(&mut self.paused, false) {
                return Some(PauseAction::Resume);
            }
        } else if !self.paused {
            self.since = Some(now);
        }
        None
    }

    /// When [`PauseGate::tick`] has something to decide, if ever.
    pub fn deadline(&self) -> Option<Instant> {
        self.since.map(|s| s + self.after)
    }

    /// Time passed: pauses a track unwatched for long enough.
    pub fn tick(&mut self, now: Instant) -> Option<PauseAction> {
        match self.deadline() {
            Some(due) if now >= due && !self.watched && !self.paused => {
                self.paused = true;
                self.since = None;
                Some(PauseAction::Pause)
            }
            _ => None,
        }
    }
}

/// Tells the publishing site (`out`) when its video track is paused and resumed, until the
/// track ends. `after` zero: never paused (nothing is started).
pub fn spawn(track: &Arc<PublishedTrack>, after: Duration, out: mpsc::Sender<ServerMsg>) {
    if after.is_zero() {
        return;
    }
    let mut watched = track.watch();
    let source = track.source;
    let site = track.site_id.clone();
    let cancel = track.cancel.clone();
    tokio::spawn(async move {
        let mut gate = PauseGate::new(after, Instant::now());
        let apply = |action: Option<PauseAction>| {
            if let Some(action) = action {
                tracing::debug!(%site, ?source, ?action, "unwatched video");
                // A full queue means a site too far behind to follow; it is dropped elsewhere.
                let _ = out.try_send(ServerMsg::VideoPaused {
                    source,
                    paused: action == PauseAction::Pause,
                });
            }
        };
        apply(gate.watched(*watched.borrow_and_update(), Instant::now()));
        loop {
            let due = gate.deadline();
            tokio::select! {
                _ = cancel.cancelled() => return,
                changed = watched.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let now = *watched.borrow_and_update();
                    apply(gate.watched(now, Instant::now()));
                }
                _ = sleep_until(due) => apply(gate.tick(Instant::now())),
            }
        }
    });
}

async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due).await,
        None => std::future::pending().await,
    }
}

/// Whether a track is watched: some site forwards it, or a recording taps it.
pub fn is_watched(subscribers: usize, tapped: bool) -> bool {
    subscribers > 0 || tapped
}

#[cfg(test)]
mod tests {
    use super::*;

    const AFTER: Duration = Duration::from_secs(3);

    #[test]
    fn an_unwatched_track_pauses_only_after_the_delay() {
        let t0 = Instant::now();
        let mut g = PauseGate::new(AFTER, t0);
        assert_eq!(g.deadline(), Some(t0 + AFTER));
        assert_eq!(g.tick(t0 + Duration::from_secs(2)), None);
        assert_eq!(g.tick(t0 + AFTER), Some(PauseAction::Pause));
        assert_eq!(g.tick(t0 + AFTER * 2), None, "paused once");
        assert_eq!(g.deadline(), None);
    }

    #[test]
    fn a_watched_track_is_never_paused_and_a_paused_one_resumes_at_once() {
        let t0 = Instant::now();
        let mut g = PauseGate::new(AFTER, t0);
        assert_eq!(g.watched(true, t0 + Duration::from_secs(1)), None);
        assert_eq!(g.deadline(), None);
        assert_eq!(g.tick(t0 + AFTER * 10), None);
        assert_eq!(g.watched(false, t0 + AFTER * 10), None);
        assert_eq!(g.tick(t0 + AFTER * 11), Some(PauseAction::Pause));
        assert_eq!(g.watched(true, t0 + AFTER * 12), Some(PauseAction::Resume));
        assert_eq!(
            g.watched(true, t0 + AFTER * 12),
            None,
            "no change, nothing said"
        );
    }

    #[test]
    fn a_short_gap_restarts_the_wait() {
        let t0 = Instant::now();
        let mut g = PauseGate::new(AFTER, t0);
        g.watched(true, t0);
        g.watched(false, t0 + Duration::from_secs(10));
        g.watched(true, t0 + Duration::from_secs(12));
        assert_eq!(g.tick(t0 + Duration::from_secs(14)), None);
        g.watched(false, t0 + Duration::from_secs(14));
        assert_eq!(g.tick(t0 + Duration::from_secs(16)), None);
        assert_eq!(
            g.tick(t0 + Duration::from_secs(17)),
            Some(PauseAction::Pause)
        );
    }

    #[test]
    fn watched_means_forwarded_or_recorded() {
        assert!(!is_watched(0, false));
        assert!(is_watched(1, false));
        assert!(is_watched(0, true));
    }
}
