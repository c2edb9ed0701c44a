//! Unit tests of the recurrence rules, expansion and splitting (kept beside `recurrence.rs`).

use super::*;
use RecurrenceError::*;

/// Hanoi wall-clock time in 2025, as UTC.
fn at(mo: u32, d: u32, h: u32) -> DateTime<Utc> {
    Ho_Chi_Minh
        .with_ymd_and_hms(2025, mo, d, h, 0, 0)
        .unwrap()
        .to_utc()
}
fn series(start: DateTime<Utc>, rule: &str) -> Series {
    Series::new(start, TimeDelta::hours(2), rule.parse().unwrap()).unwrap()
}
fn all(s: &Series) -> Vec<Occurrence> {
    expand(s, DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC)
}
fn starts(occ: &[Occurrence]) -> Vec<DateTime<Utc>> {
    occ.iter().map(|o| o.start).collect()
}
fn err(rule: &str) -> RecurrenceError {
    rule.parse::<Recurrence>().unwrap_err()
}
fn joined(a: &Series, b: &Series) -> Vec<Occurrence> {
    [all(a), all(b)].concat()
}

#[test]
fn parses_and_renders() {
    for (input, rendered) in [
        (
            "FREQ=WEEKLY;BYDAY=MO;COUNT=10",
            "FREQ=WEEKLY;BYDAY=MO;COUNT=10",
        ),
        ("FREQ=WEEKLY;COUNT=520;WKST=MO", "FREQ=WEEKLY;COUNT=520"),
        (
            "FREQ=DAILY;UNTIL=20251231T100000Z;",
            "FREQ=DAILY;UNTIL=20251231T100000Z",
        ),
        (
            "RRULE:freq=weekly;byday=we,mo,we;interval=2;until=20251231",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;UNTIL=20251231",
        ),
        // A floating UNTIL is Hanoi time.
        (
            "FREQ=DAILY;BYDAY=SA;UNTIL=20251231T080000",
            "FREQ=DAILY;BYDAY=SA;UNTIL=20251231T010000Z",
        ),
    ] {
        let rule: Recurrence = input.parse().unwrap();
        assert_eq!(rule.to_string(), rendered, "{input}");
        assert_eq!(rendered.parse::<Recurrence>().unwrap(), rule);
    }
    let r = Recurrence::new(
        Frequency::Weekly,
        2,
        &[Weekday::Thu, Weekday::Mon],
        End::Count(3),
    );
    assert_eq!(
        r.unwrap(),
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH,MO;COUNT=3"
            .parse()
            .unwrap()
    );
}

#[test]
fn refuses_bad_rules() {
    assert_eq!(err("FREQ=WEEKLY;BYDAY=MO"), NeverEnds);
    assert_eq!(err("FREQ=DAILY"), NeverEnds);
    assert!(err("FREQ=DAILY").to_string().contains("COUNT or UNTIL"));
    assert_eq!(err("FREQ=WEEKLY;COUNT=521"), TooMany(521));
    let invalid = "|  |;;|RRULE:|garbage|COUNT=3|FREQ=WEEKLY;COUNT=abc|FREQ=WEEKLY;COUNT=0|\
        FREQ=DAILY;INTERVAL=0;COUNT=2|FREQ=FORTNIGHTLY;COUNT=2|FREQ=DAILY;COUNT=2;UNTIL=20251231|\
        FREQ=DAILY;UNTIL=2025|FREQ=DAILY;UNTIL=20251332|FREQ=DAILY;UNTIL=20251231T250000Z|\
        FREQ=DAILY;UNTIL=20251231X100000|FREQ=DAILY;UNTIL=2025 1231|FREQ=DAILY;UNTIL=20251231Z|\
        FREQ=DAILY;UNTIL=20251231;UNTIL=20261231|FREQ=DAILY;COUNT=2;COUNT=3|\
        FREQ=WEEKLY;BYDAY=XX;COUNT=2|FREQ=WEEKLY;COUNT=2;COLOR=red|FREQ=WEEKLY;COUNT";
    for bad in invalid.split('|') {
        assert!(
            matches!(err(bad), Invalid(_)),
            "{bad:?} gave {:?}",
            err(bad)
        );
    }
    let unsupported = "FREQ=MONTHLY;COUNT=3|FREQ=YEARLY;COUNT=3|FREQ=HOURLY;COUNT=3|\
        FREQ=WEEKLY;BYMONTH=1;COUNT=3|FREQ=DAILY;BYHOUR=8;COUNT=3|FREQ=WEEKLY;BYDAY=1MO;COUNT=3|\
        FREQ=WEEKLY;WKST=SU;COUNT=3";
    for bad in unsupported.split('|') {
        assert!(
            matches!(err(bad), Unsupported(_)),
            "{bad:?} gave {:?}",
            err(bad)
        );
    }
}

