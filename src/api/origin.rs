//! Which browser pages may open the signaling WebSocket: a request's `Origin` must be the server's
//! own (the origin of the public URL) or one listed in `http.allowed_origins`. A request without
//! `Origin` is not from a browser page (the Rust client, a kiosk agent) and is let through: the
//! join token is its credential. Pure, so the rule is tested without a socket.

/// `scheme://host[:port]` of a URL, with default ports left out; `None` for what is not a
/// URL with a host (including the `null` origin of sandboxed or file pages).
fn origin_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url.trim()).ok()?;
    u.host_str()?;
    let origin = u.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// Whether a WebSocket upgrade with this `Origin` header may proceed.
pub fn allowed(origin: Option<&str>, own_url: &str, allowed: &[String]) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    let Some(origin) = origin_of(origin) else {
        return false;
    };
    origin_of(own_url).as_deref() == Some(origin.as_str())
        || allowed
            .iter()
            .any(|a| origin_of(a).as_deref() == Some(origin.as_str()))
}

/// Checks a configured origin: a URL with a scheme and a host, and nothing after.
pub fn valid_config_origin(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| {
        u.host_str().is_some()
            && matches!(u.scheme(), "http" | "https")
            && u.path() == "/"
            && u.query().is_none()
            && u.fragment().is_none()
            && !s.trim_end_matches('/').ends_with(':')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_own_origin_and_the_listed_ones_pass() {
        let own = "http://127.0.0.1:8080";
        let extra = vec!["https://giaoban.hanoi.gov.vn".to_string()];
        assert!(allowed(None, own, &extra));
        assert!(allowed(Some("http://127.0.0.1:8080"), own, &extra));
        assert!(allowed(Some("https://giaoban.hanoi.gov.vn"), own, &extra));
        assert!(allowed(
            Some("https://giaoban.hanoi.gov.vn:443"),
            own,
            &extra
        ));
        for bad in [
            "http://127.0.0.1:8081",
            "https://127.0.0.1:8080",
            "http://localhost:8080",
            "https://evil.example",
            "https://giaoban.hanoi.gov.vn.evil.example",
            "null",
            "",
            "file:///etc/passwd",
        ] {
            assert!(!allowed(Some(bad), own, &extra), "{bad}");
        }
        assert!(!allowed(Some("http://127.0.0.1:8080"), "https://x.vn", &[]));
    }

    #[test]
    fn configured_origins_are_plain_origins() {
        assert!(valid_config_origin("https://giaoban.hanoi.gov.vn"));
        assert!(valid_config_origin("http://10.0.0.5:8080"));
        assert!(!valid_config_origin("giaoban.hanoi.gov.vn"));
        assert!(!valid_config_origin("https://giaoban.hanoi.gov.vn/app"));
        assert!(!valid_config_origin("ftp://x.vn"));
    }
}
