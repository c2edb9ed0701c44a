//! Typed configuration: `config/default.toml` (or the file given with `--config`), then one
//! `GIAOBAN_<SECTION>_<KEY>` environment override per key, then validation. Every error names the
//! key it is about, so a bad value stops the start with a message an operator can act on.

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// Everything the server and the CLI read from configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub http: HttpConfig,
    pub data: DataConfig,
    pub auth: AuthConfig,
    pub media: MediaConfig,
    pub limits: LimitsConfig,
    #[serde(default)]
    pub org: OrgConfig,
    #[serde(default)]
    pub attendance: AttendanceConfig,
    #[serde(default)]
    pub webhooks: WebhooksConfig,
    #[serde(default)]
    pub signal: SignalConfig,
    #[serde(default)]
    pub audit: AuditConfig,
    #[serde(default)]
    pub record: RecordConfig,
    #[serde(default)]
    pub kiosk: KioskConfig,
    #[serde(default)]
    pub turn: TurnConfig,
    #[serde(default)]
    pub chair: ChairConfig,
}

/// `[turn]`: TURN servers given to room pages, with coturn REST-scheme credentials.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TurnConfig {
    /// `turn:host:port?transport=udp|tcp`, `turns:host:443?transport=tcp`, `stun:host:port`.
    pub urls: Vec<String>,
    /// coturn's `static-auth-secret`.
    pub secret: String,
    /// Credentials are valid this long after a join (seconds).
    pub ttl_secs: u64,
}

impl Default for TurnConfig {
    fn default() -> Self {
        TurnConfig {
            urls: Vec::new(),
            secret: String::new(),
            ttl_secs: 86_400,
        }
    }
}

/// `[record]`: where recordings go, their size limit, queues, signed URLs and retention.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordConfig {
    /// Empty: `<data.dir>/recordings`.
    pub dir: PathBuf,
    /// Bytes one recording may write (0: no limit).
    pub max_bytes: u64,
    pub queue: usize,
    pub url_ttl_secs: u64,
    /// Days a one-off session's recording is kept (0: for ever).
    pub retention_days: u32,
    /// Days a recording of a recurring session's occurrence is kept (0: for ever).
    pub retention_days_recurring: u32,
    pub retention_sweep_minutes: u64,
}

impl Default for RecordConfig {
    fn default() -> Self {
        RecordConfig {
            dir: PathBuf::new(),
            max_bytes: 0,
            queue: 1024,
            url_ttl_secs: 300,
            retention_days: 365,
            retention_days_recurring: 180,
            retention_sweep_minutes: 60,
        }
    }
}

impl Config {
    /// The recordings' folder.
    pub fn record_dir(&self) -> PathBuf {
        if self.record.dir.as_os_str().is_empty() {
            self.data.dir.join("recordings")
        } else {
            self.record.dir.clone()
        }
    }
}

/// `[kiosk]`: pairing of room PCs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KioskConfig {
    /// A pairing code works this many minutes after it was made.
    pub pairing_minutes: u32,
}

impl Default for KioskConfig {
    fn default() -> Self {
        KioskConfig {
            pairing_minutes: 30,
        }
    }
}

/// `[chair]`: chairing a live session (floor, mutes, layouts; see `sfu::chair`, `sfu::layout`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChairConfig {
    /// Sessions with more invited sites than this start with "sites join muted" on.
    pub join_muted_above_sites: usize,
    /// Tiles per page of the host's grid of all sites.
    pub grid_page_size: usize,
    /// Most video tracks one subscriber may ask for (`subscribe`).
    pub max_tiles: usize,
}

impl Default for ChairConfig {
    fn default() -> Self {
        ChairConfig {
            join_muted_above_sites: 5,
            grid_page_size: 25,
            max_tiles: 49,
        }
    }
}

/// `[attendance]`: roll-call thresholds, the reconnect grace and the crash heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttendanceConfig {
    pub reconnect_grace_secs: u64,
    pub heartbeat_secs: u64,
    pub late_after_minutes: u32,
    pub left_early_minutes: u32,
    pub min_presence_percent: u8,
}

