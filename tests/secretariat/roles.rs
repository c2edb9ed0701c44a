//! The role matrix: every API route × every role (and no login at all). Allowed routes answer
//! with anything but 401/403 (bodies are chosen so that nothing is created: a 404 or 422 still
//! shows the role check passed); refused ones answer 403, and without a login 401.
//! Then the same routes for scoped principals (every role scoped to a unit, to a site, and a room
//! PC's device credential), each inside its scope and outside it: outside is always 403 and
//! changes nothing; lists and boards keep only what is in scope.

use crate::common;

use common::*;
use giaoban::auth::Role;
use serde_json::{Value, json};

use Role::*;

struct Route {
    method: &'static str,
    path: String,
    body: Value,
    allowed: &'static [Role],
}

fn route(method: &'static str, path: &str, body: Value, allowed: &'static [Role]) -> Route {
    Route {
        method,
        path: path.to_string(),
        body,
        allowed,
    }
}

const ALL: &[Role] = &Role::ALL;

fn routes(session_id: &str) -> Vec<Route> {
    let invalid = json!({});
    vec![
        route("GET", "/api/me", Value::Null, ALL),
        route("GET", "/api/sites", Value::Null, ALL),
        route(
            "GET",
            "/api/stats",
            Value::Null,
            &[Admin, Operator, Secretariat],
        ),
        route("GET", "/api/users", Value::Null, &[Admin]),
        route("POST", "/api/users", invalid.clone(), &[Admin]),
        route("GET", "/api/units", Value::Null, ALL),
        route("POST", "/api/units", invalid.clone(), &[Admin]),
        route(
            "PATCH",
            "/api/units/khong-co",
            json!({"name": "x"}),
            &[Admin],
        ),
        route("PUT", "/api/sites/khong-co", invalid.clone(), &[Admin]),
        route(
            "GET",
            &format!("/api/sites/{HOST}/devices"),
            Value::Null,
            &[Admin, Secretariat],
        ),
        route(
            "POST",
            "/api/sites/khong-co/devices",
            json!({"label": "x"}),
            &[Admin, Secretariat],
        ),
        route(
            "POST",
            "/api/sites/khong-co/pairings",
            json!({"label": "x"}),
            &[Admin, Secretariat],
        ),
        route(
            "GET",
            &format!("/api/sites/{HOST}/link"),
            Value::Null,
            &[Admin, Secretariat, Operator, SiteOperator],
        ),
        route(
            "POST",
            "/api/sites/khong-co/link/reissue",
            json!({}),
            &[Admin, Secretariat],
        ),
        route(
            "POST",
            "/api/sites/khong-co/link/revoke",
            json!({}),
            &[Admin, Secretariat],
        ),
        route(
            "GET",
            &format!("/api/sessions/{session_id}/site-links"),
            Value::Null,
            &[Admin, Secretariat, Operator, SiteOperator],
        ),
        route(
            "POST",
            "/api/devices/khong-co/revoke",
            json!({}),
            &[Admin, Secretariat],
        ),
        route("GET", "/api/audit", Value::Null, &[Auditor, Admin]),
        route("GET", "/api/audit/verify", Value::Null, &[Auditor, Admin]),
        route(
            "POST",
            "/api/sessions",
            invalid.clone(),
            &[Admin, Secretariat],
        ),
        route(
            "GET",
            &format!("/api/sessions/{session_id}"),
            Value::Null,
            &[Admin, Secretariat, Operator, Chair, Auditor],
        ),
        route(
            "GET",
            &format!("/api/sessions/{session_id}/invitations"),
            Value::Null,
            &[Admin, Secretariat, Operator, SiteOperator],
        ),
        route(
            "POST",
            &format!("/api/sessions/{session_id}/invitations/khong-co/reissue"),
            json!({}),
            &[Admin, Secretariat],
        ),
        route(
            "POST",
            &format!("/api/sessions/{session_id}/invitations/khong-co/revoke"),
            json!({}),
            &[Admin, Secretariat],
        ),
        route(
            "POST",
            &format!("/api/sessions/{session_id}/invitations/{HOST}/status"),
            invalid.clone(),
            &[Admin, Secretariat, SiteOperator],
        ),
        route("GET", "/api/sessions?week=2026-W48", Value::Null, READERS),
        route(
            "PATCH",
            &format!("/api/sessions/{session_id}"),
            json!({"scope": "nonsense"}),
            WRITERS,
        ),
        route("POST", "/api/sessions/khong-co/cancel", json!({}), WRITERS),
        route(
            "GET",
            &format!("/api/sessions/{session_id}/calendar.ics"),
            Value::Null,
            READERS,
        ),
        route("GET", "/api/calendar/links", Value::Null, ALL),
        route(
            "GET",
            &format!("/api/sessions/{session_id}/attendance"),
            Value::Null,
            READERS,
        ),
        route(
            "GET",
            &format!("/api/sessions/{session_id}/attendance.csv"),
            Value::Null,
            READERS,
        ),
        route(
            "GET",
            &format!("/api/sessions/{session_id}/attendance.xlsx"),
            Value::Null,
            READERS,
        ),
        route(
            "POST",
            &format!("/api/sessions/{session_id}/attendance/marks"),
            invalid.clone(),
            WRITERS,
        ),
        route("GET", "/api/attendance/today", Value::Null, READERS),
        route(
            "GET",
            "/api/attendance/sites?from=x&to=y",
            Value::Null,
            READERS,
        ),
        // The site operator of the test is scoped to the host site: its feed is theirs to read.
        route(
            "GET",
            &format!("/api/calendar/site/{HOST}.ics"),
            Value::Null,
            &[Admin, Secretariat, Operator, Chair, Auditor, SiteOperator],
        ),
    ]
}

