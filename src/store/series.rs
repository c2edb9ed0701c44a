//! Repository of recurring series (weekly briefings): the rule and the values every occurrence
//! starts from, and the series' invited sites. The occurrences themselves are `sessions` rows
//! (see `sessions.rs`) pointing here by `series_id`; this row is what the calendar writes as the
//! RRULE master event.

use super::sessions::SiteInvite;
use super::{Pool, StoreError};
use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SeriesRow {
    pub id: String,
    /// RRULE value, e.g. `FREQ=WEEKLY;BYDAY=MO;COUNT=52`.
    pub rrule: String,
    pub dtstart: DateTime<Utc>,
    pub duration_secs: i64,
    pub title: String,
    pub agenda: String,
    pub host_site_id: String,
    pub chair: String,
    pub classified: bool,
    pub record_auto: bool,
    pub sequence: i64,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLS: &str = "id, rrule, dtstart, duration_secs, title, agenda, host_site_id, chair, \
    classified, record_auto, sequence, status, created_at, updated_at";

pub async fn insert_in(
    conn: &mut SqliteConnection,
    row: &SeriesRow,
    sites: &[SiteInvite],
) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO series ({COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(&row.id)
    .bind(&row.rrule)
    .bind(row.dtstart)
    .bind(row.duration_secs)
    .bind(&row.title)
    .bind(&row.agenda)
    .bind(&row.host_site_id)
    .bind(&row.chair)
    .bind(row.classified)
    .bind(row.record_auto)
    .bind(row.sequence)
    .bind(&row.status)
    .bind(row.created_at)
    .bind(row.updated_at)
    .execute(&mut *conn)
    .await?;
    set_sites_in(conn, &row.id, sites).await
}

/// Writes every mutable field of `row` (found by id).
pub async fn update_in(conn: &mut SqliteConnection, row: &SeriesRow) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE series SET rrule = ?, dtstart = ?, duration_secs = ?, title = ?, agenda = ?,
           host_site_id = ?, chair = ?, classified = ?, record_auto = ?, sequence = ?, status = ?,
           updated_at = ? WHERE id = ?",
    )
    .bind(&row.rrule)
    .bind(row.dtstart)
    .bind(row.duration_secs)
    .bind(&row.title)
    .bind(&row.agenda)
    .bind(&row.host_site_id)
    .bind(&row.chair)
    .bind(row.classified)
    .bind(row.record_auto)
    .bind(row.sequence)
    .bind(&row.status)
    .bind(row.updated_at)
    .bind(&row.id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn set_sites_in(
    conn: &mut SqliteConnection,
    series_id: &str,
    sites: &[SiteInvite],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM series_sites WHERE series_id = ?")
        .bind(series_id)
        .execute(&mut *conn)
        .await?;
    for s in sites {
        sqlx::query("INSERT INTO series_sites (series_id, site_id, required) VALUES (?, ?, ?)")
            .bind(series_id)
            .bind(&s.site_id)
            .bind(s.required)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn get(pool: &Pool, id: &str) -> Result<Option<SeriesRow>, StoreError> {
    let mut conn = pool.acquire().await?;
    get_in(&mut conn, id).await
}

pub async fn get_in(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<SeriesRow>, StoreError> {
    Ok(
        sqlx::query_as::<_, SeriesRow>(&format!("SELECT {COLS} FROM series WHERE id = ?"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

pub async fn sites_in(
    conn: &mut SqliteConnection,
    series_id: &str,
) -> Result<Vec<SiteInvite>, StoreError> {
    let rows: Vec<(String, bool)> = sqlx::query_as(
        "SELECT site_id, required FROM series_sites WHERE series_id = ? ORDER BY site_id",
    )
    .bind(series_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(site_id, required)| SiteInvite { site_id, required })
        .collect())
}

/// Ids of the series that invite `site_id` (for the site's calendar feed).
pub async fn ids_for_site(pool: &Pool, site_id: &str) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT series_id FROM series_sites WHERE site_id = ? ORDER BY series_id",
    )
    .bind(site_id)
    .fetch_all(pool)
    .await?)
}
