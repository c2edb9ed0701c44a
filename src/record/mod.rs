//! Recordings (*ghi hình*): per-site WebM files without re-encoding, on one session clock.
//!
//! [`Recorder`] is the service: it starts a recording (a folder under `<data>/recordings/<id>`,
//! a database row, the SFU's taps through [`Active`], the audit entry and the `recording` notice
//! every site sees), stops it (the taps go, each site's file is finalised, the manifest is
//! written), and follows the live events (`timeline`): the session's events go to the timeline,
//! a site that leaves closes its file, and a "record automatically" session starts when its host
//! site joins. Each site's presence is one task (`site`) writing one file; `clock` puts frames on
//! the session clock; `repair` finalises what a crash left; `manifest` describes a recording.

pub mod assemble;
pub mod clock;
pub mod composite;
pub mod control;
pub mod grants;
pub mod manifest;
pub mod repair;
pub mod retention;
pub mod signed;
pub mod site;
pub mod store;
pub mod timeline;
pub mod webm_file;

use crate::sfu::Sfu;
use crate::sfu::forward::{PublishedTrack, Tap, TapSource};
use crate::store::{Pool, StoreError};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc;
use uuid::Uuid;
use webm_file::Budget;

/// Why a recording cannot start or stop.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("session {0} does not exist")]
    NoSession(String),
    #[error("session {0} is classified: it cannot be recorded")]
    Classified(String),
    #[error("session {0} is cancelled")]
    Cancelled(String),
    #[error("session {session} is already being recorded (recording {recording})")]
    AlreadyRecording { session: String, recording: String },
    #[error("session {0} is not being recorded")]
    NotRecording(String),
    #[error("cannot create the recording folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `[record]` settings the service uses.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `<data>/recordings`.
    pub dir: PathBuf,
    /// Bytes one recording may write (0: no limit).
    pub max_bytes: u64,
    /// Packets a site's recorder queue holds before it drops.
    pub queue: usize,
}

/// A recording that runs: what the SFU's taps and the timeline need.
pub struct Active {
    pub id: String,
    pub session_id: String,
    pub started_at: DateTime<Utc>,
    pub epoch: Instant,
    pub dir: PathBuf,
    pub budget: Arc<Budget>,
    pub dropped: Arc<AtomicU64>,
    queue: usize,
    pool: Pool,
    failed: mpsc::UnboundedSender<String>,
    /// Per participant (a site's presence): its queue's sending end and its task.
    sites: Mutex<HashMap<Uuid, SiteEntry>>,
    /// Files per site so far (for names).
    parts: Mutex<HashMap<String, u32>>,
}

struct SiteEntry {
    tx: Option<mpsc::Sender<site::SiteMsg>>,
    task: Option<tokio::task::JoinHandle<site::Outcome>>,
}

impl Active {
    /// Ms on the recording's clock of a wall-clock instant.
    pub fn at_ms(&self, at: DateTime<Utc>) -> i64 {
        (at - self.started_at).num_milliseconds().max(0)
    }

    fn file_name(&self, site_id: &str) -> String {
        let mut parts = self.parts.lock().expect("parts");
        let n = parts.entry(site_id.to_string()).or_insert(0);
        *n += 1;
        let safe: String = site_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{safe}-{n}.webm")
    }

    /// Closes the file of a participant that left (its taps went with its tracks).
    pub fn close_participant(&self, participant: Uuid) {
        if let Some(e) = self.sites.lock().expect("sites").get_mut(&participant) {
            e.tx = None;
        }
    }

    /// Closes every file: drops the queues' last senders and waits for the tasks.
    async fn close_all(&self) -> Vec<site::Outcome> {
        let tasks: Vec<_> = {
            let mut sites = self.sites.lock().expect("sites");
            sites
                .values_mut()
                .filter_map(|e| {
                    e.tx = None;
                    e.task.take()
                })
                .collect()
        };
        let mut out = Vec::new();
        for t in tasks {
            // A tap still held somewhere would keep a file open: do not hang the stop on it (the
            // task finalises its file whenever the last tap goes).
            match tokio::time::timeout(std::time::Duration::from_secs(10), t).await {
                Ok(Ok(o)) => out.push(o),
                Ok(Err(e)) => tracing::error!(recording = %self.id, "site recorder: {e}"),
                Err(_) => tracing::error!(recording = %self.id, "a site's file is still open"),
            }
        }
        out
    }
}

