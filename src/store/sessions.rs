//! Repository of sessions (one row per one-off session or per occurrence of a series) and their
//! invited sites (required or optional). Writers take a connection so the service can run a whole
//! change — audit row, conflict check, rows — in one transaction; nothing is half-written. The
//! list query and the conflict candidates query are the two indexed reads by time.

use super::{Pool, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

pub const SCHEDULED: &str = "scheduled";
pub const CANCELLED: &str = "cancelled";

/// A stored briefing session (or one occurrence of a series).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SessionRow {
    pub id: String,
    pub title: String,
    pub host_site_id: String,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// JSON array of agenda items (`[{"title": …, "presenter": …}]`).
    pub agenda: String,
    pub chair: String,
    pub classified: bool,
    pub record_auto: bool,
    /// `scheduled` or `cancelled`.
    pub status: String,
    /// iCalendar SEQUENCE: bumped on every change.
    pub sequence: i64,
    pub series_id: Option<String>,
    /// For an occurrence: its original start, as the series' rule gives it.
    pub recurrence_id: Option<DateTime<Utc>>,
    /// An occurrence edited on its own ("this occurrence only").
    pub overridden: bool,
    pub updated_at: Option<DateTime<Utc>>,
}

impl SessionRow {
    pub fn is_cancelled(&self) -> bool {
        self.status == CANCELLED
    }
}

/// An invited site, as stored: the id and whether attendance is required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteInvite {
    pub site_id: String,
    pub required: bool,
}

const COLS: &str = "s.id, s.title, s.host_site_id, s.starts_at, s.ends_at, s.created_at, \
    s.agenda, s.chair, s.classified, s.record_auto, s.status, s.sequence, s.series_id, \
    s.recurrence_id, s.overridden, s.updated_at";

/// Rows per multi-row INSERT (SQLite allows 32766 bound values per statement).
const CHUNK: usize = 500;

