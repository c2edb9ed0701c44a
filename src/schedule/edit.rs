//! The sessions service, changing: edit and cancel a session, or an occurrence of a series with a
//! scope — `this` (an override; a cancelled occurrence becomes an EXDATE), `following` (the series
//! is split with `recurrence::split_at` and the change applies to the new half) or `series`.
//! Each change is one transaction: audit row first (it takes the write lock), then the conflict
//! check over every resulting occurrence, then the writes. Every changed row's SEQUENCE is bumped.
//!
//! A `following`/`series` edit with new times moves every occurrence by the same amount as the
//! edited one and gives the non-overridden ones its duration. With a new rule, occurrences are
//! matched by original start (shifted by that amount): matching rows keep their id (and so their
//! join links), the others are deleted, and new starts get new rows.

use super::model::*;
use super::recurrence::{Recurrence, Series, expand, split_at};
use super::service::{check_conflicts, site_names};
use super::{ScheduleError, Scheduler, invalid};
use crate::audit::{self, actions};
use crate::store::series::SeriesRow;
use crate::store::sessions::{self as rows, CANCELLED, SessionRow, SiteInvite};
use crate::store::{self};
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::SqliteConnection;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

type Span = (DateTime<Utc>, DateTime<Utc>);

fn times_of(row: &SessionRow) -> Option<Span> {
    row.starts_at.zip(row.ends_at)
}

/// New start and end from a patch: a start alone keeps the duration.
fn patched_times(
    row: &SessionRow,
    patch: &SessionPatch,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let start = patch.starts_at.or(row.starts_at);
    let end = match (patch.ends_at, patch.starts_at, times_of(row)) {
        (Some(e), _, _) => Some(e),
        (None, Some(s), Some((os, oe))) => Some(s + (oe - os)),
        _ => row.ends_at,
    };
    (start, end)
}

/// The full request a patch leads to, from the stored values.
fn merged_input(
    title: &str,
    host: &str,
    agenda: &str,
    chair: &str,
    flags: (bool, bool),
    invites: &[SiteInvite],
    patch: &SessionPatch,
) -> SessionInput {
    SessionInput {
        title: patch.title.clone().unwrap_or_else(|| title.to_string()),
        host_site_id: patch
            .host_site_id
            .clone()
            .unwrap_or_else(|| host.to_string()),
        site_ids: Vec::new(),
        sites: patch.sites.clone().unwrap_or_else(|| {
            invites
                .iter()
                .map(|s| SiteChoice {
                    site_id: s.site_id.clone(),
                    required: s.required,
                })
                .collect()
        }),
        starts_at: None,
        ends_at: None,
        agenda: patch
            .agenda
            .clone()
            .unwrap_or_else(|| super::service::parse_agenda(agenda)),
        chair: patch.chair.clone().unwrap_or_else(|| chair.to_string()),
        classified: patch.classified.unwrap_or(flags.0),
        record_auto: patch.record_auto.unwrap_or(flags.1),
        rrule: None,
    }
}

fn parse_series(row: &SeriesRow) -> Result<Series, ScheduleError> {
    let rule: Recurrence = row.rrule.parse().map_err(rrule_error)?;
    Series::new(row.dtstart, TimeDelta::seconds(row.duration_secs), rule).map_err(rrule_error)
}

