//! `giaoban loadtest`: simulates N sites against a running server through the real signaling.
//! It logs in as an admin, makes sure sites `loadtest-000…` exist, creates the sessions (sites
//! spread over `--sessions`; the first `--publishers` sites publish, the others only watch),
//! joins the sites at `--ramp` per second, lets media run for a warm-up and then a measured
//! window of `--duration` seconds, and reports (`report`). Media is pre-encoded (`media`), each
//! site is a task (`site`). Given `--server-pid`, the server's CPU time and memory over the
//! window come from /proc. Options are checked before anything is sent.

pub mod media;
pub mod report;
pub mod site;

use crate::client::api::{self, ApiClient};
use crate::metrics::process;
use report::{OwnUsage, Packets, Report, ServerUsage, Sites, Spread};
use site::{Shared, SiteSpec};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// Options of `giaoban loadtest`.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Base URL of the server.
    #[arg(
        long,
        env = "GIAOBAN_LOADTEST_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub url: String,
    /// Admin login (needed to create the sites and sessions).
    #[arg(long, env = "GIAOBAN_LOADTEST_USER")]
    pub username: Option<String>,
    /// Its password (prefer the environment variable).
    #[arg(long, env = "GIAOBAN_LOADTEST_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Simulated sites in all.
    #[arg(long, default_value_t = 10)]
    pub sites: usize,
    /// How many of them publish audio and video (the first ones); the rest only watch.
    /// Default: all.
    #[arg(long)]
    pub publishers: Option<usize>,
    /// Sessions the sites are spread over (site i goes to session i mod N).
    #[arg(long, default_value_t = 1)]
    pub sessions: usize,
    /// Sites joining per second.
    #[arg(long, default_value_t = 10.0)]
    pub ramp: f64,
    /// Measured window, in seconds (after every site joined and the warm-up).
    #[arg(long, default_value_t = 20.0)]
    pub duration: f64,
    /// Warm-up before the window, in seconds.
    #[arg(long, default_value_t = 3.0)]
    pub warmup: f64,
    /// Video bitrate in kbit/s (frames padded up to it); 0: as encoded (about 500).
    #[arg(long, default_value_t = 0)]
    pub bitrate: u64,
    /// VP8 in IVF (default: the shipped 3 s clip, benches/media/video.ivf).
    #[arg(long)]
    pub video: Option<PathBuf>,
    /// Opus in Ogg (default: the shipped 3 s clip, benches/media/audio.ogg).
    #[arg(long)]
    pub audio: Option<PathBuf>,
    /// PID of the server process, for its CPU time and memory over the window.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Local address the simulated sites' media sockets bind to.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Print the report as JSON (progress still goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// No progress line.
    #[arg(long)]
    pub quiet: bool,
    /// Record every session (started before the sites join, stopped after the window), to
    /// measure what recording costs.
    #[arg(long)]
    pub record: bool,
    /// What each site's page shows: `default`, the server's default layouts (a remote site
    /// receives the host's and the floor holder's video, the host one page of its grid; sessions
    /// of more than `chair.join_muted_above_sites` sites join muted), or `all`, every site
    /// subscribes to every other site's video and every site is unmuted (all to all).
    #[arg(long, value_enum, default_value_t = Layout::Default)]
    pub layout: Layout,
    /// Keep sending video the server says nobody receives (`video_paused`), as a site that does
    /// not know the message would: the cost of unwatched video, for comparison.
    #[arg(long)]
    pub ignore_pause: bool,
}

/// See [`Options::layout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    Default,
    All,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadTestError {
    #[error("bad option: {0}")]
    Option(String),
    #[error(transparent)]
    Media(#[from] media::MediaError),
    #[error(transparent)]
    Api(#[from] api::ApiError),
    #[error("--server-pid {pid}: {why}")]
    ServerPid { pid: u32, why: String },
}

impl LoadTestError {
    /// Exit status: 2 for what the user can fix before anything ran, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            LoadTestError::Api(api::ApiError::Http(_)) => 1,
            LoadTestError::Api(api::ApiError::Status { status, .. }) if *status >= 500 => 1,
            _ => 2,
        }
    }
}

