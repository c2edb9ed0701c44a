//! Wiring: opens the store, loads the organisation, builds the SFU and the HTTP router, and binds
//! the listener. [`start`] is what `giaoban serve` runs and what the integration tests start on
//! an ephemeral port with a temporary data directory.

use crate::auth::TokenKey;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::sfu::Sfu;
use crate::sfu::driver::MediaThread;
use crate::sfu::engine::MediaSettings;
use crate::sfu::udp::MediaSocket;
use crate::store::{self, Pool};
use std::net::SocketAddr;
use std::sync::Arc;

/// Shared state of the HTTP and WebSocket handlers.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub pool: Pool,
    pub token_key: TokenKey,
    pub sfu: Arc<Sfu>,
    pub metrics: Arc<Metrics>,
    /// Base URL of join links (from config, or the bound address).
    pub public_url: Arc<str>,
    /// Session ids whose roll call changed (written): the roll-call stream listens.
    pub attendance_changed: tokio::sync::broadcast::Sender<Arc<str>>,
    /// Login backoff and the bounded password-hashing pool.
    pub login: Arc<crate::auth::login::LoginGuard>,
    /// Recordings: start, stop, the SFU's taps.
    pub recorder: Arc<crate::record::Recorder>,
    /// Live notices for open kiosk streams (device revocations).
    pub kiosk: crate::kiosk::Hub,
    /// The agenda item each live session is on.
    pub agendas: Arc<crate::sfu::agenda::Agendas>,
}

impl AppState {
    pub fn scheduler(&self) -> crate::schedule::Scheduler<'_> {
        crate::schedule::Scheduler {
            pool: &self.pool,
            key: &self.token_key,
            public_url: &self.public_url,
            grace_hours: self.config.auth.join_link_grace_hours,
            max_session_hours: self.config.limits.max_session_hours,
        }
    }

    /// When join links open and close the room.
    pub fn join_policy(&self) -> crate::schedule::window::Policy {
        crate::schedule::window::Policy::from_config(&self.config.auth)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("join token key: {0}")]
    Key(std::io::Error),
    #[error("first admin account: {0}")]
    FirstAdmin(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// Store, token key and organisation: what both `serve` and the CLI commands need.
pub async fn open_state(config: Config) -> Result<(Pool, TokenKey, Config), StartError> {
    let pool = store::open(&config.data.dir).await?;
    store::org::upsert_from_config(&pool, &config.org.units).await?;
    ensure_first_admin(&pool, &config.data.dir).await?;
    let key = TokenKey::load_or_create(&config.auth.token_secret, &config.data.dir)
        .map_err(StartError::Key)?;
    Ok((pool, key, config))
}

/// On a fresh database, creates the account `admin` with a random password, written once to
/// `<data>/initial-admin-password` (mode 0600) and announced in the log, so that the two README
/// commands are all the set-up there is. Change it (or add named admins and disable this one).
async fn ensure_first_admin(pool: &Pool, data_dir: &std::path::Path) -> Result<(), StartError> {
    if store::accounts::count_users(pool).await? > 0 {
        return Ok(());
    }
    let password = crate::auth::password::new_token("");
    let new = crate::auth::users::NewUser {
        username: "admin".into(),
        display_name: "Quản trị hệ thống".into(),
        password: password.clone(),
        grants: vec![crate::auth::Grant::new(crate::auth::Role::Admin)],
    };
    match crate::auth::users::create(pool, &new, "system:first-start").await {
        Ok(_) => {}
        Err(crate::auth::users::UserError::Store(e)) => return Err(e.into()),
        Err(e) => return Err(StartError::FirstAdmin(e.to_string())),
    }
    let path = data_dir.join("initial-admin-password");
    crate::auth::token::write_private(&path, format!("{password}\n").as_bytes())
        .map_err(|e| StartError::FirstAdmin(format!("{}: {e}", path.display())))?;
    tracing::warn!(file = %path.display(), "created the first account: user 'admin', password in the file");
    Ok(())
}

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    /// Periodic jobs of this server (the audit anchor), ended with it.
    timers: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets open requests finish, and waits for the server task. The sites'
    /// leaves are written (attendance, audit) before it returns.
    pub async fn stop(self) {
        self.state.recorder.stop_all().await;
        self.state.kiosk.stop();
        self.state
            .sfu
            .shutdown(std::time::Duration::from_secs(3))
            .await;
        if !self
            .state
            .sfu
            .events()
            .drained(std::time::Duration::from_secs(5))
            .await
        {
            tracing::warn!("stopping with live events not yet written");
        }
        for timer in &self.timers {
            timer.abort();
        }
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }

    /// Waits until the server stops (it runs until [`Running::stop`] or a fatal error).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Binds `config.http.addr` and serves the API, the pages and the signaling.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let (pool, token_key, config) = open_state(config).await?;
    let listener = tokio::net::TcpListener::bind(&config.http.addr)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.http.addr.clone(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.http.addr.clone(),
        source,
    })?;
    let tls = crate::tls::load(&config.http, &config.data.dir, addr)?;
    let public_url: Arc<str> = if config.http.public_url.is_empty() {
        format!("{}://{addr}", config.http.scheme()).into()
    } else {
        config.public_url().into()
    };
    let metrics = Arc::new(Metrics::default());
    let settings = MediaSettings::from_config(&config.media);
    let media_addr = SocketAddr::new(settings.bind_ip, config.media.udp_port);
    // Validated as addresses by the configuration.
    let nat = settings
        .nat_1to1_ips
        .iter()
        .filter_map(|ip| ip.parse().ok())
        .collect();
    let bind_error = |source| StartError::Bind {
        addr: format!("udp {media_addr} (media.udp_port)"),
        source,
    };
    let thread = MediaThread::start().map_err(bind_error)?;
    let media = {
        // The port's receive task runs on the media thread.
        let _media_runtime = thread.handle().enter();
        MediaSocket::bind(media_addr, nat, metrics.udp.clone()).map_err(bind_error)?
    };
    tracing::info!("media on udp {}", media.local_addr());
    let sfu = Sfu::new(settings, (media, thread), metrics.clone());
    let sfu = Arc::new(sfu.with_chair(config.chair.clone()));
    let attendance_changed = start_consumers(&config, &sfu, &pool).await?;
    let recorder = start_recorder(&config, &sfu, &pool).await?;
    let mut timers = Vec::new();
    if config.audit.anchor_interval_minutes > 0 {
        let every = std::time::Duration::from_secs(config.audit.anchor_interval_minutes * 60);
        let (dir, file) = (config.data.dir.clone(), config.anchor_file());
        timers.push(crate::audit::anchor::spawn_every(
            pool.clone(),
            dir,
            file,
            every,
        ));
    }
    let config_auth = config.auth.clone();
    let state = AppState {
        config: Arc::new(config),
        pool,
        token_key,
        sfu,
        metrics,
        public_url,
        attendance_changed,
        login: Arc::new(crate::auth::login::LoginGuard::new(&config_auth)),
        recorder,
        kiosk: crate::kiosk::Hub::default(),
        agendas: Arc::default(),
    };
    let router = crate::api::router(state.clone());
    let (shutdown, rx) = tokio::sync::watch::channel(false);
    let limits = crate::listener::Limits::from_config(&state.config.http);
    if let Some(t) = &tls {
        tracing::warn!(cert = %t.cert_path.display(), sha256 = %t.fingerprint, spki_sha256 = %t.spki_sha256,
            "HTTPS: room PCs trust this certificate by its SHA-256 fingerprint or SPKI hash");
    }
    if !state.config.http.redirect_addr.is_empty() {
        crate::tls::spawn_redirect(
            &state.config.http.redirect_addr,
            &state.public_url,
            rx.clone(),
        )
        .await?;
    }
    let task = tokio::spawn(crate::listener::serve(listener, router, limits, tls, rx));
    tracing::info!(%addr, url = %state.public_url, "giaoban listening");
    Ok(Running {
        addr,
        state,
        shutdown,
        task,
        timers,
    })
}

