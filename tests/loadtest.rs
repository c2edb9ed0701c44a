//! `giaoban loadtest` as a user runs it: a small smoke (three sites for a few seconds against the
//! real server binary, its JSON report checked field by field), the same in a network namespace
//! with only loopback (no multicast route: joins must not need mDNS), and options that make no sense
//! (no sites, more publishers than sites, a server that is not giaoban, a missing media file, a
//! PID that is not the server) refused with a clear message and exit status 2.

use std::io::{Read, Write};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_giaoban");
const PASSWORD: &str = "mat-khau-do-tai-2026";

/// The server binary on an ephemeral port with a temporary data directory and an admin account.
struct Server {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml");

/// A data directory with the admin account the load tester logs in with.
fn data_dir_with_admin() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(BIN)
        .args([
            "--config", CONFIG, "user", "add", "--name", "do-tai", "--role", "admin",
        ])
        .env("GIAOBAN_DATA_DIR", dir.path())
        .env("GIAOBAN_PASSWORD", PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    dir
}

fn start_server() -> Server {
    let dir = data_dir_with_admin();
    let config = CONFIG;
    let port = free_port();
    let child = Command::new(BIN)
        .args(["--config", config, "serve"])
        .env("GIAOBAN_DATA_DIR", dir.path())
        .env("GIAOBAN_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("GIAOBAN_MEDIA_UDP_PORT", "0")
        .env("GIAOBAN_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

fn loadtest(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("loadtest")
        .args(args)
        .env("GIAOBAN_LOADTEST_USER", "do-tai")
        .env("GIAOBAN_LOADTEST_PASSWORD", PASSWORD)
        .env_remove("GIAOBAN_LOADTEST_URL")
        .output()
        .unwrap()
}

#[test]
fn a_small_load_test_flows_and_reports_every_field() {
    let server = start_server();
    let pid = server.child.id().to_string();
    let out = loadtest(&[
        "--url",
        &server.url,
        "--sites",
        "3",
        "--duration",
        "3",
        "--warmup",
        "1.5",
        "--ramp",
        "20",
        "--server-pid",
        &pid,
        "--json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "loadtest failed: {stderr}");
    assert!(stderr.contains("joined 3/3"), "progress lines: {stderr}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(r["sites"]["connected"], 3, "{r:#}");
    assert_eq!(r["sites"]["failed"], 0);
    assert_eq!(r["sites"]["publishers"], 3);
    // Three publishers each receive the two others: audio and video.
    let received = r["packets"]["received"].as_u64().unwrap();
    let sent = r["packets"]["sent"].as_u64().unwrap();
    assert!(
        sent > 300 && received > sent,
        "sent {sent} received {received}"
    );
    assert!(r["packets"]["received_per_s"].as_f64().unwrap() > 100.0);
    assert!(r["packets"]["loss_ratio"].as_f64().unwrap() < 0.05);
    assert_eq!(r["join_to_first_frame_ms"]["count"], 3);
    assert!(r["join_to_first_frame_ms"]["p95"].as_f64().unwrap() > 0.0);
    assert!(r["delay_ms"]["count"].as_u64().unwrap() > 100);
    assert!(r["delay_ms"]["p99"].as_f64().unwrap() >= r["delay_ms"]["p50"].as_f64().unwrap());
    assert!(r["rtcp"]["keyframe_requests_received"].as_u64().unwrap() > 0);
    assert!(r["rtcp"]["nacks_received"].is_u64());
    let s = &r["server"];
    assert_eq!(s["pid"].as_u64().unwrap().to_string(), pid);
    assert!(s["cpu_seconds"].as_f64().unwrap() > 0.0);
    assert!(s["peak_rss_mb"].as_f64().unwrap() > 1.0);
    assert!(s["packets_out"].as_u64().unwrap() > 0);
    assert!(s["us_per_forwarded_packet"].as_f64().unwrap() > 0.0);
    assert!(s["packets_per_s_per_core"].as_f64().unwrap() > 0.0);
    assert!(r["loadtest"]["cpu_seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(r["errors"], serde_json::json!([]));
}

fn refused(args: &[&str], says: &str) {
    let out = loadtest(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(says), "{args:?}: {stderr:?} lacks {says:?}");
    assert!(out.stdout.is_empty(), "no report on a refusal");
}

#[test]
fn options_that_make_no_sense_are_refused_before_anything_is_sent() {
    // Nothing listens on this port: each refusal must come before a connection is tried.
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    refused(&["--url", &nowhere, "--sites", "0"], "--sites 0");
    refused(
        &["--url", &nowhere, "--sites", "2", "--publishers", "3"],
        "--publishers 3 is more than --sites 2",
    );
    refused(
        &["--url", &nowhere, "--video", "/nonexistent/clip.ivf"],
        "/nonexistent/clip.ivf: cannot read the media file",
    );
    let not_ivf = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        not_ivf.path(),
        b"this is not a video file at all, only text",
    )
    .unwrap();
    refused(
        &[
            "--url",
            &nowhere,
            "--video",
            not_ivf.path().to_str().unwrap(),
        ],
        "not an IVF file",
    );
    refused(
        &[
            "--url",
            &nowhere,
            "--audio",
            not_ivf.path().to_str().unwrap(),
        ],
        "not an Ogg Opus file",
    );
    refused(
        &[
            "--url",
            &nowhere,
            "--server-pid",
            &std::process::id().to_string(),
        ],
        "not giaoban",
    );
}

#[test]
fn a_server_that_is_not_giaoban_is_named() {
    // A plain HTTP server that answers every request with a page of its own.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let body = "<html>another service</html>";
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    refused(
        &["--url", &format!("http://127.0.0.1:{port}")],
        "is not a giaoban server",
    );
}

#[test]
fn sites_join_on_a_host_without_a_multicast_route() {
    // A network namespace with nothing but loopback: no multicast route, no default gateway.
    // Joining used to fail there ("No such device") when every connection opened an mDNS socket.
    if !Command::new("unshare")
        .args(["--net", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("skipped: cannot create a network namespace here (needs root and unshare)");
        return;
    }
    let dir = data_dir_with_admin();
    let port = free_port();
    let script = format!(
        r#"ip link set lo up
ip route show table all | grep -q multicast && {{ echo "multicast route present" >&2; exit 3; }}
GIAOBAN_DATA_DIR={data} GIAOBAN_HTTP_ADDR=127.0.0.1:{port} GIAOBAN_MEDIA_UDP_PORT=0 GIAOBAN_LOG=error {bin} --config {config} serve >/dev/null 2>&1 &
S=$!
for i in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && break; sleep 0.05; done
GIAOBAN_LOADTEST_USER=do-tai GIAOBAN_LOADTEST_PASSWORD={password} {bin} loadtest --url http://127.0.0.1:{port} --sites 2 --duration 1.5 --warmup 1 --ramp 20 --quiet --json
R=$?
kill $S
exit $R"#,
        data = dir.path().display(),
        bin = BIN,
        config = CONFIG,
        password = PASSWORD,
    );
    let out = Command::new("unshare")
        .args(["--net", "bash", "-c", &script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "in the namespace: {stderr}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(r["sites"]["connected"], 2, "{r:#}");
    assert_eq!(r["sites"]["failed"], 0);
    assert!(r["packets"]["received"].as_u64().unwrap() > 50, "{r:#}");
}
