//! Tests of the stored audit log against a temporary SQLite database opened with the real
//! migrations: concurrent appends keep one chain, tampering through raw SQL (after dropping the
//! guard triggers, as an intruder with file access could) is detected at the right seq, and the
//! list filters select what they say.

use super::*;
use serde_json::json;
use std::time::Duration;

async fn open() -> (tempfile::TempDir, Pool) {
    let dir = tempfile::tempdir().unwrap();
    let pool = crate::store::open(dir.path()).await.unwrap();
    (dir, pool)
}

async fn fill(pool: &Pool, n: i64) {
    for i in 1..=n {
        append(
            pool,
            "cb-vanphong",
            actions::SESSION_UPDATE,
            &format!("session-{i}"),
            json!({ "i": i }),
        )
        .await
        .unwrap();
    }
}

async fn raw(pool: &Pool, sql: &str) {
    sqlx::query(sql).execute(pool).await.unwrap();
}

fn chain_err(result: Result<usize, VerifyError>) -> ChainError {
    match result {
        Err(VerifyError::Chain(e)) => e,
        other => panic!("expected a chain error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_form_one_chain_and_tampering_is_detected() {
    let (_dir, pool) = open().await;
    let mut tasks = Vec::new();
    for t in 0..5 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..20 {
                let entry = append(
                    &pool,
                    &format!("operator-{t}"),
                    actions::SITE_MUTE,
                    &format!("site-{i}"),
                    json!({ "task": t, "i": i, "lý do": "tắt micro; ồn" }),
                )
                .await
                .unwrap();
                seqs.push(entry.seq);
            }
            seqs
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.extend(task.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=100).collect::<Vec<i64>>());
    assert_eq!(verify_all(&pool).await.unwrap(), 100);
    assert_eq!(head(&pool).await.unwrap().seq, 100);

    // An intruder drops the guard and edits one row's detail.
    raw(&pool, "DROP TRIGGER audit_log_no_update").await;
    raw(
        &pool,
        r#"UPDATE audit_log SET detail = '{"i":0,"task":0}' WHERE seq = 42"#,
    )
    .await;
    let err = chain_err(verify_all(&pool).await);
    assert_eq!(err, ChainError::HashMismatch { seq: 42 });
    assert!(err.to_string().contains("seq 42"), "{err}");
}

#[tokio::test]
async fn triggers_refuse_update_and_delete() {
    let (_dir, pool) = open().await;
    fill(&pool, 3).await;
    for sql in [
        "UPDATE audit_log SET actor = 'x' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 3",
        "DELETE FROM audit_head",
        "UPDATE audit_head SET seq = 1",
    ] {
        let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("audit_"), "{sql}: {err}");
    }
    assert_eq!(verify_all(&pool).await.unwrap(), 3);
}

#[tokio::test]
async fn deleted_rows_are_detected() {
    let (_dir, pool) = open().await;
    fill(&pool, 10).await;
    raw(&pool, "DROP TRIGGER audit_log_no_delete").await;

    // The last row: only the head shows it.
    raw(&pool, "DELETE FROM audit_log WHERE seq = 10").await;
    assert_eq!(
        chain_err(verify_all(&pool).await),
        ChainError::HeadMismatch {
            seq: 10,
            head_seq: 10,
            last_seq: 9
        }
    );

    // A middle row.
    raw(&pool, "DELETE FROM audit_log WHERE seq = 4").await;
    assert_eq!(
        chain_err(verify_all(&pool).await),
        ChainError::Gap {
            seq: 5,
            expected: 4
        }
    );
}

