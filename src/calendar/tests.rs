//! Round-trip tests of the generated iCalendar: every document is parsed back with the
//! independent `ical` crate and each property checked, plus the raw-text rules (CRLF only,
//! at most 75 octets per line) and Vietnamese text through escaping and folding.

use super::*;
use ::ical::parser::ical::component::{IcalCalendar, IcalEvent};
use ::ical::property::Property as Prop;
use chrono::{TimeZone, Utc};

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn stamp() -> chrono::DateTime<Utc> {
    utc(2025, 7, 1, 2, 30)
}

fn session() -> CalEvent {
    CalEvent {
        uid: "s-0001@giaoban".into(),
        sequence: 3,
        title: "Giao ban tuần".into(),
        description: "1. Báo cáo tình hình\n2. Ý kiến các đơn vị".into(),
        location: "Trụ sở UBND Thành phố, 12 Lê Lai".into(),
        // 08:00–10:00 in Hanoi.
        start: utc(2025, 7, 7, 1, 0),
        end: utc(2025, 7, 7, 3, 0),
        status: CalStatus::Confirmed,
        rrule: None,
        exdates: vec![],
        recurrence_id: None,
        organizer: Some("mailto:vanphong@hanoi.gov.vn".into()),
        url: Some("https://giaoban.hanoi.gov.vn/phien/s-0001".into()),
    }
}

fn parse(text: &str) -> IcalCalendar {
    let mut parser = ::ical::IcalParser::new(std::io::BufReader::new(text.as_bytes()));
    let calendar = parser.next().expect("one calendar").expect("parses");
    assert!(parser.next().is_none(), "exactly one VCALENDAR");
    calendar
}

fn props<'a>(properties: &'a [Prop], name: &str) -> Vec<&'a Prop> {
    properties.iter().filter(|p| p.name == name).collect()
}

fn value(properties: &[Prop], name: &str) -> String {
    let found = props(properties, name);
    assert_eq!(found.len(), 1, "exactly one {name}");
    found[0].value.clone().unwrap_or_default()
}

fn param(p: &Prop, key: &str) -> Option<Vec<String>> {
    p.params
        .as_ref()?
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
}

fn tzid(p: &Prop) -> Option<Vec<String>> {
    param(p, "TZID")
}

/// RFC 5545 TEXT unescaping, written independently of the generator.
fn unescape(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// CRLF is the only line ending, the document ends with one, and no line exceeds 75 octets.
fn assert_wire_format(text: &str) {
    assert!(text.ends_with("\r\n"));
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            assert!(i > 0 && bytes[i - 1] == b'\r', "bare LF at byte {i}");
        }
        if b == b'\r' {
            assert_eq!(bytes.get(i + 1), Some(&b'\n'), "bare CR at byte {i}");
        }
    }
    for line in text.split("\r\n") {
        assert!(
            line.len() <= MAX_LINE_OCTETS,
            "{} octets: {line:?}",
            line.len()
        );
    }
}

fn only_event(calendar: &IcalCalendar) -> &IcalEvent {
    assert_eq!(calendar.events.len(), 1);
    &calendar.events[0]
}