const READERS: &[Role] = &[Admin, Secretariat, Operator, Chair, Auditor];
const WRITERS: &[Role] = &[Admin, Secretariat];

async fn call(c: &ApiClient, r: &Route) -> u16 {
    let resp = match r.method {
        "GET" => c.get(&r.path).await,
        "POST" => c.post(&r.path, &r.body).await,
        "PATCH" => c.patch(&r.path, &r.body).await,
        "PUT" => c
            .client
            .put(c.url(&r.path))
            .header("x-csrf-token", &c.csrf)
            .json(&r.body)
            .send()
            .await
            .unwrap(),
        "DELETE" => c.delete(&r.path).await,
        m => panic!("method {m}"),
    };
    resp.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_checks_every_role() {
    let server = TestServer::start().await;
    let session = server.create_session(HOST, &SITES[..1]).await;
    let routes = routes(&session.session_id);
    let mut failures = Vec::new();
    for role in Role::ALL {
        let client = server.login(role).await;
        for r in &routes {
            let status = call(&client, r).await;
            let allowed = r.allowed.contains(&role);
            let ok = if allowed {
                status != 401 && status != 403
            } else {
                status == 403
            };
            if !ok {
                failures.push(format!(
                    "{} {} as {}: {status} (allowed: {allowed})",
                    r.method,
                    r.path,
                    role.as_str()
                ));
            }
        }
    }
    // No login at all: 401 everywhere.
    let anonymous = ApiClient {
        client: reqwest::Client::new(),
        base: server.http_url(),
        csrf: String::new(),
        username: String::new(),
    };
    for r in &routes {
        let status = call(&anonymous, r).await;
        if status != 401 {
            failures.push(format!("{} {} without login: {status}", r.method, r.path));
        }
    }
    // The few deliberate public routes: the API description, what a join link opens (its token is
    // the credential), and the pages (which log in through the API).
    let link = token(&session.links[HOST]);
    for path in [
        "/api/openapi.json".to_string(),
        format!("/api/join/{link}"),
        "/login".into(),
        format!("/room/{link}"),
        "/kiosk".into(),
        "/".into(),
        "/healthz".into(),
        "/readyz".into(),
        "/metrics".into(),
    ] {
        let status = anonymous.get(&path).await.status().as_u16();
        if status != 200 {
            failures.push(format!("public GET {path}: {status}"));
        }
    }
    assert!(
        failures.is_empty(),
        "role matrix violations:\n{}",
        failures.join("\n")
    );
}

// The same routes for scoped principals, inside and outside their scope.
#[path = "roles/scoped.rs"]
mod scoped;
