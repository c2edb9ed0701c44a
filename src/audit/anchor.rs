//! Anchors of the audit chain: the head (seq, hash, time) signed with an Ed25519 key kept in the
//! data directory and appended, one JSON line each, to a file outside the database (and written
//! to the log). Someone who can write the database can drop the triggers, truncate the tail and
//! move the head so that the chain still verifies on its own; checked against anchors kept
//! elsewhere, it no longer does: every anchored head must still be in the chain with the same
//! hash. The signing and checking rules ([`message`], [`check`]) are pure; [`anchor_now`] and
//! [`verify_with`] are the IO around them.

use super::chain::GENESIS_HASH;
use crate::store::{Pool, StoreError};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// File of the signing key in the data directory (32-byte seed, base64, mode 0600).
pub const KEY_FILE: &str = "audit-anchor.key";

/// One anchor, as a line of the anchor file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub v: u32,
    pub seq: i64,
    pub hash: String,
    /// When the head was anchored, RFC 3339 UTC.
    pub at: String,
    /// The public key (base64) that signed it.
    pub key: String,
    /// Ed25519 signature (base64) of [`message`].
    pub sig: String,
}

/// The bytes an anchor signs.
pub fn message(seq: i64, hash: &str, at: &str) -> Vec<u8> {
    format!("giaoban audit anchor v1\nseq={seq}\nhash={hash}\nat={at}\n").into_bytes()
}

/// Signs the head `(seq, hash)` at time `at`.
pub fn sign(key: &SigningKey, seq: i64, hash: &str, at: DateTime<Utc>) -> Anchor {
    let at = at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let sig = key.sign(&message(seq, hash, &at));
    Anchor {
        v: 1,
        seq,
        hash: hash.to_string(),
        at,
        key: B64.encode(key.verifying_key().as_bytes()),
        sig: B64.encode(sig.to_bytes()),
    }
}

/// Why the chain does not match its anchors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnchorError {
    #[error("anchor file line {line}: {reason}")]
    Malformed { line: usize, reason: String },
    #[error("anchor file line {line} (seq {seq}): signed by another key than {expected}")]
    WrongKey {
        line: usize,
        seq: i64,
        expected: String,
    },
    #[error("anchor file line {line} (seq {seq}): bad signature")]
    BadSignature { line: usize, seq: i64 },
    #[error(
        "audit log seq {seq}: anchored head is missing from the chain (the chain ends at seq {last_seq}): the tail was truncated"
    )]
    Missing { seq: i64, last_seq: i64 },
    #[error(
        "audit log seq {seq}: the chain's hash differs from the anchored head's: the log was rewritten"
    )]
    Differs { seq: i64 },
}

impl AnchorError {
    /// The audit seq concerned, when there is one.
    pub fn seq(&self) -> Option<i64> {
        match self {
            AnchorError::Malformed { .. } => None,
            AnchorError::WrongKey { seq, .. }
            | AnchorError::BadSignature { seq, .. }
            | AnchorError::Missing { seq, .. }
            | AnchorError::Differs { seq } => Some(*seq),
        }
    }
}

/// Parses the anchor file: one JSON object per non-empty line.
pub fn parse(text: &str) -> Result<Vec<(usize, Anchor)>, AnchorError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str::<Anchor>(l)
                .map(|a| (i + 1, a))
                .map_err(|e| AnchorError::Malformed {
                    line: i + 1,
                    reason: e.to_string(),
                })
        })
        .collect()
}