/// Checks the options that make no sense on their own. Pure.
pub fn validate(o: &Options) -> Result<(), LoadTestError> {
    let bad = |m: String| Err(LoadTestError::Option(m));
    let publishers = o.publishers.unwrap_or(o.sites);
    if o.sites == 0 {
        return bad("--sites 0: at least one site is needed".into());
    }
    if o.sites > 1000 {
        return bad(format!("--sites {}: at most 1000", o.sites));
    }
    if publishers > o.sites {
        return bad(format!(
            "--publishers {publishers} is more than --sites {}",
            o.sites
        ));
    }
    if publishers == 0 {
        return bad("--publishers 0: nothing would be sent".into());
    }
    if o.sessions == 0 || o.sessions > o.sites {
        return bad(format!(
            "--sessions {}: between 1 and --sites ({})",
            o.sessions, o.sites
        ));
    }
    if !(o.ramp.is_finite() && o.ramp > 0.0) {
        return bad(format!(
            "--ramp {}: sites per second must be above 0",
            o.ramp
        ));
    }
    if !(o.duration.is_finite() && o.duration > 0.0 && o.duration <= 3600.0) {
        return bad(format!(
            "--duration {}: seconds, above 0 and at most 3600",
            o.duration
        ));
    }
    if !(o.warmup.is_finite() && o.warmup >= 0.0 && o.warmup <= 600.0) {
        return bad(format!("--warmup {}: seconds, 0 to 600", o.warmup));
    }
    if o.username.is_none() || o.password.is_none() {
        return bad(
            "an admin login is needed: --username and --password (or GIAOBAN_LOADTEST_USER and GIAOBAN_LOADTEST_PASSWORD)"
                .into(),
        );
    }
    Ok(())
}

/// Which session each site is in, and the host (first site) of each session.
pub fn layout(sites: usize, sessions: usize) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); sessions];
    for i in 0..sites {
        out[i % sessions].push(i);
    }
    out
}

fn read_media(
    path: &Option<PathBuf>,
    default: &'static [u8],
) -> Result<(String, Vec<u8>), LoadTestError> {
    match path {
        None => Ok(("(shipped)".into(), default.to_vec())),
        Some(p) => {
            let name = p.display().to_string();
            let data = std::fs::read(p).map_err(|e| media::MediaError::Read {
                path: name.clone(),
                why: e.to_string(),
            })?;
            Ok((name, data))
        }
    }
}

/// Loads and packetises the media (options' files or the shipped ones).
pub fn load_media(o: &Options) -> Result<media::MediaPlan, LoadTestError> {
    let (vname, vdata) = read_media(&o.video, media::DEFAULT_VIDEO)?;
    let ivf = media::parse_ivf(&vname, &vdata)?;
    if &ivf.fourcc != b"VP80" {
        return Err(media::MediaError::NotVp8 {
            path: vname,
            fourcc: String::from_utf8_lossy(&ivf.fourcc).into_owned(),
        }
        .into());
    }
    let (aname, adata) = read_media(&o.audio, media::DEFAULT_AUDIO)?;
    let audio = media::parse_ogg_opus(&aname, &adata)?;
    Ok(media::plan(&ivf, audio, o.bitrate)?)
}

fn check_server_pid(pid: u32) -> Result<(), LoadTestError> {
    let name = process::command_name(&pid.to_string()).map_err(|e| LoadTestError::ServerPid {
        pid,
        why: e.to_string(),
    })?;
    if name != "giaoban" {
        return Err(LoadTestError::ServerPid {
            pid,
            why: format!("that process is {name:?}, not giaoban"),
        });
    }
    Ok(())
}

/// Prints a progress line on stderr (rewritten in place on a terminal).
struct Progress {
    quiet: bool,
    tty: bool,
}

