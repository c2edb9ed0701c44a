//! Room PCs in the real world: what a site's kiosk (`/kiosk`, paired once with a device
//! credential) and its stable link (`/s/<token>`) are told. `plan` decides, from the site's
//! sessions and the clock, which session is current and which is next (pure); `link` signs and
//! checks the stable links (pure); `pairing` makes and reads pairing codes (pure); `state` reads
//! the store and builds the answer the pages get; [`Hub`] tells open kiosk streams at once that
//! a device credential was revoked.

pub mod link;
pub mod pairing;
pub mod plan;
pub mod state;

use crate::store::StoreError;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Why a kiosk or stable-link request is refused. Mapped once to HTTP in `api::error`.
#[derive(Debug, thiserror::Error)]
pub enum KioskError {
    #[error(
        "this browser is not paired with a site; open the pairing link or type the pairing code"
    )]
    NotPaired,
    #[error("the device credential of this browser is unknown or was revoked; pair it again")]
    DeviceRevoked,
    #[error("no such pairing code; check it, or ask the organiser for a new one")]
    PairingInvalid,
    #[error("this pairing code has been used already; ask the organiser for a new one")]
    PairingUsed,
    #[error("this pairing code has expired; ask the organiser for a new one")]
    PairingExpired,
    #[error(transparent)]
    LinkToken(#[from] link::LinkTokenError),
    #[error("this site link has been revoked or replaced by a newer one; ask the organiser")]
    LinkRevoked,
    #[error("unknown site {0}")]
    UnknownSite(String),
    #[error(transparent)]
    Schedule(#[from] crate::schedule::ScheduleError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Live notices for open kiosk streams.
#[derive(Clone)]
pub struct Hub {
    revoked: broadcast::Sender<Arc<str>>,
    stopping: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            revoked: broadcast::channel(64).0,
            stopping: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }
}

impl Hub {
    /// A device credential was revoked: its kiosk unpairs at once.
    pub fn device_revoked(&self, device_id: &str) {
        let _ = self.revoked.send(device_id.into());
    }

    pub fn revocations(&self) -> broadcast::Receiver<Arc<str>> {
        self.revoked.subscribe()
    }

    /// The server is stopping: open streams end (a kiosk then retries, and says so).
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }

    pub fn stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.stopping.subscribe()
    }
}
