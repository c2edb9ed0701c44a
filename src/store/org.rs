//! Repository of units and sites. The organisation comes from configuration and is upserted at
//! every start, so restarting with the same file changes nothing and an edited file updates rows
//! without losing the history that refers to them.

use super::{Pool, StoreError};
use crate::config::UnitConfig;
use chrono::NaiveDate;
use serde::Serialize;

/// A site (điểm cầu) with the unit it belongs to.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, PartialEq, utoipa::ToSchema)]
pub struct Site {
    pub id: String,
    pub name: String,
    pub unit_id: String,
    pub unit_name: String,
    pub is_host: bool,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

impl Site {
    /// Whether the site's unit exists on `day`.
    pub fn valid_on(&self, day: NaiveDate) -> bool {
        self.valid_from <= day && self.valid_to.is_none_or(|to| day <= to)
    }
}

/// Inserts or updates every unit and site of the configuration in one transaction.
/// Parents are written before children whatever the order of the file.
pub async fn upsert_from_config(pool: &Pool, units: &[UnitConfig]) -> Result<(), StoreError> {
    let mut ordered: Vec<&UnitConfig> = Vec::with_capacity(units.len());
    let mut placed = std::collections::HashSet::new();
    while ordered.len() < units.len() {
        let before = ordered.len();
        for u in units {
            let ready = u.parent.as_deref().is_none_or(|p| placed.contains(p));
            if !placed.contains(u.id.as_str()) && ready {
                placed.insert(u.id.as_str());
                ordered.push(u);
            }
        }
        if ordered.len() == before {
            break; // a cycle; config validation names unknown parents, cycles fail on the FK
        }
    }
    let mut tx = pool.begin().await?;
    for u in ordered {
        sqlx::query(
            "INSERT INTO units (id, name, kind, parent_id, valid_from, valid_to) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind,
               parent_id = excluded.parent_id, valid_from = excluded.valid_from, valid_to = excluded.valid_to
             WHERE units.managed_by = 'config'",
        )
        .bind(&u.id)
        .bind(&u.name)
        .bind(&u.kind)
        .bind(&u.parent)
        .bind(u.valid_from)
        .bind(u.valid_to)
        .execute(&mut *tx)
        .await?;
        for s in &u.sites {
            sqlx::query(
                "INSERT INTO sites (id, unit_id, name, is_host) VALUES (?, ?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET unit_id = excluded.unit_id, name = excluded.name,
                   is_host = excluded.is_host
                 WHERE sites.managed_by = 'config'",
            )
            .bind(&s.id)
            .bind(&u.id)
            .bind(&s.name)
            .bind(s.host)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

const SITE_SELECT: &str = "SELECT s.id, s.name, s.unit_id, u.name AS unit_name, s.is_host,
       u.valid_from, u.valid_to FROM sites s JOIN units u ON u.id = s.unit_id";

/// All sites, host sites first, then by unit and name.
pub async fn list_sites(pool: &Pool) -> Result<Vec<Site>, StoreError> {
    let sql = format!("{SITE_SELECT} ORDER BY s.is_host DESC, u.id, s.name");
    Ok(sqlx::query_as::<_, Site>(&sql).fetch_all(pool).await?)
}

/// The sites with the given ids that exist (order not kept), in one query.
pub async fn sites_by_ids(pool: &Pool, ids: &[String]) -> Result<Vec<Site>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(SITE_SELECT);
    q.push(" WHERE s.id IN (");
    let mut list = q.separated(", ");
    for id in ids {
        list.push_bind(id);
    }
    q.push(")");
    Ok(q.build_query_as::<Site>().fetch_all(pool).await?)
}

/// Ids of the sites of a unit.
pub async fn site_ids_of_unit(pool: &Pool, unit_id: &str) -> Result<Vec<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM sites WHERE unit_id = ? ORDER BY id")
            .bind(unit_id)
            .fetch_all(pool)
            .await?,
    )
}

pub async fn site(pool: &Pool, id: &str) -> Result<Option<Site>, StoreError> {
    let sql = format!("{SITE_SELECT} WHERE s.id = ?");
    Ok(sqlx::query_as::<_, Site>(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?)
}

/// A unit as the admin pages show and edit it.
#[derive(
    Debug, Clone, Serialize, serde::Deserialize, sqlx::FromRow, PartialEq, utoipa::ToSchema,
)]
pub struct Unit {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub parent_id: Option<String>,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    /// `config` (upserted from the configuration at start) or `admin` (edited in the pages).
    pub managed_by: String,
}