impl Progress {
    fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{text}");
        } else {
            let _ = writeln!(err, "{text}");
        }
        let _ = err.flush();
    }

    fn done(&self) {
        if !self.quiet && self.tty {
            eprintln!();
        }
    }
}

/// Runs the load test and returns its report.
pub async fn run(o: Options) -> Result<Report, LoadTestError> {
    validate(&o)?;
    let plan = Arc::new(load_media(&o)?);
    if let Some(pid) = o.server_pid {
        check_server_pid(pid)?;
    }
    let base = o.url.trim_end_matches('/').to_string();
    api::check_giaoban(&base).await?;
    let admin = ApiClient::login(
        &base,
        o.username.as_deref().unwrap_or_default(),
        o.password.as_deref().unwrap_or_default(),
    )
    .await?;
    let ids = admin.ensure_sites("loadtest", o.sites).await?;
    let publishers = o.publishers.unwrap_or(o.sites);
    let groups = layout(o.sites, o.sessions);
    let ws_url = format!("{}/ws", base.replacen("http", "ws", 1));
    let mut specs = Vec::with_capacity(o.sites);
    let mut sessions = Vec::new();
    for (k, group) in groups.iter().enumerate() {
        let host = &ids[group[0]];
        let others: Vec<String> = group[1..].iter().map(|&i| ids[i].clone()).collect();
        let created = admin
            .create_session(&format!("Đo tải {}", k + 1), host, &others)
            .await?;
        for &i in group {
            let all = group.iter().filter(|&&j| j != i).map(|&j| ids[j].clone());
            specs.push(SiteSpec {
                index: i as u32,
                ws_url: ws_url.clone(),
                token: api::token_of(&created.links[&ids[i]]).to_string(),
                publish: i < publishers,
                bind_ip: o.bind,
                subscribe_to: (o.layout == Layout::All).then(|| all.collect()),
                ignore_pause: o.ignore_pause,
            });
        }
        if o.record {
            admin
                .post(
                    &format!("/api/sessions/{}/recording/start", created.session_id),
                    &serde_json::json!({}),
                )
                .await
                .map_err(api::ApiError::Http)?
                .error_for_status()
                .map_err(api::ApiError::Http)?;
        }
        sessions.push((created.session_id, group.clone()));
    }
    specs.sort_by_key(|s| s.index);

    let epoch = Instant::now();
    let shared = Arc::new(Shared::default());
    let progress = Progress {
        quiet: o.quiet,
        tty: std::io::stderr().is_terminal(),
    };
    let mut tasks = Vec::with_capacity(o.sites);
    let gap = Duration::from_secs_f64(1.0 / o.ramp);
    let mut last_print = Instant::now();
    let status = |phase: &str, shared: &Shared, t: Instant| {
        format!(
            "[{phase} {:>5.1} s] joined {}/{} failed {} | received {} packets",
            t.elapsed().as_secs_f64(),
            shared.joined.load(Relaxed),
            o.sites,
            shared.failed.load(Relaxed),
            shared.received_all.load(Relaxed),
        )
    };
    for spec in specs {
        tasks.push(tokio::spawn(site::run(
            spec,
            plan.clone(),
            shared.clone(),
            epoch,
        )));
        tokio::time::sleep(gap).await;
        if last_print.elapsed() >= Duration::from_secs(1) {
            progress.line(&status("ramp", &shared, epoch));
            last_print = Instant::now();
        }
    }
    // Every join settles (joined or failed), then the warm-up.
    let settle = Instant::now() + Duration::from_secs(60);
    while shared.joined.load(Relaxed) + shared.failed.load(Relaxed) < o.sites
        && Instant::now() < settle
    {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if last_print.elapsed() >= Duration::from_secs(1) {
            progress.line(&status("ramp", &shared, epoch));
            last_print = Instant::now();
        }
    }
    if o.layout == Layout::All {
        // All to all: nobody stays muted by the join policy.
        for (id, group) in &sessions {
            for &i in group {
                let body = serde_json::json!({"site_id": ids[i], "kind": "audio", "muted": false});
                let path = format!("/api/sessions/{id}/mute");
                if let Err(e) = admin.post(&path, &body).await {
                    tracing::warn!("unmuting {}: {e}", ids[i]);
                }
            }
        }
    }
    let warm_end = Instant::now() + Duration::from_secs_f64(o.warmup);
    while Instant::now() < warm_end {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if last_print.elapsed() >= Duration::from_secs(1) {
            progress.line(&status("warm-up", &shared, epoch));
            last_print = Instant::now();
        }
    }

    // The measured window.
    let pid = o.server_pid.map(|p| p.to_string());
    let server0 = pid.as_deref().and_then(|p| process::sample(p).ok());
    let stats0 = admin.stats().await.ok();
    let own0 = process::sample("self").ok();
    shared.measuring.store(true, Relaxed);
    let window_start = Instant::now();
    let window_end = window_start + Duration::from_secs_f64(o.duration);
    let mut peak_rss = server0.map_or(0, |s| s.rss_bytes);
    while Instant::now() < window_end {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if let Some(s) = pid.as_deref().and_then(|p| process::sample(p).ok()) {
            peak_rss = peak_rss.max(s.rss_bytes);
        }
        if last_print.elapsed() >= Duration::from_secs(1) {
            progress.line(&status("run", &shared, window_start));
            last_print = Instant::now();
        }
    }
    shared.measuring.store(false, Relaxed);
    let window = window_start.elapsed().as_secs_f64();
    let server1 = pid.as_deref().and_then(|p| process::sample(p).ok());
    let stats1 = admin.stats().await.ok();
    let own1 = process::sample("self").ok();
    progress.line(&status("leaving", &shared, window_start));
    progress.done();

    shared.stop.store(true, Relaxed);
    let mut first_frames = Vec::new();
    let mut delays = Vec::new();
    let mut errors = Vec::new();
    for t in tasks {
        if let Ok(outcome) = t.await {
            first_frames.extend(outcome.first_frame_ms);
            delays.extend(outcome.delays_ms);
            if let Some(e) = outcome.error
                && errors.len() < 10
            {
                errors.push(e);
            }
        }
    }
    for (id, _) in sessions.iter().filter(|_| o.record) {
        let stop = format!("/api/sessions/{id}/recording/stop");
        if let Err(e) = admin.post(&stop, &serde_json::json!({})).await
            && errors.len() < 10
        {
            errors.push(format!("stopping the recording of {id}: {e}"));
        }
    }
    for (id, _) in &sessions {
        if let Err(e) = admin.cancel_session(id).await
            && errors.len() < 10
        {
            errors.push(format!("cancelling session {id}: {e}"));
        }
    }
    let drops = shared.client_drops.load(Relaxed);
    if drops > 0 {
        errors.push(format!(
            "the load tester itself read {drops} packets too late (it is overloaded)"
        ));
    }

    let sent = shared.sent.load(Relaxed);
    let received = shared.received.load(Relaxed);
    let lost = shared.lost.load(Relaxed);
    let counter = |k: &str| match (&stats0, &stats1) {
        (Some(a), Some(b)) => Some(b[k].as_u64()?.saturating_sub(a[k].as_u64()?)),
        _ => None,
    };
    let server = match (server0, server1) {
        (Some(a), Some(b)) => {
            let cpu = b.cpu_seconds - a.cpu_seconds;
            let out = counter("packets_out");
            let (us, per_core) = report::per_packet(cpu, out.unwrap_or(received));
            Some(ServerUsage {
                pid: o.server_pid.unwrap_or_default(),
                cpu_seconds: cpu,
                cpu_percent: cpu / window * 100.0,
                rss_mb_start: a.rss_bytes as f64 / 1e6,
                rss_mb_end: b.rss_bytes as f64 / 1e6,
                peak_rss_mb: peak_rss.max(b.rss_bytes) as f64 / 1e6,
                packets_in: counter("packets_in"),
                packets_out: out,
                us_per_forwarded_packet: us,
                packets_per_s_per_core: per_core,
            })
        }
        _ => None,
    };
    let own_cpu = match (own0, own1) {
        (Some(a), Some(b)) => b.cpu_seconds - a.cpu_seconds,
        _ => 0.0,
    };
    Ok(Report {
        server_url: base,
        window_s: window,
        video_kbps: plan.video_kbps,
        video_pps_per_publisher: plan.video_pps,
        sites: Sites {
            requested: o.sites,
            publishers,
            viewers: o.sites - publishers,
            sessions: o.sessions,
            connected: shared.joined.load(Relaxed),
            failed: shared.failed.load(Relaxed),
        },
        join_to_first_frame_ms: Spread::of(&mut first_frames),
        packets: Packets {
            sent,
            received,
            sent_per_s: sent as f64 / window,
            received_per_s: received as f64 / window,
            lost,
            loss_ratio: if received + lost == 0 {
                0.0
            } else {
                lost as f64 / (received + lost) as f64
            },
        },
        delay_ms: Spread::of(&mut delays),
        rtcp: report::Feedback {
            nacks_received: shared.nacks_received.load(Relaxed),
            keyframe_requests_received: shared.keyframe_requests.load(Relaxed),
            nacks_sent: shared.nacks_sent.load(Relaxed),
        },
        video_paused: report::Pauses {
            sites_at_end: shared.paused_now.load(Relaxed),
            pauses: shared.pauses.load(Relaxed),
            resumes: shared.resumes.load(Relaxed),
            ignored: o.ignore_pause,
        },
        server,
        loadtest: OwnUsage {
            cpu_seconds: own_cpu,
            cpu_percent: own_cpu / window * 100.0,
        },
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        o: Options,
    }

    fn opts(args: &[&str]) -> Options {
        let mut v = vec!["loadtest", "--username", "a", "--password", "b"];
        v.extend_from_slice(args);
        Cli::parse_from(v).o
    }

    fn refused(args: &[&str]) -> String {
        validate(&opts(args)).unwrap_err().to_string()
    }

    #[test]
    fn options_that_make_no_sense_are_refused_with_a_reason() {
        assert!(validate(&opts(&[])).is_ok());
        assert!(refused(&["--sites", "0"]).contains("--sites 0"));
        assert!(refused(&["--sites", "3", "--publishers", "4"]).contains("more than --sites 3"));
        assert!(refused(&["--publishers", "0"]).contains("nothing would be sent"));
        assert!(refused(&["--sites", "2", "--sessions", "3"]).contains("--sessions 3"));
        assert!(refused(&["--ramp", "0"]).contains("--ramp"));
        assert!(refused(&["--duration=-1"]).contains("--duration"));
        assert!(refused(&["--duration", "NaN"]).contains("--duration"));
        let mut o = opts(&[]);
        o.password = None;
        assert!(
            validate(&o)
                .unwrap_err()
                .to_string()
                .contains("admin login")
        );
    }

    #[test]
    fn sites_are_spread_over_sessions() {
        assert_eq!(layout(4, 2), vec![vec![0, 2], vec![1, 3]]);
        assert_eq!(layout(3, 1), vec![vec![0, 1, 2]]);
        // 20 pairs: the 20 publishers (0..19) each with one viewer.
        let pairs = layout(40, 20);
        assert!(
            pairs
                .iter()
                .all(|g| g.len() == 2 && g[0] < 20 && g[1] >= 20)
        );
    }

    #[test]
    fn a_missing_media_file_is_named() {
        let o = opts(&["--video", "/nonexistent/clip.ivf"]);
        let e = load_media(&o).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/clip.ivf"), "{e}");
        assert!(load_media(&opts(&[])).is_ok(), "the shipped media load");
    }
}
