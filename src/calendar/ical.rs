//! iCalendar (RFC 5545) documents for briefing sessions: one session, or a feed of many
//! (`METHOD:PUBLISH`). Components and escaping come from the `icalendar` crate; this file adds
//! what the crate lacks: local times with `TZID=Asia/Ho_Chi_Minh`, the matching hand-written
//! VTIMEZONE, input validation, and folding that never splits a UTF-8 character.

use super::text::{clean_text, fold_line};
use chrono::{DateTime, Utc};
use chrono_tz::Asia::Ho_Chi_Minh;
use icalendar::{Calendar, Component, Event, EventStatus, Property};
use serde::{Deserialize, Serialize};

/// The time zone every local time refers to.
pub const TZID: &str = "Asia/Ho_Chi_Minh";
/// Product identifier of the generated calendars.
pub const PRODID: &str = "-//giaoban//giao ban truc tuyen//VI";

/// VTIMEZONE for Asia/Ho_Chi_Minh: UTC+7 all year, no daylight saving time (since 1975).
const VTIMEZONE: [&str; 10] = [
    "BEGIN:VTIMEZONE",
    "TZID:Asia/Ho_Chi_Minh",
    "X-LIC-LOCATION:Asia/Ho_Chi_Minh",
    "BEGIN:STANDARD",
    "TZOFFSETFROM:+0700",
    "TZOFFSETTO:+0700",
    "TZNAME:+07",
    "DTSTART:19700101T000000",
    "END:STANDARD",
    "END:VTIMEZONE",
];

/// Whether the session takes place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CalStatus {
    Confirmed,
    Cancelled,
}

/// One calendar entry: a session, the master of a recurring series (with `rrule`), or one
/// overridden occurrence of a series (same `uid`, with `recurrence_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalEvent {
    /// Stable across updates, e.g. `<session id>@giaoban`.
    pub uid: String,
    /// Incremented on every significant change, so clients replace their copy.
    pub sequence: u32,
    pub title: String,
    /// The agenda (chương trình họp); may span lines.
    pub description: String,
    /// The host site's name (điểm cầu chủ trì).
    pub location: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub status: CalStatus,
    /// An RFC 5545 recurrence rule without the `RRULE:` name, e.g. `FREQ=WEEKLY;BYDAY=MO`.
    /// `UNTIL`, if present, must be a UTC date-time (`20251231T170000Z`).
    pub rrule: Option<String>,
    /// Original start times of the occurrences a series skips.
    pub exdates: Vec<DateTime<Utc>>,
    /// For an override: the original start time of the occurrence it replaces.
    pub recurrence_id: Option<DateTime<Utc>>,
    /// A cal-address URI, e.g. `mailto:vanphong@hanoi.gov.vn`.
    pub organizer: Option<String>,
    /// An http(s) link to the session page.
    pub url: Option<String>,
}

/// An event that cannot be written as valid iCalendar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("calendar event has an empty UID")]
    EmptyUid,
    #[error("calendar event {uid}: end is before start")]
    EndBeforeStart { uid: String },
    #[error("calendar event {uid}: invalid RRULE {rule:?}: {reason}")]
    InvalidRrule {
        uid: String,
        rule: String,
        reason: &'static str,
    },
    #[error("calendar event {uid}: organizer {value:?} is not a URI")]
    InvalidOrganizer { uid: String, value: String },
    #[error("calendar event {uid}: url {value:?} is not an http(s) URL")]
    InvalidUrl { uid: String, value: String },
}

/// A calendar with one session (for the invitation's `.ics` attachment or download).
pub fn event_ics(event: &CalEvent, dtstamp: DateTime<Utc>) -> Result<String, CalendarError> {
    render(None, std::slice::from_ref(event), dtstamp)
}

/// A subscribable feed (lịch họp) named `name`, with every event given.
pub fn feed_ics(
    name: &str,
    events: &[CalEvent],
    dtstamp: DateTime<Utc>,
) -> Result<String, CalendarError> {
    render(Some(name), events, dtstamp)
}

fn render(
    name: Option<&str>,
    events: &[CalEvent],
    dtstamp: DateTime<Utc>,
) -> Result<String, CalendarError> {
    let mut calendar = Calendar::empty();
    calendar
        .append_property(Property::new("PRODID", PRODID))
        .append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("METHOD", "PUBLISH"));
    if let Some(name) = name {
        calendar.append_property(Property::new("X-WR-CALNAME", clean_text(name)));
    }
    calendar.append_property(Property::new("X-WR-TIMEZONE", TZID));
    for event in events {
        calendar.push(build_event(event, dtstamp)?);
    }
    Ok(finish(&calendar.to_string()))
}

