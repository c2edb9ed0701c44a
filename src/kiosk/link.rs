//! Stable per-site links (`/s/<token>`): the token is `<site id>.<version>.<tag>`, the tag an
//! HMAC of the first two parts under the join-token key, bound to its own domain so that it never
//! passes as a join token or a calendar-feed token. The version is the site's row in `site_links`:
//! re-issuing bumps it and a revoked row accepts none. Pure: the caller checks the row.

use crate::auth::TokenKey;

const DOMAIN: &str = "giaoban-site-link-v1";

/// What a well-signed site-link token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteLinkClaims {
    pub site_id: String,
    pub version: u32,
}

/// Why a token is refused before the store is asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkTokenError {
    #[error("the site link is malformed")]
    Malformed,
    #[error("the site link's signature does not match")]
    BadSignature,
}

pub fn sign(key: &TokenKey, site_id: &str, version: u32) -> String {
    let body = format!("{site_id}.{version}");
    let tag = key.tag(DOMAIN, &body);
    format!("{body}.{tag}")
}

/// Checks the shape and the signature; the version is checked against the store by the caller.
pub fn verify(key: &TokenKey, token: &str) -> Result<SiteLinkClaims, LinkTokenError> {
    if token.len() > 200 {
        return Err(LinkTokenError::Malformed);
    }
    let mut parts = token.splitn(3, '.');
    let (Some(site_id), Some(version), Some(tag)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(LinkTokenError::Malformed);
    };
    if !crate::config::is_slug(site_id) || version.is_empty() || tag.contains('.') {
        return Err(LinkTokenError::Malformed);
    }
    let version: u32 = version.parse().map_err(|_| LinkTokenError::Malformed)?;
    if !key.tag_ok(DOMAIN, &format!("{site_id}.{version}"), tag) {
        return Err(LinkTokenError::BadSignature);
    }
    Ok(SiteLinkClaims {
        site_id: site_id.to_string(),
        version,
    })
}

/// The URL of a site's stable link.
pub fn url(key: &TokenKey, public_url: &str, site_id: &str, version: u32) -> String {
    format!("{public_url}/s/{}", sign(key, site_id, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::from_secret(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn round_trip() {
        let t = sign(&key(), "xa-ba-vi-phonghop", 3);
        assert!(t.starts_with("xa-ba-vi-phonghop.3."));
        assert_eq!(
            verify(&key(), &t),
            Ok(SiteLinkClaims {
                site_id: "xa-ba-vi-phonghop".into(),
                version: 3
            })
        );
    }

    #[test]
    fn forged_and_malformed_are_refused() {
        let t = sign(&key(), "a", 1);
        let tag = t.rsplit('.').next().unwrap();
        // Another site or version under the same tag.
        assert_eq!(
            verify(&key(), &format!("b.1.{tag}")),
            Err(LinkTokenError::BadSignature)
        );
        assert_eq!(
            verify(&key(), &format!("a.2.{tag}")),
            Err(LinkTokenError::BadSignature)
        );
        let other = TokenKey::from_secret(b"another-secret-another-secret-xx");
        assert_eq!(verify(&other, &t), Err(LinkTokenError::BadSignature));
        for bad in [
            "", "a", "a.1", "A.1.x", "a.x.y", "a..y", "a.1.y.z", "a.-1.y",
        ] {
            assert!(verify(&key(), bad).is_err(), "{bad}");
        }
        assert_eq!(
            verify(&key(), &"a".repeat(300)),
            Err(LinkTokenError::Malformed)
        );
    }

    #[test]
    fn a_join_token_signature_is_not_a_site_link() {
        // The same key signs join tokens; their MAC is over other bytes and another domain.
        let join = key().sign(&crate::auth::JoinClaims {
            sid: "s".into(),
            site: "a".into(),
            exp: i64::MAX,
            v: 1,
        });
        let mac = join.rsplit('.').next().unwrap();
        assert!(verify(&key(), &format!("a.1.{mac}")).is_err());
    }
}
