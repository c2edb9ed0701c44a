//! Calendar output (lịch họp): sessions as iCalendar (RFC 5545) documents, for the invitation's
//! calendar entry and for subscribable feeds. Input is this module's own [`CalEvent`], so it
//! depends on no other module; callers map sessions onto it. All times are written as local
//! Asia/Ho_Chi_Minh times with a VTIMEZONE.

pub mod ical;
#[cfg(test)]
mod tests;
mod text;

pub use ical::{CalEvent, CalStatus, CalendarError, PRODID, TZID, event_ics, feed_ics};
pub use text::MAX_LINE_OCTETS;
