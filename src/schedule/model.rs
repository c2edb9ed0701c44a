//! The sessions API's request and response types (JSON, with OpenAPI schemas) and the pure check
//! of a request ([`validate_input`]): text lengths, times, flags, the recurrence rule and the
//! sites' validity on every date of a series. Persistence and conflicts are in `service.rs` and
//! `edit.rs`; the rule itself in `recurrence.rs`.

use super::recurrence::{Recurrence, RecurrenceError, Series};
use super::{MAX_SITES, NewSession, ScheduleError, invalid, validate};
use crate::store::StoreError;
use crate::store::org::Site;
use crate::store::sessions::SiteInvite;
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const MAX_CHAIR_CHARS: usize = 200;
pub const MAX_AGENDA_ITEMS: usize = 50;
pub const MAX_AGENDA_TITLE_CHARS: usize = 500;
pub const MAX_PRESENTER_CHARS: usize = 200;
pub const MAX_RRULE_CHARS: usize = 200;
/// Conflicts listed in a 409 body (the total is given beside).
pub const MAX_CONFLICTS_LISTED: usize = 200;

/// One item of the agenda (chương trình họp).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgendaItem {
    pub title: String,
    /// Who presents it, e.g. "Sở Tài chính".
    #[serde(default)]
    pub presenter: String,
}

/// An invited site and whether its attendance is required (thành phần bắt buộc).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteChoice {
    pub site_id: String,
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

/// A new session, one-off or recurring (`rrule`). Times are RFC 3339 with any offset (shown in
/// Asia/Ho_Chi_Minh); `site_ids` lists required sites, `sites` says required or optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionInput {
    pub title: String,
    pub host_site_id: String,
    #[serde(default)]
    pub site_ids: Vec<String>,
    #[serde(default)]
    pub sites: Vec<SiteChoice>,
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub agenda: Vec<AgendaItem>,
    /// "Họ và tên – Chức vụ".
    #[serde(default)]
    pub chair: String,
    /// No recording allowed.
    #[serde(default)]
    pub classified: bool,
    /// Start recording when the session opens.
    #[serde(default)]
    pub record_auto: bool,
    /// RFC 5545 RRULE with COUNT (≤ 520) or UNTIL (≤ 5 years), e.g. `FREQ=WEEKLY;BYDAY=MO;COUNT=10`.
    #[serde(default)]
    pub rrule: Option<String>,
}

impl From<&NewSession> for SessionInput {
    fn from(req: &NewSession) -> Self {
        SessionInput {
            title: req.title.clone(),
            host_site_id: req.host_site_id.clone(),
            site_ids: req.site_ids.clone(),
            starts_at: req.starts_at,
            ends_at: req.ends_at,
            ..Default::default()
        }
    }
}

/// Which occurrences of a series a change applies to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// This occurrence only (an override, or an EXDATE when cancelling).
    #[default]
    This,
    /// This and the following ones: the series is split here.
    Following,
    /// Every occurrence.
    Series,
}

/// A change: only the fields given are changed. Times of a `following`/`series` edit move every
/// occurrence by the same amount as this one and give them this one's duration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionPatch {
    #[serde(default)]
    pub scope: Scope,
    pub title: Option<String>,
    pub host_site_id: Option<String>,
    pub sites: Option<Vec<SiteChoice>>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub agenda: Option<Vec<AgendaItem>>,
    pub chair: Option<String>,
    pub classified: Option<bool>,
    pub record_auto: Option<bool>,
    /// A new rule (scope `following` or `series` only).
    pub rrule: Option<String>,
}

/// `POST /api/sessions/{id}/cancel`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    #[serde(default)]
    pub scope: Scope,
}

/// A created session: the first occurrence's id and join links, and every occurrence's id.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionCreated {
    pub session_id: String,
    pub series_id: Option<String>,
    pub occurrence_ids: Vec<String>,
    /// Join links of the first occurrence, by site id.
    pub links: BTreeMap<String, String>,
}

/// One (existing session, site) pair a request collides with.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConflictItem {
    pub session_id: String,
    pub title: String,
    pub site_id: String,
    pub site_name: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// The body of a 409: `code: "conflict"`, the Vietnamese message, the first
/// [`MAX_CONFLICTS_LISTED`] conflicts and their total.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConflictReport {
    pub code: String,
    pub message: String,
    pub message_en: String,
    pub total: usize,
    pub conflicts: Vec<ConflictItem>,
}

/// What the sessions service refuses with.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error("{}", .0.message)]
    Conflict(Box<ConflictReport>),
}

impl From<StoreError> for SessionError {
    fn from(e: StoreError) -> Self {
        SessionError::Schedule(ScheduleError::Store(e))
    }
}

impl From<sqlx::Error> for SessionError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::from(e).into()
    }
}

pub(crate) fn rrule_error(e: RecurrenceError) -> ScheduleError {
    invalid("rrule", e.to_string())
}

