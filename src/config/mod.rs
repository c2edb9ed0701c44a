//! Typed configuration: `config/default.toml` (or the file given with `--config`), then one
//! `GIAOBAN_<SECTION>_<KEY>` environment override per key ([`env`]), then validation
//! ([`validate`]). Every error names the key it is about, so a bad value stops the start with a
//! message an operator can act on. This file holds the top-level [`Config`], loading and the
//! paths derived from it; the sections' types are in [`sections`].

mod env;
mod sections;
#[cfg(test)]
mod tests;
mod validate;

pub use sections::*;

use serde::{Deserialize, Serialize};
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
        env::apply_env(&mut value, env)?;
        let config: Config = Config::deserialize(toml::Value::Table(value))
            .map_err(|e| parse_err(e.to_string().trim().to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// The recordings' folder.
    pub fn record_dir(&self) -> PathBuf {
        if self.record.dir.as_os_str().is_empty() {
            self.data.dir.join("recordings")
        } else {
            self.record.dir.clone()
        }
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
