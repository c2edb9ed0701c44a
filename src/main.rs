//! The `giaoban` command: `serve` (the default) runs the system; `site list` and
//! `session create` work on the same database beside a running server.

use clap::{Parser, Subcommand};
use giaoban::config::Config;
use giaoban::schedule::NewSession;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "giaoban",
    version,
    about = "Online briefings: signaling server, SFU, scheduling"
)]
struct Cli {
    /// Configuration file.
    #[arg(
        long,
        global = true,
        env = "GIAOBAN_CONFIG",
        default_value = "config/default.toml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (HTTP API, web pages, WebSocket signaling, SFU).
    Serve,
    /// Sites (điểm cầu).
    Site {
        #[command(subcommand)]
        command: SiteCommand,
    },
    /// Sessions (phiên họp).
    Session {
        #[command(subcommand)]
        command: SessionCommand,
    },
    /// Accounts (tài khoản).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The audit log (nhật ký hệ thống).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Simulate sites against a running server and report forwarding cost and quality.
    Loadtest(Box<giaoban::loadtest::Options>),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account, e.g. the first admin. The password is read from GIAOBAN_PASSWORD or,
    /// if unset, generated and printed once.
    Add {
        /// Login name (lower-case letters, digits, '.', '_', '-').
        #[arg(long)]
        name: String,
        /// "Họ và tên – Chức vụ – Đơn vị"; defaults to the login name.
        #[arg(long)]
        display_name: Option<String>,
        /// admin, secretariat, operator, site_operator, chair, reviewer or auditor (repeatable).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Scope the roles to one site (required for site_operator).
        #[arg(long)]
        site: Option<String>,
        /// Scope the roles to one unit.
        #[arg(long)]
        unit: Option<String>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain of the whole log; fails naming the first bad entry if it is broken.
    /// With --anchors, also that every anchored head is still in the chain (and well signed).
    Verify {
        /// Anchor file (see `audit anchor`), e.g. a copy kept on another machine.
        #[arg(long)]
        anchors: Option<PathBuf>,
        /// Public key the anchors must be signed with (base64, as `audit anchor` prints it);
        /// default: the key of the data directory.
        #[arg(long, requires = "anchors")]
        public_key: Option<String>,
    },
    /// Sign the chain head now and append it to the anchor file (config audit.anchor_file).
    Anchor,
    /// Print the newest entries as JSON.
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Subcommand)]
enum SiteCommand {
    /// Print every site as JSON.
    List,
}

#[derive(Subcommand)]
enum SessionCommand {
    /// Create a session and print its join links as JSON.
    Create {
        #[arg(long)]
        title: String,
        /// Host site id (điểm cầu chủ trì).
        #[arg(long)]
        host: String,
        /// Invited site id (repeat the flag for each site).
        #[arg(long = "site")]
        sites: Vec<String>,
        /// Start, RFC 3339 (e.g. 2026-11-30T08:00:00+07:00).
        #[arg(long)]
        start: Option<chrono::DateTime<chrono::FixedOffset>>,
        /// End, RFC 3339.
        #[arg(long)]
        end: Option<chrono::DateTime<chrono::FixedOffset>>,
    },
}

/// Our own events at info; the WebRTC stack only when it fails (its warnings are per packet).
const DEFAULT_LOG: &str = "warn,giaoban=info,webrtc=error,rtc=error,rtc_ice=error,rtc_dtls=error,rtc_srtp=error,rtc_sctp=error";

