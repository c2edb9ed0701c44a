//! Wiring: opens the store, loads the organisation, builds the SFU and the HTTP router, and binds
//! the listener. [`start`] is what `giaoban serve` runs and what the integration tests start on
//! an ephemeral port with a temporary data directory.

use crate::auth::TokenKey;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::sfu::Sfu;
use crate::sfu::engine::{MediaSettings, PortPool};
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
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("join token key: {0}")]
    Key(std::io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// Store, token key and organisation: what both `serve` and the CLI commands need.
pub async fn open_state(config: Config) -> Result<(Pool, TokenKey, Config), StartError> {
    let pool = store::open(&config.data.dir).await?;
    store::org::upsert_from_config(&pool, &config.org.units).await?;
    let key = TokenKey::load_or_create(&config.auth.token_secret, &config.data.dir)
        .map_err(StartError::Key)?;
    Ok((pool, key, config))
}

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting, lets open requests finish, and waits for the server task.
    pub async fn stop(self) {
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
    let public_url: Arc<str> = if config.http.public_url.is_empty() {
        format!("http://{addr}").into()
    } else {
        config.public_url().into()
    };
    let metrics = Arc::new(Metrics::default());
    let ports = PortPool::new(config.media.port_min, config.media.port_max);
    let sfu = Arc::new(Sfu::new(
        MediaSettings::from_config(&config.media),
        ports,
        metrics.clone(),
    ));
    spawn_event_log(&sfu, pool.clone());
    let state = AppState {
        config: Arc::new(config),
        pool,
        token_key,
        sfu,
        metrics,
        public_url,
    };
    let router = crate::api::router(state.clone());
    let (shutdown, mut rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let router = router.into_make_service_with_connect_info::<SocketAddr>();
        let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
            let _ = rx.wait_for(|stop| *stop).await;
        });
        if let Err(e) = serve.await {
            tracing::error!("http server: {e}");
        }
    });
    tracing::info!(%addr, "giaoban listening");
    Ok(Running {
        addr,
        state,
        shutdown,
        task,
    })
}

/// Logs the SFU's events and writes joins and leaves to the audit log. It runs beside the SFU on
/// a broadcast channel: if the database is slow it lags (and says so), the SFU never waits.
fn spawn_event_log(sfu: &Sfu, pool: Pool) {
    use crate::audit::actions::{SITE_JOIN, SITE_LEAVE};
    use crate::sfu::SfuEvent;
    let mut rx = sfu.subscribe_events();
    tokio::spawn(async move {
        loop {
            let event = match rx.recv().await {
                Ok(event) => event,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("event log lagged by {n}");
                    continue;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            };
            tracing::info!(?event, "sfu");
            let (site, action, session, detail) = match &event {
                SfuEvent::Joined {
                    session_id,
                    site_id,
                    participant_id,
                } => (
                    site_id,
                    SITE_JOIN,
                    session_id,
                    serde_json::json!({ "participant_id": participant_id }),
                ),
                SfuEvent::Left {
                    session_id,
                    site_id,
                    reason,
                } => (
                    site_id,
                    SITE_LEAVE,
                    session_id,
                    serde_json::json!({ "reason": reason }),
                ),
                _ => continue,
            };
            let actor = format!("site:{site}");
            if let Err(e) = crate::audit::append(&pool, &actor, action, session, detail).await {
                tracing::error!("audit log: {e}");
            }
        }
    });
}
