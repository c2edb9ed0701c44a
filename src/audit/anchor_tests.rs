//! Tests of the anchor rules: signatures, keys, and anchored heads against a chain.

use super::anchor::*;
use chrono::{TimeZone, Utc};
use ed25519_dalek::SigningKey;
use std::collections::BTreeMap;

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn b64_key(k: &SigningKey) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(k.verifying_key().as_bytes())
}

fn at(m: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 8, m, 0).unwrap()
}

fn chain(n: i64) -> BTreeMap<i64, String> {
    (1..=n).map(|s| (s, format!("{s:064x}"))).collect()
}

fn anchors(k: &SigningKey, seqs: &[i64]) -> Vec<(usize, Anchor)> {
    seqs.iter()
        .enumerate()
        .map(|(i, &s)| (i + 1, sign(k, s, &format!("{s:064x}"), at(i as u32))))
        .collect()
}

#[test]
fn anchors_of_an_intact_chain_verify() {
    let k = key(1);
    let a = anchors(&k, &[3, 7, 10]);
    assert_eq!(check(&a, &b64_key(&k), &chain(12), 12), Ok(3));
    // The anchor file round-trips through its text form.
    let text: String = a
        .iter()
        .map(|(_, a)| serde_json::to_string(a).unwrap() + "\n")
        .collect();
    assert_eq!(parse(&text).unwrap(), a);
}

#[test]
fn a_truncated_tail_names_the_first_missing_anchored_seq() {
    let k = key(1);
    let a = anchors(&k, &[10, 3, 7]);
    let err = check(&a, &b64_key(&k), &chain(5), 5).unwrap_err();
    assert_eq!(
        err,
        AnchorError::Missing {
            seq: 7,
            last_seq: 5
        }
    );
    assert_eq!(err.seq(), Some(7));
    assert!(err.to_string().contains("seq 7"), "{err}");
}

#[test]
fn a_rewritten_entry_differs_from_its_anchor() {
    let k = key(1);
    let a = anchors(&k, &[3, 7]);
    let mut c = chain(9);
    c.insert(7, "f".repeat(64));
    assert_eq!(
        check(&a, &b64_key(&k), &c, 9),
        Err(AnchorError::Differs { seq: 7 })
    );
}

#[test]
fn forged_or_foreign_anchors_are_refused() {
    let k = key(1);
    let mut a = anchors(&k, &[3, 7]);
    // Moving an anchor to a later head breaks its signature.
    a[1].1.seq = 5;
    a[1].1.hash = format!("{:064x}", 5);
    assert_eq!(
        check(&a, &b64_key(&k), &chain(9), 9),
        Err(AnchorError::BadSignature { line: 2, seq: 5 })
    );
    // An anchor signed by another key (with its own key written in) is not ours.
    let other = anchors(&key(2), &[3]);
    assert!(matches!(
        check(&other, &b64_key(&k), &chain(9), 9),
        Err(AnchorError::WrongKey {
            line: 1,
            seq: 3,
            ..
        })
    ));
    // A garbage signature, a garbage line, a garbage key.
    let mut g = anchors(&k, &[3]);
    g[0].1.sig = "AAAA".into();
    assert!(matches!(
        check(&g, &b64_key(&k), &chain(9), 9),
        Err(AnchorError::BadSignature { .. })
    ));
    assert!(matches!(
        parse("{\"v\":1}\n"),
        Err(AnchorError::Malformed { line: 1, .. })
    ));
    assert!(matches!(
        check(&anchors(&k, &[3]), "not a key", &chain(9), 9),
        Err(AnchorError::Malformed { .. })
    ));
}

#[test]
fn the_empty_chain_can_be_anchored() {
    let k = key(3);
    let a = vec![(1, sign(&k, 0, super::GENESIS_HASH, at(0)))];
    assert_eq!(check(&a, &b64_key(&k), &BTreeMap::new(), 0), Ok(1));
}

#[test]
fn the_key_is_kept_in_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let first = public_key(dir.path()).unwrap();
    assert_eq!(public_key(dir.path()).unwrap(), first);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    std::fs::write(dir.path().join(KEY_FILE), "garbage").unwrap();
    assert!(load_or_create_key(dir.path()).is_err());
}