#[test]
fn single_event_round_trips() {
    let text = event_ics(&session(), stamp()).unwrap();
    assert_wire_format(&text);
    let cal = parse(&text);

    assert_eq!(value(&cal.properties, "PRODID"), PRODID);
    assert_eq!(value(&cal.properties, "VERSION"), "2.0");
    assert_eq!(value(&cal.properties, "METHOD"), "PUBLISH");
    assert_eq!(value(&cal.properties, "X-WR-TIMEZONE"), TZID);
    assert!(props(&cal.properties, "X-WR-CALNAME").is_empty());

    assert_eq!(cal.timezones.len(), 1);
    let tz = &cal.timezones[0];
    assert_eq!(value(&tz.properties, "TZID"), TZID);
    assert_eq!(tz.transitions.len(), 1);
    let standard = &tz.transitions[0].properties;
    assert_eq!(value(standard, "TZOFFSETFROM"), "+0700");
    assert_eq!(value(standard, "TZOFFSETTO"), "+0700");
    assert_eq!(value(standard, "TZNAME"), "+07");
    assert!(text.contains("BEGIN:STANDARD\r\n"));

    let ev = only_event(&cal);
    let p = &ev.properties;
    assert_eq!(value(p, "UID"), "s-0001@giaoban");
    assert_eq!(value(p, "SEQUENCE"), "3");
    assert_eq!(value(p, "DTSTAMP"), "20250701T023000Z");
    assert_eq!(value(p, "DTSTART"), "20250707T080000");
    assert_eq!(tzid(props(p, "DTSTART")[0]), Some(vec![TZID.to_owned()]));
    assert_eq!(value(p, "DTEND"), "20250707T100000");
    assert_eq!(tzid(props(p, "DTEND")[0]), Some(vec![TZID.to_owned()]));
    assert_eq!(value(p, "STATUS"), "CONFIRMED");
    assert_eq!(unescape(&value(p, "SUMMARY")), "Giao ban tuần");
    assert_eq!(
        unescape(&value(p, "DESCRIPTION")),
        "1. Báo cáo tình hình\n2. Ý kiến các đơn vị"
    );
    assert_eq!(
        unescape(&value(p, "LOCATION")),
        "Trụ sở UBND Thành phố, 12 Lê Lai"
    );
    assert_eq!(value(p, "ORGANIZER"), "mailto:vanphong@hanoi.gov.vn");
    assert_eq!(value(p, "URL"), "https://giaoban.hanoi.gov.vn/phien/s-0001");
    for absent in ["RRULE", "EXDATE", "RECURRENCE-ID"] {
        assert!(props(p, absent).is_empty(), "{absent}");
    }
    // The VTIMEZONE comes before the event that refers to it.
    assert!(text.find("BEGIN:VTIMEZONE").unwrap() < text.find("BEGIN:VEVENT").unwrap());
}

#[test]
fn feed_with_series_exception_override_and_cancellation() {
    let mut weekly = session();
    weekly.uid = "series-1@giaoban".into();
    weekly.rrule = Some("FREQ=WEEKLY;BYDAY=MO;UNTIL=20251229T170000Z".into());
    weekly.exdates = vec![utc(2025, 9, 1, 1, 0), utc(2025, 9, 8, 1, 0)];

    let mut moved = session();
    moved.uid = weekly.uid.clone();
    moved.sequence = 4;
    moved.recurrence_id = Some(utc(2025, 7, 14, 1, 0));
    // Moved to 14:00 local.
    moved.start = utc(2025, 7, 14, 7, 0);
    moved.end = utc(2025, 7, 14, 9, 0);
    moved.organizer = None;
    moved.url = None;

    let mut cancelled = session();
    cancelled.uid = "s-0002@giaoban".into();
    cancelled.status = CalStatus::Cancelled;
    cancelled.description = String::new();

    let name = "Lịch họp UBND Thành phố Hà Nội, tuần 28; bản chính thức";
    let text = feed_ics(name, &[weekly, moved, cancelled], stamp()).unwrap();
    assert_wire_format(&text);
    let cal = parse(&text);
    assert_eq!(unescape(&value(&cal.properties, "X-WR-CALNAME")), name);
    assert_eq!(value(&cal.properties, "METHOD"), "PUBLISH");
    assert_eq!(cal.timezones.len(), 1);
    assert_eq!(cal.events.len(), 3);

    let master = &cal.events[0].properties;
    assert_eq!(value(master, "UID"), "series-1@giaoban");
    assert_eq!(
        value(master, "RRULE"),
        "FREQ=WEEKLY;BYDAY=MO;UNTIL=20251229T170000Z"
    );
    let exdates = props(master, "EXDATE");
    let got: Vec<_> = exdates.iter().map(|p| p.value.clone().unwrap()).collect();
    assert_eq!(got, ["20250901T080000", "20250908T080000"]);
    assert!(
        exdates
            .iter()
            .all(|p| tzid(p) == Some(vec![TZID.to_owned()]))
    );
    assert!(props(master, "RECURRENCE-ID").is_empty());

    let over = &cal.events[1].properties;
    assert_eq!(value(over, "UID"), "series-1@giaoban");
    assert_eq!(value(over, "SEQUENCE"), "4");
    assert_eq!(value(over, "RECURRENCE-ID"), "20250714T080000");
    assert_eq!(
        tzid(props(over, "RECURRENCE-ID")[0]),
        Some(vec![TZID.to_owned()])
    );
    assert_eq!(value(over, "DTSTART"), "20250714T140000");
    assert!(props(over, "ORGANIZER").is_empty());
    assert!(props(over, "URL").is_empty());

    let gone = &cal.events[2].properties;
    assert_eq!(value(gone, "UID"), "s-0002@giaoban");
    assert_eq!(value(gone, "STATUS"), "CANCELLED");
    assert!(props(gone, "DESCRIPTION").is_empty());
}

