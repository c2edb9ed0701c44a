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