impl Default for AttendanceConfig {
    fn default() -> Self {
        AttendanceConfig {
            reconnect_grace_secs: 30,
            heartbeat_secs: 5,
            late_after_minutes: 10,
            left_early_minutes: 10,
            min_presence_percent: 50,
        }
    }
}

/// `[webhooks]`: where attendance and session events are delivered, signed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    pub urls: Vec<String>,
    pub secret: String,
    pub timeout_ms: u64,
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            urls: Vec::new(),
            secret: String::new(),
            timeout_ms: 5000,
            retry_initial_ms: 1000,
            retry_max_ms: 300_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub addr: String,
    #[serde(default)]
    pub public_url: String,
    /// Origins besides the public URL's whose pages may open `/ws`.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// A client must send a request's whole header within this time (ms).
    #[serde(default = "defaults::header_read_timeout_ms")]
    pub header_read_timeout_ms: u64,
    /// Open TCP connections at most, in total and per client address.
    #[serde(default = "defaults::max_connections")]
    pub max_connections: usize,
    #[serde(default = "defaults::max_connections_per_ip")]
    pub max_connections_per_ip: usize,
    /// HTTPS on `addr`: off, files (`tls_cert`, `tls_key`) or self_signed (`tls_names`).
    #[serde(default)]
    pub tls_mode: crate::tls::TlsMode,
    #[serde(default)]
    pub tls_cert: PathBuf,
    #[serde(default)]
    pub tls_key: PathBuf,
    /// Host names and addresses of the self-signed certificate; empty: the address and localhost.
    #[serde(default)]
    pub tls_names: Vec<String>,
    /// A plain-HTTP address that redirects to the HTTPS public URL; empty: none.
    #[serde(default)]
    pub redirect_addr: String,
}

impl HttpConfig {
    /// `https` when the listener speaks TLS.
    pub fn scheme(&self) -> &'static str {
        if self.tls_mode == crate::tls::TlsMode::Off {
            "http"
        } else {
            "https"
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    #[serde(default)]
    pub token_secret: String,
    pub join_link_grace_hours: u32,
    pub login_session_hours: u32,
    /// A join link opens the room this many minutes before the session's start.
    #[serde(default = "defaults::join_opens_minutes_before")]
    pub join_opens_minutes_before: u32,
    /// Threads verifying passwords (0: one per core); more concurrent logins get 429 at once.
    pub login_hash_workers: u32,
    pub login_free_failures_per_account: u32,
    pub login_free_failures_per_address: u32,
    pub login_backoff_base_secs: u32,
    pub login_backoff_max_secs: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaConfig {
    pub bind_ip: String,
    /// The one UDP port of every session's media (0: an ephemeral port, for tests).
    pub udp_port: u16,
    #[serde(default)]
    pub nat_1to1_ips: Vec<String>,
    pub down_track_queue: usize,
    pub keyframe_min_interval_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    pub max_session_hours: u32,
}

/// Liveness of signaling connections (see `signal::liveness`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignalConfig {
    pub ping_interval_ms: u64,
    pub silence_timeout_ms: u64,
    pub join_timeout_ms: u64,
}

impl Default for SignalConfig {
    fn default() -> Self {
        SignalConfig {
            ping_interval_ms: 1000,
            silence_timeout_ms: 3000,
            join_timeout_ms: 10_000,
        }
    }
}

/// Anchoring of the audit chain head (see `audit::anchor`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Minutes between anchors written by the server; 0: only `giaoban audit anchor`.
    pub anchor_interval_minutes: u64,
    /// The anchor file; empty: `<data.dir>.anchors` beside the data directory.
    pub anchor_file: PathBuf,
}

mod defaults {
    pub fn header_read_timeout_ms() -> u64 {
        10_000
    }
    pub fn max_connections() -> usize {
        4096
    }
    pub fn max_connections_per_ip() -> usize {
        256
    }
    pub fn join_opens_minutes_before() -> u32 {
        60
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgConfig {
    #[serde(default)]
    pub units: Vec<UnitConfig>,
}

/// One unit of the organisation (city, department, ward, commune) with its sites.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitConfig {
    pub id: String,
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub parent: Option<String>,
    pub valid_from: chrono::NaiveDate,
    #[serde(default)]
    pub valid_to: Option<chrono::NaiveDate>,
    #[serde(default)]
    pub sites: Vec<SiteConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub host: bool,
}

/// A configuration problem, always naming the key (or file) it is about.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {var} (key {key}): {message}")]
    Env {
        var: String,
        key: String,
        message: String,
    },
    #[error("config key {key}: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

impl Config {
    /// Reads `path`, applies `GIAOBAN_*` overrides from the process environment and validates.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with_env(path, std::env::vars())
    }