#[test]
fn long_vietnamese_text_survives_escaping_and_folding() {
    let title = "Hội nghị giao ban trực tuyến Ủy ban nhân dân Thành phố Hà Nội với các sở, ban, \
                 ngành; Ủy ban nhân dân 126 xã, phường về tình hình kinh tế – xã hội, quốc phòng, \
                 an ninh tháng 7/2025 và nhiệm vụ trọng tâm tháng 8/2025 \\ (lần 2)";
    let agenda = "Khai mạc: đồng chí Chủ tịch UBND Thành phố chủ trì;\n\
                  Báo cáo của Văn phòng, các Sở: Tài chính, Xây dựng, Nội vụ;\r\n\
                  Thảo luận, kết luận.";
    let mut ev = session();
    ev.title = title.into();
    ev.description = agenda.into();
    let text = event_ics(&ev, stamp()).unwrap();
    assert_wire_format(&text);
    // Long lines really were folded.
    assert!(text.contains("\r\n "));
    let cal = parse(&text);
    let p = &only_event(&cal).properties;
    assert_eq!(unescape(&value(p, "SUMMARY")), title);
    assert_eq!(
        unescape(&value(p, "DESCRIPTION")),
        agenda.replace("\r\n", "\n")
    );
    // Commas and semicolons were escaped rather than splitting the value.
    assert!(value(p, "SUMMARY").contains("sở\\, ban\\, ngành\\;"));
}

#[test]
fn control_characters_cannot_inject_properties() {
    let mut ev = session();
    ev.title = "Họp\r\nSTATUS:CANCELLED\rX\u{0}".into();
    ev.uid = "abc\r\nATTENDEE:mailto:x@y".into();
    let text = event_ics(&ev, stamp()).unwrap();
    assert_wire_format(&text);
    let cal = parse(&text);
    let p = &only_event(&cal).properties;
    assert_eq!(value(p, "STATUS"), "CONFIRMED");
    assert!(props(p, "ATTENDEE").is_empty());
    assert_eq!(unescape(&value(p, "SUMMARY")), "Họp\nSTATUS:CANCELLED\nX");
}

#[test]
fn feed_without_events_still_has_the_timezone() {
    let text = feed_ics("Lịch trống", &[], stamp()).unwrap();
    assert_wire_format(&text);
    let cal = parse(&text);
    assert!(cal.events.is_empty());
    assert_eq!(cal.timezones.len(), 1);
}

#[test]
fn invalid_input_is_refused() {
    let check = |f: fn(&mut CalEvent)| {
        let mut ev = session();
        f(&mut ev);
        event_ics(&ev, stamp()).unwrap_err()
    };
    assert_eq!(check(|e| e.uid = " ".into()), CalendarError::EmptyUid);
    assert!(matches!(
        check(|e| e.end = e.start - chrono::Duration::minutes(1)),
        CalendarError::EndBeforeStart { .. }
    ));
    for rule in [
        "FREQ=WEEKLY\r\nATTENDEE:mailto:x@y",
        "BYDAY=MO",
        "FREQ=WEEKLY;UNTIL=20251231",
        "FREQ=WEEKLY;UNTIL=20251231T170000",
        "FREQ=WEEKLY;;",
        "",
    ] {
        let mut ev = session();
        ev.rrule = Some(rule.into());
        assert!(
            matches!(
                event_ics(&ev, stamp()),
                Err(CalendarError::InvalidRrule { .. })
            ),
            "{rule:?}"
        );
    }
    assert!(matches!(
        check(|e| e.organizer = Some("Văn phòng UBND".into())),
        CalendarError::InvalidOrganizer { .. }
    ));
    assert!(matches!(
        check(|e| e.url = Some("javascript:alert(1)".into())),
        CalendarError::InvalidUrl { .. }
    ));
    // The optional "RRULE:" prefix is accepted and dropped.
    let mut ev = session();
    ev.rrule = Some("RRULE:FREQ=DAILY;COUNT=5".into());
    let cal = parse(&event_ics(&ev, stamp()).unwrap());
    assert_eq!(
        value(&only_event(&cal).properties, "RRULE"),
        "FREQ=DAILY;COUNT=5"
    );
}
