//! The role matrix for scoped principals: every role scoped to a unit, to a site, and a room
//! PC's device credential, on every route inside its scope and outside it. Outside is always 403
//! and changes nothing; lists, boards and reports keep only what is in scope.

use super::*;

/// Inside the scope of the principals below: a ward and its meeting room.
const UNIT_IN: &str = "phuong-ba-dinh";
const SITE_IN: &str = "phuong-ba-dinh-phonghop";
/// Outside: a department and its meeting room.
const UNIT_OUT: &str = "so-y-te";
const SITE_OUT: &str = "so-y-te-phonghop";

/// How a route relates to scope.
enum Kind {
    /// The directory and one's own account: the same for every scope.
    Open,
    /// Organisation-wide: a scoped grant never opens it.
    Org,
    /// Acts on a site, a session or a unit: `inside` is in the principal's scope, `outside` not.
    /// `unit_only`: the target is a unit, which a site-scoped grant does not cover.
    Scoped { unit_only: bool },
}

struct ScopedRoute {
    kind: Kind,
    inside: Route,
    outside: Route,
}

fn open(r: Route) -> ScopedRoute {
    let outside = route(r.method, &r.path, r.body.clone(), r.allowed);
    ScopedRoute {
        kind: Kind::Open,
        inside: r,
        outside,
    }
}

fn org(r: Route) -> ScopedRoute {
    let outside = route(r.method, &r.path, r.body.clone(), r.allowed);
    ScopedRoute {
        kind: Kind::Org,
        inside: r,
        outside,
    }
}

fn scoped(unit_only: bool, inside: Route, outside: Route) -> ScopedRoute {
    ScopedRoute {
        kind: Kind::Scoped { unit_only },
        inside,
        outside,
    }
}

/// The fixtures one principal's routes act on.
struct Fixture {
    /// Hosted inside (invites SITE_IN and SITE_OUT), with a start: listed in WEEK.
    session_in: String,
    /// Hosted outside (invites SITE_OUT only), listed in WEEK.
    session_out: String,
    /// A throwaway session hosted inside, for the routes that change things when allowed.
    scratch: String,
    device_in: String,
    device_out: String,
    admin_id: String,
}

const WEEK: &str = "2026-W49";
const DAY1: &str = "2026-11-30";
const DAY7: &str = "2026-12-06";

