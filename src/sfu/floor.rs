//! The floor of a session, pure: the queue of raised hands (in the order they were raised, with
//! the time) and the one site holding the floor. Who may change it is checked by the caller
//! (`chair`); here only what the change does, and whether it changes anything at all.

pub use crate::signal::protocol::Hand;
use chrono::{DateTime, Utc};

/// What a floor change did: the holder before and after (equal when nothing changed hands) and
/// whether the queue changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FloorChange {
    pub previous: Option<String>,
    pub holder: Option<String>,
    /// The hand that went down with the change (the new holder's).
    pub lowered: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FloorError {
    #[error("no site has raised its hand")]
    QueueEmpty,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Floor {
    hands: Vec<Hand>,
    holder: Option<String>,
}

impl Floor {
    /// The raised hands, first raised first.
    pub fn hands(&self) -> &[Hand] {
        &self.hands
    }

    pub fn holder(&self) -> Option<&str> {
        self.holder.as_deref()
    }

    pub fn has_hand(&self, site_id: &str) -> bool {
        self.hands.iter().any(|h| h.site_id == site_id)
    }

    /// Raises a site's hand at the end of the queue; false when it was already raised (it keeps
    /// its place) or the site holds the floor (it has nothing to ask for).
    pub fn raise(&mut self, site_id: &str, now: DateTime<Utc>) -> bool {
        if self.has_hand(site_id) || self.holder.as_deref() == Some(site_id) {
            return false;
        }
        self.hands.push(Hand {
            site_id: site_id.to_string(),
            raised_at: now,
        });
        true
    }

    /// Lowers a site's hand; false when it was not raised.
    pub fn lower(&mut self, site_id: &str) -> bool {
        let before = self.hands.len();
        self.hands.retain(|h| h.site_id != site_id);
        self.hands.len() != before
    }

    /// Gives the floor to `site_id` (its hand goes down); the previous holder loses it.
    pub fn give(&mut self, site_id: &str) -> FloorChange {
        let lowered = self.lower(site_id).then(|| site_id.to_string());
        let previous = self.holder.replace(site_id.to_string());
        FloorChange {
            previous,
            holder: self.holder.clone(),
            lowered,
        }
    }

    /// Gives the floor to the first site in the queue.
    pub fn give_next(&mut self) -> Result<FloorChange, FloorError> {
        let next = self
            .hands
            .first()
            .map(|h| h.site_id.clone())
            .ok_or(FloorError::QueueEmpty)?;
        Ok(self.give(&next))
    }

    /// Takes the floor back; `previous` is `None` when nobody held it.
    pub fn revoke(&mut self) -> FloorChange {
        FloorChange {
            previous: self.holder.take(),
            holder: None,
            lowered: None,
        }
    }

    /// A site left the session for good: its hand goes down and it loses the floor.
    pub fn forget(&mut self, site_id: &str) -> (bool, FloorChange) {
        let lowered = self.lower(site_id);
        let change = if self.holder.as_deref() == Some(site_id) {
            self.revoke()
        } else {
            FloorChange {
                previous: self.holder.clone(),
                holder: self.holder.clone(),
                lowered: None,
            }
        };
        (lowered, change)
    }
}

impl FloorChange {
    /// Whether the holder changed.
    pub fn moved(&self) -> bool {
        self.previous != self.holder
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn hands_queue_in_the_order_raised_and_keep_their_place() {
        let mut f = Floor::default();
        assert!(f.raise("b", t(1)));
        assert!(f.raise("a", t(2)));
        assert!(f.raise("c", t(3)));
        assert!(!f.raise("b", t(4)), "raising again keeps the first place");
        let order: Vec<_> = f.hands().iter().map(|h| h.site_id.as_str()).collect();
        assert_eq!(order, ["b", "a", "c"]);
        assert_eq!(f.hands()[0].raised_at, t(1));
        assert!(f.lower("a"));
        assert!(!f.lower("a"));
        let order: Vec<_> = f.hands().iter().map(|h| h.site_id.as_str()).collect();
        assert_eq!(order, ["b", "c"]);
    }

    #[test]
    fn giving_the_floor_lowers_the_hand_and_replaces_the_holder() {
        let mut f = Floor::default();
        f.raise("b", t(1));
        f.raise("c", t(2));
        let c = f.give_next().unwrap();
        assert_eq!(
            c,
            FloorChange {
                previous: None,
                holder: Some("b".into()),
                lowered: Some("b".into())
            }
        );
        assert!(c.moved());
        assert!(!f.raise("b", t(3)), "the holder has nothing to ask for");
        let c = f.give("x");
        assert_eq!(c.previous.as_deref(), Some("b"));
        assert_eq!(c.lowered, None, "x had not raised its hand");
        assert_eq!(f.holder(), Some("x"));
        assert!(!f.give("x").moved(), "giving it again changes nothing");
        let c = f.give_next().unwrap();
        assert_eq!((c.previous.as_deref(), f.holder()), (Some("x"), Some("c")));
        assert_eq!(f.give_next(), Err(FloorError::QueueEmpty));
        assert_eq!(f.holder(), Some("c"), "an empty queue changes nothing");
    }

    #[test]
    fn revoking_and_leaving() {
        let mut f = Floor::default();
        assert!(!f.revoke().moved(), "nobody held it");
        f.give("a");
        f.raise("b", t(1));
        let (lowered, change) = f.forget("b");
        assert!(lowered && !change.moved());
        let (lowered, change) = f.forget("a");
        assert!(!lowered);
        assert_eq!(change.previous.as_deref(), Some("a"));
        assert_eq!(f.holder(), None);
        f.give("a");
        assert_eq!(f.revoke().previous.as_deref(), Some("a"));
        assert!(f.hands().is_empty());
    }
}
