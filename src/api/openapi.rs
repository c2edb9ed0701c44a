//! The OpenAPI 3.1 document of the REST API, generated from the handlers' annotations and the
//! types' schemas (utoipa), served at `GET /api/openapi.json`. The WebSocket protocol is described
//! in docs/protocol.md.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "giaoban API", description = "Online briefings (giao ban trực tuyến): sites, sessions, join links, live counters. Signaling: WebSocket /ws, see docs/protocol.md."),
    paths(super::list_sites, super::sessions::create, super::sessions::list,
        super::sessions::detail, super::sessions::update, super::sessions::cancel,
        super::sessions::session_ics, super::sessions::site_ics, super::sessions::user_ics, super::sessions::my_links,
        super::join_info, super::stats,
        super::auth::login, super::auth::logout, super::auth::me, super::auth::list_users,
        super::auth::create_user, super::auth::create_device, super::auth::list_devices,
        super::auth::revoke_device, super::auth::audit_list, super::auth::audit_verify,
        super::invitations::board, super::invitations::reissue, super::invitations::revoke,
        super::invitations::set_status, super::invitations::test_result,
        super::attendance::attendance, super::attendance::attendance_csv,
        super::attendance::attendance_xlsx, super::attendance::stream, super::attendance::mark,
        super::attendance::today, super::attendance::sites),
    tags((name = "org", description = "Units and sites"), (name = "sessions", description = "Sessions and join links"), (name = "live", description = "Live state of the SFU"), (name = "accounts", description = "Login, users, room-PC device credentials"), (name = "audit", description = "The hash-chained audit log"), (name = "invitations", description = "Invitations, join links and readiness of sites"), (name = "attendance", description = "Roll call (điểm danh): live board, marks, reports; webhooks in docs/webhooks.md"))
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
            "/api/sessions/{id}/invitations",
            "/api/sessions/{id}/invitations/{site_id}/reissue",
            "/api/sessions/{id}/invitations/{site_id}/revoke",
            "/api/sessions/{id}/invitations/{site_id}/status",
            "/api/join/{token}/test-result",
            "/api/sessions/{id}/attendance",
            "/api/sessions/{id}/attendance.csv",
            "/api/sessions/{id}/attendance.xlsx",
            "/api/sessions/{id}/attendance/stream",
            "/api/sessions/{id}/attendance/marks",
            "/api/attendance/today",
            "/api/attendance/sites",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} missing");
        }
        for path in [
            "/api/sessions/{id}/cancel",
            "/api/sessions/{id}/calendar.ics",
            "/api/calendar/site/{site_id}.ics",
            "/api/calendar/user/{user_id}.ics",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} missing");
        }
        assert!(doc["paths"]["/api/sessions/{id}"]["patch"].is_object());
        assert!(doc["components"]["schemas"]["SessionInput"].is_object());
        assert!(doc["components"]["schemas"]["ConflictReport"].is_object());
        assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    }
}
