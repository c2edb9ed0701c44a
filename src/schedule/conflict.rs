//! Scheduling conflicts (trùng lịch): a site cannot be in two overlapping sessions. This module
//! owns the check of a candidate booking (sites × `[start, end)` intervals, e.g. a series'
//! occurrences over a horizon) against the existing bookings, and the Vietnamese/English message
//! the UI shows. Pure functions: no IO, no clock.
//!
//! Scale: a city-wide candidate has ~150 sites and an existing booking up to ~150 sites with 52
//! weekly intervals. Whether two bookings overlap in time does not depend on the site, so the
//! time overlap is computed once per pair of bookings (binary search over the candidate's sorted
//! intervals) and then fanned out to the shared sites (a hash-set intersection). An index keyed
//! by site would copy every interval once per site (~150×) for the same answer.

use chrono::{DateTime, Utc};
use chrono_tz::Asia::Ho_Chi_Minh;
use std::collections::HashSet;

/// A half-open `[start, end)` interval: one ending at 10:00 does not meet one starting at 10:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Interval {
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        Self { start, end }
    }

    /// The shared part, if any (empty intervals share nothing).
    pub fn overlap(&self, other: &Interval) -> Option<Interval> {
        let start = self.start.max(other.start);
        let end = self.end.min(other.end);
        (start < end).then_some(Interval { start, end })
    }
}

/// A session (or a series of them) holding some sites at some times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub id: String,
    pub title: String,
    pub site_ids: Vec<String>,
    pub intervals: Vec<Interval>,
    /// Cancelled bookings hold nothing and are ignored.
    pub cancelled: bool,
}

/// One site booked twice. Borrows from the bookings it was computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict<'a> {
    /// The existing session.
    pub session_id: &'a str,
    pub title: &'a str,
    pub site_id: &'a str,
    /// The existing session's interval that the candidate overlaps.
    pub existing: Interval,
    /// The overlapping part.
    pub overlap: Interval,
}

/// Every (existing session, shared site, overlapping interval) of `candidate` against
/// `existing`, sorted by overlap start, then session id, then site id. Cancelled bookings and
/// a booking with the candidate's own id (when editing it) are skipped.
pub fn find_conflicts<'a>(candidate: &Booking, existing: &'a [Booking]) -> Vec<Conflict<'a>> {
    let mut out = Vec::new();
    let sites: HashSet<&str> = candidate.site_ids.iter().map(String::as_str).collect();
    let mut mine: Vec<Interval> = candidate
        .intervals
        .iter()
        .filter(|i| i.start < i.end)
        .copied()
        .collect();
    if candidate.cancelled || sites.is_empty() || mine.is_empty() {
        return out;
    }
    mine.sort_unstable();
    // Every candidate interval overlapping `x` starts in (x.start - longest, x.end).
    let longest = mine
        .iter()
        .map(|i| i.end - i.start)
        .max()
        .unwrap_or_default();

    let mut shared: Vec<&str> = Vec::new();
    for other in existing {
        if other.cancelled || other.id == candidate.id {
            continue;
        }
        shared.clear();
        shared.extend(
            other
                .site_ids
                .iter()
                .map(String::as_str)
                .filter(|s| sites.contains(s)),
        );
        if shared.is_empty() {
            continue;
        }
        shared.sort_unstable();
        shared.dedup();
        for theirs in &other.intervals {
            let from = match theirs.start.checked_sub_signed(longest) {
                Some(lo) => mine.partition_point(|i| i.start <= lo),
                None => 0,
            };
            let to = mine.partition_point(|i| i.start < theirs.end);
            for overlap in mine[from..to.max(from)]
                .iter()
                .filter_map(|i| i.overlap(theirs))
            {
                out.extend(shared.iter().map(|site| Conflict {
                    session_id: &other.id,
                    title: &other.title,
                    site_id: site,
                    existing: *theirs,
                    overlap,
                }));
            }
        }
    }
    out.sort_unstable_by(|a, b| {
        let key = |c: &Conflict<'a>| (c.overlap.start, c.session_id, c.site_id, c.overlap.end);
        key(a).cmp(&key(b)).then(a.existing.cmp(&b.existing))
    });
    out.dedup();
    out
}

/// `HH:mm dd/mm/yyyy`, 24-hour, Hanoi time.
fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&Ho_Chi_Minh)
        .format("%H:%M %d/%m/%Y")
        .to_string()
}