pub async fn list_units(pool: &Pool) -> Result<Vec<Unit>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, name, kind, parent_id, valid_from, valid_to, managed_by FROM units ORDER BY parent_id IS NOT NULL, kind, name",
    )
    .fetch_all(pool)
    .await?)
}

pub async fn unit(pool: &Pool, id: &str) -> Result<Option<Unit>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, name, kind, parent_id, valid_from, valid_to, managed_by FROM units WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// Inserts or replaces a unit edited by an admin (audited); from then on the start-up upsert
/// leaves it alone.
pub async fn save_unit(
    pool: &Pool,
    u: &Unit,
    actor: &str,
    created: bool,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let action = if created {
        "org.unit.create"
    } else {
        "org.unit.update"
    };
    crate::audit::append_in(
        &mut tx,
        actor,
        action,
        &format!("unit:{}", u.id),
        serde_json::to_value(u).unwrap_or_default(),
    )
    .await?;
    sqlx::query(
        "INSERT INTO units (id, name, kind, parent_id, valid_from, valid_to, managed_by) VALUES (?, ?, ?, ?, ?, ?, 'admin')
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, parent_id = excluded.parent_id,
           valid_from = excluded.valid_from, valid_to = excluded.valid_to, managed_by = 'admin'",
    )
    .bind(&u.id)
    .bind(&u.name)
    .bind(&u.kind)
    .bind(&u.parent_id)
    .bind(u.valid_from)
    .bind(u.valid_to)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Inserts or renames a site (audited); the start-up upsert leaves it alone afterwards.
pub async fn save_site(
    pool: &Pool,
    id: &str,
    unit_id: &str,
    name: &str,
    is_host: bool,
    actor: &str,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let detail = serde_json::json!({ "unit_id": unit_id, "name": name, "is_host": is_host });
    crate::audit::append_in(
        &mut tx,
        actor,
        "org.site.save",
        &format!("site:{id}"),
        detail,
    )
    .await?;
    sqlx::query(
        "INSERT INTO sites (id, unit_id, name, is_host, managed_by) VALUES (?, ?, ?, ?, 'admin')
         ON CONFLICT (id) DO UPDATE SET unit_id = excluded.unit_id, name = excluded.name,
           is_host = excluded.is_host, managed_by = 'admin'",
    )
    .bind(id)
    .bind(unit_id)
    .bind(name)
    .bind(is_host)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A unit and its ancestors, the unit first (empty for an unknown unit). Depth is capped, so a
/// cycle written straight into the database cannot loop.
pub async fn unit_chain(pool: &Pool, unit_id: &str) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "WITH RECURSIVE chain(id, parent_id, depth) AS (
           SELECT id, parent_id, 0 FROM units WHERE id = ?
           UNION ALL
           SELECT u.id, u.parent_id, c.depth + 1 FROM units u JOIN chain c ON u.id = c.parent_id
           WHERE c.depth < 64)
         SELECT id FROM chain ORDER BY depth",
    )
    .bind(unit_id)
    .fetch_all(pool)
    .await?)
}

/// The units a site belongs to: its unit first, then each ancestor (empty for an unknown site).
pub async fn site_unit_chain(pool: &Pool, site_id: &str) -> Result<Vec<String>, StoreError> {
    let unit: Option<String> = sqlx::query_scalar("SELECT unit_id FROM sites WHERE id = ?")
        .bind(site_id)
        .fetch_optional(pool)
        .await?;
    match unit {
        Some(u) => unit_chain(pool, &u).await,
        None => Ok(Vec::new()),
    }
}
