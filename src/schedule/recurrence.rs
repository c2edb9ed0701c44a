//! Recurring sessions (weekly briefings). This module owns the [`Recurrence`] rule — an RFC 5545
//! RRULE restricted to what the secretariat needs (DAILY/WEEKLY, INTERVAL, plain BYDAY and exactly
//! one of COUNT or UNTIL) — and the [`Series`] built on it: first start, duration, cancelled
//! occurrences (EXDATE) and per-occurrence overrides (keyed by RECURRENCE-ID). It expands a series
//! into a window ([`expand`]) and splits it for "edit this and following" ([`split_at`]). Pure
//! functions: no IO, no clock. Weekdays and date-only UNTIL are read in Asia/Ho_Chi_Minh; the
//! expansion itself is done by the `rrule` crate.

use chrono::{
    DateTime, Datelike, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc,
    Weekday,
};
use chrono_tz::Asia::Ho_Chi_Minh;
use rrule::{NWeekday, RRule, RRuleSet, Unvalidated};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// At most this many occurrences in a COUNT rule (ten years of weekly briefings).
pub const MAX_COUNT: u32 = 520;
/// UNTIL may be at most this many months after the first occurrence.
pub const MAX_SPAN_MONTHS: u32 = 60;
/// The last occurrence of a COUNT rule may be at most this many months after the first (a large
/// INTERVAL would otherwise stretch it over centuries).
pub const MAX_COUNT_SPAN_MONTHS: u32 = 120;
/// A single occurrence lasts at most this long.
pub const MAX_DURATION: TimeDelta = TimeDelta::hours(24);

/// Why a rule or series is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecurrenceError {
    #[error("the rule never ends: give COUNT or UNTIL")]
    NeverEnds,
    #[error("too many occurrences: COUNT={0}, at most {MAX_COUNT}")]
    TooMany(u32),
    #[error(
        "the series is too long: UNTIL at most {MAX_SPAN_MONTHS} months after the start, \
         a COUNT series at most {MAX_COUNT_SPAN_MONTHS} months"
    )]
    TooLong,
    #[error("invalid recurrence: {0}")]
    Invalid(String),
    #[error("unsupported recurrence: {0}")]
    Unsupported(String),
    #[error("{0} is not an occurrence of this series")]
    NotAnOccurrence(DateTime<Utc>),
}

use RecurrenceError::{Invalid, Unsupported};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    Daily,
    Weekly,
}

impl From<Frequency> for rrule::Frequency {
    fn from(f: Frequency) -> Self {
        match f {
            Frequency::Daily => rrule::Frequency::Daily,
            Frequency::Weekly => rrule::Frequency::Weekly,
        }
    }
}

/// UNTIL: inclusive. A date means "through the end of that day in Hanoi".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
}

impl Until {
    /// The last instant an occurrence may start at.
    pub fn last_instant(self) -> DateTime<Utc> {
        match self {
            Until::DateTime(t) => t,
            // The second before the next local midnight.
            Until::Date(d) => {
                local_to_utc(d.and_time(NaiveTime::MIN)) + TimeDelta::days(1)
                    - TimeDelta::seconds(1)
            }
        }
    }
}

fn local_to_utc(t: NaiveDateTime) -> DateTime<Utc> {
    // Asia/Ho_Chi_Minh has had no DST or gaps since 1975, so the mapping is unique.
    let local = Ho_Chi_Minh.from_local_datetime(&t).earliest();
    local.map_or_else(
        || Ho_Chi_Minh.from_utc_datetime(&t).to_utc(),
        |l| l.to_utc(),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Count(u32),
    Until(Until),
}

/// A rule. Build it with [`Recurrence::new`] or parse an RRULE string; [`Series::new`] checks
/// it again, so a hand-built value cannot bypass the limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence {
    pub freq: Frequency,
    pub interval: u16,
    /// Sorted Monday first, no duplicates. Empty: WEEKLY on the start's weekday, DAILY every day.
    pub by_day: Vec<Weekday>,
    pub end: End,
}

impl Recurrence {
    /// Checks INTERVAL ≥ 1 and 1 ≤ COUNT ≤ [`MAX_COUNT`]; sorts and deduplicates `by_day`.
    pub fn new(
        freq: Frequency,
        interval: u16,
        by_day: &[Weekday],
        end: End,
    ) -> Result<Self, RecurrenceError> {
        if interval == 0 {
            return Err(Invalid("INTERVAL must be at least 1".into()));
        }
        match end {
            End::Count(0) => return Err(Invalid("COUNT must be at least 1".into())),
            End::Count(n) if n > MAX_COUNT => return Err(RecurrenceError::TooMany(n)),
            _ => {}
        }
        let mut by_day = by_day.to_vec();
        by_day.sort_by_key(|d| d.num_days_from_monday());
        by_day.dedup();
        Ok(Self {
            freq,
            interval,
            by_day,
            end,
        })
    }

