//! The command line: `site list` and `session create` print JSON, work on the data directory of
//! the configuration, and a bad configuration value stops with a message naming the key.

use std::process::Command;

fn giaoban(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_giaoban"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("GIAOBAN_DATA_DIR", dir)
        .env_remove("GIAOBAN_HTTP_ADDR");
    c
}

#[test]
fn site_list_and_session_create_print_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = giaoban(dir.path()).args(["site", "list"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sites: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        sites
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == "ubnd-tp-hoitruong" && s["unit_id"] == "ubnd-tp")
    );

    let out = giaoban(dir.path())
        .args([
            "session",
            "create",
            "--title",
            "Giao ban tuần",
            "--host",
            "ubnd-tp-hoitruong",
            "--site",
            "so-y-te-phonghop",
            "--site",
            "xa-ba-vi-phonghop",
        ])
        .args([
            "--start",
            "2026-11-30T08:00:00+07:00",
            "--end",
            "2026-11-30T10:00:00+07:00",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let links = created["links"].as_object().unwrap();
    assert_eq!(links.len(), 3);
    assert!(
        links["xa-ba-vi-phonghop"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:8080/room/")
    );
    assert!(dir.path().join("giaoban.db").exists());

    let out = giaoban(dir.path())
        .args([
            "session",
            "create",
            "--title",
            "x",
            "--host",
            "khong-ton-tai",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("khong-ton-tai"));
}

#[test]
fn a_bad_config_value_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = giaoban(dir.path())
        .env("GIAOBAN_MEDIA_UDP_PORT", "not-a-port")
        .args(["site", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("media.udp_port") && err.contains("GIAOBAN_MEDIA_UDP_PORT"),
        "{err}"
    );
    let out = giaoban(dir.path())
        .args(["--config", "/nonexistent.toml", "site", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.toml"));
}

#[test]
fn audit_verify_passes_then_detects_an_edited_row() {
    let dir = tempfile::tempdir().unwrap();
    for title in ["Giao ban tuần 1", "Giao ban tuần 2"] {
        let out = giaoban(dir.path())
            .args([
                "session",
                "create",
                "--title",
                title,
                "--host",
                "ubnd-tp-hoitruong",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = giaoban(dir.path())
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The first admin account (created at the first start) and the two sessions.
    assert_eq!(report["entries"], 3);
    let out = giaoban(dir.path())
        .args(["audit", "list"])
        .output()
        .unwrap();
    let entries: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(entries[0]["action"], "session.create");
    assert!(entries[0]["actor"].as_str().unwrap().starts_with("cli:"));

    // Someone with database access rewrites history (the guard triggers dropped first).
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = giaoban::store::open(dir.path()).await.unwrap();
        sqlx::query("DROP TRIGGER audit_log_no_update")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("UPDATE audit_log SET detail = '{\"title\":\"Giao ban khác\"}' WHERE seq = 1")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    let out = giaoban(dir.path())
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains('1'), "names the edited entry: {err}");
}