fn build_event(ev: &CalEvent, dtstamp: DateTime<Utc>) -> Result<Event, CalendarError> {
    let uid = clean_text(ev.uid.trim());
    if uid.is_empty() {
        return Err(CalendarError::EmptyUid);
    }
    if ev.end < ev.start {
        return Err(CalendarError::EndBeforeStart { uid });
    }
    let mut event = Event::new();
    event
        .append_property(Property::new("UID", uid.as_str()))
        .append_property(Property::new("DTSTAMP", utc(dtstamp)))
        .append_property(Property::new("SEQUENCE", ev.sequence.to_string()))
        .append_property(local("DTSTART", ev.start))
        .append_property(local("DTEND", ev.end))
        .append_property(Property::new("SUMMARY", clean_text(&ev.title)))
        .status(match ev.status {
            CalStatus::Confirmed => EventStatus::Confirmed,
            CalStatus::Cancelled => EventStatus::Cancelled,
        });
    if !ev.description.is_empty() {
        event.append_property(Property::new("DESCRIPTION", clean_text(&ev.description)));
    }
    if !ev.location.is_empty() {
        event.append_property(Property::new("LOCATION", clean_text(&ev.location)));
    }
    if let Some(rule) = &ev.rrule {
        let rule = check_rrule(&uid, rule)?;
        event.append_property(Property::new("RRULE", rule));
    }
    for exdate in &ev.exdates {
        event.append_multi_property(local("EXDATE", *exdate));
    }
    if let Some(rid) = ev.recurrence_id {
        event.append_property(local("RECURRENCE-ID", rid));
    }
    if let Some(organizer) = &ev.organizer {
        // Serialised by `url`, so percent-encoded: no spaces, control characters or quotes.
        let value = url::Url::parse(organizer.trim())
            .map_err(|_| CalendarError::InvalidOrganizer {
                uid: uid.clone(),
                value: organizer.clone(),
            })?
            .to_string();
        event.append_property(Property::new("ORGANIZER", value));
    }
    if let Some(link) = &ev.url {
        let parsed = url::Url::parse(link.trim()).ok();
        let Some(parsed) = parsed.filter(|u| matches!(u.scheme(), "http" | "https")) else {
            return Err(CalendarError::InvalidUrl {
                uid,
                value: link.clone(),
            });
        };
        event.append_property(Property::new("URL", parsed.to_string()));
    }
    Ok(event.done())
}

/// `20250707T080000Z`
fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// `KEY;TZID=Asia/Ho_Chi_Minh:20250707T150000`
fn local(key: &str, t: DateTime<Utc>) -> Property {
    let value = t
        .with_timezone(&Ho_Chi_Minh)
        .format("%Y%m%dT%H%M%S")
        .to_string();
    Property::new(key, value).add_parameter("TZID", TZID).done()
}

/// An RRULE value is written verbatim (it is not TEXT), so it must be shown harmless here.
fn check_rrule(uid: &str, rule: &str) -> Result<String, CalendarError> {
    let rule = rule.trim();
    let rule = rule.strip_prefix("RRULE:").unwrap_or(rule);
    let bad = |reason| CalendarError::InvalidRrule {
        uid: uid.to_owned(),
        rule: rule.to_owned(),
        reason,
    };
    if !rule
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"=;,+-".contains(&b))
    {
        return Err(bad("unexpected character"));
    }
    let mut has_freq = false;
    for part in rule.split(';') {
        let Some((key, value)) = part.split_once('=') else {
            return Err(bad("a rule part is not NAME=VALUE"));
        };
        if value.is_empty() {
            return Err(bad("empty value"));
        }
        match key {
            "FREQ" => has_freq = true,
            // With a TZID start, UNTIL must be a UTC date-time (RFC 5545 §3.3.10).
            "UNTIL" => {
                let b = value.as_bytes();
                let ok = b.len() == 16
                    && b[8] == b'T'
                    && b[15] == b'Z'
                    && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit);
                if !ok {
                    return Err(bad("UNTIL must be a UTC date-time like 20251231T170000Z"));
                }
            }
            _ => {}
        }
    }
    if !has_freq {
        return Err(bad("FREQ is missing"));
    }
    Ok(rule.to_owned())
}

/// Takes the crate's output, adds the VTIMEZONE before the first component and refolds every
/// line with [`fold_line`] (the crate's folding is not whitespace-aware).
fn finish(generated: &str) -> String {
    // All text values were cleaned of CR, so CRLF+space only ever comes from folding.
    let unfolded = generated.replace("\r\n ", "");
    let mut lines: Vec<&str> = unfolded.split("\r\n").filter(|l| !l.is_empty()).collect();
    let at = lines
        .iter()
        .skip(1)
        .position(|l| l.starts_with("BEGIN:") || *l == "END:VCALENDAR")
        .map_or(lines.len(), |i| i + 1);
    lines.splice(at..at, VTIMEZONE);
    let mut out = String::with_capacity(unfolded.len() + 256);
    for line in lines {
        out.push_str(&fold_line(line));
        out.push_str("\r\n");
    }
    out
}