fn scoped_routes(f: &Fixture) -> Vec<ScopedRoute> {
    let (a, b, c) = (&f.session_in, &f.session_out, &f.scratch);
    let session_body = |host: &str| json!({"title": "", "host_site_id": host, "site_ids": [host]});
    let unit_body = |parent: &str| {
        json!({"id": "Bad Id", "name": "x", "kind": "ward", "parent_id": parent,
               "valid_from": "2025-07-01"})
    };
    let get = |path: &str, allowed| route("GET", path, Value::Null, allowed);
    vec![
        open(get("/api/me", ALL)),
        open(get("/api/sites", ALL)),
        open(get("/api/units", ALL)),
        open(get("/api/calendar/links", ALL)),
        // Lists filtered to the scope (their content is checked below).
        open(get("/api/attendance/today", READERS)),
        open(get(
            &format!("/api/attendance/sites?from={DAY1}&to={DAY7}"),
            READERS,
        )),
        org(get("/api/stats", &[Admin, Operator, Secretariat])),
        org(get("/api/users", &[Admin])),
        org(route("POST", "/api/users", json!({}), &[Admin])),
        org(get("/api/audit", &[Auditor, Admin])),
        org(get("/api/audit/verify", &[Auditor, Admin])),
        org(get(
            &format!("/api/calendar/user/{}.ics", f.admin_id),
            &[Admin, Secretariat],
        )),
        // A unit without a parent is the whole organisation's.
        org(route(
            "POST",
            "/api/units",
            unit_body("")
                .as_object()
                .map(|o| {
                    let mut o = o.clone();
                    o.remove("parent_id");
                    Value::Object(o)
                })
                .unwrap(),
            &[Admin],
        )),
        scoped(
            true,
            route("POST", "/api/units", unit_body(UNIT_IN), &[Admin]),
            route("POST", "/api/units", unit_body(UNIT_OUT), &[Admin]),
        ),
        scoped(
            true,
            route(
                "PATCH",
                &format!("/api/units/{UNIT_IN}"),
                json!({"name": ""}),
                &[Admin],
            ),
            route(
                "PATCH",
                &format!("/api/units/{UNIT_OUT}"),
                json!({"name": ""}),
                &[Admin],
            ),
        ),
        scoped(
            true,
            route(
                "PUT",
                &format!("/api/sites/{SITE_IN}"),
                json!({"unit_id": UNIT_IN, "name": ""}),
                &[Admin],
            ),
            route(
                "PUT",
                &format!("/api/sites/{SITE_OUT}"),
                json!({"unit_id": UNIT_OUT, "name": ""}),
                &[Admin],
            ),
        ),
        scoped(
            false,
            get(&format!("/api/sites/{SITE_IN}/devices"), WRITERS),
            get(&format!("/api/sites/{SITE_OUT}/devices"), WRITERS),
        ),
        scoped(
            false,
            route(
                "POST",
                &format!("/api/sites/{SITE_IN}/devices"),
                json!({"label": ""}),
                WRITERS,
            ),
            route(
                "POST",
                &format!("/api/sites/{SITE_OUT}/devices"),
                json!({"label": "x"}),
                WRITERS,
            ),
        ),
        scoped(
            false,
            route(
                "POST",
                &format!("/api/devices/{}/revoke", f.device_in),
                json!({}),
                WRITERS,
            ),
            route(
                "POST",
                &format!("/api/devices/{}/revoke", f.device_out),
                json!({}),
                WRITERS,
            ),
        ),
        scoped(
            false,
            route("POST", "/api/sessions", session_body(SITE_IN), WRITERS),
            route("POST", "/api/sessions", session_body(SITE_OUT), WRITERS),
        ),
        scoped(
            false,
            get(&format!("/api/sessions/{a}"), READERS),
            get(&format!("/api/sessions/{b}"), READERS),
        ),
        scoped(
            false,
            get(&format!("/api/sessions/{a}/calendar.ics"), READERS),
            get(&format!("/api/sessions/{b}/calendar.ics"), READERS),
        ),
        scoped(
            false,
            get(&format!("/api/sessions/{a}/attendance"), READERS),
            get(&format!("/api/sessions/{b}/attendance"), READERS),
        ),
        scoped(
            false,
            get(&format!("/api/sessions/{a}/attendance.csv"), READERS),
            get(&format!("/api/sessions/{b}/attendance.csv"), READERS),
        ),
        scoped(
            false,
            get(&format!("/api/sessions/{a}/attendance.xlsx"), READERS),
            get(&format!("/api/sessions/{b}/attendance.xlsx"), READERS),
        ),
        scoped(
            false,
            get(&format!("/api/sessions/{a}/attendance/stream"), READERS),
            get(&format!("/api/sessions/{b}/attendance/stream"), READERS),
        ),
        scoped(
            false,
            route(
                "POST",
                &format!("/api/sessions/{a}/attendance/marks"),
                json!({}),
                WRITERS,
            ),
            route(
                "POST",
                &format!("/api/sessions/{b}/attendance/marks"),
                json!({"site_id": SITE_OUT, "status": "absent"}),
                WRITERS,
            ),
        ),
        scoped(
            false,
            get(&format!("/api/calendar/site/{SITE_IN}.ics"), SITE_READERS),
            get(&format!("/api/calendar/site/{SITE_OUT}.ics"), SITE_READERS),
        ),
        scoped(
            false,
            get(&format!("/api/sessions/{a}/invitations"), BOARD),
            get(&format!("/api/sessions/{b}/invitations"), BOARD),
        ),
        scoped(
            false,
            route(
                "PATCH",
                &format!("/api/sessions/{a}"),
                json!({"scope": "nonsense"}),
                WRITERS,
            ),
            route(
                "PATCH",
                &format!("/api/sessions/{b}"),
                json!({"title": "Đã sửa"}),
                WRITERS,
            ),
        ),
        scoped(
            false,
            route(
                "POST",
                &format!("/api/sessions/{c}/invitations/{SITE_IN}/status"),
                json!({"status": "confirmed"}),
                &[Admin, Secretariat, SiteOperator],
            ),
            route(
                "POST",
                &format!("/api/sessions/{b}/invitations/{SITE_OUT}/status"),
                json!({"status": "confirmed"}),
                &[Admin, Secretariat, SiteOperator],
            ),
        ),
        scoped(
            false,
            route(
                "POST",
                &format!("/api/sessions/{c}/invitations/{SITE_OUT}/reissue"),
                json!({}),
                WRITERS,
            ),
            route(
                "POST",
                &format!("/api/sessions/{b}/invitations/{SITE_OUT}/reissue"),
                json!({}),
                WRITERS,
            ),
        ),
        scoped(
            false,
            route(
                "POST",
                &format!("/api/sessions/{c}/invitations/{SITE_OUT}/revoke"),
                json!({}),
                WRITERS,
            ),
            route(
                "POST",
                &format!("/api/sessions/{b}/invitations/{SITE_OUT}/revoke"),
                json!({}),
                WRITERS,
            ),
        ),
        scoped(
            false,
            route(
                "POST",
                &format!("/api/sessions/{c}/cancel"),
                json!({"scope": "this"}),
                WRITERS,
            ),
            route(
                "POST",
                &format!("/api/sessions/{b}/cancel"),
                json!({"scope": "this"}),
                WRITERS,
            ),
        ),
    ]
}

