//! Checks serde cannot make: addresses, ranges, TLS and TURN settings, references between
//! units and sites. Each failure names the key.

use super::{Config, ConfigError, invalid, is_slug};
use std::net::{IpAddr, SocketAddr};

impl Config {
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
        if !(256..=1_048_576).contains(&self.media.egress_queue) {
            return Err(invalid(
                "media.egress_queue",
                "must be between 256 and 1048576 packets",
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
}