    /// As [`Config::load`], with the environment given explicitly (tests).
    pub fn load_with_env(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_str(&text, path, env)
    }

    /// Parses TOML text, applies overrides and validates. `origin` only names the source in errors.
    pub fn from_toml_str(
        text: &str,
        origin: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let parse_err = |message: String| ConfigError::Parse {
            path: origin.to_path_buf(),
            message,
        };
        let mut value: toml::Table = toml::from_str(text).map_err(|e| parse_err(e.to_string()))?;
        apply_env(&mut value, env)?;
        let config: Config = Config::deserialize(toml::Value::Table(value))
            .map_err(|e| parse_err(e.to_string().trim().to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values serde cannot: addresses, ranges, references between units.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.http.addr.parse::<SocketAddr>().map_err(|e| {
            invalid(
                "http.addr",
                format!("{:?} is not a socket address: {e}", self.http.addr),
            )
        })?;
        self.validate_tls()?;
        self.validate_turn()?;
        if !self.http.public_url.is_empty() {
            url::Url::parse(&self.http.public_url)
                .map_err(|e| invalid("http.public_url", format!("not a URL: {e}")))?;
        }
        for o in &self.http.allowed_origins {
            if !crate::api::origin::valid_config_origin(o) {
                return Err(invalid(
                    "http.allowed_origins",
                    format!("{o:?} is not an origin like \"https://giaoban.example.vn\""),
                ));
            }
        }
        if self.data.dir.as_os_str().is_empty() {
            return Err(invalid("data.dir", "must not be empty"));
        }
        if !(16..=65_536).contains(&self.record.queue) {
            return Err(invalid("record.queue", "must be 16 to 65536"));
        }
        if !(10..=86_400).contains(&self.record.url_ttl_secs) {
            return Err(invalid("record.url_ttl_secs", "must be 10 to 86400"));
        }
        if !(1..=10_080).contains(&self.record.retention_sweep_minutes) {
            return Err(invalid(
                "record.retention_sweep_minutes",
                "must be 1 to 10080",
            ));
        }
        if !self.auth.token_secret.is_empty() && self.auth.token_secret.len() < 32 {
            return Err(invalid(
                "auth.token_secret",
                "must be at least 32 characters (or empty to generate one)",
            ));
        }
        self.media.bind_ip.parse::<IpAddr>().map_err(|e| {
            invalid(
                "media.bind_ip",
                format!("{:?} is not an IP address: {e}", self.media.bind_ip),
            )
        })?;
        for ip in &self.media.nat_1to1_ips {
            ip.parse::<IpAddr>()
                .map_err(|e| invalid("media.nat_1to1_ips", format!("{ip:?}: {e}")))?;
        }
        if !(8..=65536).contains(&self.media.down_track_queue) {
            return Err(invalid(
                "media.down_track_queue",
                "must be between 8 and 65536 packets",
            ));
        }
        if self.auth.login_hash_workers > 64 {
            return Err(invalid(
                "auth.login_hash_workers",
                "at most 64 (0: one per core)",
            ));
        }
        if self.auth.login_backoff_base_secs == 0
            || self.auth.login_backoff_max_secs < self.auth.login_backoff_base_secs
        {
            return Err(invalid(
                "auth.login_backoff_max_secs",
                "login_backoff_base_secs must be at least 1 and login_backoff_max_secs not below it",
            ));
        }
        if self.limits.max_session_hours == 0 {
            return Err(invalid("limits.max_session_hours", "must be at least 1"));
        }
        if !(1..=7 * 24 * 60).contains(&self.kiosk.pairing_minutes) {
            return Err(invalid(
                "kiosk.pairing_minutes",
                "must be 1 to 10080 (a week)",
            ));
        }
        self.validate_attendance()?;
        self.validate_limits()?;
        self.validate_org()
    }

    fn validate_turn(&self) -> Result<(), ConfigError> {
        let t = &self.turn;
        if let Some(u) = t.urls.iter().find(|u| !crate::turn::valid_url(u)) {
            return Err(invalid(
                "turn.urls",
                format!("{u:?} is not like \"turn:turn.example.vn:3478?transport=udp\""),
            ));
        }
        let has_turn = t.urls.iter().any(|u| u.starts_with("turn"));
        if has_turn && t.secret.len() < 16 {
            return Err(invalid(
                "turn.secret",
                "must be coturn's static-auth-secret, at least 16 characters, when turn.urls has a turn: server",
            ));
        }
        if !(60..=7 * 86_400).contains(&t.ttl_secs) {
            return Err(invalid(
                "turn.ttl_secs",
                "must be 60 to 604800 seconds (longer than the longest session)",
            ));
        }
        Ok(())
    }

    fn validate_tls(&self) -> Result<(), ConfigError> {
        let h = &self.http;
        if h.tls_mode == crate::tls::TlsMode::Files {
            if h.tls_cert.as_os_str().is_empty() {
                return Err(invalid(
                    "http.tls_cert",
                    "tls_mode \"files\" needs the certificate file (PEM)",
                ));
            }
            if h.tls_key.as_os_str().is_empty() {
                return Err(invalid(
                    "http.tls_key",
                    "tls_mode \"files\" needs the private key file (PEM)",
                ));
            }
        }
        if let Some(n) = h.tls_names.iter().find(|n| {
            n.is_empty() || n.len() > 253 || n.chars().any(|c| c.is_whitespace() || c == '/')
        }) {
            return Err(invalid(
                "http.tls_names",
                format!("{n:?} is not a host name or address"),
            ));
        }
        if !h.redirect_addr.is_empty() {
            h.redirect_addr.parse::<SocketAddr>().map_err(|e| {
                invalid(
                    "http.redirect_addr",
                    format!("{:?} is not a socket address: {e}", h.redirect_addr),
                )
            })?;
            if h.tls_mode == crate::tls::TlsMode::Off {
                return Err(invalid(
                    "http.redirect_addr",
                    "redirects to HTTPS: set http.tls_mode too",
                ));
            }
        }
        Ok(())
    }

    fn validate_attendance(&self) -> Result<(), ConfigError> {
        let a = &self.attendance;
        if !(1..=600).contains(&a.heartbeat_secs) {
            return Err(invalid("attendance.heartbeat_secs", "must be 1 to 600"));
        }
        if a.reconnect_grace_secs > 3600 {
            return Err(invalid("attendance.reconnect_grace_secs", "at most 3600"));
        }
        if a.min_presence_percent > 100 {
            return Err(invalid("attendance.min_presence_percent", "at most 100"));
        }
        let w = &self.webhooks;
        for u in &w.urls {
            let parsed = url::Url::parse(u)
                .map_err(|e| invalid("webhooks.urls", format!("{u:?} is not a URL: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(invalid(
                    "webhooks.urls",
                    format!("{u:?}: use http or https"),
                ));
            }
        }
        if !w.urls.is_empty() && w.secret.len() < 32 {
            return Err(invalid(
                "webhooks.secret",
                "must be at least 32 characters when webhooks.urls is set",
            ));
        }
        if w.timeout_ms == 0 || w.retry_initial_ms == 0 || w.retry_max_ms < w.retry_initial_ms {
            return Err(invalid(
                "webhooks.retry_max_ms",
                "timeout and retry delays must be positive, retry_max_ms >= retry_initial_ms",
            ));
        }
        Ok(())
    }

    /// Timeouts and connection caps: none may be zero, the silence limit must exceed the ping
    /// interval (else every live client would be dropped).
    fn validate_limits(&self) -> Result<(), ConfigError> {
        let s = &self.signal;
        for (key, v) in [
            ("signal.ping_interval_ms", s.ping_interval_ms),
            ("signal.silence_timeout_ms", s.silence_timeout_ms),
            ("signal.join_timeout_ms", s.join_timeout_ms),
            (
                "http.header_read_timeout_ms",
                self.http.header_read_timeout_ms,
            ),
            ("http.max_connections", self.http.max_connections as u64),
            (
                "http.max_connections_per_ip",
                self.http.max_connections_per_ip as u64,
            ),
        ] {
            if v == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        let c = &self.chair;
        if !(1..=100).contains(&c.grid_page_size) {
            return Err(invalid("chair.grid_page_size", "must be between 1 and 100"));
        }
        if c.max_tiles < c.grid_page_size + 2 || c.max_tiles > 200 {
            return Err(invalid(
                "chair.max_tiles",
                "must be at least chair.grid_page_size + 2 (the page, the floor, the screen) and at most 200",
            ));
        }
        if s.silence_timeout_ms <= s.ping_interval_ms {
            return Err(invalid(
                "signal.silence_timeout_ms",
                format!(
                    "must exceed signal.ping_interval_ms ({})",
                    s.ping_interval_ms
                ),
            ));
        }
        Ok(())
    }

    /// Where audit anchors are appended: `audit.anchor_file`, or `<data.dir>.anchors`.
    pub fn anchor_file(&self) -> PathBuf {
        if !self.audit.anchor_file.as_os_str().is_empty() {
            return self.audit.anchor_file.clone();
        }
        let mut name = self
            .data
            .dir
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_else(|| "data".into());
        name.push(".anchors");
        self.data.dir.with_file_name(name)
    }

    fn validate_org(&self) -> Result<(), ConfigError> {
        let mut unit_ids = std::collections::HashSet::new();
        let mut site_ids = std::collections::HashSet::new();
        for (i, unit) in self.org.units.iter().enumerate() {
            let key = format!("org.units[{i}]");
            if !is_slug(&unit.id) {
                return Err(invalid(
                    &format!("{key}.id"),
                    format!("{:?}: use lower-case letters, digits and '-'", unit.id),
                ));
            }
            if !unit_ids.insert(unit.id.as_str()) {
                return Err(invalid(
                    &format!("{key}.id"),
                    format!("unit {:?} is listed twice", unit.id),
                ));
            }
            if unit.name.trim().is_empty() {
                return Err(invalid(&format!("{key}.name"), "must not be empty"));
            }
            if let Some(to) = unit.valid_to
                && to < unit.valid_from
            {
                return Err(invalid(&format!("{key}.valid_to"), "is before valid_from"));
            }
            for (j, site) in unit.sites.iter().enumerate() {
                if !is_slug(&site.id) {
                    return Err(invalid(
                        &format!("{key}.sites[{j}].id"),
                        format!("{:?}: use lower-case letters, digits and '-'", site.id),
                    ));
                }
                if !site_ids.insert(site.id.as_str()) {
                    return Err(invalid(
                        &format!("{key}.sites[{j}].id"),
                        format!("site {:?} is listed twice", site.id),
                    ));
                }
            }
        }
        for (i, unit) in self.org.units.iter().enumerate() {
            if let Some(parent) = &unit.parent
                && !unit_ids.contains(parent.as_str())
            {
                return Err(invalid(
                    &format!("org.units[{i}].parent"),
                    format!("unknown unit {parent:?}"),
                ));
            }
        }
        Ok(())
    }

    /// The base URL of join links.
    pub fn public_url(&self) -> String {
        if self.http.public_url.is_empty() {
            format!("{}://{}", self.http.scheme(), self.http.addr)
        } else {
            self.http.public_url.trim_end_matches('/').to_string()
        }
    }
}

/// Ids of units and sites appear in URLs and tokens: keep them plain.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Applies `GIAOBAN_<SECTION>_<KEY>` to every scalar or array key of every section of `table`.
/// A value is parsed as the type the file gives that key (strings are taken verbatim).
/// Unknown `GIAOBAN_*` variables are an error, so a typo does not pass silently.
fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    for (var, raw) in env {
        let Some(rest) = var.strip_prefix("GIAOBAN_") else {
            continue;
        };
        if matches!(
            rest,
            "LOG" | "CONFIG" | "PASSWORD" | "TEST_LOG" | "TEST_SCREENSHOTS"
        ) {
            // Read elsewhere (log filter, config path, `user add`, test logs and screenshots).
            continue;
        }
        let mut target = None;
        for (section, inner) in table.iter_mut() {
            let Some(inner) = inner.as_table_mut() else {
                continue;
            };
            for (key, value) in inner.iter_mut() {
                if format!("{section}_{key}").to_ascii_uppercase() == rest {
                    target = Some((format!("{section}.{key}"), value));
                }
            }
        }
        let Some((key, value)) = target else {
            return Err(ConfigError::Env {
                var: var.clone(),
                key: rest.to_ascii_lowercase(),
                message: "no such config key".into(),
            });
        };
        let env_err = |message: String| ConfigError::Env {
            var: var.clone(),
            key: key.clone(),
            message,
        };
        *value = match value {
            toml::Value::String(_) => toml::Value::String(raw),
            toml::Value::Integer(_) => toml::Value::Integer(
                raw.trim()
                    .parse()
                    .map_err(|e| env_err(format!("{raw:?} is not an integer: {e}")))?,
            ),
            toml::Value::Boolean(_) => toml::Value::Boolean(
                raw.trim()
                    .parse()
                    .map_err(|_| env_err(format!("{raw:?} is not true or false")))?,
            ),
            _ => {
                let parsed: toml::Table = toml::from_str(&format!("v = {raw}"))
                    .map_err(|e| env_err(format!("{raw:?} is not a TOML value: {e}")))?;
                parsed
                    .get("v")
                    .cloned()
                    .ok_or_else(|| env_err("empty".into()))?
            }
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_text() -> String {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml"))
            .unwrap()
    }

    fn load(env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_toml_str(
            &default_text(),
            Path::new("default.toml"),
            env.iter().map(|(a, b)| (a.to_string(), b.to_string())),
        )
    }

    #[test]
    fn default_config_is_valid_and_has_a_host_site() {
        let c = load(&[]).unwrap();
        assert_eq!(c.http.addr, "127.0.0.1:8080");
        assert!(c.org.units.iter().flat_map(|u| &u.sites).any(|s| s.host));
        assert_eq!(c.public_url(), "http://127.0.0.1:8080");
    }

    #[test]
    fn env_overrides_each_type() {
        let c = load(&[
            ("GIAOBAN_HTTP_ADDR", "127.0.0.1:0"),
            ("GIAOBAN_DATA_DIR", "/tmp/x"),
            ("GIAOBAN_MEDIA_UDP_PORT", "40000"),
            ("GIAOBAN_MEDIA_NAT_1TO1_IPS", "[\"203.0.113.7\"]"),
        ])
        .unwrap();
        assert_eq!(c.http.addr, "127.0.0.1:0");
        assert_eq!(c.data.dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.media.udp_port, 40000);
        assert_eq!(c.media.nat_1to1_ips, vec!["203.0.113.7".to_string()]);
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = load(&[("GIAOBAN_HTTP_ADDR", "nowhere")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("http.addr"), "{e}");
        let e = load(&[("GIAOBAN_MEDIA_UDP_PORT", "lots")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("GIAOBAN_MEDIA_UDP_PORT") && e.contains("media.udp_port"),
            "{e}"
        );
        // The port range of earlier versions is gone: naming it is an error, not ignored.
        let e = load(&[("GIAOBAN_MEDIA_PORT_MIN", "60000")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("GIAOBAN_MEDIA_PORT_MIN"), "{e}");
        let e = load(&[("GIAOBAN_HTTP_ADRESS", "x")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("GIAOBAN_HTTP_ADRESS"), "{e}");
        let e = load(&[("GIAOBAN_MEDIA_BIND_IP", "localhost")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("media.bind_ip"), "{e}");
    }

    #[test]
    fn unknown_keys_and_bad_org_are_refused() {
        let text = default_text().replace("[limits]", "[limits]\nmax_sesion_hours = 3");
        let e = Config::from_toml_str(&text, Path::new("f.toml"), [])
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_sesion_hours"), "{e}");
        let text = default_text().replace("parent = \"ubnd-tp\"", "parent = \"nope\"");
        let e = Config::from_toml_str(&text, Path::new("f.toml"), [])
            .unwrap_err()
            .to_string();
        assert!(e.contains("parent") && e.contains("nope"), "{e}");
    }
}