/// A checked request: trimmed texts, whole-second times, host first (always required).
#[derive(Debug, Clone)]
pub struct ValidInput {
    pub title: String,
    pub host_site_id: String,
    pub sites: Vec<SiteInvite>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub agenda: Vec<AgendaItem>,
    pub chair: String,
    pub classified: bool,
    pub record_auto: bool,
    pub series: Option<Series>,
}

impl ValidInput {
    pub fn agenda_json(&self) -> String {
        serde_json::to_string(&self.agenda).expect("agenda serializes")
    }
}

fn too_long(field: &'static str, max: usize) -> ScheduleError {
    invalid(field, format!("longer than {max} characters"))
}

/// The sites named by a request (host first), for the caller to look up.
pub fn wanted_sites(req: &SessionInput) -> Vec<String> {
    let mut ids = vec![req.host_site_id.clone()];
    ids.extend(req.site_ids.iter().take(MAX_SITES + 1).cloned());
    ids.extend(
        req.sites
            .iter()
            .take(MAX_SITES + 1)
            .map(|s| s.site_id.clone()),
    );
    ids
}

/// Checks a request against the sites it names (`known`) and `now`.
pub fn validate_input(
    req: &SessionInput,
    known: &[Site],
    now: DateTime<Utc>,
    max_hours: u32,
) -> Result<ValidInput, ScheduleError> {
    let starts_at = req.starts_at.map(|t| t.trunc_subsecs(0));
    let ends_at = req.ends_at.map(|t| t.trunc_subsecs(0));
    if req.site_ids.len() + req.sites.len() > MAX_SITES {
        return Err(invalid("sites", format!("more than {MAX_SITES} sites")));
    }
    // Required from `site_ids`, then `sites` with their flag; the first mention wins.
    let mut choices: Vec<SiteInvite> = Vec::new();
    let named = req.site_ids.iter().map(|id| (id, true));
    for (id, required) in named.chain(req.sites.iter().map(|s| (&s.site_id, s.required))) {
        if !choices.iter().any(|c| &c.site_id == id) {
            choices.push(SiteInvite {
                site_id: id.clone(),
                required,
            });
        }
    }
    // The shared checks: title, times, unknown sites, validity on the first day.
    let basic = validate(
        &NewSession {
            title: req.title.clone(),
            host_site_id: req.host_site_id.clone(),
            site_ids: choices.iter().map(|c| c.site_id.clone()).collect(),
            starts_at,
            ends_at,
        },
        known,
        now,
        max_hours,
    )?;
    let sites: Vec<SiteInvite> = basic
        .site_ids
        .iter()
        .map(|id| SiteInvite {
            site_id: id.clone(),
            required: id == &basic.host_site_id
                || choices.iter().any(|c| &c.site_id == id && c.required),
        })
        .collect();
    let chair = req.chair.trim().to_string();
    if chair.chars().count() > MAX_CHAIR_CHARS {
        return Err(too_long("chair", MAX_CHAIR_CHARS));
    }
    if req.agenda.len() > MAX_AGENDA_ITEMS {
        return Err(invalid(
            "agenda",
            format!("more than {MAX_AGENDA_ITEMS} items"),
        ));
    }
    let mut agenda = Vec::with_capacity(req.agenda.len());
    for item in &req.agenda {
        let title = item.title.trim();
        if title.is_empty() {
            return Err(invalid("agenda", "an item has no title"));
        }
        if title.chars().count() > MAX_AGENDA_TITLE_CHARS {
            return Err(too_long("agenda", MAX_AGENDA_TITLE_CHARS));
        }
        if item.presenter.chars().count() > MAX_PRESENTER_CHARS {
            return Err(too_long("agenda", MAX_PRESENTER_CHARS));
        }
        agenda.push(AgendaItem {
            title: title.to_string(),
            presenter: item.presenter.trim().to_string(),
        });
    }
    if req.classified && req.record_auto {
        return Err(invalid(
            "record_auto",
            "a classified session cannot be recorded",
        ));
    }
    let series = match req.rrule.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(rule) => {
            if rule.chars().count() > MAX_RRULE_CHARS {
                return Err(too_long("rrule", MAX_RRULE_CHARS));
            }
            let (Some(start), Some(end)) = (starts_at, ends_at) else {
                return Err(invalid(
                    "starts_at",
                    "a recurring session needs starts_at and ends_at",
                ));
            };
            let rule: Recurrence = rule.parse().map_err(rrule_error)?;
            let series = Series::new(start, end - start, rule).map_err(rrule_error)?;
            // Validity is an interval of dates: checking the last day too covers every one.
            let last = series.recurrence_ids().last().unwrap_or(start);
            let day = last.with_timezone(&crate::tz()).date_naive();
            for s in &sites {
                let site = known.iter().find(|k| k.id == s.site_id);
                if site.is_some_and(|k| !k.valid_on(day)) {
                    return Err(ScheduleError::SiteNotValid(s.site_id.clone()));
                }
            }
            Some(series)
        }
    };
    Ok(ValidInput {
        title: basic.title,
        host_site_id: basic.host_site_id,
        sites,
        starts_at,
        ends_at,
        agenda,
        chair,
        classified: req.classified,
        record_auto: req.record_auto,
        series,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};

    fn site(id: &str, to: Option<(i32, u32, u32)>) -> Site {
        Site {
            id: id.into(),
            name: id.into(),
            unit_id: "u".into(),
            unit_name: "u".into(),
            is_host: id == "h",
            valid_from: NaiveDate::from_ymd_opt(2025, 7, 1).unwrap(),
            valid_to: to.map(|t| NaiveDate::from_ymd_opt(t.0, t.1, t.2).unwrap()),
        }
    }

    fn known() -> Vec<Site> {
        vec![
            site("h", None),
            site("a", None),
            site("b", None),
            // Merged away on 31/12/2026.
            site("merged", Some((2026, 12, 31))),
        ]
    }

    fn input() -> SessionInput {
        SessionInput {
            title: "Giao ban".into(),
            host_site_id: "h".into(),
            // 08:00–10:00 Hanoi, Monday 07/12/2026, with sub-second noise.
            starts_at: Some(
                Utc.with_ymd_and_hms(2026, 12, 7, 1, 0, 0).unwrap() + TimeDelta::milliseconds(300),
            ),
            ends_at: Some(Utc.with_ymd_and_hms(2026, 12, 7, 3, 0, 0).unwrap()),
            ..Default::default()
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap()
    }

    fn field(r: Result<ValidInput, ScheduleError>) -> &'static str {
        match r {
            Err(ScheduleError::Invalid { field, .. }) => field,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    use chrono::TimeDelta;

    #[test]
    fn sites_merge_host_first_and_required() {
        let mut req = input();
        req.site_ids = vec!["a".into()];
        req.sites = vec![
            SiteChoice {
                site_id: "a".into(),
                required: false,
            },
            SiteChoice {
                site_id: "b".into(),
                required: false,
            },
            SiteChoice {
                site_id: "h".into(),
                required: false,
            },
        ];
        let v = validate_input(&req, &known(), now(), 12).unwrap();
        let got: Vec<(&str, bool)> = v
            .sites
            .iter()
            .map(|s| (s.site_id.as_str(), s.required))
            .collect();
        // The host is always first and required; the first mention of a site wins.
        assert_eq!(got, [("h", true), ("a", true), ("b", false)]);
        assert_eq!(
            v.starts_at.unwrap().timestamp_subsec_nanos(),
            0,
            "whole seconds"
        );
        assert!(v.series.is_none());
    }

    #[test]
    fn refusals_name_the_field() {
        let with = |f: fn(&mut SessionInput)| {
            let mut r = input();
            f(&mut r);
            validate_input(&r, &known(), now(), 12)
        };
        assert_eq!(field(with(|r| r.chair = "x".repeat(201))), "chair");
        assert_eq!(
            field(with(|r| r.agenda = vec![AgendaItem::default()])),
            "agenda"
        );
        assert_eq!(
            field(with(|r| r.agenda = vec![AgendaItem {
                title: "x".into(),
                presenter: "p".repeat(201)
            }])),
            "agenda"
        );
        assert_eq!(
            field(with(|r| r.agenda = vec![
                AgendaItem {
                    title: "x".into(),
                    ..Default::default()
                };
                51
            ])),
            "agenda"
        );
        assert_eq!(
            field(with(|r| {
                r.classified = true;
                r.record_auto = true
            })),
            "record_auto"
        );
        assert_eq!(
            field(with(|r| r.rrule = Some("FREQ=WEEKLY".into()))),
            "rrule"
        );
        assert_eq!(
            field(with(
                |r| r.rrule = Some(format!("FREQ=WEEKLY;COUNT=2;{}", "X".repeat(200)))
            )),
            "rrule"
        );
        assert_eq!(
            field(with(|r| {
                r.starts_at = None;
                r.ends_at = None;
                r.rrule = Some("FREQ=DAILY;COUNT=2".into())
            })),
            "starts_at"
        );
        assert_eq!(
            field(with(|r| r.sites = vec![
                SiteChoice {
                    site_id: "a".into(),
                    required: true
                };
                501
            ])),
            "sites"
        );
        // A weekly rule whose start is not on BYDAY (Monday in Hanoi, Sunday in UTC).
        assert_eq!(
            field(with(
                |r| r.rrule = Some("FREQ=WEEKLY;BYDAY=SU;COUNT=3".into())
            )),
            "rrule"
        );
        assert!(
            with(|r| r.rrule = Some("FREQ=WEEKLY;BYDAY=MO;COUNT=3".into()))
                .unwrap()
                .series
                .is_some()
        );
    }

    #[test]
    fn a_series_needs_its_sites_valid_until_its_last_occurrence() {
        let mut req = input();
        req.site_ids = vec!["merged".into()];
        req.rrule = Some("FREQ=WEEKLY;COUNT=4".into()); // 07/12 … 28/12/2026
        assert!(validate_input(&req, &known(), now(), 12).is_ok());
        req.rrule = Some("FREQ=WEEKLY;COUNT=5".into()); // … 04/01/2027
        assert!(matches!(
            validate_input(&req, &known(), now(), 12),
            Err(ScheduleError::SiteNotValid(s)) if s == "merged"
        ));
    }
}
