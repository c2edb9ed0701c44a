//! Calendar feeds: sessions and series mapped onto `calendar::CalEvent` — a one-off session is one
//! event; a series is a master event (RRULE, EXDATE for cancelled occurrences) plus one event per
//! overridden occurrence (same UID, RECURRENCE-ID); SEQUENCE comes from the rows. Also the
//! unguessable per-feed tokens that let calendar apps which cannot log in subscribe:
//! HMAC-SHA256 (the join-token key) of `site:<id>` or `user:<id>`.
//!
//! A user's feed holds the sessions of the sites the user holds a site-scoped role for, plus the
//! sessions whose chair text contains the user's display name (the chair is free text for now).

use super::recurrence::{End, Recurrence, Until};
use super::service::parse_agenda;
use crate::auth::{JoinClaims, TokenKey};
use crate::calendar::{self, CalEvent, CalStatus};
use crate::store::series::SeriesRow;
use crate::store::sessions::{self as rows, SessionRow};
use crate::store::{self, Pool, StoreError};
use chrono::{TimeDelta, Utc};
use std::collections::{BTreeMap, HashSet};

/// The token of a feed (`site:<id>` or `user:<id>`): the signature part of a join token over
/// fixed claims, i.e. an HMAC of the subject under the server's key.
pub fn feed_token(key: &TokenKey, subject: &str) -> String {
    let signed = key.sign(&JoinClaims {
        sid: "calendar-feed".into(),
        site: subject.to_string(),
        exp: 0,
        v: 0,
    });
    signed.rsplit('.').next().unwrap_or_default().to_string()
}

/// Constant-time check of a feed token.
pub fn feed_token_ok(key: &TokenKey, subject: &str, token: &str) -> bool {
    let want = feed_token(key, subject);
    want.len() == token.len()
        && want
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

pub fn site_feed_url(key: &TokenKey, public_url: &str, site_id: &str) -> String {
    let token = feed_token(key, &format!("site:{site_id}"));
    format!("{public_url}/api/calendar/site/{site_id}.ics?token={token}")
}

pub fn user_feed_url(key: &TokenKey, public_url: &str, user_id: &str) -> String {
    let token = feed_token(key, &format!("user:{user_id}"));
    format!("{public_url}/api/calendar/user/{user_id}.ics?token={token}")
}

/// Builds events; `host_names` caches site names.
struct Builder<'a> {
    pool: &'a Pool,
    public_url: &'a str,
    host_names: BTreeMap<String, String>,
    /// For a site's feed: events link to that site's join link (room page), not to the
    /// secretariat's session page, which a room PC cannot open.
    site_links: Option<SiteLinks<'a>>,
}

/// What signing a site's join links takes.
pub struct SiteLinks<'a> {
    pub key: &'a TokenKey,
    pub site_id: &'a str,
    pub grace_hours: u32,
}

fn description(agenda: &str, chair: &str) -> String {
    let mut lines: Vec<String> = parse_agenda(agenda)
        .iter()
        .enumerate()
        .map(|(i, a)| match a.presenter.is_empty() {
            true => format!("{}. {}", i + 1, a.title),
            false => format!("{}. {} – {}", i + 1, a.title, a.presenter),
        })
        .collect();
    if !chair.is_empty() {
        lines.insert(0, format!("Chủ trì: {chair}"));
    }
    lines.join("\n")
}

/// The rule with a date-only UNTIL written as the UTC instant it means (RFC 5545 with TZID).
fn calendar_rule(rule: &str) -> Option<String> {
    let mut r: Recurrence = rule.parse().ok()?;
    if let End::Until(u) = r.end {
        r.end = End::Until(Until::DateTime(u.last_instant()));
    }
    Some(r.to_string())
}

fn status(s: &str) -> CalStatus {
    if s == rows::CANCELLED {
        CalStatus::Cancelled
    } else {
        CalStatus::Confirmed
    }
}