#[tokio::test]
async fn inserted_and_malformed_rows_are_detected() {
    let (_dir, pool) = open().await;
    fill(&pool, 5).await;
    raw(
        &pool,
        "INSERT INTO audit_log (seq, at, actor, action, target, detail, prev_hash, hash)
         VALUES (0, '2025-07-01T00:00:00.000000Z', 'x', 'login', '', '{}', '', '')",
    )
    .await;
    assert_eq!(
        chain_err(verify_all(&pool).await),
        ChainError::Gap {
            seq: 0,
            expected: 1
        }
    );

    let (_dir, pool) = open().await;
    fill(&pool, 5).await;
    raw(&pool, "DROP TRIGGER audit_log_no_update").await;
    raw(&pool, "UPDATE audit_log SET at = 'yesterday' WHERE seq = 3").await;
    assert!(matches!(
        chain_err(verify_all(&pool).await),
        ChainError::Malformed { seq: 3, .. }
    ));
}

#[tokio::test]
async fn appended_entry_reads_back_identically() {
    let (_dir, pool) = open().await;
    let detail = json!({
        "tiêu đề": "Giao ban, tuần 27; \"khẩn\"",
        "f": 0.1,
        "nested": { "b": [1, 2.5, null], "a": true }
    });
    let entry = append(&pool, "admin", actions::LOGIN, "", detail)
        .await
        .unwrap();
    let listed = list(&pool, &AuditFilter::default()).await.unwrap();
    assert_eq!(listed, vec![entry]);
    assert_eq!(verify_all(&pool).await.unwrap(), 1);
}

#[tokio::test]
async fn empty_log_verifies() {
    let (_dir, pool) = open().await;
    assert_eq!(verify_all(&pool).await.unwrap(), 0);
    assert_eq!(
        head(&pool).await.unwrap(),
        Head {
            seq: 0,
            hash: GENESIS_HASH.to_owned()
        }
    );
}

#[tokio::test]
async fn list_filters_newest_first() {
    let (_dir, pool) = open().await;
    let a = append(&pool, "alice", actions::LOGIN, "", json!({}))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let b = append(&pool, "bob", actions::SESSION_CREATE, "s1", json!({}))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let c = append(&pool, "alice", actions::SESSION_CANCEL, "s1", json!({}))
        .await
        .unwrap();

    let seqs = |entries: Vec<Entry>| entries.into_iter().map(|e| e.seq).collect::<Vec<_>>();
    let all = list(&pool, &AuditFilter::default()).await.unwrap();
    assert_eq!(seqs(all), vec![3, 2, 1]);

    let by_actor = AuditFilter {
        actor: Some("alice".into()),
        ..Default::default()
    };
    assert_eq!(seqs(list(&pool, &by_actor).await.unwrap()), vec![3, 1]);

    let by_action = AuditFilter {
        action: Some(actions::SESSION_CREATE.into()),
        ..Default::default()
    };
    assert_eq!(seqs(list(&pool, &by_action).await.unwrap()), vec![2]);

    let by_target = AuditFilter {
        target: Some("s1".into()),
        ..Default::default()
    };
    assert_eq!(seqs(list(&pool, &by_target).await.unwrap()), vec![3, 2]);

    let window = AuditFilter {
        from: Some(b.at),
        to: Some(c.at),
        ..Default::default()
    };
    assert_eq!(seqs(list(&pool, &window).await.unwrap()), vec![2]);
    let since = AuditFilter {
        from: Some(a.at + chrono::Duration::microseconds(1)),
        ..Default::default()
    };
    assert_eq!(seqs(list(&pool, &since).await.unwrap()), vec![3, 2]);

    let page = AuditFilter {
        limit: Some(1),
        offset: Some(1),
        ..Default::default()
    };
    assert_eq!(seqs(list(&pool, &page).await.unwrap()), vec![2]);
}

#[tokio::test]
async fn append_in_rolls_back_with_the_callers_transaction() {
    let (_dir, pool) = open().await;
    let mut tx = pool.begin().await.unwrap();
    append_in(&mut tx, "bob", actions::SESSION_CREATE, "s9", json!({}))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(verify_all(&pool).await.unwrap(), 0);
    let entry = append(&pool, "bob", actions::SESSION_CREATE, "s9", json!({}))
        .await
        .unwrap();
    assert_eq!(entry.seq, 1);
    assert_eq!(verify_all(&pool).await.unwrap(), 1);
}
