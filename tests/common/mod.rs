//! Test harness: starts the real server on an ephemeral port with a temporary data directory and
//! creates sessions; join links are turned into WebSocket URLs and tokens.
#![allow(dead_code)]

pub mod browser;
pub mod chair;
pub mod live;

use giaoban::app::Running;
use giaoban::config::Config;
use giaoban::schedule::{CreatedSession, NewSession};
use std::path::Path;
use std::time::Duration;

pub struct TestServer {
    pub running: Running,
    pub dir: tempfile::TempDir,
}

pub fn test_config(dir: &Path) -> Config {
    test_config_with(dir, &[])
}

/// The test configuration with more `GIAOBAN_*` overrides (short grace and heartbeat, say).
pub fn test_config_with(dir: &Path, extra: &[(&str, &str)]) -> Config {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml"))
        .unwrap();
    let env = [
        ("GIAOBAN_HTTP_ADDR", "127.0.0.1:0".to_string()),
        ("GIAOBAN_DATA_DIR", dir.display().to_string()),
        ("GIAOBAN_MEDIA_UDP_PORT", "0".to_string()),
    ];
    let extra = extra.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    Config::from_toml_str(
        &text,
        Path::new("default.toml"),
        env.into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .chain(extra),
    )
    .unwrap()
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(&[]).await
    }

    /// Starts with more `GIAOBAN_*` configuration overrides.
    pub async fn start_with(extra: &[(&str, &str)]) -> TestServer {
        if std::env::var_os("GIAOBAN_TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(
                    std::env::var("GIAOBAN_TEST_LOG").unwrap(),
                ))
                .with_test_writer()
                .try_init();
        }
        let dir = tempfile::tempdir().unwrap();
        let running = giaoban::app::start(test_config_with(dir.path(), extra))
            .await
            .unwrap();
        TestServer { running, dir }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.running.addr)
    }

    pub fn http_url(&self) -> String {
        format!("http://{}", self.running.addr)
    }

    pub async fn create_session(&self, host: &str, sites: &[&str]) -> CreatedSession {
        let req = NewSession {
            title: "Giao ban kiểm thử".into(),
            host_site_id: host.into(),
            site_ids: sites.iter().map(|s| s.to_string()).collect(),
            starts_at: None,
            ends_at: None,
        };
        self.running
            .state
            .scheduler()
            .create(&req, "test")
            .await
            .unwrap()
    }

    /// Gives session `sid` the agenda `items` (`[{title, presenter}, …]`), as the session form would.
    pub async fn set_agenda(&self, sid: &str, items: &serde_json::Value) {
        sqlx::query("UPDATE sessions SET agenda = ?1 WHERE id = ?2")
            .bind(items.to_string())
            .bind(sid)
            .execute(&self.running.state.pool)
            .await
            .unwrap();
    }

    /// One number from the server's database, e.g. `SELECT COUNT(*) FROM sessions`.
    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.running.state.pool)
            .await
            .unwrap()
    }

    pub fn stats(&self) -> giaoban::metrics::Snapshot {
        let s = &self.running.state;
        s.metrics.snapshot(s.sfu.ports_in_use())
    }

    /// Waits until `pred` holds for the stats, or panics with the last value.
    pub async fn wait_stats(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&giaoban::metrics::Snapshot) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let s = self.stats();
            if pred(&s) {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("timed out waiting for {what}: {s:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The token at the end of a join link.
pub fn token(link: &str) -> String {
    giaoban::client::api::token_of(link).to_string()
}

pub const HOST: &str = "ubnd-tp-hoitruong";
pub const SITES: [&str; 7] = [
    "so-noi-vu-phonghop",
    "so-tai-chinh-phonghop",
    "so-y-te-phonghop",
    "phuong-ba-dinh-phonghop",
    "phuong-hoan-kiem-phonghop",
    "xa-soc-son-phonghop",
    "xa-ba-vi-phonghop",
];

/// An HTTP client logged in as someone: keeps the session cookie and sends the CSRF header
/// (built from the crate's client; requests unwrap here).
pub struct ApiClient {
    pub client: reqwest::Client,
    pub base: String,
    pub csrf: String,
    pub username: String,
}

impl From<giaoban::client::api::ApiClient> for ApiClient {
    fn from(c: giaoban::client::api::ApiClient) -> Self {
        ApiClient {
            client: c.client,
            base: c.base,
            csrf: c.csrf,
            username: c.username,
        }
    }
}

impl ApiClient {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("x-csrf-token", &self.csrf)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Starts or stops (`action`) a session's recording: the status and the JSON answer.
    pub async fn recording(&self, session_id: &str, action: &str) -> (u16, serde_json::Value) {
        let path = format!("/api/sessions/{session_id}/recording/{action}");
        body(self.post(&path, &serde_json::json!({})).await).await
    }

    pub async fn patch(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .patch(self.url(path))
            .header("x-csrf-token", &self.csrf)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .put(self.url(path))
            .header("x-csrf-token", &self.csrf)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .header("x-csrf-token", &self.csrf)
            .send()
            .await
            .unwrap()
    }
}

pub const PASSWORD: &str = "mat-khau-kiem-thu-2026";

impl TestServer {
    /// Creates a user holding `role` (a site operator is scoped to the host site) and logs in.
    pub async fn login(&self, role: giaoban::auth::Role) -> ApiClient {
        use giaoban::auth::{Grant, Role};
        let username = format!(
            "{}-{}",
            role.as_str().replace('_', "-"),
            &uuid::Uuid::new_v4().simple().to_string()[..6]
        );
        let site_id = (role == Role::SiteOperator).then(|| HOST.to_string());
        let grant = Grant {
            role,
            unit_id: None,
            site_id,
        };
        let name = format!("Người dùng kiểm thử – {}", role.as_str());
        self.create_user(&username, &name, vec![grant]).await;
        self.login_as(&username, PASSWORD).await.expect("login")
    }

    /// Creates a user with the test password and these grants.
    pub async fn create_user(
        &self,
        username: &str,
        display_name: &str,
        grants: Vec<giaoban::auth::Grant>,
    ) {
        let new = giaoban::auth::users::NewUser {
            username: username.into(),
            display_name: display_name.into(),
            password: PASSWORD.into(),
            grants,
        };
        giaoban::auth::users::create(&self.running.state.pool, &new, "test")
            .await
            .unwrap();
    }

    /// Logs in with a username and password; `Err(status)` when refused.
    pub async fn login_as(&self, username: &str, password: &str) -> Result<ApiClient, u16> {
        use giaoban::client::api::{ApiClient as Inner, ApiError};
        match Inner::login(&self.http_url(), username, password).await {
            Ok(c) => Ok(c.into()),
            Err(ApiError::Status { status, .. }) => Err(status),
            Err(e) => panic!("login: {e}"),
        }
    }
}

/// Status and JSON body of a response (a body that is not JSON comes back as a string).
pub async fn body(r: reqwest::Response) -> (u16, serde_json::Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// A one-off session request hosted by the city hall.
pub fn session(title: &str, start: &str, end: &str, sites: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "title": title, "host_site_id": HOST, "site_ids": sites,
        "starts_at": start, "ends_at": end,
    })
}

/// Parses an iCalendar text with the independent `ical` crate.
pub fn parse_ics(text: &str) -> ical::parser::ical::component::IcalCalendar {
    ical::IcalParser::new(std::io::BufReader::new(text.as_bytes()))
        .next()
        .expect("a calendar")
        .expect("parses")
}

/// The values of every property `name` of an event.
pub fn prop(ev: &ical::parser::ical::component::IcalEvent, name: &str) -> Vec<String> {
    ev.properties
        .iter()
        .filter(|p| p.name == name)
        .filter_map(|p| p.value.clone())
        .collect()
}

/// The ISO week of a Hanoi date, e.g. `2026-W50`.
pub fn week_of(date: &str) -> String {
    use chrono::Datelike;
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    format!("{}-W{:02}", d.iso_week().year(), d.iso_week().week())
}
