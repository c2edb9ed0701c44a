//! Liveness and idle-limit figures of the real server binary (run it with
//! `cargo bench --bench liveness`, or `cargo bench --profile dev --bench liveness` without a
//! release build; `-- --freezes 20 --idle 2000 --slow 300 --trickle-secs 120`):
//! - drop detection: a site's process (this program, re-run as a child that joins and keeps
//!   answering pings) is frozen with SIGSTOP; the delay until the host hears `participant_left`
//!   with reason `drop`, p50 and max over `--freezes`;
//! - idle sockets: `--idle` TCP connections that send nothing, from 10 loopback addresses (so the
//!   per-address cap does not refuse them), and from one address (the cap at work): the server's
//!   RSS and open fds while they are held, how long the server keeps them, and the latency of a
//!   real request meanwhile;
//! - slow headers: `--slow` requests whose header trickles one byte a second for `--trickle-secs`.

use futures_util::{SinkExt, StreamExt};
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Runtime::new().unwrap();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        rt.block_on(child(&args[i + 1], &args[i + 2]));
        return;
    }
    rt.block_on(run(
        arg("--freezes", 20) as usize,
        arg("--idle", 2000) as usize,
        arg("--slow", 300) as usize,
        arg("--trickle-secs", 120),
    ));
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn join(ws_url: &str, token: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    let join = serde_json::json!({"type": "join", "v": 1, "token": token}).to_string();
    ws.send(Message::Text(join.into())).await.unwrap();
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.contains("\"joined\"") => return ws,
            Some(Ok(Message::Text(t))) => panic!("join refused: {t}"),
            Some(Ok(_)) => continue,
            other => panic!("socket ended: {other:?}"),
        }
    }
}

/// The frozen site: joins, says so, then reads forever (its library answers the pings).
async fn child(ws_url: &str, token: &str) {
    let mut ws = join(ws_url, token).await;
    println!("joined");
    while ws.next().await.is_some() {}
}

