//! The Rust client of giaoban: what a site does over signaling protocol v1 and WebRTC, without a
//! browser. `site` joins a session, publishes pre-packetised RTP and receives the other sites
//! (`signaling` is its WebSocket half);
//! `api` logs in to the REST API and creates sessions; the tests, the forwarding bench and the
//! load tester (`giaoban loadtest`) all drive the server through it.

pub mod api;
pub mod signaling;
pub mod site;

pub use site::{ClientError, Incoming, Received, Signaling, SiteClient};