impl TapSource for Active {
    fn tap(&self, track: &PublishedTrack) -> Option<Arc<dyn Tap>> {
        let mut sites = self.sites.lock().expect("sites");
        let entry = sites.entry(track.owner).or_insert_with(|| SiteEntry {
            tx: None,
            task: None,
        });
        if entry.tx.is_none() && entry.task.is_some() {
            // This participant's file was closed: a track it publishes after leaving is not kept.
            return None;
        }
        let tx = match &entry.tx {
            Some(tx) => tx.clone(),
            None => {
                let (tx, rx) = mpsc::channel(self.queue);
                let spec = site::SiteSpec {
                    recording_id: self.id.clone(),
                    site_id: track.site_id.clone(),
                    site_name: track.site_name.clone(),
                    dir: self.dir.clone(),
                    name: self.file_name(&track.site_id),
                    epoch: self.epoch,
                    budget: self.budget.clone(),
                    pool: self.pool.clone(),
                };
                entry.task = Some(tokio::spawn(site::run(spec, rx, self.failed.clone())));
                entry.tx = Some(tx.clone());
                tx
            }
        };
        Some(Arc::new(site::SiteTap {
            kind: track.kind,
            tx,
            dropped: self.dropped.clone(),
        }))
    }
}

/// The recording service.
pub struct Recorder {
    pub pool: Pool,
    pub sfu: Arc<Sfu>,
    pub settings: Settings,
    active: Mutex<HashMap<String, Arc<Active>>>,
    /// (session id, reason) of recordings that failed while running: stopped by a task.
    failures: mpsc::UnboundedSender<(String, String)>,
}

/// A recording as `start` and `stop` return it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Started {
    pub recording_id: String,
    pub session_id: String,
    pub started_at: DateTime<Utc>,
}

impl Recorder {
    /// The service, and the task that stops recordings whose writing failed.
    pub fn new(pool: Pool, sfu: Arc<Sfu>, settings: Settings) -> Arc<Recorder> {
        let (failures, mut rx) = mpsc::unbounded_channel::<(String, String)>();
        let me = Arc::new(Recorder {
            pool,
            sfu,
            settings,
            active: Mutex::new(HashMap::new()),
            failures,
        });
        let weak = Arc::downgrade(&me);
        tokio::spawn(async move {
            while let Some((session, reason)) = rx.recv().await {
                let Some(me) = weak.upgrade() else { break };
                tracing::error!(%session, "recording stopped: {reason}");
                let _ = me.stop_with(&session, "system", Some(reason)).await;
            }
        });
        me
    }

    /// The recording running in a session.
    pub fn active(&self, session_id: &str) -> Option<Arc<Active>> {
        self.active.lock().expect("active").get(session_id).cloned()
    }

