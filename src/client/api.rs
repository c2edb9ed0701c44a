//! The REST half of the Rust client: checks that a URL is a giaoban server (`/healthz`), logs in
//! with a username and password (session cookie + CSRF header), and does what a load test or a
//! test needs before sites join: list and create sites, create and cancel sessions.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("cannot reach {url}: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("{url} is not a giaoban server ({why})")]
    NotGiaoban { url: String, why: String },
    #[error("{what}: HTTP {status}: {body}")]
    Status {
        what: String,
        status: u16,
        body: String,
    },
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
}

/// A site as the API lists it (the fields the client needs).
#[derive(Debug, Clone, Deserialize)]
pub struct SiteInfo {
    pub id: String,
    pub valid_to: Option<String>,
}

/// A created session: its id and one join link per site.
#[derive(Debug, Clone, Deserialize)]
pub struct CreatedSession {
    pub session_id: String,
    pub links: BTreeMap<String, String>,
}

/// The token at the end of a join link.
pub fn token_of(link: &str) -> &str {
    link.rsplit('/').next().unwrap_or(link)
}

/// `GET /healthz` answers `{"service":"giaoban",...}`: anything else is refused with a reason.
pub async fn check_giaoban(base: &str) -> Result<(), ApiError> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()?;
    let url = format!("{base}/healthz");
    let r = client
        .get(&url)
        .send()
        .await
        .map_err(|source| ApiError::Unreachable {
            url: base.to_string(),
            source,
        })?;
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.unwrap_or(serde_json::Value::Null);
    if status != 200 || body["service"] != "giaoban" {
        return Err(ApiError::NotGiaoban {
            url: base.to_string(),
            why: format!("GET /healthz gave HTTP {status} without service \"giaoban\""),
        });
    }
    Ok(())
}

/// An HTTP client logged in as someone: keeps the session cookie and sends the CSRF header.
#[derive(Clone)]
pub struct ApiClient {
    pub client: reqwest::Client,
    pub base: String,
    pub csrf: String,
    pub username: String,
}

async fn expect_ok(r: reqwest::Response, what: &str) -> Result<reqwest::Response, ApiError> {
    if r.status().is_success() {
        return Ok(r);
    }
    let status = r.status().as_u16();
    let body = r.text().await.unwrap_or_default();
    Err(ApiError::Status {
        what: what.to_string(),
        status,
        body: body.chars().take(300).collect(),
    })
}

impl ApiClient {
    /// Logs in at `base` (`http://host:port`).
    pub async fn login(base: &str, username: &str, password: &str) -> Result<Self, ApiError> {
        let client = reqwest::Client::builder().cookie_store(true).build()?;
        let r = client
            .post(format!("{base}/api/login"))
            .json(&serde_json::json!({ "username": username, "password": password }))
            .send()
            .await
            .map_err(|source| ApiError::Unreachable {
                url: base.to_string(),
                source,
            })?;
        let r = expect_ok(r, "login").await?;
        let csrf = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| {
                c.strip_prefix("giaoban_csrf=")
                    .map(|v| v.split(';').next().unwrap_or("").to_string())
            })
            .ok_or_else(|| ApiError::NotGiaoban {
                url: base.to_string(),
                why: "the login set no giaoban_csrf cookie".into(),
            })?;
        Ok(ApiClient {
            client,
            base: base.to_string(),
            csrf,
            username: username.to_string(),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Result<reqwest::Response, reqwest::Error> {
        self.client.get(self.url(path)).send().await
    }

    /// A state-changing request with a JSON body and the login's CSRF token.
    async fn write(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<reqwest::Response, reqwest::Error> {
        self.client
            .request(method, self.url(path))
            .header("x-csrf-token", &self.csrf)
            .json(body)
            .send()
            .await
    }

    pub async fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<reqwest::Response, reqwest::Error> {
        self.write(reqwest::Method::POST, path, body).await
    }

    pub async fn put(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<reqwest::Response, reqwest::Error> {
        self.write(reqwest::Method::PUT, path, body).await
    }

    pub async fn patch(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<reqwest::Response, reqwest::Error> {
        self.write(reqwest::Method::PATCH, path, body).await
    }

    pub async fn delete(&self, path: &str) -> Result<reqwest::Response, reqwest::Error> {
        self.client
            .delete(self.url(path))
            .header("x-csrf-token", &self.csrf)
            .send()
            .await
    }

    /// Every site the server knows.
    pub async fn sites(&self) -> Result<Vec<SiteInfo>, ApiError> {
        let r = expect_ok(self.get("/api/sites").await?, "list sites").await?;
        Ok(r.json().await?)
    }

    /// Makes sure sites `{prefix}-000` … exist (`count` of them, the first a host site) under a
    /// unit named `prefix`, creating what is missing. Returns their ids in order.
    pub async fn ensure_sites(&self, prefix: &str, count: usize) -> Result<Vec<String>, ApiError> {
        let ids: Vec<String> = (0..count).map(|i| format!("{prefix}-{i:03}")).collect();
        let known: std::collections::HashSet<String> = self
            .sites()
            .await?
            .into_iter()
            .filter(|s| s.valid_to.is_none())
            .map(|s| s.id)
            .collect();
        if ids.iter().all(|id| known.contains(id)) {
            return Ok(ids);
        }
        let units = expect_ok(self.get("/api/units").await?, "list units").await?;
        let units: Vec<serde_json::Value> = units.json().await?;
        if !units.iter().any(|u| u["id"] == prefix) {
            let unit = serde_json::json!({
                "id": prefix, "name": format!("Đơn vị đo tải ({prefix})"), "kind": "other",
                "valid_from": "2025-07-01",
            });
            expect_ok(self.post("/api/units", &unit).await?, "create unit").await?;
        }
        for (i, id) in ids.iter().enumerate() {
            if known.contains(id) {
                continue;
            }
            let site = serde_json::json!({
                "unit_id": prefix, "name": format!("Điểm cầu đo tải {i:03}"), "is_host": i == 0,
            });
            expect_ok(
                self.put(&format!("/api/sites/{id}"), &site).await?,
                "create site",
            )
            .await?;
        }
        Ok(ids)
    }

    /// Creates an unscheduled session hosted by `host` with `sites` invited.
    pub async fn create_session(
        &self,
        title: &str,
        host: &str,
        sites: &[String],
    ) -> Result<CreatedSession, ApiError> {
        let body = serde_json::json!({ "title": title, "host_site_id": host, "site_ids": sites });
        let r = expect_ok(self.post("/api/sessions", &body).await?, "create session").await?;
        Ok(r.json().await?)
    }

    /// Cancels a session (its join links stop working).
    pub async fn cancel_session(&self, id: &str) -> Result<(), ApiError> {
        let body = serde_json::json!({});
        let r = self
            .post(&format!("/api/sessions/{id}/cancel"), &body)
            .await?;
        expect_ok(r, "cancel session").await?;
        Ok(())
    }

    /// `GET /api/stats` as JSON.
    pub async fn stats(&self) -> Result<serde_json::Value, ApiError> {
        let r = expect_ok(self.get("/api/stats").await?, "stats").await?;
        Ok(r.json().await?)
    }
}
