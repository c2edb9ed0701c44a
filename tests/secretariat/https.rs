//! HTTPS built in: with `GIAOBAN_HTTP_TLS_MODE=self_signed` alone the server makes a certificate
//! for its address, serves the pages, the API and the signaling over TLS, and two Chromium room
//! PCs that trust only that certificate (`--ignore-certificate-errors-spki-list` with its SPKI
//! hash) exchange media on `https://` join links. Cookies become `Secure`; plain HTTP on the
//! redirect port leads to the HTTPS address; a TLS configuration that cannot work (missing file,
//! a key of another certificate) stops the start with a message naming the key.

use crate::common;

use common::browser::*;
use common::*;
use serde_json::json;
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_pages_over_https_with_a_self_signed_certificate_exchange_media() {
    let redirect = format!("127.0.0.1:{}", free_port());
    let server = TestServer::start_with(&[
        ("GIAOBAN_HTTP_TLS_MODE", "self_signed"),
        ("GIAOBAN_HTTP_REDIRECT_ADDR", &redirect),
    ])
    .await;
    let state = &server.running.state;
    let https = format!("https://{}", server.running.addr);
    assert_eq!(&*state.public_url, https);
    let tls = giaoban::tls::load(&state.config.http, server.dir.path(), server.running.addr)
        .unwrap()
        .unwrap();

    // The API over TLS; plain HTTP on the same port is not served.
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let r = client.get(format!("{https}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        reqwest::get(format!("http://{}/healthz", server.running.addr))
            .await
            .is_err()
    );
    // A login's cookies are Secure.
    let new = giaoban::auth::users::NewUser {
        username: "thuky-https".into(),
        display_name: "Người dùng kiểm thử".into(),
        password: PASSWORD.into(),
        grants: vec![giaoban::auth::Grant::new(giaoban::auth::Role::Secretariat)],
    };
    giaoban::auth::users::create(&state.pool, &new, "test")
        .await
        .unwrap();
    let r = client
        .post(format!("{https}/api/login"))
        .json(&json!({"username": "thuky-https", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookies: Vec<_> = r.headers().get_all("set-cookie").iter().collect();
    assert!(!cookies.is_empty());
    for c in cookies {
        assert!(c.to_str().unwrap().contains("; Secure"), "{c:?}");
    }
    // The redirect port.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = plain
        .get(format!("http://{redirect}/login?next=%2Fapp"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(
        r.headers()["location"],
        format!("{https}/login?next=%2Fapp")
    );

    let Some(bin) = chromium_or_skip(Load::Pages).await else {
        return;
    };
    let session = server.create_session(HOST, &SITES[..1]).await;
    let sites = [HOST, SITES[0]];
    let trust = vec![format!(
        "--ignore-certificate-errors-spki-list={}",
        tls.spki_sha256
    )];
    let browsers: Vec<Browser> = sites
        .iter()
        .map(|s| {
            let link = &session.links[*s];
            assert!(link.starts_with("https://"), "{link}");
            Browser::open_with(&bin, &format!("{link}?autojoin=1"), &trust)
        })
        .collect();
    let mut pages = Vec::new();
    for b in &browsers {
        pages.push(b.page_ws().await);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let mut ok = true;
        let mut last = Vec::new();
        for (i, p) in pages.iter().enumerate() {
            let v = eval(p, "(async () => ({href: location.href, secure: window.isSecureContext, stats: window.giaoban && await window.giaoban.stats()}))()").await;
            let other = sites[1 - i];
            ok &= v["stats"]["perSite"][other]["framesDecoded"]
                .as_u64()
                .unwrap_or(0)
                > 0
                && v["stats"]["inboundAudio"]["packetsReceived"]
                    .as_u64()
                    .unwrap_or(0)
                    > 0
                && v["secure"] == true
                && v["href"].as_str().unwrap_or("").starts_with("https://");
            last.push(v);
        }
        if ok {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no media over https: {last:#?}\nserver: {:?}",
            server.stats()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn a_tls_configuration_that_cannot_work_stops_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let start = |extra: Vec<(&'static str, String)>| {
        let dir = dir.path().to_path_buf();
        async move {
            let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
            match giaoban::app::start(test_config_with(&dir, &extra)).await {
                Ok(_) => panic!("started"),
                Err(e) => e.to_string(),
            }
        }
    };
    let one = rcgen::generate_simple_self_signed(vec!["a".to_string()]).unwrap();
    let two = rcgen::generate_simple_self_signed(vec!["b".to_string()]).unwrap();
    let files = tempfile::tempdir().unwrap();
    let cert = files.path().join("cert.pem");
    let key2 = files.path().join("other-key.pem");
    std::fs::write(&cert, one.cert.pem()).unwrap();
    std::fs::write(&key2, two.signing_key.serialize_pem()).unwrap();
    let mode = ("GIAOBAN_HTTP_TLS_MODE", "files".to_string());
    let e = start(vec![
        mode.clone(),
        ("GIAOBAN_HTTP_TLS_CERT", "/nonexistent/cert.pem".into()),
        ("GIAOBAN_HTTP_TLS_KEY", key2.display().to_string()),
    ])
    .await;
    assert!(
        e.contains("http.tls_cert") && e.contains("/nonexistent/cert.pem"),
        "{e}"
    );
    let e = start(vec![
        mode.clone(),
        ("GIAOBAN_HTTP_TLS_CERT", cert.display().to_string()),
        ("GIAOBAN_HTTP_TLS_KEY", key2.display().to_string()),
    ])
    .await;
    assert!(
        e.contains("http.tls_key") && e.contains("does not go with"),
        "{e}"
    );
    // Refused by the configuration check itself.
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml"))
        .unwrap();
    for (env, key) in [
        (vec![("GIAOBAN_HTTP_TLS_MODE", "files")], "http.tls_cert"),
        (
            vec![
                ("GIAOBAN_HTTP_TLS_MODE", "files"),
                ("GIAOBAN_HTTP_TLS_CERT", "c.pem"),
            ],
            "http.tls_key",
        ),
        (vec![("GIAOBAN_HTTP_TLS_MODE", "on")], "tls_mode"),
        (
            vec![("GIAOBAN_HTTP_REDIRECT_ADDR", "127.0.0.1:80")],
            "http.redirect_addr",
        ),
    ] {
        let e = giaoban::config::Config::from_toml_str(
            &text,
            std::path::Path::new("default.toml"),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains(key), "{env:?}: {e}");
    }
}