/// Closes what a crash left open, then starts the persistent consumers of the live events
/// (attendance, audit, invitations), the heartbeat and the webhook deliverer. Returns the channel
/// on which attendance announces changed sessions.
async fn start_consumers(
    config: &Config,
    sfu: &Sfu,
    pool: &Pool,
) -> Result<tokio::sync::broadcast::Sender<Arc<str>>, StartError> {
    let urls = config.webhooks.urls.clone();
    crate::attendance::recover(pool, &urls).await?;
    let bus = sfu.events();
    let (changed, _) = tokio::sync::broadcast::channel(256);
    let wake = Arc::new(tokio::sync::Notify::new());
    let recorder = crate::attendance::Recorder {
        pool: pool.clone(),
        webhook_urls: urls.clone(),
        changed: changed.clone(),
        webhooks: wake.clone(),
    };
    tokio::spawn(recorder.run(bus.persistent("attendance")));
    tokio::spawn(crate::audit::live::run(
        pool.clone(),
        bus.persistent("audit"),
    ));
    tokio::spawn(crate::schedule::live::run(
        pool.clone(),
        bus.persistent("invitations"),
    ));
    tokio::spawn(crate::attendance::heartbeat(
        pool.clone(),
        std::time::Duration::from_secs(config.attendance.heartbeat_secs),
        crate::attendance::thresholds(config),
        config.webhooks.urls.clone(),
        wake.clone(),
    ));
    if !config.webhooks.urls.is_empty() {
        let deliverer =
            crate::webhooks::Deliverer::new(pool.clone(), config.webhooks.clone(), wake);
        tokio::spawn(deliverer.run());
    }
    Ok(changed)
}

/// Finalises the recordings a crash left open, then starts the recording service and its
/// consumer of the live events (timeline, automatic start).
async fn start_recorder(
    config: &Config,
    sfu: &Arc<Sfu>,
    pool: &Pool,
) -> Result<Arc<crate::record::Recorder>, StartError> {
    let dir = config.record_dir();
    crate::record::repair::repair_all(pool, &dir).await?;
    crate::record::composite::fail_unfinished(pool).await?;
    crate::record::retention::spawn_every(
        pool.clone(),
        dir.clone(),
        crate::record::retention::Policy {
            one_off_days: config.record.retention_days,
            recurring_days: config.record.retention_days_recurring,
        },
        std::time::Duration::from_secs(config.record.retention_sweep_minutes * 60),
    );
    let recorder = crate::record::Recorder::new(
        pool.clone(),
        sfu.clone(),
        crate::record::Settings {
            dir,
            max_bytes: config.record.max_bytes,
            queue: config.record.queue,
        },
    );
    tokio::spawn(crate::record::timeline::run(
        recorder.clone(),
        sfu.events().persistent("recording"),
    ));
    Ok(recorder)
}