const SITE_READERS: &[Role] = &[Admin, Secretariat, Operator, Chair, Auditor, SiteOperator];
const BOARD: &[Role] = &[Admin, Secretariat, Operator, SiteOperator];

/// Who is asking: a role scoped to UNIT_IN or to SITE_IN, or SITE_IN's room PC.
#[derive(Clone, Copy, Debug)]
enum Who {
    Unit(Role),
    Site(Role),
    Device,
}

impl Who {
    fn role(self) -> Role {
        match self {
            Who::Unit(r) | Who::Site(r) => r,
            Who::Device => SiteOperator,
        }
    }
}

async fn scoped_client(server: &TestServer, who: Who) -> ApiClient {
    use giaoban::auth::Grant;
    let pool = &server.running.state.pool;
    if let Who::Device = who {
        let token = insert_device(server, SITE_IN).await.1;
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
        return ApiClient {
            client: reqwest::Client::builder()
                .default_headers(headers)
                .build()
                .unwrap(),
            base: server.http_url(),
            csrf: String::new(),
            username: "device".into(),
        };
    }
    let (unit_id, site_id) = match who {
        Who::Unit(_) => (Some(UNIT_IN.to_string()), None),
        _ => (None, Some(SITE_IN.to_string())),
    };
    let username = format!("scoped-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let new = giaoban::auth::users::NewUser {
        username: username.clone(),
        display_name: format!("Người dùng phạm vi – {who:?}"),
        password: PASSWORD.into(),
        grants: vec![Grant {
            role: who.role(),
            unit_id,
            site_id,
        }],
    };
    giaoban::auth::users::create(pool, &new, "test")
        .await
        .unwrap();
    server.login_as(&username, PASSWORD).await.expect("login")
}

/// A live device credential of `site`: (id, token).
async fn insert_device(server: &TestServer, site: &str) -> (String, String) {
    use giaoban::store::accounts::{DeviceRow, insert_device};
    let token = giaoban::auth::password::new_token("gbd_");
    let row = DeviceRow {
        id: uuid::Uuid::new_v4().to_string(),
        site_id: site.into(),
        label: "Máy phòng họp".into(),
        created_by: "test".into(),
        created_at: chrono::Utc::now(),
        revoked_at: None,
    };
    let hash = giaoban::auth::password::token_hash(&token);
    insert_device(&server.running.state.pool, &row, &hash)
        .await
        .unwrap();
    (row.id, token)
}

