//! Integration tests of live sessions through the real signaling server and SFU, with the crate's
//! Rust client: media forwarding, negotiation, chairing and layouts, sharing, speaking, pausing,
//! liveness and revocation, every kind of bad input, the shared UDP port, TURN, ICE restarts, the
//! engine's metrics and the load tester's smoke. One test binary, one module per concern.

#[path = "../common/mod.rs"]
mod common;

mod agenda;
mod bad_input;
mod chair;
mod chair_layout;
mod engine;
mod ice_restart;
mod join_window;
mod lifecycle;
mod liveness;
mod loadtest;
mod media;
mod media_port;
mod negotiation;
mod pause;
mod revocation;
mod share;
mod speaking;
mod turn;