fn main() -> ExitCode {
    let cli = Cli::parse();
    giaoban::logging::init(
        tracing_subscriber::EnvFilter::try_from_env("GIAOBAN_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG)),
    );
    if let Some(Command::Loadtest(options)) = cli.command {
        return loadtest(*options);
    }
    let config = match Config::load(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("giaoban: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = server_runtime().expect("tokio runtime");
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("giaoban: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The server's runtime: HTTP, signaling, the store's consumers and the media path (the shared
/// UDP port's receive loop, the connections' drivers, the track readers and down-tracks). Its
/// blocking pool is bounded and lets idle threads go after a few seconds, so that memory returns
/// after a busy session.
fn server_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(16)
        .thread_keep_alive(std::time::Duration::from_secs(2))
        // A worker going idle after a session flushes its allocator cache (once per release).
        .on_thread_park(|| {
            giaoban::memory::on_thread_idle();
        })
        .build()
}

/// `giaoban loadtest`: needs no configuration, only a running server.
fn loadtest(options: giaoban::loadtest::Options) -> ExitCode {
    let json = options.json;
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(giaoban::loadtest::run(options)) {
        Ok(report) if json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).expect("report serializes")
            );
            ExitCode::SUCCESS
        }
        Ok(report) => {
            print!("{}", report.table());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("giaoban loadtest: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let running = giaoban::app::start(config).await?;
            println!("giaoban: listening on http://{}", running.addr);
            tokio::signal::ctrl_c().await?;
            tracing::info!("stopping");
            running.stop().await;
        }
        Command::Site {
            command: SiteCommand::List,
        } => {
            let (pool, _, _) = giaoban::app::open_state(config).await?;
            let sites = giaoban::store::org::list_sites(&pool).await?;
            println!("{}", serde_json::to_string_pretty(&sites)?);
        }
        Command::Session {
            command:
                SessionCommand::Create {
                    title,
                    host,
                    sites,
                    start,
                    end,
                },
        } => {
            let public_url = config.public_url();
            let (pool, key, config) = giaoban::app::open_state(config).await?;
            let scheduler = giaoban::schedule::Scheduler {
                pool: &pool,
                key: &key,
                public_url: &public_url,
                grace_hours: config.auth.join_link_grace_hours,
                max_session_hours: config.limits.max_session_hours,
            };
            let req = NewSession {
                title,
                host_site_id: host,
                site_ids: sites,
                starts_at: start.map(|t| t.to_utc()),
                ends_at: end.map(|t| t.to_utc()),
            };
            let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
            let created = scheduler.create(&req, &format!("cli:{user}")).await?;
            println!("{}", serde_json::to_string_pretty(&created)?);
        }
        Command::User {
            command:
                UserCommand::Add {
                    name,
                    display_name,
                    roles,
                    site,
                    unit,
                },
        } => {
            let (pool, _, _) = giaoban::app::open_state(config).await?;
            let mut grants = Vec::new();
            for r in &roles {
                let role = giaoban::auth::Role::parse(r)
                    .ok_or_else(|| anyhow::anyhow!("unknown role {r:?}"))?;
                grants.push(giaoban::auth::Grant {
                    role,
                    unit_id: unit.clone(),
                    site_id: site.clone(),
                });
            }
            let (password, generated) = match std::env::var("GIAOBAN_PASSWORD") {
                Ok(p) => (p, false),
                Err(_) => (giaoban::auth::password::new_token(""), true),
            };
            let new = giaoban::auth::users::NewUser {
                display_name: display_name.unwrap_or_else(|| name.clone()),
                username: name,
                password: password.clone(),
                grants,
            };
            let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
            let created = giaoban::auth::users::create(&pool, &new, &format!("cli:{user}")).await?;
            let mut out = serde_json::json!({ "id": created.id, "username": created.username, "grants": new.grants });
            if generated {
                out["password"] = password.into();
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Command::Loadtest(_) => unreachable!("handled before the configuration is read"),
        Command::Audit { command } => {
            let (pool, _, config) = giaoban::app::open_state(config).await?;
            match command {
                AuditCommand::Verify {
                    anchors,
                    public_key,
                } => {
                    let (entries, anchored) = match &anchors {
                        Some(file) => {
                            let dir = &config.data.dir;
                            let key = public_key.as_deref();
                            let (e, a) =
                                giaoban::audit::anchor::verify_with(&pool, dir, file, key).await?;
                            (e, Some(a))
                        }
                        None => (giaoban::audit::verify_all(&pool).await?, None),
                    };
                    let head = giaoban::audit::head(&pool).await?;
                    let mut report = serde_json::json!({
                        "ok": true, "entries": entries, "head_seq": head.seq, "head_hash": head.hash,
                    });
                    if let Some(a) = anchored {
                        report["anchors"] = a.into();
                    }
                    println!("{report}");
                }
                AuditCommand::Anchor => {
                    let file = config.anchor_file();
                    let anchor =
                        giaoban::audit::anchor::anchor_now(&pool, &config.data.dir, &file).await?;
                    let mut out = serde_json::to_value(&anchor)?;
                    out["file"] = file.display().to_string().into();
                    println!("{out}");
                }
                AuditCommand::List { limit } => {
                    let filter = giaoban::audit::AuditFilter {
                        limit: Some(limit),
                        ..Default::default()
                    };
                    let entries = giaoban::audit::list(&pool, &filter).await?;
                    println!("{}", serde_json::to_string_pretty(&entries)?);
                }
            }
        }
    }
    Ok(())
}
