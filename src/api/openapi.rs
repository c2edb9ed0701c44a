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
        super::attendance::today, super::attendance::sites,
        super::kiosk::create_pairing, super::kiosk::pair, super::kiosk::current, super::kiosk::events,
        super::site_links::resolve, super::site_links::site_link, super::site_links::reissue,
        super::site_links::revoke, super::site_links::session_links,
        super::org::list_units, super::org::create_unit, super::org::update_unit, super::org::save_site,
        super::health::healthz, super::health::readyz, super::health::metrics_text,
        super::chair::live, super::chair::give_floor, super::chair::revoke_floor,
        super::chair::lower_hand, super::chair::set_mute, super::chair::mute_all, super::chair::set_policy,
        super::chair::stop_share,
        super::agenda::current, super::agenda::set_current, super::agenda::clear_current,
        super::recordings::start, super::recordings::stop, super::recordings::of_session,
        super::recordings::review_list, super::recordings::detail, super::recordings::list_grants,
        super::recordings::add_grant, super::recordings::revoke_grant, super::recordings::set_hold,
        super::recording_files::file, super::recording_files::composite_start,
        super::recording_files::composite_status),
    tags((name = "org", description = "Units and sites"), (name = "sessions", description = "Sessions and join links"), (name = "live", description = "Live state of the SFU"), (name = "accounts", description = "Login, users, room-PC device credentials"), (name = "audit", description = "The hash-chained audit log"), (name = "invitations", description = "Invitations, join links and readiness of sites"), (name = "attendance", description = "Roll call (điểm danh): live board, marks, reports; webhooks in docs/webhooks.md"), (name = "recordings", description = "Recordings (ghi hình): start/stop, files with signed URLs, review, grants"))
)]
struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// Routes that are not part of the REST API: the pages, the WebSocket (docs/protocol.md) and
    /// this document itself. The operations routes (health, readiness, metrics) are documented.
    fn undocumented(path: &str) -> bool {
        let ops = matches!(path, "/healthz" | "/readyz" | "/metrics");
        (!path.starts_with("/api/") && !ops) || path == "/api/openapi.json"
    }

    /// `/a/{id}/b/{x}.ics` → `/a/{}/b/{}`: parameter names differ between router and document.
    fn normalize(path: &str) -> String {
        path.split('/')
            .map(|seg| if seg.contains('{') { "{}" } else { seg })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Every `.route("path", get(..).post(..))` in the crate's sources, as (METHOD, path).
    fn router_routes() -> BTreeSet<(String, String)> {
        let mut files = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        let mut out = BTreeSet::new();
        while let Some(p) = files.pop() {
            if p.is_dir() {
                files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            if p.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            for (at, _) in text.match_indices(".route(") {
                let rest = &text[at + ".route(".len()..];
                // The argument list up to the matching parenthesis.
                let mut depth = 1;
                let end = rest
                    .char_indices()
                    .find(|&(_, c)| {
                        depth += match c {
                            '(' => 1,
                            ')' => -1,
                            _ => 0,
                        };
                        depth == 0
                    })
                    .map(|(i, _)| i);
                let Some(end) = end else {
                    continue;
                };
                let args = &rest[..end];
                let Some(path) = args.split('"').nth(1) else {
                    continue;
                };
                if undocumented(path) {
                    continue;
                }
                let Some(comma) = args.find(',') else {
                    continue;
                };
                let after = &args[comma..];
                for m in ["get", "post", "put", "patch", "delete"] {
                    let called = after.match_indices(&format!("{m}(")).any(|(i, _)| {
                        let before = after.as_bytes()[i - 1];
                        !before.is_ascii_alphanumeric() && before != b'_'
                    });
                    if called {
                        out.insert((m.to_uppercase(), normalize(path)));
                    }
                }
            }
        }
        out
    }

    fn documented_routes() -> BTreeSet<(String, String)> {
        let doc = serde_json::to_value(super::document()).unwrap();
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                out.insert((method.to_uppercase(), normalize(path)));
            }
        }
        out
    }

    #[test]
    fn the_document_lists_exactly_the_routes_of_the_router() {
        let router = router_routes();
        let doc = documented_routes();
        assert!(router.len() > 20, "found only {router:?}");
        let missing: Vec<_> = router.difference(&doc).collect();
        let extra: Vec<_> = doc.difference(&router).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "routes without documentation: {missing:?}\ndocumented routes that do not exist: {extra:?}"
        );
        assert!(router.contains(&("GET".into(), "/api/units".into())));
        assert!(router.contains(&("PUT".into(), "/api/sites/{}".into())));
    }

    #[test]
    fn schemas_are_in_the_document() {
        let doc = serde_json::to_value(super::document()).unwrap();
        assert!(doc["paths"]["/api/sessions/{id}"]["patch"].is_object());
        for schema in [
            "SessionInput",
            "ConflictReport",
            "ErrorBody",
            "Unit",
            "SiteBody",
        ] {
            assert!(
                doc["components"]["schemas"][schema].is_object(),
                "{schema} missing"
            );
        }
    }
}