impl Builder<'_> {
    /// The URL of a session's event: the site's current join link in a site's feed (none while
    /// its invitation is revoked), else the session's page.
    async fn url(&self, s: &SessionRow) -> Result<Option<String>, StoreError> {
        let Some(l) = &self.site_links else {
            return Ok(Some(format!("{}/app/session?id={}", self.public_url, s.id)));
        };
        let mut conn = self.pool.acquire().await?;
        let Some(inv) = store::invitations::get(&mut conn, &s.id, l.site_id).await? else {
            return Ok(None);
        };
        if inv.status == "revoked" {
            return Ok(None);
        }
        let exp = super::link_expiry(s.ends_at, inv.issued_at, l.grace_hours);
        let token = l.key.sign(&crate::auth::JoinClaims {
            sid: s.id.clone(),
            site: l.site_id.to_string(),
            exp,
            v: u32::try_from(inv.link_version).unwrap_or(0),
        });
        Ok(Some(format!("{}/room/{token}", self.public_url)))
    }

    async fn host(&mut self, id: &str) -> Result<String, StoreError> {
        if let Some(n) = self.host_names.get(id) {
            return Ok(n.clone());
        }
        let name = store::org::site(self.pool, id)
            .await?
            .map(|s| s.name)
            .unwrap_or_default();
        self.host_names.insert(id.to_string(), name.clone());
        Ok(name)
    }

    /// A session as its own event (`<session id>@giaoban`); None without times.
    async fn session(&mut self, s: &SessionRow) -> Result<Option<CalEvent>, StoreError> {
        let Some((start, end)) = s.starts_at.zip(s.ends_at) else {
            return Ok(None);
        };
        Ok(Some(CalEvent {
            uid: format!("{}@giaoban", s.id),
            sequence: s.sequence.max(0) as u32,
            title: s.title.clone(),
            description: description(&s.agenda, &s.chair),
            location: self.host(&s.host_site_id).await?,
            start,
            end,
            status: status(&s.status),
            rrule: None,
            exdates: Vec::new(),
            recurrence_id: None,
            organizer: None,
            url: self.url(s).await?,
        }))
    }

    /// A series: the master and its overrides. Occurrences for which `skip` holds (e.g. a site
    /// no longer invited) are written as EXDATEs, like cancelled ones.
    async fn series(
        &mut self,
        series: &SeriesRow,
        occurrences: &[SessionRow],
        skip: impl Fn(&SessionRow) -> bool,
    ) -> Result<Vec<CalEvent>, StoreError> {
        let uid = format!("{}@giaoban", series.id);
        let Some(rule) = calendar_rule(&series.rrule) else {
            return Ok(Vec::new());
        };
        let first = occurrences.iter().find(|o| !o.is_cancelled() && !skip(o));
        let url = match first {
            Some(o) => self.url(o).await?,
            None => None,
        };
        let mut master = CalEvent {
            uid: uid.clone(),
            sequence: series.sequence.max(0) as u32,
            title: series.title.clone(),
            description: description(&series.agenda, &series.chair),
            location: self.host(&series.host_site_id).await?,
            start: series.dtstart,
            end: series.dtstart + TimeDelta::seconds(series.duration_secs),
            status: status(&series.status),
            rrule: Some(rule),
            exdates: Vec::new(),
            recurrence_id: None,
            organizer: None,
            url,
        };
        let mut out = Vec::new();
        for o in occurrences {
            let Some(rid) = o.recurrence_id else { continue };
            if o.is_cancelled() || skip(o) {
                master.exdates.push(rid);
            } else if o.overridden
                && let Some(mut ev) = self.session(o).await?
            {
                ev.uid = uid.clone();
                ev.recurrence_id = Some(rid);
                out.push(ev);
            }
        }
        out.insert(0, master);
        Ok(out)
    }
}

fn builder<'a>(pool: &'a Pool, public_url: &'a str) -> Builder<'a> {
    Builder {
        pool,
        public_url,
        host_names: BTreeMap::new(),
        site_links: None,
    }
}

fn render(name: &str, events: &[CalEvent]) -> Result<String, calendar::CalendarError> {
    calendar::feed_ics(name, events, Utc::now())
}

/// The events of one session: a one-off session, or its whole series.
pub async fn session_events(
    pool: &Pool,
    public_url: &str,
    s: &SessionRow,
) -> Result<Vec<CalEvent>, StoreError> {
    let mut b = builder(pool, public_url);
    if let Some(sid) = &s.series_id {
        let mut conn = pool.acquire().await?;
        if let Some(series) = store::series::get_in(&mut conn, sid).await? {
            let occ = rows::by_series_in(&mut conn, sid).await?;
            return b.series(&series, &occ, |_| false).await;
        }
    }
    Ok(b.session(s).await?.into_iter().collect())
}

/// The events of every session a site is invited to.
async fn site_events(
    b: &mut Builder<'_>,
    site_id: &str,
    out: &mut Vec<CalEvent>,
) -> Result<(), StoreError> {
    let pool = b.pool;
    let invited: HashSet<String> =
        sqlx::query_scalar("SELECT session_id FROM session_sites WHERE site_id = ?")
            .bind(site_id)
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect();
    let mut conn = pool.acquire().await?;
    let mut in_series = HashSet::new();
    for sid in store::series::ids_for_site(pool, site_id).await? {
        let Some(series) = store::series::get_in(&mut conn, &sid).await? else {
            continue;
        };
        let occ = rows::by_series_in(&mut conn, &sid).await?;
        in_series.extend(occ.iter().map(|o| o.id.clone()));
        out.extend(
            b.series(&series, &occ, |o| !invited.contains(&o.id))
                .await?,
        );
    }
    // One-off sessions, and occurrences the site was added to on their own.
    let mut ids: Vec<&String> = invited
        .iter()
        .filter(|id| !in_series.contains(*id))
        .collect();
    ids.sort();
    for id in ids {
        if let Some(s) = rows::get_in(&mut conn, id).await?
            && let Some(ev) = b.session(&s).await?
        {
            out.push(ev);
        }
    }
    Ok(())
}

