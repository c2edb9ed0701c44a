//! Signaling: the versioned wire types (`protocol`), the server's task per WebSocket (`conn`) and
//! the Rust client of the same protocol (`client`), used by the tests and the load tester.

pub mod client;
pub mod conn;
pub mod liveness;
pub mod protocol;