fn verifying_key(b64: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = B64.decode(b64).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// Checks anchors against the chain: [`check_signatures`], then [`check_chain`]. Returns the
/// number of anchors.
pub fn check(
    anchors: &[(usize, Anchor)],
    key: &str,
    hashes: &BTreeMap<i64, String>,
    last_seq: i64,
) -> Result<usize, AnchorError> {
    check_signatures(anchors, key)?;
    check_chain(anchors, hashes, last_seq)?;
    Ok(anchors.len())
}

/// Every anchor must be signed by `key` (base64).
pub fn check_signatures(anchors: &[(usize, Anchor)], key: &str) -> Result<(), AnchorError> {
    let verifying = verifying_key(key).ok_or_else(|| AnchorError::Malformed {
        line: 0,
        reason: format!("public key {key:?} is not an Ed25519 key in base64"),
    })?;
    for (line, a) in anchors {
        if a.key != key {
            return Err(AnchorError::WrongKey {
                line: *line,
                seq: a.seq,
                expected: key.to_string(),
            });
        }
        let sig = B64
            .decode(&a.sig)
            .ok()
            .and_then(|b| Signature::from_slice(&b).ok());
        let good = sig.is_some_and(|s| {
            verifying
                .verify(&message(a.seq, &a.hash, &a.at), &s)
                .is_ok()
        });
        if !good {
            return Err(AnchorError::BadSignature {
                line: *line,
                seq: a.seq,
            });
        }
    }
    Ok(())
}

/// Every anchored seq must be in the chain (`hashes`: the stored hash of each anchored seq that
/// exists; `last_seq`: where the chain ends) with the anchored hash. The first failure in seq
/// order is returned.
pub fn check_chain(
    anchors: &[(usize, Anchor)],
    hashes: &BTreeMap<i64, String>,
    last_seq: i64,
) -> Result<(), AnchorError> {
    let mut by_seq: Vec<&Anchor> = anchors.iter().map(|(_, a)| a).collect();
    by_seq.sort_by_key(|a| a.seq);
    for a in by_seq {
        let stored = if a.seq == 0 {
            Some(GENESIS_HASH)
        } else {
            hashes.get(&a.seq).map(String::as_str)
        };
        match stored {
            None => {
                return Err(AnchorError::Missing {
                    seq: a.seq,
                    last_seq,
                });
            }
            Some(h) if h != a.hash => return Err(AnchorError::Differs { seq: a.seq }),
            Some(_) => {}
        }
    }
    Ok(())
}

/// The signing key of this data directory, created on first use.
pub fn load_or_create_key(data_dir: &Path) -> std::io::Result<SigningKey> {
    let path = data_dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let seed: [u8; 32] = B64
                .decode(text.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}: not a 32-byte key in base64", path.display()),
                    )
                })?;
            Ok(SigningKey::from_bytes(&seed))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let seed: [u8; 32] = rand::random();
            let text = format!("{}\n", B64.encode(seed));
            crate::auth::token::write_private(&path, text.as_bytes())?;
            Ok(SigningKey::from_bytes(&seed))
        }
        Err(e) => Err(e),
    }
}

/// The public key of this data directory's anchors (base64), if the key exists.
pub fn public_key(data_dir: &Path) -> std::io::Result<String> {
    let key = load_or_create_key(data_dir)?;
    Ok(B64.encode(key.verifying_key().as_bytes()))
}

#[derive(Debug, thiserror::Error)]
pub enum AnchorIoError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Chain(#[from] super::VerifyError),
    #[error(transparent)]
    Anchor(#[from] AnchorError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> AnchorIoError + '_ {
    move |source| AnchorIoError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Signs the current head, appends it to `file` (created 0600 if absent) and logs it.
pub async fn anchor_now(
    pool: &Pool,
    data_dir: &Path,
    file: &Path,
) -> Result<Anchor, AnchorIoError> {
    use std::io::Write;
    let key = load_or_create_key(data_dir).map_err(io_err(&data_dir.join(KEY_FILE)))?;
    let head = super::head(pool).await?;
    let anchor = sign(&key, head.seq, &head.hash, Utc::now());
    let line = serde_json::to_string(&anchor).expect("anchors serialize") + "\n";
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(file).map_err(io_err(file))?;
    f.write_all(line.as_bytes()).map_err(io_err(file))?;
    f.sync_data().map_err(io_err(file))?;
    tracing::info!(
        seq = anchor.seq,
        hash = %anchor.hash,
        at = %anchor.at,
        key = %anchor.key,
        sig = %anchor.sig,
        file = %file.display(),
        "audit anchor"
    );
    Ok(anchor)
}

/// Verifies the chain, then the anchors of `file` against it. The anchors must be signed by
/// `key` (base64), or by this data directory's key when `key` is `None`. Returns (entries,
/// anchors).
pub async fn verify_with(
    pool: &Pool,
    data_dir: &Path,
    file: &Path,
    key: Option<&str>,
) -> Result<(usize, usize), AnchorIoError> {
    let text = std::fs::read_to_string(file).map_err(io_err(file))?;
    let anchors = parse(&text)?;
    let key = match key {
        Some(k) => k.to_string(),
        None => public_key(data_dir).map_err(io_err(&data_dir.join(KEY_FILE)))?,
    };
    // Signatures first: a forged anchor file is reported as such, whatever the chain says.
    check_signatures(&anchors, &key)?;
    let mut hashes = BTreeMap::new();
    for (_, a) in &anchors {
        let row: Option<(String,)> = sqlx::query_as("SELECT hash FROM audit_log WHERE seq = ?")
            .bind(a.seq)
            .fetch_optional(pool)
            .await
            .map_err(StoreError::from)?;
        if let Some((h,)) = row {
            hashes.insert(a.seq, h);
        }
    }
    let (last_seq,): (Option<i64>,) = sqlx::query_as("SELECT MAX(seq) FROM audit_log")
        .fetch_one(pool)
        .await
        .map_err(StoreError::from)?;
    let last_seq = last_seq.unwrap_or(0);
    check_chain(&anchors, &hashes, last_seq)?;
    let entries = super::verify_all(pool).await?;
    Ok((entries, anchors.len()))
}

/// Anchors the head every `period` (the first after one period) until the task is dropped.
pub fn spawn_every(
    pool: Pool,
    data_dir: std::path::PathBuf,
    file: std::path::PathBuf,
    period: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = anchor_now(&pool, &data_dir, &file).await {
                tracing::error!("audit anchor: {e}");
            }
        }
    })
}