#[test]
fn series_checks_start_duration_and_span() {
    let monday = at(1, 6, 8);
    let rule = |s: &str| s.parse::<Recurrence>().unwrap();
    let new = |r: &str| Series::new(monday, TimeDelta::hours(2), rule(r));
    assert!(new("FREQ=WEEKLY;BYDAY=MO;UNTIL=20300106").is_ok());
    assert!(new("FREQ=WEEKLY;BYDAY=MO;UNTIL=20300106T010000Z").is_ok());
    assert_eq!(new("FREQ=WEEKLY;BYDAY=MO;UNTIL=20300107"), Err(TooLong));
    assert_eq!(new("FREQ=DAILY;UNTIL=20300106T010001Z"), Err(TooLong));
    assert!(matches!(new("FREQ=WEEKLY;UNTIL=20250105"), Err(Invalid(_))));
    assert!(matches!(
        new("FREQ=WEEKLY;BYDAY=TU;COUNT=3"),
        Err(Invalid(_))
    ));
    let daily = rule("FREQ=DAILY;COUNT=2");
    for d in [
        TimeDelta::zero(),
        TimeDelta::minutes(-5),
        TimeDelta::hours(25),
    ] {
        assert!(matches!(
            Series::new(monday, d, daily.clone()),
            Err(Invalid(_))
        ));
    }
    let nanos = monday + TimeDelta::nanoseconds(5);
    assert!(Series::new(nanos, TimeDelta::hours(1), daily).is_err());
    // COUNT with a huge INTERVAL would run for centuries.
    let far = rule("FREQ=WEEKLY;INTERVAL=53;COUNT=120");
    assert_eq!(Series::new(monday, TimeDelta::hours(1), far), Err(TooLong));
    let far = rule("FREQ=DAILY;INTERVAL=65535;COUNT=520");
    assert_eq!(Series::new(monday, TimeDelta::hours(1), far), Err(TooLong));
    assert!(new("FREQ=WEEKLY;COUNT=520").is_ok());
    // A hand-built rule is checked again.
    let mut huge = rule("FREQ=DAILY;COUNT=2");
    huge.end = End::Count(10_000);
    assert_eq!(
        Series::new(monday, TimeDelta::hours(1), huge),
        Err(TooMany(10_000))
    );
    // Monday 06:00 in Hanoi is Sunday 23:00 UTC: BYDAY is read in Hanoi time.
    let early = series(at(1, 6, 6), "FREQ=WEEKLY;BYDAY=MO;COUNT=2");
    let sunday = Utc.with_ymd_and_hms(2025, 1, 5, 23, 0, 0).unwrap();
    assert_eq!(starts(&all(&early)), [sunday, sunday + TimeDelta::weeks(1)]);
}

#[test]
fn weekly_monday_0800_hanoi_is_0100_utc() {
    let s = series(at(1, 6, 8), "FREQ=WEEKLY;BYDAY=MO;COUNT=10");
    let occ = all(&s);
    assert_eq!(occ.len(), 10);
    let first = Utc.with_ymd_and_hms(2025, 1, 6, 1, 0, 0).unwrap();
    for (i, o) in occ.iter().enumerate() {
        let t = first + TimeDelta::weeks(i as i64);
        assert_eq!(
            (o.recurrence_id, o.start, o.end),
            (t, t, t + TimeDelta::hours(2))
        );
        assert!(!o.cancelled && !o.overridden && o.title.is_none());
    }
    assert_eq!(s.recurrence_ids().count(), 10);
    assert!(s.contains(at(3, 10, 8)) && !s.contains(at(3, 17, 8)) && !s.contains(at(1, 7, 8)));
}

#[test]
fn daily_interval_and_until_rules() {
    // Weekdays only; UNTIL as a date includes that day.
    let s = series(
        at(1, 2, 14),
        "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;UNTIL=20250109",
    );
    let days = [2, 3, 6, 7, 8, 9].map(|d| at(1, d, 14));
    assert_eq!(starts(&all(&s)), days);
    // Every other week, Monday and Thursday.
    let s = series(at(1, 6, 8), "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=5");
    let days = [(1, 6), (1, 9), (1, 20), (1, 23), (2, 3)].map(|(m, d)| at(m, d, 8));
    assert_eq!(starts(&all(&s)), days);
    // UNTIL exactly at an occurrence includes it.
    let s = series(at(1, 6, 8), "FREQ=WEEKLY;UNTIL=20250120T010000Z");
    assert_eq!(all(&s).len(), 3);
}

