//! Short-lived signed URLs for recording files: the review page gets a URL that names the file,
//! whether it is a download, the user it was issued to and its expiry, with an HMAC-SHA256 over
//! all of them (a key derived from the server's token key). The file route needs nothing else:
//! a forged, altered or expired URL is refused before any file is touched. Pure.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What a signed URL allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub recording_id: String,
    pub file: String,
    pub download: bool,
    /// Who it was issued to (for the audit log).
    pub user: String,
    /// Unix seconds.
    pub exp: i64,
}

/// The query parameters of a signed URL.
#[derive(Debug, Clone, serde::Deserialize, utoipa::IntoParams)]
pub struct Query {
    /// Expiry, unix seconds.
    pub exp: i64,
    /// 1 for a download (`Content-Disposition: attachment`), 0 to play.
    pub dl: u8,
    /// The user the URL was issued to.
    pub u: String,
    /// The signature.
    pub sig: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("the link's signature does not match: it was altered or not issued by this server")]
    Forged,
    #[error("the link has expired: open the recording again for a new one")]
    Expired,
}

fn mac(key: &[u8], c: &Claims) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    let msg = format!(
        "{}\n{}\n{}\n{}\n{}",
        c.recording_id,
        c.file,
        u8::from(c.download),
        c.user,
        c.exp
    );
    m.update(msg.as_bytes());
    m
}

/// The URL path and query of a file for `c`.
pub fn url(key: &[u8], c: &Claims) -> String {
    let sig = B64.encode(mac(key, c).finalize().into_bytes());
    format!(
        "/api/recordings/{}/files/{}?exp={}&dl={}&u={}&sig={sig}",
        c.recording_id,
        c.file,
        c.exp,
        u8::from(c.download),
        url::form_urlencoded::byte_serialize(c.user.as_bytes()).collect::<String>(),
    )
}

/// Checks the signature first, then the expiry.
pub fn verify(
    key: &[u8],
    recording_id: &str,
    file: &str,
    q: &Query,
    now: i64,
) -> Result<Claims, UrlError> {
    let c = Claims {
        recording_id: recording_id.to_string(),
        file: file.to_string(),
        download: q.dl == 1,
        user: q.u.clone(),
        exp: q.exp,
    };
    let sig = B64.decode(&q.sig).map_err(|_| UrlError::Forged)?;
    if q.dl > 1 || mac(key, &c).verify_slice(&sig).is_err() {
        return Err(UrlError::Forged);
    }
    if now > c.exp {
        return Err(UrlError::Expired);
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query_of(url: &str) -> Query {
        let q = url.split_once('?').unwrap().1;
        let get = |k: &str| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(n, _)| n == k)
                .unwrap()
                .1
                .into_owned()
        };
        Query {
            exp: get("exp").parse().unwrap(),
            dl: get("dl").parse().unwrap(),
            u: get("u"),
            sig: get("sig"),
        }
    }

    #[test]
    fn a_url_verifies_until_it_expires_and_any_change_is_forgery() {
        let key = b"0123456789abcdef0123456789abcdef";
        let c = Claims {
            recording_id: "r1".into(),
            file: "site-a-1.webm".into(),
            download: false,
            user: "user:reviewer one".into(),
            exp: 1_000,
        };
        let q = query_of(&url(key, &c));
        assert_eq!(verify(key, "r1", "site-a-1.webm", &q, 999), Ok(c.clone()));
        assert_eq!(
            verify(key, "r1", "site-a-1.webm", &q, 1_001),
            Err(UrlError::Expired)
        );
        assert_eq!(
            verify(key, "r1", "site-b-1.webm", &q, 999),
            Err(UrlError::Forged)
        );
        assert_eq!(
            verify(key, "r2", "site-a-1.webm", &q, 999),
            Err(UrlError::Forged)
        );
        let longer = Query {
            exp: 5_000,
            ..q.clone()
        };
        assert_eq!(
            verify(key, "r1", "site-a-1.webm", &longer, 999),
            Err(UrlError::Forged)
        );
        let download = Query { dl: 1, ..q.clone() };
        assert_eq!(
            verify(key, "r1", "site-a-1.webm", &download, 999),
            Err(UrlError::Forged)
        );
        let garbage = Query {
            sig: "%%%".into(),
            ..q.clone()
        };
        assert_eq!(
            verify(key, "r1", "site-a-1.webm", &garbage, 999),
            Err(UrlError::Forged)
        );
        assert_eq!(
            verify(
                b"another key, also 32 bytes long!",
                "r1",
                "site-a-1.webm",
                &q,
                999
            ),
            Err(UrlError::Forged)
        );
    }
}