/// The feed of one site. Errors of the calendar writer are reported as text.
pub async fn site_feed(
    pool: &Pool,
    public_url: &str,
    links: SiteLinks<'_>,
    site_name: &str,
) -> Result<Result<String, String>, StoreError> {
    let site_id = links.site_id;
    let mut b = builder(pool, public_url);
    b.site_links = Some(links);
    let mut events = Vec::new();
    site_events(&mut b, site_id, &mut events).await?;
    let name = format!("Lịch họp – {site_name}");
    Ok(render(&name, &events).map_err(|e| e.to_string()))
}

/// The feed of one user: their sites' sessions and those they chair (see the module docs).
pub async fn user_feed(
    pool: &Pool,
    public_url: &str,
    user_id: &str,
    display_name: &str,
) -> Result<Result<String, String>, StoreError> {
    let mut b = builder(pool, public_url);
    let mut events = Vec::new();
    let sites: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT site_id FROM user_roles WHERE user_id = ? AND site_id IS NOT NULL
         ORDER BY site_id",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    for site in &sites {
        site_events(&mut b, site, &mut events).await?;
    }
    if !display_name.trim().is_empty() {
        let pattern = format!("%{}%", display_name.trim());
        let series_ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM series WHERE chair LIKE ? ORDER BY id")
                .bind(&pattern)
                .fetch_all(pool)
                .await?;
        let mut conn = pool.acquire().await?;
        for sid in series_ids {
            if let Some(series) = store::series::get_in(&mut conn, &sid).await? {
                let occ = rows::by_series_in(&mut conn, &sid).await?;
                events.extend(b.series(&series, &occ, |_| false).await?);
            }
        }
        let one_off: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM sessions WHERE series_id IS NULL AND chair LIKE ? ORDER BY starts_at",
        )
        .bind(&pattern)
        .fetch_all(pool)
        .await?;
        for id in one_off {
            if let Some(s) = rows::get_in(&mut conn, &id).await?
                && let Some(ev) = b.session(&s).await?
            {
                events.push(ev);
            }
        }
    }
    // The same event through two sites (or as chair and site): keep the first.
    let mut seen = HashSet::new();
    events.retain(|e| seen.insert((e.uid.clone(), e.recurrence_id)));
    let name = format!("Lịch họp – {display_name}");
    Ok(render(&name, &events).map_err(|e| e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_tokens_are_per_subject_and_key() {
        let key = TokenKey::from_secret(b"0123456789abcdef0123456789abcdef");
        let other = TokenKey::from_secret(b"fedcba9876543210fedcba9876543210");
        let t = feed_token(&key, "site:a");
        assert!(t.len() >= 40 && !t.contains('.'));
        assert!(feed_token_ok(&key, "site:a", &t));
        assert!(!feed_token_ok(&key, "site:b", &t));
        assert!(!feed_token_ok(&key, "user:a", &t));
        assert!(!feed_token_ok(&other, "site:a", &t));
        assert!(!feed_token_ok(&key, "site:a", &t[1..]));
        assert!(!feed_token_ok(&key, "site:a", ""));
        let url = site_feed_url(&key, "https://giaoban.example", "a");
        assert_eq!(
            url,
            format!("https://giaoban.example/api/calendar/site/a.ics?token={t}")
        );
    }

    #[test]
    fn calendar_rules_write_until_as_utc() {
        // 31/12/2026 through the end of the day in Hanoi: 16:59:59 UTC.
        assert_eq!(
            calendar_rule("FREQ=WEEKLY;BYDAY=MO;UNTIL=20261231").as_deref(),
            Some("FREQ=WEEKLY;BYDAY=MO;UNTIL=20261231T165959Z")
        );
        assert_eq!(
            calendar_rule("FREQ=WEEKLY;COUNT=4").as_deref(),
            Some("FREQ=WEEKLY;COUNT=4")
        );
        assert_eq!(calendar_rule("FREQ=WEEKLY"), None);
    }

    #[test]
    fn description_lists_chair_and_agenda() {
        let agenda =
            r#"[{"title":"Báo cáo","presenter":"Sở Nội vụ"},{"title":"Kết luận","presenter":""}]"#;
        assert_eq!(
            description(agenda, "Nguyễn Văn A – Chủ tịch"),
            "Chủ trì: Nguyễn Văn A – Chủ tịch\n1. Báo cáo – Sở Nội vụ\n2. Kết luận"
        );
        assert_eq!(description("[]", ""), "");
    }
}