    /// The rule as the `rrule` crate sees it, anchored at `start` in Hanoi time.
    fn to_rrule_set(&self, start: DateTime<Utc>) -> Result<RRuleSet, RecurrenceError> {
        let tz = rrule::Tz::Tz(Ho_Chi_Minh);
        let days = self.by_day.iter().map(|d| NWeekday::Every(*d)).collect();
        let rule = RRule::new(self.freq.into())
            .interval(self.interval)
            .by_weekday(days);
        let rule = match self.end {
            End::Count(n) => rule.count(n),
            End::Until(u) => rule.until(u.last_instant().with_timezone(&rrule::Tz::UTC)),
        };
        rule.build(start.with_timezone(&tz))
            .map_err(|e| Invalid(e.to_string()))
    }
}

fn parse_until(v: &str) -> Result<Until, RecurrenceError> {
    let (body, zulu) = v.strip_suffix('Z').map_or((v, false), |b| (b, true));
    let shape = |i, b: u8| {
        if i == 8 {
            b == b'T'
        } else {
            b.is_ascii_digit()
        }
    };
    let ok = body.bytes().enumerate().all(|(i, b)| shape(i, b));
    let until = match (body.len(), zulu) {
        _ if !ok => None,
        (8, false) => NaiveDate::parse_from_str(body, "%Y%m%d")
            .ok()
            .map(Until::Date),
        // A floating UNTIL (no Z) is Hanoi time, never the server's local time.
        (15, _) => NaiveDateTime::parse_from_str(body, "%Y%m%dT%H%M%S")
            .ok()
            .map(|t| Until::DateTime(if zulu { t.and_utc() } else { local_to_utc(t) })),
        _ => None,
    };
    until.ok_or_else(|| {
        Invalid(format!(
            "UNTIL={v}: expected YYYYMMDD or YYYYMMDDTHHMMSS[Z]"
        ))
    })
}

impl FromStr for Recurrence {
    type Err = RecurrenceError;

    /// Parses `FREQ=WEEKLY;BYDAY=MO;COUNT=10` (an optional `RRULE:` prefix is accepted).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let body = match s.get(..6) {
            Some(p) if p.eq_ignore_ascii_case("RRULE:") => &s[6..],
            _ => s,
        };
        if body.trim_matches(';').is_empty() {
            return Err(Invalid("empty rule".into()));
        }
        // UNTIL is read here (the rrule crate would read a floating UNTIL in the server's time
        // zone); unsupported BYxxx parts are named; the rest goes to the rrule parser.
        let mut until = None;
        let mut rest = Vec::new();
        for part in body.split(';').filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| Invalid(format!("'{part}' is not KEY=VALUE")))?;
            match key.to_ascii_uppercase().as_str() {
                "UNTIL" if until.is_some() => return Err(Invalid("UNTIL given twice".into())),
                "UNTIL" => until = Some(parse_until(value)?),
                k @ ("BYSECOND" | "BYMINUTE" | "BYHOUR" | "BYMONTHDAY" | "BYYEARDAY"
                | "BYWEEKNO" | "BYMONTH" | "BYSETPOS") => {
                    return Err(Unsupported(format!("{k} is not supported")));
                }
                _ => rest.push(part),
            }
        }
        let parsed: RRule<Unvalidated> = rest
            .join(";")
            .parse()
            .map_err(|e: rrule::RRuleError| Invalid(e.to_string()))?;
        let freq = match parsed.get_freq() {
            rrule::Frequency::Daily => Frequency::Daily,
            rrule::Frequency::Weekly => Frequency::Weekly,
            other => return Err(Unsupported(format!("FREQ={other} (only DAILY and WEEKLY)"))),
        };
        if parsed.get_week_start() != Weekday::Mon {
            return Err(Unsupported("WKST other than MO".into()));
        }
        let mut by_day = Vec::new();
        for d in parsed.get_by_weekday() {
            match d {
                NWeekday::Every(d) => by_day.push(*d),
                NWeekday::Nth(..) => return Err(Unsupported(format!("BYDAY={d} (ordinal)"))),
            }
        }
        let end = match (parsed.get_count(), until) {
            (Some(_), Some(_)) => return Err(Invalid("COUNT and UNTIL are exclusive".into())),
            (None, None) => return Err(RecurrenceError::NeverEnds),
            (Some(n), None) => End::Count(n),
            (None, Some(u)) => End::Until(u),
        };
        Recurrence::new(freq, parsed.get_interval(), &by_day, end)
    }
}