/// An occurrence changed or cancelled on its own changes its series' calendar entry too (an
/// override or an EXDATE), so the master's SEQUENCE moves as well.
async fn bump_series(
    tx: &mut SqliteConnection,
    row: &SessionRow,
    now: DateTime<Utc>,
) -> Result<(), SessionError> {
    if let Some(sid) = &row.series_id {
        sqlx::query("UPDATE series SET sequence = sequence + 1, updated_at = ? WHERE id = ?")
            .bind(now)
            .bind(sid)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

fn sites_changed(patch: &SessionPatch) -> bool {
    patch.sites.is_some() || patch.host_site_id.is_some()
}

impl Scheduler<'_> {
    async fn load(
        &self,
        conn: &mut SqliteConnection,
        id: &str,
    ) -> Result<SessionRow, SessionError> {
        Ok(rows::get_in(conn, id)
            .await?
            .ok_or_else(|| ScheduleError::SessionNotFound(id.to_string()))?)
    }

    /// Applies a patch; returns the ids of the sessions it wrote.
    pub async fn update_session(
        &self,
        id: &str,
        patch: &SessionPatch,
        actor: &str,
    ) -> Result<Vec<String>, SessionError> {
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        let detail = serde_json::json!({ "patch": patch });
        audit::append_in(&mut tx, actor, actions::SESSION_UPDATE, id, detail).await?;
        let row = self.load(&mut tx, id).await?;
        if row.is_cancelled() {
            return Err(invalid("status", "the session is cancelled").into());
        }
        let series = match &row.series_id {
            Some(sid) => store::series::get_in(&mut tx, sid).await?,
            None => None,
        };
        let written = match (series, patch.scope) {
            (Some(s), Scope::Series) => self.edit_series(&mut tx, s, &row, patch, now).await?,
            (Some(s), Scope::Following) if Some(s.dtstart) == row.recurrence_id => {
                self.edit_series(&mut tx, s, &row, patch, now).await?
            }
            (Some(s), Scope::Following) => {
                let right = self.split(&mut tx, &s, &row, now).await?;
                self.edit_series(&mut tx, right, &row, patch, now).await?
            }
            (_, _) => self.edit_one(&mut tx, row, patch, now).await?,
        };
        tx.commit().await?;
        self.ensure_invitations(&written, now).await;
        Ok(written)
    }

    /// One session, or one occurrence (which becomes an override).
    async fn edit_one(
        &self,
        tx: &mut SqliteConnection,
        row: SessionRow,
        patch: &SessionPatch,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, SessionError> {
        if patch.rrule.is_some() {
            return Err(
                invalid("rrule", "a rule is changed with scope following or series").into(),
            );
        }
        let invites = rows::invites_in(tx, &row.id).await?;
        let flags = (row.classified, row.record_auto);
        let mut input = merged_input(
            &row.title,
            &row.host_site_id,
            &row.agenda,
            &row.chair,
            flags,
            &invites,
            patch,
        );
        (input.starts_at, input.ends_at) = patched_times(&row, patch);
        let known = store::org::sites_by_ids(self.pool, &wanted_sites(&input)).await?;
        let v = validate_input(&input, &known, now, self.max_session_hours)?;
        let names: HashMap<String, String> = known.into_iter().map(|s| (s.id, s.name)).collect();
        let exclude = HashSet::from([row.id.clone()]);
        let spans: Vec<Span> = v.starts_at.zip(v.ends_at).into_iter().collect();
        check_conflicts(tx, &v.title, &v.sites, &spans, &exclude, &names).await?;
        let updated = SessionRow {
            title: v.title.clone(),
            host_site_id: v.host_site_id.clone(),
            starts_at: v.starts_at,
            ends_at: v.ends_at,
            agenda: v.agenda_json(),
            chair: v.chair.clone(),
            classified: v.classified,
            record_auto: v.record_auto,
            sequence: row.sequence + 1,
            overridden: row.series_id.is_some(),
            updated_at: Some(now),
            ..row
        };
        rows::update_in(tx, &updated).await?;
        rows::set_sites_in(tx, &updated.id, &v.sites).await?;
        bump_series(tx, &updated, now).await?;
        Ok(vec![updated.id])
    }

    /// Splits a series before `at_row`'s occurrence: the old series keeps the earlier ones, a new
    /// series (returned) gets `at_row`'s and the following ones.
    async fn split(
        &self,
        tx: &mut SqliteConnection,
        s: &SeriesRow,
        at_row: &SessionRow,
        now: DateTime<Utc>,
    ) -> Result<SeriesRow, SessionError> {
        let at = at_row
            .recurrence_id
            .ok_or_else(|| invalid("scope", "not an occurrence of a series"))?;
        let (left, right) = split_at(&parse_series(s)?, at).map_err(rrule_error)?;
        let new_id = uuid::Uuid::new_v4().to_string();
        let right_row = SeriesRow {
            id: new_id.clone(),
            rrule: right.rule().to_string(),
            dtstart: right.start(),
            sequence: 0,
            created_at: now,
            updated_at: now,
            ..s.clone()
        };
        let left_row = SeriesRow {
            rrule: left.rule().to_string(),
            sequence: s.sequence + 1,
            updated_at: now,
            ..s.clone()
        };
        let sites = store::series::sites_in(tx, &s.id).await?;
        store::series::insert_in(tx, &right_row, &sites).await?;
        store::series::update_in(tx, &left_row).await?;
        sqlx::query("UPDATE sessions SET series_id = ? WHERE series_id = ? AND recurrence_id >= ?")
            .bind(&new_id)
            .bind(&s.id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        Ok(right_row)
    }

    /// Applies a patch to every occurrence of series `s`; `anchor` is the edited occurrence.
    async fn edit_series(
        &self,
        tx: &mut SqliteConnection,
        s: SeriesRow,
        anchor: &SessionRow,
        patch: &SessionPatch,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, SessionError> {
        let old_rows = rows::by_series_in(tx, &s.id).await?;
        let invites = store::series::sites_in(tx, &s.id).await?;
        let flags = (s.classified, s.record_auto);
        let mut input = merged_input(
            &s.title,
            &s.host_site_id,
            &s.agenda,
            &s.chair,
            flags,
            &invites,
            patch,
        );
        // Times: move the series as the anchor moves.
        let timed = patch.starts_at.is_some() || patch.ends_at.is_some();
        let (shift, duration) = match (timed, times_of(anchor)) {
            (true, Some((os, oe))) => {
                let (ns, ne) = patched_times(anchor, patch);
                let (ns, ne) = (ns.unwrap_or(os), ne.unwrap_or(oe));
                (ns - os, ne - ns)
            }
            _ => (TimeDelta::zero(), TimeDelta::seconds(s.duration_secs)),
        };
        input.starts_at = Some(s.dtstart + shift);
        input.ends_at = Some(s.dtstart + shift + duration);
        input.rrule = Some(patch.rrule.clone().unwrap_or_else(|| s.rrule.clone()));
        let known = store::org::sites_by_ids(self.pool, &wanted_sites(&input)).await?;
        let v = validate_input(&input, &known, now, self.max_session_hours)?;
        let series = v.series.clone().expect("a rule was given");
        // Match stored occurrences to the new ones by original start (moved by `shift`).
        let new_ids: BTreeSet<DateTime<Utc>> =
            expand(&series, DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC)
                .into_iter()
                .map(|o| o.recurrence_id)
                .collect();
        let mut kept: Vec<SessionRow> = Vec::new();
        let mut deleted: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        let agenda = v.agenda_json();
        for r in old_rows {
            let key = r.recurrence_id.map(|t| t + shift);
            match key.filter(|k| new_ids.contains(k)) {
                Some(k) => {
                    seen.insert(k);
                    let (start, end) = match (r.overridden, times_of(&r)) {
                        (true, Some((a, b))) => (a + shift, b + shift),
                        _ => (k, k + duration),
                    };
                    let r2 = SessionRow {
                        title: if patch.title.is_some() {
                            v.title.clone()
                        } else {
                            r.title.clone()
                        },
                        agenda: if patch.agenda.is_some() {
                            agenda.clone()
                        } else {
                            r.agenda.clone()
                        },
                        chair: if patch.chair.is_some() {
                            v.chair.clone()
                        } else {
                            r.chair.clone()
                        },
                        host_site_id: v.host_site_id.clone(),
                        classified: v.classified,
                        record_auto: v.record_auto,
                        starts_at: Some(start),
                        ends_at: Some(end),
                        recurrence_id: Some(k),
                        series_id: Some(s.id.clone()),
                        sequence: r.sequence + 1,
                        updated_at: Some(now),
                        ..r
                    };
                    kept.push(r2);
                }
                None => deleted.push(r.id),
            }
        }
        let added: Vec<SessionRow> = new_ids
            .iter()
            .filter(|k| !seen.contains(*k))
            .map(|k| SessionRow {
                starts_at: Some(*k),
                ends_at: Some(*k + duration),
                series_id: Some(s.id.clone()),
                recurrence_id: Some(*k),
                ..super::service::new_row(&v, now)
            })
            .collect();
        // Conflicts: every scheduled occurrence, grouped by its site list.
        let mut groups: BTreeMap<Vec<(String, bool)>, Vec<Span>> = BTreeMap::new();
        let mut per_row_sites: HashMap<String, Vec<SiteInvite>> = HashMap::new();
        for r in &kept {
            let sites = if sites_changed(patch) {
                v.sites.clone()
            } else {
                rows::invites_in(tx, &r.id).await?
            };
            if !r.is_cancelled() {
                let key = sites
                    .iter()
                    .map(|x| (x.site_id.clone(), x.required))
                    .collect();
                groups.entry(key).or_default().extend(times_of(r));
            }
            per_row_sites.insert(r.id.clone(), sites);
        }
        let fresh: Vec<(String, bool)> = v
            .sites
            .iter()
            .map(|x| (x.site_id.clone(), x.required))
            .collect();
        groups
            .entry(fresh)
            .or_default()
            .extend(added.iter().filter_map(times_of));
        let exclude: HashSet<String> = kept
            .iter()
            .map(|r| r.id.clone())
            .chain(deleted.iter().cloned())
            .collect();
        let all_sites: Vec<String> = groups.keys().flatten().map(|(id, _)| id.clone()).collect();
        let names = site_names(self.pool, &all_sites).await?;
        for (sites, spans) in &groups {
            let sites: Vec<SiteInvite> = sites
                .iter()
                .map(|(site_id, required)| SiteInvite {
                    site_id: site_id.clone(),
                    required: *required,
                })
                .collect();
            check_conflicts(tx, &v.title, &sites, spans, &exclude, &names).await?;
        }
        // Write.
        let updated = SeriesRow {
            rrule: series.rule().to_string(),
            dtstart: series.start(),
            duration_secs: duration.num_seconds(),
            title: v.title.clone(),
            agenda,
            host_site_id: v.host_site_id.clone(),
            chair: v.chair.clone(),
            classified: v.classified,
            record_auto: v.record_auto,
            sequence: s.sequence + 1,
            updated_at: now,
            ..s
        };
        store::series::update_in(tx, &updated).await?;
        if sites_changed(patch) {
            store::series::set_sites_in(tx, &updated.id, &v.sites).await?;
        }
        rows::delete_in(tx, &deleted).await?;
        for r in &kept {
            rows::update_in(tx, r).await?;
            if sites_changed(patch) {
                rows::set_sites_in(tx, &r.id, &v.sites).await?;
            }
        }
        rows::insert_in(tx, &added, &v.sites).await?;
        Ok(kept.into_iter().chain(added).map(|r| r.id).collect())
    }

    /// Cancels a session, or occurrences of a series by scope; returns the cancelled ids.
    pub async fn cancel_session(
        &self,
        id: &str,
        scope: Scope,
        actor: &str,
    ) -> Result<Vec<String>, SessionError> {
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        let detail = serde_json::json!({ "scope": scope });
        audit::append_in(&mut tx, actor, actions::SESSION_CANCEL, id, detail).await?;
        let row = self.load(&mut tx, id).await?;
        let series = match &row.series_id {
            Some(sid) => store::series::get_in(&mut tx, sid).await?,
            None => None,
        };
        let target = match (series, scope) {
            (Some(s), Scope::Series) => Some(s),
            (Some(s), Scope::Following) if Some(s.dtstart) == row.recurrence_id => Some(s),
            (Some(s), Scope::Following) => Some(self.split(&mut tx, &s, &row, now).await?),
            _ => None,
        };
        let victims = match target {
            Some(s) => {
                store::series::update_in(
                    &mut tx,
                    &SeriesRow {
                        status: CANCELLED.into(),
                        sequence: s.sequence + 1,
                        updated_at: now,
                        ..s.clone()
                    },
                )
                .await?;
                rows::by_series_in(&mut tx, &s.id).await?
            }
            None => {
                if !row.is_cancelled() {
                    bump_series(&mut tx, &row, now).await?;
                }
                vec![row]
            }
        };
        let mut ids = Vec::new();
        for r in victims.into_iter().filter(|r| !r.is_cancelled()) {
            ids.push(r.id.clone());
            let r2 = SessionRow {
                status: CANCELLED.into(),
                sequence: r.sequence + 1,
                updated_at: Some(now),
                ..r
            };
            rows::update_in(&mut tx, &r2).await?;
        }
        tx.commit().await?;
        Ok(ids)
    }
}
