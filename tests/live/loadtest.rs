//! `giaoban loadtest` as a user runs it: a small smoke (three sites for a few seconds against the
//! real server binary, its JSON report checked field by field), the same in a network namespace
//! with only loopback (no multicast route: joins must not need mDNS), a server bound to every
//! interface of a two-interface namespace serving sites in another one (`media.bind_ip =
//! 0.0.0.0`: real addresses announced, replies from the address each site sent to, one UDP
//! socket; the same with `::` for IPv4 and IPv6 sites), and options that make no sense (no sites, more publishers than sites, a server that is
//! not giaoban, a missing media file, a PID that is not the server) refused with a clear message
//! and exit status 2.

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

/// What [`multi_homed`] leaves behind: the load tester's JSON reports (IPv4 sites, then IPv6
/// sites when asked for), the server's log and its UDP sockets (`ss -uanp` while the first sites
/// were connected).
struct MultiHomed {
    reports: Vec<serde_json::Value>,
    log: String,
    sockets: Vec<String>,
}

/// Runs the server with `media.bind_ip = bind_ip` in a network namespace of two interfaces
/// (veth ends a0 10.77.0.1/24 and a1 10.78.0.1/24; with `ipv6`, also fd77::1/64 and fd78::1/64),
/// and three sites in a second namespace joined to them (c0 10.77.0.2, c1 10.78.0.2; fd77::2,
/// fd78::2). The sites bind 10.77.0.2 (fd77::2) but have no route to 10.77.0.1 (fd77::1): they
/// can reach the server only at 10.78.0.1 (fd78::1), while the server's route back to them
/// leaves through a0, whose own address is 10.77.0.1 (fd77::1). A reply that left with the
/// address the kernel picks for that route would not match the check it answers and no media
/// would flow: every reply must leave from the address its request was sent to. `None`: the
/// host cannot make namespaces or veth pairs.
fn multi_homed(bind_ip: &str, ipv6: bool) -> Option<MultiHomed> {
    if !Command::new("unshare")
        .args(["--net", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("skipped: cannot create a network namespace here (needs root and unshare)");
        return None;
    }
    let dir = data_dir_with_admin();
    let out_dir = tempfile::tempdir().unwrap();
    let v6_setup = if ipv6 {
        r#"ip addr add fd77::1/64 dev a0 nodad || exit 77
ip addr add fd78::1/64 dev a1 nodad
$SITES ip addr add fd77::2/64 dev c0 nodad
$SITES ip addr add fd78::2/64 dev c1 nodad
$SITES ip -6 route add unreachable fd77::1/128
ip -6 route get fd77::2 | grep -q "dev a0.* src fd77::1" || { echo "unexpected IPv6 route back to the sites" >&2; exit 4; }"#
    } else {
        ""
    };
    let mut runs = vec![("http://10.78.0.1:8080", "10.77.0.2")];
    if ipv6 {
        runs.push(("http://[fd78::1]:8080", "fd77::2"));
    }
    let loadtests: String = runs
        .iter()
        .enumerate()
        .map(|(i, (url, bind))| {
            format!(
                "GIAOBAN_LOADTEST_USER=do-tai GIAOBAN_LOADTEST_PASSWORD={PASSWORD} $SITES {BIN} loadtest --url {url} --bind {bind} --sites 3 --duration 2 --warmup 1.5 --ramp 20 --quiet --json >{out}/report-{i}.json || exit $?\n",
                out = out_dir.path().display(),
            )
        })
        .collect();
    let script = format!(
        r#"set -eu
ip link set lo up
ip link add a0 type veth peer name c0 || exit 77
ip link add a1 type veth peer name c1
ip addr add 10.77.0.1/24 dev a0
ip addr add 10.78.0.1/24 dev a1
ip link set a0 up
ip link set a1 up
unshare --net sleep 60 &
C=$!
S=
trap 'kill $C $S 2>/dev/null || true' EXIT
for i in $(seq 100); do [ "$(readlink /proc/$C/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break; sleep 0.02; done
ip link set c0 netns $C
ip link set c1 netns $C
SITES="nsenter --net=/proc/$C/ns/net"
$SITES ip link set lo up
$SITES ip addr add 10.77.0.2/24 dev c0
$SITES ip addr add 10.78.0.2/24 dev c1
$SITES ip link set c0 up
$SITES ip link set c1 up
$SITES ip route add unreachable 10.77.0.1/32
$SITES sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.c0.rp_filter=0 net.ipv4.conf.c1.rp_filter=0
ip route get 10.77.0.2 | grep -q "dev a0 src 10.77.0.1" || {{ echo "unexpected route back to the sites" >&2; exit 4; }}
{v6_setup}
NO_COLOR=1 GIAOBAN_DATA_DIR={data} GIAOBAN_HTTP_ADDR=[::]:8080 GIAOBAN_MEDIA_BIND_IP={bind_ip} GIAOBAN_MEDIA_UDP_PORT=50000 GIAOBAN_LOG=error,giaoban::sfu=debug {bin} --config {config} serve >{out}/server.log 2>&1 &
S=$!
for i in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null && break; sleep 0.05; done
(sleep 2.5; ss -uanpH | grep "pid=$S," > {out}/sockets.txt || true) &
{loadtests}wait %3 2>/dev/null || true"#,
        data = dir.path().display(),
        out = out_dir.path().display(),
        bin = BIN,
        config = CONFIG,
    );
    let out = Command::new("unshare")
        .args(["--net", "bash", "-c", &script])
        .env("GIAOBAN_LOG", "error")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(77) {
        eprintln!("skipped: cannot create a veth pair or an IPv6 address here: {stderr}");
        return None;
    }
    let log = std::fs::read_to_string(out_dir.path().join("server.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "in the namespace: {stderr}\nserver log:\n{log}"
    );
    let reports = (0..runs.len())
        .map(|i| {
            let json = std::fs::read(out_dir.path().join(format!("report-{i}.json"))).unwrap();
            serde_json::from_slice(&json).expect("JSON report")
        })
        .collect();
    let sockets = std::fs::read_to_string(out_dir.path().join("sockets.txt"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    Some(MultiHomed {
        reports,
        log,
        sockets,
    })
}

/// Three publishing sites all connected, each receiving the two others' audio and video.
fn all_sites_received(r: &serde_json::Value) {
    assert_eq!(r["sites"]["connected"], 3, "{r:#}");
    assert_eq!(r["sites"]["failed"], 0, "{r:#}");
    assert_eq!(r["errors"], serde_json::json!([]), "{r:#}");
    assert!(r["packets"]["received"].as_u64().unwrap() > 300, "{r:#}");
    assert!(r["packets"]["loss_ratio"].as_f64().unwrap() < 0.05, "{r:#}");
}

/// Every host candidate in the server's log names one of `addresses` and the shared port, each
/// of them is announced, none is withheld; the server has one UDP socket, `socket`.
fn announced_exactly(run: &MultiHomed, addresses: &[&str], socket: &str) {
    let announced = announced_host_candidates(&run.log);
    // Each site's two connections trickle every address, and its subscribe offer lists them.
    assert!(
        announced.len() >= 6 * addresses.len(),
        "candidates in the log:\n{}",
        run.log
    );
    for (address, port) in &announced {
        assert!(
            addresses.contains(&address.as_str()),
            "announced {address}:{port}"
        );
        assert_eq!(port, "50000", "announced {address}:{port}");
    }
    for address in addresses {
        assert!(
            announced.iter().any(|(a, _)| a == address),
            "{address} never announced: {announced:?}"
        );
    }
    assert!(!run.log.contains("withheld"), "{}", run.log);
    // One UDP socket, the shared port: no socket per connection or per interface.
    assert_eq!(run.sockets.len(), 1, "{:?}", run.sockets);
    assert!(
        run.sockets[0].contains(&format!(" {socket} ")),
        "{:?}",
        run.sockets
    );
}

/// The host candidates the server announced (address, port): trickled ones from its debug log
/// (`local candidate address=… port=… typ=host`) and those of the subscribe offers it logged
/// (a record's SDP runs over the lines up to the next record; answers are the sites').
fn announced_host_candidates(log: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut in_offer = false;
    for line in log.lines() {
        if line.starts_with(|c: char| c.is_ascii_digit()) {
            in_offer = line.contains("subscribe offer");
        }
        if line.contains("local candidate") && line.contains("typ=host") {
            let field = |name: &str| {
                line.split(' ')
                    .find_map(|w| w.strip_prefix(name))
                    .unwrap_or_default()
                    .to_owned()
            };
            found.push((field("address="), field("port=")));
        }
        if let Some(c) = line.strip_prefix("a=candidate:").filter(|_| in_offer) {
            let f: Vec<&str> = c.split_whitespace().collect();
            if f.len() >= 8 && f[6] == "typ" && f[7] == "host" {
                found.push((f[4].to_owned(), f[5].to_owned()));
            }
        }
    }
    found
}

#[test]
fn a_server_bound_to_every_interface_announces_each_address_and_answers_from_it() {
    let Some(run) = multi_homed("0.0.0.0", false) else {
        return;
    };
    all_sites_received(&run.reports[0]);
    announced_exactly(&run, &["10.77.0.1", "10.78.0.1"], "0.0.0.0:50000");
}

#[test]
fn a_dual_stack_server_serves_ipv4_and_ipv6_sites_on_one_socket() {
    let Some(run) = multi_homed("::", true) else {
        return;
    };
    all_sites_received(&run.reports[0]);
    all_sites_received(&run.reports[1]);
    announced_exactly(
        &run,
        &["10.77.0.1", "10.78.0.1", "fd77::1", "fd78::1"],
        "*:50000",
    );
}
