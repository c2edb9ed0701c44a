//! The configuration's sections (`[http]`, `[media]`, `[record]`, …): their types, what each key
//! means and its default. Loading and validation are in the parent module.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
    /// Packets that may wait for the media driver, all down-tracks together, before the
    /// forwarder drops (and counts) on lag.
    pub egress_queue: usize,
    pub keyframe_min_interval_ms: u64,
    /// A site's video that no site receives and no recording taps for this long is paused at
    /// the site (`video_paused`); 0: never.
    #[serde(default = "default_pause_unwatched_after_ms")]
    pub pause_unwatched_after_ms: u64,
}

fn default_pause_unwatched_after_ms() -> u64 {
    5000
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
