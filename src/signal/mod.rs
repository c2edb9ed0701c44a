//! Signaling: the versioned wire types (`protocol`) and the server's task per WebSocket (`conn`).
//! The Rust client of the same protocol lives in [`crate::client`].

pub mod agenda;
pub mod conn;
pub mod liveness;
pub mod protocol;
pub mod revoke;

/// The client's former path, kept so that branches written against it still build.
#[doc(hidden)]
pub use crate::client;
