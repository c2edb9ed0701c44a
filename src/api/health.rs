//! Operations endpoints, without login (for probes and a Prometheus scraper; expose them on the
//! monitoring network only): `GET /healthz` (the process answers, and says it is giaoban),
//! `GET /readyz` (the database answers: ready to take sessions) and `GET /metrics` (the counters
//! in Prometheus text format, see `metrics::prometheus`).

use crate::app::AppState;
use crate::metrics::{self, prometheus};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
}

/// The process is up. Names the service and its version (the load tester checks it).
#[utoipa::path(get, path = "/healthz", tag = "live",
    responses((status = 200, description = "`{\"status\":\"ok\",\"service\":\"giaoban\",\"version\":…}`")))]
pub(crate) async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok", "service": "giaoban", "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// Ready to serve: the database answers within 2 s.
#[utoipa::path(get, path = "/readyz", tag = "live",
    responses((status = 200, description = "ready"), (status = 503, description = "the database does not answer")))]
pub(crate) async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    let probe = sqlx::query_scalar::<_, i64>("SELECT 1").fetch_one(&app.pool);
    match tokio::time::timeout(std::time::Duration::from_secs(2), probe).await {
        Ok(Ok(_)) => (StatusCode::OK, Json(serde_json::json!({ "ready": true }))),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "ready": false, "reason": format!("database: {e}") })),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "ready": false, "reason": "database: no answer in 2 s" })),
        ),
    }
}

/// Sessions, participants, tracks, packets and bytes in/out, drops, NACKs, PLIs, per-session
/// loss, process CPU and memory, in Prometheus text format 0.0.4.
#[utoipa::path(get, path = "/metrics", tag = "live",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub(crate) async fn metrics_text(State(app): State<AppState>) -> impl IntoResponse {
    let (live_sessions, live_sites) = app.sfu.live();
    let snapshot = app.metrics.snapshot(app.sfu.ports_in_use());
    let sessions = app.metrics.sessions();
    let text = prometheus::render(&prometheus::Scrape {
        snapshot: &snapshot,
        live_sessions,
        live_sites,
        sessions: &sessions,
        process: metrics::process::sample("self").ok(),
        heap: crate::memory::heap_stats(),
        stack_log_events: crate::logging::stack_events(),
    });
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}
