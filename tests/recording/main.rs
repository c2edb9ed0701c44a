//! Integration tests of recordings: recording live sessions to files (per site and composite),
//! control from the room, crash safety of the server binary, bad input, and the review page in
//! headless Chromium. One test binary, one module per concern; `record_common` publishes real media.

#[path = "../common/mod.rs"]
mod common;
mod record_common;

mod record;
mod record_bad_input;
mod record_composite;
mod record_control;
mod record_crash;
mod record_review;