impl fmt::Display for Recurrence {
    /// Renders the RRULE value, e.g. `FREQ=WEEKLY;BYDAY=MO;COUNT=10`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FREQ={}", rrule::Frequency::from(self.freq))?;
        if self.interval != 1 {
            write!(f, ";INTERVAL={}", self.interval)?;
        }
        if !self.by_day.is_empty() {
            let days: Vec<String> = self
                .by_day
                .iter()
                .map(|d| NWeekday::Every(*d).to_string())
                .collect();
            write!(f, ";BYDAY={}", days.join(","))?;
        }
        match self.end {
            End::Count(n) => write!(f, ";COUNT={n}"),
            End::Until(Until::Date(d)) => write!(f, ";UNTIL={}", d.format("%Y%m%d")),
            End::Until(Until::DateTime(t)) => write!(f, ";UNTIL={}", t.format("%Y%m%dT%H%M%SZ")),
        }
    }
}

/// A change to one occurrence. A moved start without an end keeps the series' duration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Override {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub title: Option<String>,
}

/// One occurrence as a calendar shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// The start the rule gives (RECURRENCE-ID), before any override.
    pub recurrence_id: DateTime<Utc>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub cancelled: bool,
    pub overridden: bool,
    /// The overriding title, if any (otherwise the series' title applies).
    pub title: Option<String>,
}

/// A recurring session: first start, duration, rule and exceptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    start: DateTime<Utc>,
    duration: TimeDelta,
    rule: Recurrence,
    cancelled: BTreeSet<DateTime<Utc>>,
    overrides: BTreeMap<DateTime<Utc>, Override>,
    set: RRuleSet,
}

impl Series {
    /// `start` is the first occurrence; it must fall on one of the rule's weekdays (Hanoi time).
    pub fn new(
        start: DateTime<Utc>,
        duration: TimeDelta,
        rule: Recurrence,
    ) -> Result<Self, RecurrenceError> {
        if duration <= TimeDelta::zero() || duration > MAX_DURATION {
            return Err(Invalid(format!(
                "duration must be positive and at most {MAX_DURATION}"
            )));
        }
        if start.timestamp_subsec_nanos() != 0 {
            return Err(Invalid("the start must be a whole second".into()));
        }
        let rule = Recurrence::new(rule.freq, rule.interval, &rule.by_day, rule.end)?;
        let local = start.with_timezone(&Ho_Chi_Minh);
        if !rule.by_day.is_empty() && !rule.by_day.contains(&local.weekday()) {
            return Err(Invalid(format!(
                "the first occurrence ({}) is not on BYDAY",
                local
            )));
        }
        let months = |m| local.checked_add_months(Months::new(m)).map(|t| t.to_utc());
        let out_of_range = || Invalid("the start is out of range".into());
        if let End::Until(u) = rule.end {
            if u.last_instant() < start {
                return Err(Invalid("UNTIL is before the first occurrence".into()));
            }
            let limit = months(MAX_SPAN_MONTHS).ok_or_else(out_of_range)?;
            let too_long = match u {
                Until::Date(d) => d > limit.with_timezone(&Ho_Chi_Minh).date_naive(),
                Until::DateTime(t) => t > limit,
            };
            if too_long {
                return Err(RecurrenceError::TooLong);
            }
        }
        let set = rule.to_rrule_set(start)?;
        if let End::Count(n) = rule.end {
            let limit = months(MAX_COUNT_SPAN_MONTHS).ok_or_else(out_of_range)?;
            // The rrule crate stops quietly at year 9999, hence the count check.
            let (k, last) = set
                .into_iter()
                .fold((0, start), |(k, _), t| (k + 1, t.to_utc()));
            if k < n || last > limit {
                return Err(RecurrenceError::TooLong);
            }
        }
        Ok(Self {
            start,
            duration,
            rule,
            cancelled: BTreeSet::new(),
            overrides: BTreeMap::new(),
            set,
        })
    }

    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }
    pub fn duration(&self) -> TimeDelta {
        self.duration
    }
    pub fn rule(&self) -> &Recurrence {
        &self.rule
    }
    pub fn cancelled(&self) -> &BTreeSet<DateTime<Utc>> {
        &self.cancelled
    }
    pub fn overrides(&self) -> &BTreeMap<DateTime<Utc>, Override> {
        &self.overrides
    }

    /// Every occurrence start the rule gives (recurrence ids), in order.
    pub fn recurrence_ids(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        self.set.into_iter().map(|t| t.with_timezone(&Utc))
    }

    pub fn contains(&self, recurrence_id: DateTime<Utc>) -> bool {
        self.recurrence_ids()
            .take_while(|t| *t <= recurrence_id)
            .any(|t| t == recurrence_id)
    }

    fn check(&self, recurrence_id: DateTime<Utc>) -> Result<(), RecurrenceError> {
        if self.contains(recurrence_id) {
            Ok(())
        } else {
            Err(RecurrenceError::NotAnOccurrence(recurrence_id))
        }
    }

    /// Cancels one occurrence (EXDATE).
    pub fn cancel(&mut self, recurrence_id: DateTime<Utc>) -> Result<(), RecurrenceError> {
        self.check(recurrence_id)?;
        self.cancelled.insert(recurrence_id);
        Ok(())
    }

    /// Undoes [`Series::cancel`]; returns whether the occurrence was cancelled.
    pub fn uncancel(&mut self, recurrence_id: DateTime<Utc>) -> bool {
        self.cancelled.remove(&recurrence_id)
    }

    /// Moves or retitles one occurrence; replaces an earlier override of it.
    pub fn set_override(
        &mut self,
        recurrence_id: DateTime<Utc>,
        change: Override,
    ) -> Result<(), RecurrenceError> {
        self.check(recurrence_id)?;
        let start = change.start.unwrap_or(recurrence_id);
        let end = change.end.unwrap_or(start + self.duration);
        if end <= start || end - start > MAX_DURATION {
            let why =
                format!("an overridden occurrence must end after it starts, within {MAX_DURATION}");
            return Err(Invalid(why));
        }
        self.overrides.insert(recurrence_id, change);
        Ok(())
    }

    /// Removes an override; returns it.
    pub fn clear_override(&mut self, recurrence_id: DateTime<Utc>) -> Option<Override> {
        self.overrides.remove(&recurrence_id)
    }

    fn occurrence(&self, recurrence_id: DateTime<Utc>) -> Occurrence {
        let change = self.overrides.get(&recurrence_id);
        let start = change.and_then(|c| c.start).unwrap_or(recurrence_id);
        Occurrence {
            recurrence_id,
            start,
            end: change.and_then(|c| c.end).unwrap_or(start + self.duration),
            cancelled: self.cancelled.contains(&recurrence_id),
            overridden: change.is_some(),
            title: change.and_then(|c| c.title.clone()),
        }
    }
}