struct Server {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
    links: serde_json::Value,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn giaoban(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_giaoban"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("GIAOBAN_DATA_DIR", dir)
        .env("GIAOBAN_MEDIA_UDP_PORT", "0")
        .env("GIAOBAN_AUDIT_ANCHOR_INTERVAL_MINUTES", "0")
        .env("GIAOBAN_LOG", "error");
    c
}

async fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let out = giaoban(dir.path())
        .args([
            "session",
            "create",
            "--title",
            "Đo",
            "--host",
            "ubnd-tp-hoitruong",
        ])
        .args(["--site", "so-y-te-phonghop"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = giaoban(dir.path())
        .env("GIAOBAN_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        port,
        _dir: dir,
        links: created["links"].clone(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server
}

fn token(link: &serde_json::Value) -> String {
    link.as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string()
}

/// (RSS in KiB, open fds) of a process.
fn usage(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    (rss, fds)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

async fn run(freezes: usize, idle: usize, slow: usize, trickle: u64) {
    let server = start().await;
    let pid = server.child.id();
    let ws_url = format!("ws://127.0.0.1:{}/ws", server.port);
    let host_token = token(&server.links["ubnd-tp-hoitruong"]);
    let site_token = token(&server.links["so-y-te-phonghop"]);

    // 1. Drop detection after SIGSTOP.
    let mut host = join(&ws_url, &host_token).await;
    let mut delays = Vec::new();
    for _ in 0..freezes {
        let mut c = Command::new(std::env::current_exe().unwrap())
            .args(["--child", &ws_url, &site_token])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(c.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "joined");
        // Let a few pings be answered, then freeze the process.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let t0 = Instant::now();
        unsafe { libc::kill(c.id() as i32, libc::SIGSTOP) };
        loop {
            match tokio::time::timeout(Duration::from_secs(30), host.next()).await {
                Ok(Some(Ok(Message::Text(t)))) if t.contains("participant_left") => {
                    assert!(t.contains("\"drop\""), "{t}");
                    break;
                }
                Ok(Some(Ok(_))) => continue,
                other => panic!("host socket: {other:?}"),
            }
        }
        delays.push(t0.elapsed().as_secs_f64() * 1000.0);
        let _ = c.kill();
        let _ = c.wait();
    }
    if freezes > 0 {
        let max = delays.iter().cloned().fold(0.0, f64::max);
        println!(
            "drop detection after SIGSTOP ({freezes} freezes): p50 {:.0} ms, max {:.0} ms",
            pct(&mut delays, 0.5),
            max
        );
    }
    drop(host);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base = usage(pid);
    println!("server at rest: RSS {} KiB, {} fds", base.0, base.1);

    // 2. Idle sockets from 10 addresses, then from one.
    idle_sockets(&server, pid, idle, 10, base).await;
    idle_sockets(&server, pid, idle, 1, base).await;

    // 3. Slow headers, one byte a second.
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..slow {
        let port = server.port;
        let src = [127, 0, 1, (i % 10) as u8 + 2];
        tasks.push(tokio::spawn(async move {
            let mut s = connect_from(src, port).await;
            let _ = s
                .write_all(b"GET /api/openapi.json HTTP/1.1\r\nHost: x\r\n")
                .await;
            let started = Instant::now();
            let mut buf = [0u8; 256];
            loop {
                tokio::select! {
                    r = s.read(&mut buf) => {
                        if matches!(r, Ok(0) | Err(_)) {
                            return Some(started.elapsed());
                        }
                    }
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {
                        if started.elapsed() > Duration::from_secs(trickle) {
                            return None;
                        }
                        if s.write_all(b"X").await.is_err() {
                            return Some(started.elapsed());
                        }
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let held = usage(pid);
    let latency = request_latency(server.port).await;
    let mut lived = Vec::new();
    let mut still_open = 0;
    for t in tasks {
        match t.await.unwrap() {
            Some(d) => lived.push(d.as_secs_f64()),
            None => still_open += 1,
        }
    }
    let after = usage(pid);
    println!(
        "{slow} slow headers: RSS +{} KiB ({} KiB), fds +{}; a request meanwhile took {latency:?}; \
         cut after p50 {:.1} s, max {:.1} s; {still_open} still open after {trickle} s \
         (whole run {:.0} s); afterwards RSS {} KiB, {} fds",
        held.0.saturating_sub(base.0),
        held.0,
        held.1.saturating_sub(base.1),
        if lived.is_empty() {
            0.0
        } else {
            pct(&mut lived.clone(), 0.5)
        },
        lived.iter().cloned().fold(0.0, f64::max),
        t0.elapsed().as_secs_f64(),
        after.0,
        after.1
    );
}

async fn connect_from(src: [u8; 4], port: u16) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(std::net::SocketAddr::from((src, 0))).unwrap();
    socket
        .connect(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .unwrap()
}

async fn request_latency(port: u16) -> Duration {
    let t = Instant::now();
    let mut s = connect_from([127, 0, 2, 1], port).await;
    s.write_all(b"GET /api/openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    assert!(
        buf.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..buf.len().min(100)])
    );
    t.elapsed()
}

async fn idle_sockets(server: &Server, pid: u32, n: usize, addrs: usize, base: (u64, usize)) {
    let t0 = Instant::now();
    let mut sockets = Vec::new();
    for i in 0..n {
        let src = [127, 0, 3 + addrs as u8, (i % addrs) as u8 + 2];
        sockets.push(connect_from(src, server.port).await);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let held = usage(pid);
    let latency = request_latency(server.port).await;
    // How long the server keeps each: until it closes (or answers 503 and closes).
    let mut lived = Vec::new();
    let mut refused = 0;
    let tasks: Vec<_> = sockets
        .into_iter()
        .map(|mut s| {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let r =
                    tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut buf)).await;
                (r.is_ok(), buf.starts_with(b"HTTP/1.1 503"))
            })
        })
        .collect();
    let mut open = 0;
    for t in tasks {
        let (closed, was_refused) = t.await.unwrap();
        if was_refused {
            refused += 1;
        } else if closed {
            lived.push(t0.elapsed().as_secs_f64());
        } else {
            open += 1;
        }
    }
    let after = usage(pid);
    println!(
        "{n} idle sockets from {addrs} address(es): {refused} refused at once (503), RSS +{} KiB ({} KiB), \
         fds +{}; a request meanwhile took {latency:?}; the rest closed by the server after \
         p50 {:.1} s, max {:.1} s, {open} still open after 60 s; afterwards RSS {} KiB, {} fds",
        held.0.saturating_sub(base.0),
        held.0,
        held.1.saturating_sub(base.1),
        if lived.is_empty() {
            0.0
        } else {
            pct(&mut lived.clone(), 0.5)
        },
        lived.iter().cloned().fold(0.0, f64::max),
        after.0,
        after.1
    );
}
