//! Audit anchoring through the command line: `audit anchor` signs the chain head into the anchor
//! file beside the data directory; someone with write access to the database drops the triggers,
//! truncates the tail and moves the head, so that `audit verify` alone still passes, but
//! `audit verify --anchors FILE` fails naming the first anchored seq that is missing. A forged
//! anchor fails on its signature. The server anchors on a timer too.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

fn giaoban(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_giaoban"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("GIAOBAN_DATA_DIR", data)
        .env_remove("GIAOBAN_HTTP_ADDR")
        .env_remove("GIAOBAN_AUDIT_ANCHOR_FILE")
        .args(args)
        .output()
        .unwrap()
}

fn ok_json(out: Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn failure(out: Output) -> String {
    assert!(!out.status.success(), "expected a failure");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn create_session(data: &Path, title: &str) {
    ok_json(giaoban(
        data,
        &[
            "session",
            "create",
            "--title",
            title,
            "--host",
            "ubnd-tp-hoitruong",
            "--site",
            "so-y-te-phonghop",
        ],
    ));
}

#[tokio::test]
async fn a_truncated_tail_with_a_moved_head_fails_against_the_anchors() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    for i in 0..3 {
        create_session(&data, &format!("Phiên {i}"));
    }
    let first = ok_json(giaoban(&data, &["audit", "anchor"]));
    let anchors = root.path().join("data.anchors");
    assert_eq!(first["file"], anchors.display().to_string());
    assert!(first["seq"].as_i64().unwrap() >= 3);
    for i in 3..6 {
        create_session(&data, &format!("Phiên {i}"));
    }
    let second = ok_json(giaoban(&data, &["audit", "anchor"]));
    let (s1, s2) = (
        first["seq"].as_i64().unwrap(),
        second["seq"].as_i64().unwrap(),
    );
    assert!(s2 > s1);
    let file = anchors.to_str().unwrap();
    let report = ok_json(giaoban(&data, &["audit", "verify", "--anchors", file]));
    assert_eq!(report["anchors"], 2);
    // The anchor file holds one signed line per anchor, and the public key pins it.
    let text = std::fs::read_to_string(&anchors).unwrap();
    assert_eq!(text.lines().count(), 2);
    let key = first["key"].as_str().unwrap();
    ok_json(giaoban(
        &data,
        &["audit", "verify", "--anchors", file, "--public-key", key],
    ));

    // The tamperer: drop the triggers, cut the tail after s1, move the head back onto s1.
    let keep = s1;
    {
        let url = format!("sqlite://{}", data.join("giaoban.db").display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        for t in [
            "audit_log_no_update",
            "audit_log_no_delete",
            "audit_head_monotonic",
        ] {
            sqlx::query(&format!("DROP TRIGGER {t}"))
                .execute(&pool)
                .await
                .unwrap();
        }
        sqlx::query("DELETE FROM audit_log WHERE seq > ?")
            .bind(keep)
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query(
            "UPDATE audit_head SET seq = ?, hash = (SELECT hash FROM audit_log WHERE seq = ?)",
        )
        .bind(keep)
        .bind(keep)
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }
    // Alone, the chain is consistent again: this is what anchoring is for.
    let alone = ok_json(giaoban(&data, &["audit", "verify"]));
    assert_eq!(alone["head_seq"], keep);
    let err = failure(giaoban(&data, &["audit", "verify", "--anchors", file]));
    assert!(
        err.contains(&format!("seq {s2}")) && err.contains("missing"),
        "{err}"
    );

    // New entries written over the cut do not bring the anchored head back.
    for i in 6..12 {
        create_session(&data, &format!("Phiên {i}"));
    }
    let err = failure(giaoban(&data, &["audit", "verify", "--anchors", file]));
    assert!(
        err.contains(&format!("seq {s2}")) && err.contains("differs"),
        "{err}"
    );

    // A forged anchor (moved to another head) fails on its signature.
    let mut forged: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    forged["seq"] = (s1 - 1).into();
    let forged_file = root.path().join("forged.anchors");
    std::fs::write(&forged_file, format!("{forged}\n")).unwrap();
    let err = failure(giaoban(
        &data,
        &[
            "audit",
            "verify",
            "--anchors",
            forged_file.to_str().unwrap(),
        ],
    ));
    assert!(
        err.contains("bad signature") && err.contains("line 1"),
        "{err}"
    );
    // Another key than the pinned one is refused.
    let other = tempfile::tempdir().unwrap();
    let other_key = ok_json(giaoban(&other.path().join("data"), &["audit", "anchor"]))["key"]
        .as_str()
        .unwrap()
        .to_string();
    let err = failure(giaoban(
        &data,
        &[
            "audit",
            "verify",
            "--anchors",
            file,
            "--public-key",
            &other_key,
        ],
    ));
    assert!(err.contains("another key"), "{err}");
    // A missing or garbage anchor file is an error, not a pass.
    let err = failure(giaoban(
        &data,
        &["audit", "verify", "--anchors", "/nonexistent"],
    ));
    assert!(err.contains("/nonexistent"), "{err}");
    std::fs::write(&forged_file, "not json\n").unwrap();
    let err = failure(giaoban(
        &data,
        &[
            "audit",
            "verify",
            "--anchors",
            forged_file.to_str().unwrap(),
        ],
    ));
    assert!(err.contains("line 1"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_anchors_on_a_timer() {
    let server = common::TestServer::start().await;
    server.create_session(common::HOST, &[]).await;
    let state = &server.running.state;
    let file = server.dir.path().join("timer.anchors");
    let task = giaoban::audit::anchor::spawn_every(
        state.pool.clone(),
        state.config.data.dir.clone(),
        file.clone(),
        Duration::from_millis(150),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(&file).map_or(0, |t| t.lines().count()) < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no anchors written");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    task.abort();
    let (entries, anchors) =
        giaoban::audit::anchor::verify_with(&state.pool, &state.config.data.dir, &file, None)
            .await
            .unwrap();
    assert!(entries >= 1 && anchors >= 2, "{entries} {anchors}");
    server.running.stop().await;
}