    /// Starts recording a session. Refused for a classified or cancelled session and when one
    /// runs already.
    pub async fn start(&self, session_id: &str, actor: &str) -> Result<Started, RecordError> {
        let session = crate::store::sessions::get(&self.pool, session_id)
            .await?
            .ok_or_else(|| RecordError::NoSession(session_id.to_string()))?;
        if session.classified {
            return Err(RecordError::Classified(session_id.to_string()));
        }
        if session.is_cancelled() {
            return Err(RecordError::Cancelled(session_id.to_string()));
        }
        let id = Uuid::new_v4().to_string();
        let dir = self.settings.dir.join(&id);
        let started_at = Utc::now();
        let (failed_tx, mut failed_rx) = mpsc::unbounded_channel::<String>();
        let active = Arc::new(Active {
            id: id.clone(),
            session_id: session_id.to_string(),
            started_at,
            epoch: Instant::now(),
            dir: dir.clone(),
            budget: Arc::new(Budget::new(self.settings.max_bytes)),
            dropped: Arc::new(AtomicU64::new(0)),
            queue: self.settings.queue,
            pool: self.pool.clone(),
            failed: failed_tx,
            sites: Mutex::new(HashMap::new()),
            parts: Mutex::new(HashMap::new()),
        });
        {
            let mut map = self.active.lock().expect("active");
            if let Some(a) = map.get(session_id) {
                return Err(RecordError::AlreadyRecording {
                    session: session_id.to_string(),
                    recording: a.id.clone(),
                });
            }
            map.insert(session_id.to_string(), active.clone());
        }
        let created = std::fs::create_dir_all(&dir).map_err(|source| RecordError::Folder {
            path: dir.display().to_string(),
            source,
        });
        let stored = match created {
            Ok(()) => store::insert(&self.pool, &id, session_id, started_at, actor)
                .await
                .map_err(RecordError::from),
            Err(e) => Err(e),
        };
        if let Err(e) = stored {
            self.active.lock().expect("active").remove(session_id);
            return Err(e);
        }
        let detail = serde_json::json!({ "recording_id": id, "by": actor });
        store::add_event(&self.pool, &id, 0, "recording_started", None, &detail).await?;
        crate::audit::append(
            &self.pool,
            actor,
            crate::audit::actions::RECORDING_START,
            &format!("session:{session_id}"),
            detail,
        )
        .await?;
        manifest::write(&self.pool, &dir, &id).await;
        let failures = self.failures.clone();
        let session = session_id.to_string();
        tokio::spawn(async move {
            if let Some(reason) = failed_rx.recv().await {
                let _ = failures.send((session, reason));
            }
        });
        self.sfu.start_recording(
            session_id,
            crate::sfu::recording::Recording {
                recording_id: id.clone(),
                source: active,
            },
        );
        tracing::info!(session = %session_id, recording = %id, "recording started");
        Ok(Started {
            recording_id: id,
            session_id: session_id.to_string(),
            started_at,
        })
    }

    /// Stops the recording of a session: files finalised, manifest written, audit entry.
    pub async fn stop(&self, session_id: &str, actor: &str) -> Result<Started, RecordError> {
        self.stop_with(session_id, actor, None).await
    }

    async fn stop_with(
        &self,
        session_id: &str,
        actor: &str,
        error: Option<String>,
    ) -> Result<Started, RecordError> {
        let active = self
            .active
            .lock()
            .expect("active")
            .remove(session_id)
            .ok_or_else(|| RecordError::NotRecording(session_id.to_string()))?;
        self.sfu.stop_recording(session_id, error.clone());
        let outcomes = active.close_all().await;
        let error = error.or_else(|| outcomes.iter().find_map(|o| o.error.clone()));
        let stopped_at = Utc::now();
        let at_ms = active.at_ms(stopped_at);
        let detail = serde_json::json!({
            "recording_id": active.id, "by": actor, "error": error,
            "dropped_packets": active.dropped.load(Relaxed),
        });
        store::add_event(
            &self.pool,
            &active.id,
            at_ms,
            "recording_stopped",
            None,
            &detail,
        )
        .await?;
        let status = if error.is_some() {
            "failed"
        } else {
            "complete"
        };
        store::finish(
            &self.pool,
            &active.id,
            status,
            stopped_at,
            actor,
            error.as_deref(),
            active.dropped.load(Relaxed),
        )
        .await?;
        crate::audit::append(
            &self.pool,
            actor,
            crate::audit::actions::RECORDING_STOP,
            &format!("session:{session_id}"),
            detail,
        )
        .await?;
        manifest::write(&self.pool, &active.dir, &active.id).await;
        tracing::info!(session = %session_id, recording = %active.id, "recording stopped");
        Ok(Started {
            recording_id: active.id.clone(),
            session_id: session_id.to_string(),
            started_at: active.started_at,
        })
    }

    /// Stops every running recording (server stop).
    pub async fn stop_all(&self) {
        let sessions: Vec<String> = self
            .active
            .lock()
            .expect("active")
            .keys()
            .cloned()
            .collect();
        for s in sessions {
            let _ = self.stop(&s, "system:server-stop").await;
        }
    }
}
