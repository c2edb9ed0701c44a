//! The pure core of the audit log: the entry type, the hash that chains one entry to the previous
//! one, and the verifier that walks a chain and names the first row that does not fit. No I/O.
//!
//! Hash encoding (version 1). `hash = hex(SHA-256(m))` where `m` is the concatenation of these
//! fields, each written as its byte length (u64, big-endian) followed by its UTF-8 bytes:
//! the domain tag `giaoban.audit.v1`, `prev_hash`, `seq` in decimal, `at` as RFC 3339 UTC with
//! microseconds and `Z` (see [`format_at`]), `actor`, `action`, `target`, and `detail` as
//! canonical JSON (see [`canonical_json`]). Length prefixes make the encoding unambiguous: no two
//! different field tuples produce the same byte string.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const DOMAIN_TAG: &str = "giaoban.audit.v1";

/// One audit log entry (who did what to which object, when, with details).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: Value,
}

/// An entry with its chain links, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainedEntry {
    pub entry: Entry,
    pub prev_hash: String,
    pub hash: String,
}

/// Why a chain does not verify. Every variant names the first bad seq (see [`ChainError::seq`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// Rows are missing, reordered or inserted with a number out of sequence.
    #[error("audit log seq {seq}: expected seq {expected} (rows missing, reordered or inserted)")]
    Gap { seq: i64, expected: i64 },
    /// `prev_hash` is not the previous row's hash.
    #[error("audit log seq {seq}: prev_hash does not match the previous row's hash")]
    BrokenLink { seq: i64 },
    /// The stored hash is not the hash of the row's contents: the row was edited.
    #[error("audit log seq {seq}: hash mismatch (row contents changed)")]
    HashMismatch { seq: i64 },
    /// The row cannot be decoded (bad timestamp or JSON).
    #[error("audit log seq {seq}: malformed row: {reason}")]
    Malformed { seq: i64, reason: String },
    /// The chain head disagrees with the last row: the tail was truncated or rows were added
    /// without moving the head. `seq` is the first seq that is missing or unexpected.
    #[error(
        "audit log seq {seq}: chain head (seq {head_seq}) disagrees with the last row (seq {last_seq})"
    )]
    HeadMismatch {
        seq: i64,
        head_seq: i64,
        last_seq: i64,
    },
}

impl ChainError {
    /// The first bad seq.
    pub fn seq(&self) -> i64 {
        match self {
            ChainError::Gap { seq, .. }
            | ChainError::BrokenLink { seq }
            | ChainError::HashMismatch { seq }
            | ChainError::Malformed { seq, .. }
            | ChainError::HeadMismatch { seq, .. } => *seq,
        }
    }
}

/// The stored and hashed form of a timestamp: RFC 3339, UTC, microseconds, `Z`. Fixed width, so
/// it also sorts chronologically as text.
pub fn format_at(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Canonical JSON: no whitespace, object keys sorted by their UTF-8 bytes, strings escaped as
/// serde_json escapes them, numbers as serde_json prints them. Independent of whether serde_json's
/// `preserve_order` feature is enabled somewhere in the build.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {
            out.push_str(&value.to_string());
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
    }
}

/// Makes `detail` survive a store-and-reload unchanged, so its hash can be recomputed later:
/// floats that would not parse back to the same number are replaced by their text.
pub fn normalize_detail(value: Value) -> Value {
    match value {
        Value::Number(n) if n.is_f64() => {
            let text = n.to_string();
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Number(back)) if back == n => Value::Number(n),
                _ => Value::String(text),
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(normalize_detail).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, normalize_detail(v)))
                .collect(),
        ),
        other => other,
    }
}

/// SHA-256 over the length-prefixed fields (see the module docs), as 64 lowercase hex digits.
pub fn entry_hash(prev_hash: &str, entry: &Entry) -> String {
    let mut hasher = Sha256::new();
    let seq = entry.seq.to_string();
    let at = format_at(&entry.at);
    let detail = canonical_json(&entry.detail);
    for field in [
        DOMAIN_TAG,
        prev_hash,
        &seq,
        &at,
        &entry.actor,
        &entry.action,
        &entry.target,
        &detail,
    ] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    to_hex(&hasher.finalize())
}

/// Lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Checks a chain row by row, so a long log can be verified page by page.
#[derive(Debug, Clone)]
pub struct Verifier {
    expected_seq: i64,
    last_hash: String,
    count: usize,
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Verifier {
    /// A verifier expecting seq 1 linked to the genesis hash.
    pub fn new() -> Self {
        Verifier {
            expected_seq: 1,
            last_hash: GENESIS_HASH.to_owned(),
            count: 0,
        }
    }

    /// Checks the next row: seq continuity, then the link, then the recomputed hash.
    pub fn push(&mut self, row: &ChainedEntry) -> Result<(), ChainError> {
        let seq = row.entry.seq;
        if seq != self.expected_seq {
            return Err(ChainError::Gap {
                seq,
                expected: self.expected_seq,
            });
        }
        if row.prev_hash != self.last_hash {
            return Err(ChainError::BrokenLink { seq });
        }
        if entry_hash(&row.prev_hash, &row.entry) != row.hash {
            return Err(ChainError::HashMismatch { seq });
        }
        self.expected_seq += 1;
        self.last_hash.clone_from(&row.hash);
        self.count += 1;
        Ok(())
    }

    /// Seq of the last verified row (0 when none).
    pub fn last_seq(&self) -> i64 {
        self.expected_seq - 1
    }

    /// Hash of the last verified row (the genesis hash when none).
    pub fn last_hash(&self) -> &str {
        &self.last_hash
    }

    /// Number of rows verified so far.
    pub fn count(&self) -> usize {
        self.count
    }
}

/// Verifies a whole chain, in seq order, starting from seq 1. Returns the number of rows.
///
/// Deleting rows at the very end cannot be seen from the rows alone; the persisted chain head
/// catches that (see `audit::verify_all`).
pub fn verify<'a>(rows: impl IntoIterator<Item = &'a ChainedEntry>) -> Result<usize, ChainError> {
    let mut verifier = Verifier::new();
    for row in rows {
        verifier.push(row)?;
    }
    Ok(verifier.count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn chain(n: i64) -> Vec<ChainedEntry> {
        let mut prev = GENESIS_HASH.to_owned();
        let mut rows = Vec::new();
        for seq in 1..=n {
            let entry = Entry {
                seq,
                at: Utc.with_ymd_and_hms(2025, 7, 1, 8, 0, 0).unwrap()
                    + chrono::Duration::seconds(seq),
                actor: format!("user-{}", seq % 3),
                action: "session.update".into(),
                target: format!("session-{seq}"),
                detail: json!({"title": "Giao ban tuần", "n": seq}),
            };
            let hash = entry_hash(&prev, &entry);
            rows.push(ChainedEntry {
                entry,
                prev_hash: prev.clone(),
                hash: hash.clone(),
            });
            prev = hash;
        }
        rows
    }

    /// Recomputes links and hashes after `rows[from..]`, like an attacker who rewrites the rows
    /// after a change but cannot touch what comes before.
    fn rehash_from(rows: &mut [ChainedEntry], from: usize) {
        for i in from..rows.len() {
            let prev = if i == 0 {
                GENESIS_HASH.to_owned()
            } else {
                rows[i - 1].hash.clone()
            };
            rows[i].prev_hash = prev.clone();
            rows[i].hash = entry_hash(&prev, &rows[i].entry);
        }
    }

    #[test]
    fn valid_chain_verifies() {
        assert_eq!(verify(&chain(10)), Ok(10));
        assert_eq!(verify(&[]), Ok(0));
    }

    #[test]
    fn hash_is_hex_sha256_and_depends_on_prev() {
        let rows = chain(2);
        let h = &rows[0].hash;
        assert_eq!(h.len(), 64);
        assert!(
            h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_ne!(entry_hash("x", &rows[0].entry), *h);
    }

    #[test]
    fn editing_any_field_fails_at_that_seq() {
        let edits: [fn(&mut Entry); 5] = [
            |e| e.at += chrono::Duration::microseconds(1),
            |e| e.actor.push('x'),
            |e| e.action = "session.cancel".into(),
            |e| e.target.push('x'),
            |e| e.detail = json!({"title": "Giao ban tuần", "n": 0}),
        ];
        for (i, edit) in edits.iter().enumerate() {
            for idx in [0usize, 4, 9] {
                let mut rows = chain(10);
                edit(&mut rows[idx].entry);
                let err = verify(&rows).unwrap_err();
                assert_eq!(
                    err,
                    ChainError::HashMismatch {
                        seq: idx as i64 + 1
                    },
                    "edit {i}"
                );
            }
        }
        // Editing the stored hash or link fields themselves.
        let mut rows = chain(10);
        rows[4].hash = entry_hash("tampered", &rows[4].entry);
        assert_eq!(verify(&rows), Err(ChainError::HashMismatch { seq: 5 }));
        let mut rows = chain(10);
        rows[4].prev_hash = GENESIS_HASH.to_owned();
        assert_eq!(verify(&rows), Err(ChainError::BrokenLink { seq: 5 }));
    }

    #[test]
    fn edited_row_with_rehashed_row_breaks_the_next_link() {
        let mut rows = chain(10);
        rows[4].entry.detail = json!({"title": "đã sửa"});
        rows[4].hash = entry_hash(&rows[4].prev_hash, &rows[4].entry);
        assert_eq!(verify(&rows), Err(ChainError::BrokenLink { seq: 6 }));
    }

    #[test]
    fn deleting_a_row_fails_at_the_gap() {
        let mut rows = chain(10);
        rows.remove(4);
        assert_eq!(
            verify(&rows),
            Err(ChainError::Gap {
                seq: 6,
                expected: 5
            })
        );
        let mut rows = chain(10);
        rows.remove(0);
        assert_eq!(
            verify(&rows),
            Err(ChainError::Gap {
                seq: 2,
                expected: 1
            })
        );
        // Deleted and renumbered: the link to the row before breaks.
        let mut rows = chain(10);
        rows.remove(4);
        for row in &mut rows[4..] {
            row.entry.seq -= 1;
        }
        assert_eq!(verify(&rows), Err(ChainError::BrokenLink { seq: 5 }));
    }

    #[test]
    fn reordering_fails() {
        let mut rows = chain(10);
        rows.swap(3, 4);
        assert_eq!(
            verify(&rows),
            Err(ChainError::Gap {
                seq: 5,
                expected: 4
            })
        );
        // Swapped contents but kept the numbering: the moved row's link is wrong.
        let mut rows = chain(10);
        rows.swap(3, 4);
        rows[3].entry.seq = 4;
        rows[4].entry.seq = 5;
        assert_eq!(verify(&rows), Err(ChainError::BrokenLink { seq: 4 }));
    }

    #[test]
    fn inserting_a_row_fails() {
        // Inserted with a duplicate number.
        let mut rows = chain(10);
        let mut forged = rows[4].clone();
        forged.entry.actor = "intruder".into();
        rows.insert(5, forged);
        assert_eq!(
            verify(&rows),
            Err(ChainError::Gap {
                seq: 5,
                expected: 6
            })
        );
        // Inserted with a correct hash and the later rows renumbered: the next link breaks.
        let mut rows = chain(10);
        let mut forged = rows[4].clone();
        forged.entry.seq = 6;
        forged.entry.actor = "intruder".into();
        forged.prev_hash = rows[4].hash.clone();
        forged.hash = entry_hash(&forged.prev_hash, &forged.entry);
        rows.insert(5, forged);
        for row in &mut rows[6..] {
            row.entry.seq += 1;
        }
        assert_eq!(verify(&rows), Err(ChainError::BrokenLink { seq: 7 }));
    }

    #[test]
    fn full_rewrite_of_the_suffix_verifies_so_the_head_must_be_anchored() {
        // Documents the limit of an unkeyed chain: rewriting every later row is consistent.
        let mut rows = chain(10);
        rows[7].entry.actor = "intruder".into();
        rehash_from(&mut rows, 7);
        assert_eq!(verify(&rows), Ok(10));
    }

    #[test]
    fn encoding_is_unambiguous() {
        let mut a = chain(1).remove(0).entry;
        let mut b = a.clone();
        a.actor = "ab".into();
        a.action = "c".into();
        b.actor = "a".into();
        b.action = "bc".into();
        assert_ne!(entry_hash(GENESIS_HASH, &a), entry_hash(GENESIS_HASH, &b));
    }

    #[test]
    fn canonical_json_sorts_keys_and_is_stable() {
        let v: Value =
            serde_json::from_str(r#"{"b": [1, {"z": null, "a": "é\n"}], "a": true}"#).unwrap();
        let c = canonical_json(&v);
        assert_eq!(c, r#"{"a":true,"b":[1,{"a":"é\n","z":null}]}"#);
        let back: Value = serde_json::from_str(&c).unwrap();
        assert_eq!(canonical_json(&back), c);
    }

    #[test]
    fn normalized_detail_round_trips_through_text() {
        let v = normalize_detail(json!({"f": 0.1, "g": [1.5e300, -2], "s": "x"}));
        let back: Value = serde_json::from_str(&canonical_json(&v)).unwrap();
        assert_eq!(canonical_json(&back), canonical_json(&v));
    }

    #[test]
    fn error_names_seq() {
        let err = ChainError::HashMismatch { seq: 42 };
        assert_eq!(err.seq(), 42);
        assert!(err.to_string().contains("42"));
    }
}