/// Occurrences whose actual `[start, end)` overlaps `[window_start, window_end)`, ordered by
/// actual start then recurrence id. Cancelled ones are included and flagged.
pub fn expand(
    series: &Series,
    window_start: DateTime<Utc>,
    window_end: DateTime<Utc>,
) -> Vec<Occurrence> {
    let mut out = Vec::new();
    if window_end <= window_start {
        return out;
    }
    // An override may move an occurrence into the window from after it, so stop only past both.
    let last_override = series.overrides.keys().next_back().copied();
    for id in series.recurrence_ids() {
        if id >= window_end && last_override.is_none_or(|k| id > k) {
            break;
        }
        let occ = series.occurrence(id);
        if occ.start < window_end && occ.end > window_start {
            out.push(occ);
        }
    }
    out.sort_by_key(|o| (o.start, o.recurrence_id));
    out
}

/// "Edit this and following": the first series ends just before `at` (a recurrence id, not the
/// first one), the second starts at `at` with the remaining COUNT or the same UNTIL. Each
/// exception goes to the half holding its occurrence.
pub fn split_at(series: &Series, at: DateTime<Utc>) -> Result<(Series, Series), RecurrenceError> {
    let index = series.recurrence_ids().take_while(|t| *t < at).count();
    series.check(at)?;
    if index == 0 {
        return Err(Invalid(
            "cannot split at the first occurrence; edit the whole series".into(),
        ));
    }
    let (left_end, right_end) = match series.rule.end {
        // index < n: `at` is an occurrence of a COUNT=n rule.
        End::Count(n) => (End::Count(index as u32), End::Count(n - index as u32)),
        until @ End::Until(_) => (
            End::Until(Until::DateTime(at - TimeDelta::seconds(1))),
            until,
        ),
    };
    let rule = |end| Recurrence {
        end,
        ..series.rule.clone()
    };
    let mut left = Series::new(series.start, series.duration, rule(left_end))?;
    let mut right = Series::new(at, series.duration, rule(right_end))?;
    left.cancelled = series.cancelled.clone();
    right.cancelled = left.cancelled.split_off(&at);
    left.overrides = series.overrides.clone();
    right.overrides = left.overrides.split_off(&at);
    Ok((left, right))
}

#[cfg(test)]
#[path = "recurrence_tests.rs"]
mod tests;