/// Inserts sessions and their invited sites (the same sites for every row).
pub async fn insert_in(
    conn: &mut SqliteConnection,
    rows: &[SessionRow],
    sites: &[SiteInvite],
) -> Result<(), StoreError> {
    for chunk in rows.chunks(CHUNK) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO sessions (id, title, host_site_id, starts_at, ends_at, created_at, agenda, \
             chair, classified, record_auto, status, sequence, series_id, recurrence_id, \
             overridden, updated_at) ",
        );
        qb.push_values(chunk, |mut b, r| {
            b.push_bind(&r.id)
                .push_bind(&r.title)
                .push_bind(&r.host_site_id)
                .push_bind(r.starts_at)
                .push_bind(r.ends_at)
                .push_bind(r.created_at)
                .push_bind(&r.agenda)
                .push_bind(&r.chair)
                .push_bind(r.classified)
                .push_bind(r.record_auto)
                .push_bind(&r.status)
                .push_bind(r.sequence)
                .push_bind(&r.series_id)
                .push_bind(r.recurrence_id)
                .push_bind(r.overridden)
                .push_bind(r.updated_at);
        });
        qb.build().execute(&mut *conn).await?;
    }
    let pairs: Vec<(&str, &SiteInvite)> = rows
        .iter()
        .flat_map(|r| sites.iter().map(move |s| (r.id.as_str(), s)))
        .collect();
    for chunk in pairs.chunks(CHUNK * 4) {
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO session_sites (session_id, site_id, required) ");
        qb.push_values(chunk, |mut b, (id, s)| {
            b.push_bind(*id).push_bind(&s.site_id).push_bind(s.required);
        });
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Writes every mutable field of `row` (found by id).
pub async fn update_in(conn: &mut SqliteConnection, row: &SessionRow) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE sessions SET title = ?, host_site_id = ?, starts_at = ?, ends_at = ?, agenda = ?,
           chair = ?, classified = ?, record_auto = ?, status = ?, sequence = ?, series_id = ?,
           recurrence_id = ?, overridden = ?, updated_at = ? WHERE id = ?",
    )
    .bind(&row.title)
    .bind(&row.host_site_id)
    .bind(row.starts_at)
    .bind(row.ends_at)
    .bind(&row.agenda)
    .bind(&row.chair)
    .bind(row.classified)
    .bind(row.record_auto)
    .bind(&row.status)
    .bind(row.sequence)
    .bind(&row.series_id)
    .bind(row.recurrence_id)
    .bind(row.overridden)
    .bind(row.updated_at)
    .bind(&row.id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Makes the invited sites of a session exactly `sites`: removed ones are deleted, kept ones
/// keep their row (and whatever else refers to it) with the new `required`, new ones are added.
pub async fn set_sites_in(
    conn: &mut SqliteConnection,
    session_id: &str,
    sites: &[SiteInvite],
) -> Result<(), StoreError> {
    let mut qb: QueryBuilder<Sqlite> =
        QueryBuilder::new("DELETE FROM session_sites WHERE session_id = ");
    qb.push_bind(session_id);
    if !sites.is_empty() {
        qb.push(" AND site_id NOT IN (");
        let mut list = qb.separated(", ");
        for s in sites {
            list.push_bind(&s.site_id);
        }
        qb.push(")");
    }
    qb.build().execute(&mut *conn).await?;
    for s in sites {
        sqlx::query(
            "INSERT INTO session_sites (session_id, site_id, required) VALUES (?, ?, ?)
             ON CONFLICT (session_id, site_id) DO UPDATE SET required = excluded.required",
        )
        .bind(session_id)
        .bind(&s.site_id)
        .bind(s.required)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Deletes sessions (their invited sites go with them).
pub async fn delete_in(conn: &mut SqliteConnection, ids: &[String]) -> Result<(), StoreError> {
    for chunk in ids.chunks(CHUNK) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("DELETE FROM sessions WHERE id IN (");
        let mut list = qb.separated(", ");
        for id in chunk {
            list.push_bind(id);
        }
        qb.push(")");
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn get(pool: &Pool, id: &str) -> Result<Option<SessionRow>, StoreError> {
    let mut conn = pool.acquire().await?;
    get_in(&mut conn, id).await
}

pub async fn get_in(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<SessionRow>, StoreError> {
    let sql = format!("SELECT {COLS} FROM sessions s WHERE s.id = ?");
    Ok(sqlx::query_as::<_, SessionRow>(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?)
}

/// The occurrences of a series, by original start.
pub async fn by_series_in(
    conn: &mut SqliteConnection,
    series_id: &str,
) -> Result<Vec<SessionRow>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM sessions s WHERE s.series_id = ? ORDER BY s.recurrence_id, s.id"
    );
    Ok(sqlx::query_as::<_, SessionRow>(&sql)
        .bind(series_id)
        .fetch_all(&mut *conn)
        .await?)
}

/// Ids of the sites invited to a session, host first then by id.
pub async fn site_ids(pool: &Pool, session_id: &str) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT ss.site_id FROM session_sites ss JOIN sessions s ON s.id = ss.session_id
         WHERE ss.session_id = ? ORDER BY (ss.site_id = s.host_site_id) DESC, ss.site_id",
    )
    .bind(session_id)
    .fetch_all(pool)
    .await?)
}

pub async fn is_invited(pool: &Pool, session_id: &str, site_id: &str) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM session_sites WHERE session_id = ? AND site_id = ?",
    )
    .bind(session_id)
    .bind(site_id)
    .fetch_one(pool)
    .await?;
    Ok(n > 0)
}

/// An invited site with its names, for the session detail.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct InvitedSite {
    pub site_id: String,
    pub name: String,
    pub unit_id: String,
    pub unit_name: String,
    pub required: bool,
}

/// The invited sites of a session, host first then by unit and name.
pub async fn invited_sites(pool: &Pool, session_id: &str) -> Result<Vec<InvitedSite>, StoreError> {
    Ok(sqlx::query_as::<_, InvitedSite>(
        "SELECT ss.site_id, si.name, si.unit_id, u.name AS unit_name, ss.required
         FROM session_sites ss JOIN sessions s ON s.id = ss.session_id
         JOIN sites si ON si.id = ss.site_id JOIN units u ON u.id = si.unit_id
         WHERE ss.session_id = ? ORDER BY (ss.site_id = s.host_site_id) DESC, u.id, si.name",
    )
    .bind(session_id)
    .fetch_all(pool)
    .await?)
}

