//! The OpenAPI 3.1 document of the REST API, generated from the handlers' annotations and the
//! types' schemas (utoipa), served at `GET /api/openapi.json`. The WebSocket protocol is described
//! in docs/protocol.md.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "giaoban API", description = "Online briefings (giao ban trực tuyến): sites, sessions, join links, live counters. Signaling: WebSocket /ws, see docs/protocol.md."),
    paths(super::list_sites, super::create_session, super::get_session,
        super::session_ics, super::join_info, super::stats),
    tags((name = "org", description = "Units and sites"), (name = "sessions", description = "Sessions and join links"), (name = "live", description = "Live state of the SFU"))
)]
struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_is_documented() {
        let doc = serde_json::to_value(super::document()).unwrap();
        for path in [
            "/api/sites",
            "/api/sessions",
            "/api/sessions/{id}",
            "/api/join/{token}",
            "/api/stats",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} missing");
        }
        assert!(doc["components"]["schemas"]["NewSession"].is_object());
        assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    }
}
