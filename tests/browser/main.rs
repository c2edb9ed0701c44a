//! The room PCs' and the secretariat's pages in headless Chromium (driven over the DevTools
//! protocol), against the real server: login, room pages with fake camera and microphone,
//! chairing, agenda, sharing, pausing, the kiosk and the secretariat's pages. One test binary,
//! one module per page or feature.

#[path = "../common/mod.rs"]
mod common;

mod agenda;
mod chair;
mod kiosk;
mod languages;
mod login_page;
mod pause;
mod room;
mod secretariat;
mod share;
