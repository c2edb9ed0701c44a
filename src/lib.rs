//! giaoban: online briefings for a city government. A signaling server with an SFU that connects
//! the host site (city hall) with the remote sites (departments, communes), plus the services
//! around a session. See docs/ and README.md; each module opens with what it owns.

pub mod api;
pub mod app;
pub mod attendance;
pub mod audit;
pub mod auth;
pub mod calendar;
pub mod client;
pub mod config;
pub mod kiosk;
pub mod listener;
pub mod live;
pub mod loadtest;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod record;
pub mod schedule;
pub mod sfu;
pub mod signal;
pub mod store;
pub mod tls;
pub mod turn;
pub mod webhooks;

/// Asia/Ho_Chi_Minh: UTC+7 all year (no daylight saving time).
pub fn tz() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(7 * 3600).expect("valid offset")
}