fn render(
    conflicts: &[Conflict<'_>],
    site_name: impl Fn(&str) -> Option<String>,
    max_lines: usize,
    line: impl Fn(&str, &str, &str) -> String,
    more: impl Fn(usize) -> String,
) -> String {
    let mut lines: Vec<String> = conflicts
        .iter()
        .take(max_lines)
        .map(|c| {
            let site = site_name(c.site_id).unwrap_or_else(|| c.site_id.to_string());
            line(&site, c.title, &local(c.existing.start))
        })
        .collect();
    if conflicts.len() > max_lines {
        lines.push(more(conflicts.len() - max_lines));
    }
    lines.join("\n")
}

/// One line per conflict, e.g. `Trùng lịch: điểm cầu Phường Ba Đình đã tham gia phiên họp
/// "Giao ban tuần" lúc 08:00 13/01/2025`, at most `max_lines` of them and then a count of the
/// rest. `site_name` maps a site id to its name; unknown ids are shown as they are.
pub fn message_vi(
    conflicts: &[Conflict<'_>],
    site_name: impl Fn(&str) -> Option<String>,
    max_lines: usize,
) -> String {
    render(
        conflicts,
        site_name,
        max_lines,
        |site, title, at| {
            format!("Trùng lịch: điểm cầu {site} đã tham gia phiên họp \"{title}\" lúc {at}")
        },
        |n| format!("… và {n} trường hợp trùng lịch khác"),
    )
}

/// The English variant of [`message_vi`].
pub fn message_en(
    conflicts: &[Conflict<'_>],
    site_name: impl Fn(&str) -> Option<String>,
    max_lines: usize,
) -> String {
    render(
        conflicts,
        site_name,
        max_lines,
        |site, title, at| {
            format!("Scheduling conflict: site {site} is already in session \"{title}\" at {at}")
        },
        |n| format!("… and {n} more conflicts"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone};

    /// Hanoi wall-clock time in January 2025, as UTC.
    fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Ho_Chi_Minh
            .with_ymd_and_hms(2025, 1, d, h, m, 0)
            .unwrap()
            .to_utc()
    }
    fn iv(start: DateTime<Utc>, end: DateTime<Utc>) -> Interval {
        Interval::new(start, end)
    }
    fn booking(id: &str, sites: &[&str], intervals: &[Interval]) -> Booking {
        Booking {
            id: id.into(),
            title: format!("Phiên {id}"),
            site_ids: sites.iter().map(|s| s.to_string()).collect(),
            intervals: intervals.to_vec(),
            cancelled: false,
        }
    }
    type Row = (String, String, Interval, Interval);
    fn brief(c: &[Conflict<'_>]) -> Vec<Row> {
        let row = |c: &Conflict<'_>| (c.session_id.into(), c.site_id.into(), c.overlap, c.existing);
        c.iter().map(row).collect()
    }

    #[test]
    fn half_open_intervals_touching_do_not_conflict() {
        let cand = booking("new", &["a"], &[iv(at(6, 8, 0), at(6, 10, 0))]);
        let existing = [
            booking("before", &["a"], &[iv(at(6, 7, 0), at(6, 8, 0))]),
            booking("after", &["a"], &[iv(at(6, 10, 0), at(6, 11, 0))]),
            booking("empty", &["a"], &[iv(at(6, 9, 0), at(6, 9, 0))]),
            booking("minute", &["a"], &[iv(at(6, 9, 59), at(6, 12, 0))]),
        ];
        let found = find_conflicts(&cand, &existing);
        assert_eq!(found.len(), 1);
        let c = &found[0];
        assert_eq!(
            (c.session_id, c.title, c.site_id),
            ("minute", "Phiên minute", "a")
        );
        assert_eq!(
            (c.existing, c.overlap),
            (existing[3].intervals[0], iv(at(6, 9, 59), at(6, 10, 0)))
        );
    }

    #[test]
    fn skips_itself_cancelled_and_unshared_sites() {
        let slot = [iv(at(6, 8, 0), at(6, 10, 0))];
        let mut cand = booking("s1", &["a", "b", "b"], &slot);
        let mut cancelled = booking("s3", &["a"], &slot);
        cancelled.cancelled = true;
        let existing = [
            booking("s1", &["a", "b"], &slot), // the stored version of the session being edited
            booking("s2", &["b", "c", "b", "a"], &slot),
            cancelled,
            booking("s4", &["c", "d"], &slot),
        ];
        let found = brief(&find_conflicts(&cand, &existing));
        let sites: Vec<&str> = found
            .iter()
            .map(|(id, site, ..)| {
                assert_eq!(id, "s2");
                site.as_str()
            })
            .collect();
        assert_eq!(sites, ["a", "b"]);
        cand.cancelled = true;
        assert!(find_conflicts(&cand, &existing).is_empty());
        assert!(find_conflicts(&booking("x", &[], &slot), &existing).is_empty());
        assert!(find_conflicts(&booking("x", &["a"], &[]), &existing).is_empty());
    }

    #[test]
    fn sorted_by_start_then_session_then_site() {
        let cand = booking(
            "new",
            &["b", "a"],
            &[
                iv(at(6, 8, 0), at(6, 12, 0)),
                iv(at(13, 8, 0), at(13, 12, 0)),
            ],
        );
        let existing = [
            booking(
                "z",
                &["a", "b"],
                &[
                    iv(at(13, 7, 0), at(13, 9, 0)),
                    iv(at(6, 9, 0), at(6, 10, 0)),
                ],
            ),
            booking("y", &["b", "a"], &[iv(at(6, 9, 0), at(6, 9, 30))]),
            booking("x", &["a"], &[iv(at(6, 11, 0), at(6, 13, 0))]),
        ];
        let got: Vec<(&str, &str, DateTime<Utc>)> = find_conflicts(&cand, &existing)
            .iter()
            .map(|c| (c.session_id, c.site_id, c.overlap.start))
            .collect();
        let want = [
            ("y", "a", at(6, 9, 0)),
            ("y", "b", at(6, 9, 0)),
            ("z", "a", at(6, 9, 0)),
            ("z", "b", at(6, 9, 0)),
            ("x", "a", at(6, 11, 0)),
            ("z", "a", at(13, 8, 0)),
            ("z", "b", at(13, 8, 0)),
        ];
        assert_eq!(got, want);
    }

    /// The obvious nested loop, as the reference.
    fn naive(cand: &Booking, existing: &[Booking]) -> Vec<Row> {
        let mut out = Vec::new();
        for b in existing.iter().filter(|b| !b.cancelled && b.id != cand.id) {
            for site in &b.site_ids {
                for x in &b.intervals {
                    for y in &cand.intervals {
                        if let Some(o) = x.overlap(y).filter(|_| cand.site_ids.contains(site)) {
                            out.push((b.id.clone(), site.clone(), o, *x));
                        }
                    }
                }
            }
        }
        let key = |r: &Row| (r.2.start, r.0.clone(), r.1.clone(), r.2.end, r.3);
        out.sort_by_key(key);
        out.dedup();
        out
    }

    #[test]
    fn matches_the_nested_loop_on_random_bookings() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        let base = at(1, 0, 0);
        for round in 0..40 {
            let mut random_booking = |id: String| {
                let sites: Vec<String> =
                    (0..1 + next(6)).map(|_| format!("s{}", next(8))).collect();
                let intervals = (0..next(8))
                    .map(|_| {
                        let start = base + TimeDelta::minutes(15 * next(200) as i64);
                        // Up to 10 hours, sometimes empty or inverted.
                        iv(start, start + TimeDelta::minutes(15 * next(42) as i64 - 15))
                    })
                    .collect();
                Booking {
                    title: id.clone(),
                    id,
                    site_ids: sites,
                    intervals,
                    cancelled: next(7) == 0,
                }
            };
            let mut cand = random_booking("c".into());
            cand.cancelled = false;
            let existing: Vec<Booking> = (0..12).map(|i| random_booking(format!("b{i}"))).collect();
            assert_eq!(
                brief(&find_conflicts(&cand, &existing)),
                naive(&cand, &existing),
                "round {round}"
            );
        }
    }

    #[test]
    fn city_wide_weekly_briefing_against_500_sessions() {
        // Candidate: every Monday 08:00–10:00 for a year, at all 150 sites s0..s149.
        let weekly = |start: DateTime<Utc>, hours: i64| -> Vec<Interval> {
            (0..52)
                .map(|w| start + TimeDelta::weeks(w))
                .map(|s| iv(s, s + TimeDelta::hours(hours)))
                .collect()
        };
        let all_sites: Vec<String> = (0..150).map(|s| format!("s{s}")).collect();
        let all_refs: Vec<&str> = all_sites.iter().map(String::as_str).collect();
        let cand = booking("new", &all_refs, &weekly(at(6, 8, 0), 2));
        // Existing: session i on weekday i % 5 at (6 + i/5 % 6):00 for an hour, on up to 150 of
        // 180 sites (s150..s179 are not the candidate's); every 50th one is cancelled.
        let existing: Vec<Booking> = (0..500)
            .map(|i| {
                let (day, hour) = (6 + i % 5, 6 + (i / 5) % 6);
                let sites: Vec<String> = (0..1 + (i * 37) % 150)
                    .map(|k| format!("s{}", (i * 11 + k) % 180))
                    .collect();
                let refs: Vec<&str> = sites.iter().map(String::as_str).collect();
                let mut b = booking(&format!("e{i:03}"), &refs, &weekly(at(day, hour, 0), 1));
                b.cancelled = i % 50 == 10;
                b
            })
            .collect();
        let found = find_conflicts(&cand, &existing);

        // Only Monday sessions at 08:00 or 09:00 overlap; 07:00 and 10:00 only touch.
        let mut expected = 0;
        for (i, b) in existing.iter().enumerate() {
            if i % 5 == 0 && [2, 3].contains(&((i / 5) % 6)) && !b.cancelled {
                let shared = b.site_ids.iter().filter(|s| all_sites.contains(s)).count();
                expected += shared * 52;
            }
        }
        assert!(
            expected > 50_000,
            "the scenario should be large: {expected}"
        );
        assert_eq!(found.len(), expected);
        for c in &found {
            let b = existing.iter().find(|b| b.id == c.session_id).unwrap();
            assert!(!b.cancelled && b.site_ids.iter().any(|s| s == c.site_id));
            assert!(cand.site_ids.iter().any(|s| s == c.site_id));
            assert!(
                cand.intervals
                    .iter()
                    .any(|i| i.overlap(&c.existing) == Some(c.overlap))
            );
        }
        let keys: Vec<_> = found
            .iter()
            .map(|c| (c.overlap.start, c.session_id, c.site_id))
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
    }

    #[test]
    fn messages_in_vietnamese_and_english() {
        let cand = booking("new", &["pbd", "xyz"], &[iv(at(13, 7, 0), at(13, 9, 0))]);
        let mut weekly = booking("gb", &["xyz", "pbd"], &[iv(at(13, 8, 0), at(13, 10, 0))]);
        weekly.title = "Giao ban tuần".into();
        let existing = [
            weekly,
            booking("late", &["pbd"], &[iv(at(13, 8, 30), at(13, 23, 0))]),
        ];
        let found = find_conflicts(&cand, &existing);
        let names = |id: &str| (id == "pbd").then(|| "Phường Ba Đình".to_string());
        assert_eq!(
            message_vi(&found, names, 10),
            "Trùng lịch: điểm cầu Phường Ba Đình đã tham gia phiên họp \"Giao ban tuần\" lúc 08:00 13/01/2025\n\
             Trùng lịch: điểm cầu xyz đã tham gia phiên họp \"Giao ban tuần\" lúc 08:00 13/01/2025\n\
             Trùng lịch: điểm cầu Phường Ba Đình đã tham gia phiên họp \"Phiên late\" lúc 08:30 13/01/2025"
        );
        assert_eq!(
            message_en(&found, names, 1),
            "Scheduling conflict: site Phường Ba Đình is already in session \"Giao ban tuần\" at 08:00 13/01/2025\n\
             … and 2 more conflicts"
        );
        assert_eq!(
            message_vi(&found, names, 2).lines().last(),
            Some("… và 1 trường hợp trùng lịch khác")
        );
        assert_eq!(message_vi(&[], names, 10), "");
        // 24-hour clock, Hanoi time: 14:05 local is 07:05 UTC.
        let pm = [booking("pm", &["pbd"], &[iv(at(20, 14, 5), at(20, 15, 0))])];
        let found = find_conflicts(&booking("c", &["pbd"], &pm[0].intervals), &pm);
        assert!(
            message_en(&found, |_| None, 5)
                .ends_with("site pbd is already in session \"Phiên pm\" at 14:05 20/01/2025")
        );
    }
}
