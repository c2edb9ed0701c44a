//! Integration tests of the secretariat's side over real HTTP: accounts and roles, sites and
//! sessions, invitations, calendar feeds, webhooks, room-PC pairing, attendance and its sign-off,
//! the command line and the server's own hardening (files, headers, HTTPS). One test binary, one
//! module per concern; the shared harness is `tests/common`.

#[path = "../common/mod.rs"]
mod common;

mod api;
mod attendance;
mod attendance_crash;
mod audit_anchor;
mod auth;
mod cli;
mod hardening;
mod https;
mod invitations;
mod kiosk;
mod roles;
mod session_feeds;
mod session_rules;
mod sessions;
mod webhooks;