async fn create(admin: &ApiClient, host: &str, sites: &[&str], start: Option<&str>) -> String {
    let mut req = json!({"title": "Giao ban phạm vi", "host_site_id": host, "site_ids": sites});
    if let Some(start) = start {
        req["starts_at"] = start.into();
        req["ends_at"] = start.replace("T02:", "T03:").into();
    }
    let (status, body) = body(admin.post("/api/sessions", &req).await).await;
    assert_eq!(status, 201, "{body}");
    body["session_id"].as_str().unwrap().to_string()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoped_roles_act_only_inside_their_scope() {
    let server = TestServer::start().await;
    let admin = server.login(Admin).await;
    let admin_id = body(admin.get("/api/me").await).await.1["identity"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let session_in = create(
        &admin,
        SITE_IN,
        &[SITE_IN, SITE_OUT],
        Some("2026-12-01T02:00:00Z"),
    )
    .await;
    let session_out = create(&admin, SITE_OUT, &[SITE_OUT], Some("2026-12-02T02:00:00Z")).await;
    let board_out = body(
        admin
            .get(&format!("/api/sessions/{session_out}/invitations"))
            .await,
    )
    .await
    .1;
    let (device_out, _) = insert_device(&server, SITE_OUT).await;

    let mut who = vec![Who::Device];
    for role in Role::ALL {
        if role != SiteOperator {
            who.push(Who::Unit(role));
        }
        who.push(Who::Site(role));
    }
    let mut failures = Vec::new();
    for w in who {
        let client = scoped_client(&server, w).await;
        let fixture = Fixture {
            session_in: session_in.clone(),
            session_out: session_out.clone(),
            scratch: create(&admin, SITE_IN, &[SITE_IN, SITE_OUT], None).await,
            device_in: insert_device(&server, SITE_IN).await.0,
            device_out: device_out.clone(),
            admin_id: admin_id.clone(),
        };
        let role = w.role();
        for r in scoped_routes(&fixture) {
            let (inside_ok, outside_ok) = match r.kind {
                Kind::Open => (
                    r.inside.allowed.contains(&role),
                    r.outside.allowed.contains(&role),
                ),
                Kind::Org => (false, false),
                Kind::Scoped { unit_only } => {
                    let unit_ok = !unit_only || matches!(w, Who::Unit(_));
                    (r.inside.allowed.contains(&role) && unit_ok, false)
                }
            };
            for (route, want) in [(&r.inside, inside_ok), (&r.outside, outside_ok)] {
                let status = call(&client, route).await;
                let ok = if want {
                    status != 401 && status != 403
                } else {
                    status == 403
                };
                if !ok {
                    failures.push(format!(
                        "{} {} as {w:?}: {status} (allowed: {want})",
                        route.method, route.path
                    ));
                }
            }
        }
        // Lists keep what is in scope: readers see the session hosted inside, not the other one.
        if READERS.contains(&role) {
            let (status, list) =
                body(client.get(&format!("/api/sessions?week={WEEK}")).await).await;
            let week = if status == 200 { ids(&list) } else { vec![] };
            if !week.contains(&session_in) || week.contains(&session_out) {
                failures.push(format!("week list as {w:?}: {status} {week:?}"));
            }
            let (_, list) = body(
                client
                    .get(&format!("/api/sessions?week={WEEK}&site_id={SITE_OUT}"))
                    .await,
            )
            .await;
            let listed = list.as_array().map_or(0, |l| l.len());
            let filtered = ids(&list);
            if listed == 0 || filtered.contains(&session_out) {
                failures.push(format!("site list as {w:?}: {filtered:?}"));
            }
        }
        if READERS.contains(&role) {
            let (_, records) = body(
                client
                    .get(&format!("/api/attendance/sites?from={DAY1}&to={DAY7}"))
                    .await,
            )
            .await;
            let sites: Vec<&str> = records
                .as_array()
                .map(|l| l.iter().filter_map(|r| r["site_id"].as_str()).collect())
                .unwrap_or_default();
            if sites != vec![SITE_IN] {
                failures.push(format!("attendance report as {w:?}: {sites:?}"));
            }
        }
        // A site's technician (and its room PC) sees its own site's sessions and line only.
        if role == SiteOperator {
            let (_, list) = body(
                client
                    .get(&format!("/api/sessions?week={WEEK}&site_id={SITE_IN}"))
                    .await,
            )
            .await;
            if ids(&list) != vec![session_in.clone()] {
                failures.push(format!("own site list as {w:?}: {list}"));
            }
            let other = client
                .get(&format!("/api/sessions?week={WEEK}&site_id={SITE_OUT}"))
                .await;
            if other.status() != 403 {
                failures.push(format!("other site list as {w:?}: {}", other.status()));
            }
            let (_, board) = body(
                client
                    .get(&format!("/api/sessions/{session_in}/invitations"))
                    .await,
            )
            .await;
            let lines: Vec<&str> = board["invitations"]
                .as_array()
                .map(|l| l.iter().map(|i| i["site_id"].as_str().unwrap()).collect())
                .unwrap_or_default();
            if lines != vec![SITE_IN] {
                failures.push(format!("board as {w:?}: lines {lines:?}"));
            }
            let text = board.to_string();
            if text.contains(SITE_OUT) {
                failures.push(format!("board as {w:?} names {SITE_OUT}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "scope violations:\n{}",
        failures.join("\n")
    );

    // Nothing outside changed: the other session, its links and its site's devices are as before.
    let detail = body(admin.get(&format!("/api/sessions/{session_out}")).await)
        .await
        .1;
    assert_eq!(detail["status"], "scheduled");
    assert_eq!(detail["title"], "Giao ban phạm vi");
    let board_after = body(
        admin
            .get(&format!("/api/sessions/{session_out}/invitations"))
            .await,
    )
    .await
    .1;
    assert_eq!(board_after["invitations"], board_out["invitations"]);
    let devices = body(admin.get(&format!("/api/sites/{SITE_OUT}/devices")).await)
        .await
        .1;
    let devices = devices.as_array().unwrap();
    assert_eq!(devices.len(), 1, "{devices:?}");
    assert!(devices[0]["revoked_at"].is_null());
}
