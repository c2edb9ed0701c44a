//! Files and headers: the data directory the server creates is 0700 and its database, WAL and
//! shared-memory files 0600 even under umask 022; every response says `nosniff` and
//! `no-referrer`; the signaling socket refuses pages of another origin.

use crate::common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The server started by a shell with umask 022, killed on drop.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_data_directory_and_database_files_are_private_under_umask_022() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("nested").join("data");
    let child = std::process::Command::new("sh")
        .args(["-c", "umask 022; exec \"$0\" serve"])
        .arg(env!("CARGO_BIN_EXE_giaoban"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("GIAOBAN_DATA_DIR", &data)
        .env("GIAOBAN_HTTP_ADDR", "127.0.0.1:0")
        .env("GIAOBAN_MEDIA_UDP_PORT", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _served = Served(child);
    let db = data.join("giaoban.db");
    let wal = data.join("giaoban.db-wal");
    let shm = data.join("giaoban.db-shm");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !(wal.exists() && shm.exists() && data.join("initial-admin-password").exists()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not open its database"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // A file created by this test under the same umask shows what the umask alone would give.
    let probe = tmp.path().join("probe");
    std::process::Command::new("sh")
        .args(["-c", "umask 022; touch \"$0\""])
        .arg(&probe)
        .status()
        .unwrap();
    assert_eq!(mode(&probe), 0o644);
    assert_eq!(mode(&data), 0o700, "data directory");
    for f in [&db, &wal, &shm] {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    for f in ["join-token.key", "initial-admin-password"] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
}

#[test]
fn an_existing_database_is_narrowed_to_0600() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("giaoban.db");
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let pool = giaoban::store::open(tmp.path()).await.unwrap();
        pool.close().await;
    });
    assert_eq!(mode(&db), 0o600);
}

#[tokio::test]
async fn every_response_forbids_sniffing_and_referrers() {
    let server = TestServer::start().await;
    let admin = server.login(giaoban::auth::Role::Admin).await;
    let anonymous = reqwest::Client::new();
    let base = server.http_url();
    let mut seen = Vec::new();
    for path in [
        "/",
        "/login",
        "/app/home",
        "/static/app/login.js",
        "/static/nothing.js",
        "/api/openapi.json",
        "/api/me",
        "/api/sessions/khong-co",
    ] {
        let r = anonymous.get(format!("{base}{path}")).send().await.unwrap();
        seen.push((path, r.status().as_u16(), r.headers().clone()));
    }
    let r = admin.get("/api/sites").await;
    seen.push((
        "/api/sites (logged in)",
        r.status().as_u16(),
        r.headers().clone(),
    ));
    for (path, status, h) in seen {
        assert_eq!(h["x-content-type-options"], "nosniff", "{path} ({status})");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path} ({status})");
    }
}

/// Opens `/ws` with the given Origin header; the HTTP status of the handshake.
async fn ws_status(server: &TestServer, origin: Option<&str>) -> u16 {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = server.ws_url().into_client_request().unwrap();
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((_, resp)) => resp.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn the_signaling_socket_refuses_pages_of_another_origin() {
    let server = TestServer::start().await;
    let own = server.http_url();
    assert_eq!(ws_status(&server, Some(&own)).await, 101);
    // Clients that are not browser pages send no Origin.
    assert_eq!(ws_status(&server, None).await, 101);
    let port = server.running.addr.port();
    for other in [
        "https://evil.example".to_string(),
        format!("http://localhost:{port}"),
        format!("https://127.0.0.1:{port}"),
        format!("http://127.0.0.1:{}", port.wrapping_add(1)),
        "null".into(),
    ] {
        assert_eq!(ws_status(&server, Some(&other)).await, 403, "{other}");
    }
}

#[tokio::test]
async fn configured_origins_may_open_the_socket_and_bad_ones_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.http.allowed_origins = vec!["https://giaoban.hanoi.gov.vn".into()];
    let running = giaoban::app::start(config).await.unwrap();
    let server = TestServer { running, dir };
    assert_eq!(
        ws_status(&server, Some("https://giaoban.hanoi.gov.vn")).await,
        101
    );
    assert_eq!(ws_status(&server, Some("https://evil.example")).await, 403);

    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml"))
        .unwrap();
    let e = giaoban::config::Config::from_toml_str(
        &text,
        std::path::Path::new("default.toml"),
        [(
            "GIAOBAN_HTTP_ALLOWED_ORIGINS".to_string(),
            "[\"giaoban.hanoi.gov.vn/app\"]".to_string(),
        )],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("http.allowed_origins"), "{e}");
}
