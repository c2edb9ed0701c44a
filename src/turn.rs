//! TURN for sites behind firewalls: the configured TURN servers (`[turn] urls`, e.g. coturn on
//! UDP 3478, TCP 3478 and TLS 443) with time-limited credentials in coturn's shared-secret REST
//! scheme (`use-auth-secret`): the username is `<expiry, Unix seconds>:<site id>`, the password
//! the base64 HMAC-SHA1 of the username under the shared secret. The server mints them for every
//! join and sends them to the room page (`ice_servers`, docs/protocol.md), which gives them to
//! its peer connections. coturn refuses a username whose time has passed. Pure: the caller gives
//! the clock. See docs/turn.md for the coturn side.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};

/// One entry of RTCConfiguration.iceServers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Credentials for `user` valid until `now + ttl_secs`.
pub fn credentials(secret: &str, user: &str, now_unix: i64, ttl_secs: u64) -> (String, String) {
    let expiry = now_unix.saturating_add(i64::try_from(ttl_secs).unwrap_or(i64::MAX));
    let username = format!("{expiry}:{user}");
    (username.clone(), password(secret, &username))
}

/// coturn's password for a REST-scheme username.
pub fn password(secret: &str, username: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether a REST-scheme username is past its expiry at `now` (what coturn checks); a username
/// without a readable expiry counts as expired.
pub fn expired(username: &str, now_unix: i64) -> bool {
    username
        .split(':')
        .next()
        .and_then(|t| t.parse::<i64>().ok())
        .is_none_or(|exp| exp <= now_unix)
}

/// What a site is given at `now`: the configured servers, with credentials for the `turn:` and
/// `turns:` ones; `None` when no server is configured. The second value is the expiry.
pub fn ice_servers(
    config: &crate::config::TurnConfig,
    site_id: &str,
    now_unix: i64,
) -> Option<(Vec<IceServer>, i64)> {
    if config.urls.is_empty() {
        return None;
    }
    let (username, credential) = credentials(&config.secret, site_id, now_unix, config.ttl_secs);
    let (turn, stun): (Vec<String>, Vec<String>) = config
        .urls
        .iter()
        .cloned()
        .partition(|u| u.starts_with("turn:") || u.starts_with("turns:"));
    let mut out = Vec::new();
    if !stun.is_empty() {
        out.push(IceServer {
            urls: stun,
            username: None,
            credential: None,
        });
    }
    if !turn.is_empty() {
        out.push(IceServer {
            urls: turn,
            username: Some(username),
            credential: Some(credential),
        });
    }
    let expires = now_unix.saturating_add(i64::try_from(config.ttl_secs).unwrap_or(i64::MAX));
    Some((out, expires))
}

/// Whether `url` is a STUN or TURN URL a browser accepts (RFC 7064 / 7065), as config checks it.
pub fn valid_url(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once(':') else {
        return false;
    };
    if !matches!(scheme, "stun" | "stuns" | "turn" | "turns") || rest.is_empty() {
        return false;
    }
    let (hostport, query) = rest.split_once('?').unwrap_or((rest, ""));
    let ok_query = query.is_empty() || matches!(query, "transport=udp" | "transport=tcp");
    ok_query
        && !hostport.starts_with('/')
        && !hostport.contains(|c: char| c.is_whitespace() || c == '@' || c == '/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_coturns() {
        // coturn's turnutils_uclient computes the same for --use-auth-secret; a fixed vector:
        // HMAC-SHA1("secret-key", "1700000000:site-a"), base64.
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(b"secret-key").unwrap();
        mac.update(b"1700000000:site-a");
        let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(password("secret-key", "1700000000:site-a"), want);
        let (u, p) = credentials("secret-key", "site-a", 1_699_996_400, 3600);
        assert_eq!(u, "1700000000:site-a");
        assert_eq!(p, want);
        assert_eq!(p.len(), 28);
    }

    #[test]
    fn expiry() {
        assert!(!expired("1700000000:a", 1_699_999_999));
        assert!(expired("1700000000:a", 1_700_000_000));
        assert!(expired("nope:a", 0));
        assert!(expired("", 0));
    }

    #[test]
    fn servers_split_stun_from_turn() {
        let c = crate::config::TurnConfig {
            urls: vec![
                "stun:turn.lan:3478".into(),
                "turn:turn.lan:3478?transport=udp".into(),
                "turns:turn.lan:443?transport=tcp".into(),
            ],
            secret: "0123456789abcdef".into(),
            ttl_secs: 60,
        };
        let (servers, exp) = ice_servers(&c, "xa-ba-vi", 1000).unwrap();
        assert_eq!(exp, 1060);
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0].urls, vec!["stun:turn.lan:3478"]);
        assert!(servers[0].username.is_none());
        assert_eq!(servers[1].urls.len(), 2);
        assert_eq!(servers[1].username.as_deref(), Some("1060:xa-ba-vi"));
        let none = crate::config::TurnConfig { urls: vec![], ..c };
        assert!(ice_servers(&none, "a", 0).is_none());
    }

    #[test]
    fn urls() {
        for ok in [
            "turn:10.0.0.5:3478",
            "turn:turn.lan:3478?transport=tcp",
            "turns:turn.lan:443?transport=tcp",
            "stun:[::1]:3478",
        ] {
            assert!(valid_url(ok), "{ok}");
        }
        for bad in [
            "",
            "turn:",
            "http://turn.lan",
            "turn://turn.lan",
            "turn:user@turn.lan",
            "turn:turn.lan?transport=sctp",
            "turn:turn lan",
        ] {
            assert!(!valid_url(bad), "{bad}");
        }
    }
}
