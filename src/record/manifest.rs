//! A recording's manifest (`manifest.json` in its folder): the session, each file with its site
//! and its start offset on the recording's clock, and the timeline. Written from the database
//! (the source of truth) at start, at stop and after a repair, atomically (temporary file, then
//! rename), so a reader never sees half of one.

use super::store::{self, EventRow, FileRow, RecordingRow};
use crate::store::{Pool, StoreError};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const FILE: &str = "manifest.json";

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Manifest {
    pub version: u32,
    pub recording_id: String,
    pub session_id: String,
    pub title: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub stopped_at: Option<chrono::DateTime<chrono::Utc>>,
    pub status: String,
    pub host_site_id: String,
    pub files: Vec<ManifestFile>,
    pub timeline: Vec<EventRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ManifestFile {
    pub file: String,
    pub site_id: String,
    pub site_name: String,
    pub offset_ms: i64,
    pub duration_ms: Option<i64>,
    pub bytes: Option<i64>,
    pub status: String,
}

impl From<FileRow> for ManifestFile {
    fn from(f: FileRow) -> Self {
        ManifestFile {
            file: f.name,
            site_id: f.site_id,
            site_name: f.site_name,
            offset_ms: f.offset_ms,
            duration_ms: f.duration_ms,
            bytes: f.bytes,
            status: f.status,
        }
    }
}

/// The manifest of a recording as the database has it.
pub async fn build(pool: &Pool, rec: &RecordingRow) -> Result<Manifest, StoreError> {
    let session = crate::store::sessions::get(pool, &rec.session_id).await?;
    let (title, host) = session
        .map(|s| (s.title, s.host_site_id))
        .unwrap_or_default();
    Ok(Manifest {
        version: 1,
        recording_id: rec.id.clone(),
        session_id: rec.session_id.clone(),
        title,
        started_at: rec.started_at,
        stopped_at: rec.stopped_at,
        status: rec.status.clone(),
        host_site_id: host,
        files: store::files(pool, &rec.id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
        timeline: store::events(pool, &rec.id).await?,
    })
}

/// Writes `<dir>/manifest.json` for recording `id` (errors are logged: the database keeps it all).
pub async fn write(pool: &Pool, dir: &Path, id: &str) {
    let result = async {
        let Some(rec) = store::get(pool, id).await? else {
            return Ok(());
        };
        let m = build(pool, &rec).await?;
        let text = serde_json::to_vec_pretty(&m).expect("manifest serializes");
        let tmp = dir.join(format!("{FILE}.tmp"));
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, dir.join(FILE)))
            .map_err(|e| StoreError::DataDir {
                path: dir.display().to_string(),
                source: e,
            })
    }
    .await;
    if let Err(e) = result {
        tracing::error!(recording = %id, "manifest: {e}");
    }
}