/// The invited sites of one session as stored.
pub async fn invites_in(
    conn: &mut SqliteConnection,
    session_id: &str,
) -> Result<Vec<SiteInvite>, StoreError> {
    let rows: Vec<(String, bool)> = sqlx::query_as(
        "SELECT site_id, required FROM session_sites WHERE session_id = ? ORDER BY site_id",
    )
    .bind(session_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(site_id, required)| SiteInvite { site_id, required })
        .collect())
}

/// One line of the week list.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListRow {
    #[sqlx(flatten)]
    pub session: SessionRow,
    pub host_name: String,
    pub site_count: i64,
    pub required_count: i64,
}

/// Sessions with times overlapping `[from, to)`, by start; optionally only those inviting
/// `site_id`. One query: the site counts come from a grouped join, not one query per session.
pub async fn list_range(
    pool: &Pool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    site_id: Option<&str>,
) -> Result<Vec<ListRow>, StoreError> {
    let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
        "SELECT {COLS}, h.name AS host_name, COUNT(ss.site_id) AS site_count,
           COALESCE(SUM(ss.required), 0) AS required_count
         FROM sessions s JOIN sites h ON h.id = s.host_site_id
         LEFT JOIN session_sites ss ON ss.session_id = s.id
         WHERE s.starts_at IS NOT NULL AND s.starts_at < "
    ));
    qb.push_bind(to).push(" AND s.ends_at > ").push_bind(from);
    if let Some(site) = site_id {
        qb.push(" AND s.id IN (SELECT session_id FROM session_sites WHERE site_id = ")
            .push_bind(site.to_owned())
            .push(")");
    }
    qb.push(" GROUP BY s.id ORDER BY s.starts_at, s.title, s.id");
    Ok(qb.build_query_as::<ListRow>().fetch_all(pool).await?)
}

/// A scheduled session sharing a site with a candidate at an overlapping time.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CandidateRow {
    pub session_id: String,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub site_id: String,
}

/// The (session, site) pairs that could conflict with a booking of `site_ids` over `intervals`:
/// scheduled sessions inviting one of the sites and overlapping one of the intervals. One query,
/// starting from the `(site_id, session_id)` index; the exact check is `conflict::find_conflicts`.
pub async fn conflict_candidates_in(
    conn: &mut SqliteConnection,
    site_ids: &[String],
    intervals: &[(DateTime<Utc>, DateTime<Utc>)],
) -> Result<Vec<CandidateRow>, StoreError> {
    let (Some(lo), Some(hi)) = (
        intervals.iter().map(|i| i.0).min(),
        intervals.iter().map(|i| i.1).max(),
    ) else {
        return Ok(Vec::new());
    };
    if site_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
        "SELECT s.id AS session_id, s.title, s.starts_at, s.ends_at, ss.site_id
         FROM session_sites ss JOIN sessions s ON s.id = ss.session_id
         WHERE s.status = 'scheduled' AND s.starts_at IS NOT NULL AND ss.site_id IN (",
    );
    let mut list = qb.separated(", ");
    for s in site_ids {
        list.push_bind(s);
    }
    qb.push(") AND s.starts_at < ")
        .push_bind(hi)
        .push(" AND s.ends_at > ")
        .push_bind(lo);
    // Many intervals (a long series): the window above is enough, the exact check follows.
    if intervals.len() <= 600 {
        qb.push(" AND (");
        for (k, (start, end)) in intervals.iter().enumerate() {
            if k > 0 {
                qb.push(" OR ");
            }
            qb.push("(s.starts_at < ")
                .push_bind(*end)
                .push(" AND s.ends_at > ")
                .push_bind(*start)
                .push(")");
        }
        qb.push(")");
    }
    Ok(qb
        .build_query_as::<CandidateRow>()
        .fetch_all(&mut *conn)
        .await?)
}