#[test]
fn expand_window_is_half_open_on_actual_times() {
    let s = series(at(1, 6, 8), "FREQ=WEEKLY;BYDAY=MO;COUNT=10");
    // A window starting inside an occurrence includes it; one ending at a start does not.
    let occ = expand(&s, at(1, 13, 9), at(1, 27, 8));
    assert_eq!(starts(&occ), [at(1, 13, 8), at(1, 20, 8)]);
    assert!(expand(&s, at(1, 13, 10), at(1, 20, 8)).is_empty());
    assert!(expand(&s, at(2, 1, 0), at(1, 1, 0)).is_empty());
}

#[test]
fn exceptions_cancel_move_and_retitle() {
    let mut s = series(at(1, 6, 8), "FREQ=WEEKLY;BYDAY=MO;COUNT=10");
    s.cancel(at(1, 13, 8)).unwrap();
    // The last occurrence (10/3) moves to Wednesday 15/1 14:00, retitled.
    let title = Some("Dời lịch".to_string());
    let moved = Override {
        start: Some(at(1, 15, 14)),
        end: None,
        title: title.clone(),
    };
    s.set_override(at(3, 10, 8), moved).unwrap();
    let shorter = Override {
        end: Some(at(1, 20, 9)),
        ..Default::default()
    };
    s.set_override(at(1, 20, 8), shorter).unwrap();

    let occ = expand(&s, at(1, 13, 0), at(1, 21, 0));
    assert_eq!(starts(&occ), [at(1, 13, 8), at(1, 15, 14), at(1, 20, 8)]);
    assert!(occ[0].cancelled && !occ[0].overridden);
    assert!(occ[1].overridden && !occ[1].cancelled);
    assert_eq!(
        (occ[1].recurrence_id, occ[1].end),
        (at(3, 10, 8), at(1, 15, 16))
    );
    assert_eq!(occ[1].title, title);
    assert_eq!(occ[2].end, at(1, 20, 9));
    assert!(expand(&s, at(3, 10, 0), at(3, 11, 0)).is_empty());
    assert_eq!(all(&s).iter().filter(|o| !o.cancelled).count(), 9);

    assert!(s.uncancel(at(1, 13, 8)) && !s.uncancel(at(1, 13, 8)));
    assert!(s.clear_override(at(1, 20, 8)).is_some());
    assert_eq!((s.cancelled().len(), s.overrides().len()), (0, 1));
    assert_eq!(s.cancel(at(1, 14, 8)), Err(NotAnOccurrence(at(1, 14, 8))));
    let none = Override::default();
    assert_eq!(
        s.set_override(at(4, 7, 8), none),
        Err(NotAnOccurrence(at(4, 7, 8)))
    );
    let backwards = Override {
        end: Some(at(1, 27, 7)),
        ..Default::default()
    };
    assert!(matches!(
        s.set_override(at(1, 27, 8), backwards),
        Err(Invalid(_))
    ));
}

#[test]
fn split_with_count_keeps_every_occurrence_and_exception() {
    let mut s = series(at(1, 6, 8), "FREQ=WEEKLY;BYDAY=MO,TH;COUNT=10");
    s.cancel(at(1, 9, 8)).unwrap();
    s.cancel(at(1, 23, 8)).unwrap();
    let retitled = Override {
        title: Some("x".into()),
        ..Default::default()
    };
    s.set_override(at(1, 16, 8), retitled.clone()).unwrap();
    s.set_override(at(1, 20, 8), retitled).unwrap();

    let split = at(1, 20, 8); // the 5th occurrence
    let (left, right) = split_at(&s, split).unwrap();
    assert_eq!(left.rule().to_string(), "FREQ=WEEKLY;BYDAY=MO,TH;COUNT=4");
    assert_eq!(right.rule().to_string(), "FREQ=WEEKLY;BYDAY=MO,TH;COUNT=6");
    assert_eq!((left.start(), right.start()), (s.start(), split));
    assert_eq!(right.duration(), s.duration());
    assert!(left.cancelled().iter().eq(&[at(1, 9, 8)]));
    assert!(right.cancelled().iter().eq(&[at(1, 23, 8)]));
    assert!(left.overrides().keys().eq(&[at(1, 16, 8)]));
    assert!(right.overrides().keys().eq(&[split]));
    assert_eq!(joined(&left, &right), all(&s));
}

#[test]
fn split_with_until_and_refusals() {
    let s = series(
        at(1, 6, 8),
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;UNTIL=20250331",
    );
    let split = at(2, 6, 8);
    let (left, right) = split_at(&s, split).unwrap();
    let just_before = Until::DateTime(split - TimeDelta::seconds(1));
    assert_eq!(
        (left.rule().end, right.rule().end),
        (End::Until(just_before), s.rule().end)
    );
    assert_eq!(joined(&left, &right), all(&s));
    assert_eq!(all(&s).len(), 13);

    assert!(matches!(split_at(&s, s.start()), Err(Invalid(_))));
    let off_week = at(2, 10, 8);
    assert_eq!(split_at(&s, off_week), Err(NotAnOccurrence(off_week)));
}
