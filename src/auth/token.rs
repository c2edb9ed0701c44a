//! Signed join tokens: `base64url(claims JSON) "." base64url(HMAC-SHA256(claims))`. A token is
//! scoped to one session and one site and expires. Signing and checking are pure functions of
//! the key, the token and the current time; only [`TokenKey::load_or_create`] touches a file.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::path::Path;

type HmacSha256 = Hmac<Sha256>;

/// What a join token grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinClaims {
    /// Session id.
    pub sid: String,
    /// Site id.
    pub site: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Version of the site's link: re-issuing a link bumps it, and only the current version joins
    /// (checked by `schedule::resolve_join`). Tokens issued before versions existed read as 0.
    #[serde(default)]
    pub v: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("join token is malformed")]
    Malformed,
    #[error("join token signature does not match")]
    BadSignature,
    #[error("join token expired")]
    Expired,
}

/// The secret that signs join tokens.
#[derive(Clone)]
pub struct TokenKey(Vec<u8>);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

impl TokenKey {
    pub fn from_secret(secret: &[u8]) -> Self {
        TokenKey(secret.to_vec())
    }

    /// Uses `configured` when not empty; otherwise reads `<data_dir>/join-token.key`, creating it
    /// with 32 random bytes (mode 0600) on first start so links survive restarts.
    pub fn load_or_create(configured: &str, data_dir: &Path) -> std::io::Result<Self> {
        if !configured.is_empty() {
            return Ok(Self::from_secret(configured.as_bytes()));
        }
        let path = data_dir.join("join-token.key");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let bytes = B64
                    .decode(text.trim())
                    .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?;
                if bytes.len() < 32 {
                    return Err(std::io::Error::other(format!(
                        "{}: key too short",
                        path.display()
                    )));
                }
                Ok(Self(bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let bytes: [u8; 32] = rand::random();
                write_private(&path, B64.encode(bytes).as_bytes())?;
                Ok(Self(bytes.to_vec()))
            }
            Err(e) => Err(e),
        }
    }

    /// A key for another purpose (e.g. signed recording URLs), derived from this one.
    pub fn derive(&self, purpose: &str) -> Vec<u8> {
        let mut mac = self.mac();
        mac.update(b"giaoban derived key\n");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length")
    }

    pub fn sign(&self, claims: &JoinClaims) -> String {
        let body = B64.encode(serde_json::to_vec(claims).expect("claims serialize"));
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        format!("{body}.{}", B64.encode(mac.finalize().into_bytes()))
    }

    /// An HMAC-SHA256 tag of `body` bound to `domain` (so that a tag made for one kind of token
    /// never passes as another kind), base64url. Used by the stable site links.
    pub fn tag(&self, domain: &str, body: &str) -> String {
        let mut mac = self.mac();
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(body.as_bytes());
        B64.encode(mac.finalize().into_bytes())
    }

    /// Whether `tag` is [`TokenKey::tag`] of `domain` and `body` (constant-time).
    pub fn tag_ok(&self, domain: &str, body: &str, tag: &str) -> bool {
        let Ok(sig) = B64.decode(tag) else {
            return false;
        };
        let mut mac = self.mac();
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(body.as_bytes());
        mac.verify_slice(&sig).is_ok()
    }

    /// Checks the signature first (so nothing of a forged token is trusted), then the expiry.
    pub fn verify(&self, token: &str, now_unix: i64) -> Result<JoinClaims, TokenError> {
        if token.len() > 2048 {
            return Err(TokenError::Malformed);
        }
        let (body, sig) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let sig = B64.decode(sig).map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        mac.verify_slice(&sig)
            .map_err(|_| TokenError::BadSignature)?;
        let json = B64.decode(body).map_err(|_| TokenError::Malformed)?;
        let claims: JoinClaims =
            serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
        if claims.exp <= now_unix {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

/// Writes a new file readable by its owner only.
#[cfg(unix)]
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> JoinClaims {
        JoinClaims {
            sid: "s1".into(),
            site: "a".into(),
            exp: 1000,
            v: 1,
        }
    }

    #[test]
    fn round_trip() {
        let k = TokenKey::from_secret(b"0123456789abcdef0123456789abcdef");
        let t = k.sign(&claims());
        assert_eq!(k.verify(&t, 999), Ok(claims()));
    }

    #[test]
    fn expired_forged_and_malformed_are_refused() {
        let k = TokenKey::from_secret(b"0123456789abcdef0123456789abcdef");
        let t = k.sign(&claims());
        assert_eq!(k.verify(&t, 1000), Err(TokenError::Expired));
        let other = TokenKey::from_secret(b"another-secret-another-secret-xx");
        assert_eq!(other.verify(&t, 0), Err(TokenError::BadSignature));
        // Changing the claims (another site) breaks the signature.
        let (_, sig) = t.split_once('.').unwrap();
        let forged_body = B64.encode(br#"{"sid":"s1","site":"b","exp":1000}"#);
        assert_eq!(
            k.verify(&format!("{forged_body}.{sig}"), 0),
            Err(TokenError::BadSignature)
        );
        assert_eq!(k.verify("no-dot", 0), Err(TokenError::Malformed));
        assert_eq!(k.verify("a.!!!", 0), Err(TokenError::Malformed));
        assert_eq!(k.verify("", 0), Err(TokenError::Malformed));
    }

    #[test]
    fn tokens_without_a_version_read_as_version_zero() {
        let k = TokenKey::from_secret(b"0123456789abcdef0123456789abcdef");
        let body = B64.encode(br#"{"sid":"s1","site":"a","exp":1000}"#);
        let mut mac = k.mac();
        mac.update(body.as_bytes());
        let t = format!("{body}.{}", B64.encode(mac.finalize().into_bytes()));
        assert_eq!(k.verify(&t, 0).unwrap().v, 0);
    }

    #[test]
    fn generated_key_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = TokenKey::load_or_create("", dir.path()).unwrap();
        let b = TokenKey::load_or_create("", dir.path()).unwrap();
        assert_eq!(a.0, b.0);
        assert_eq!(a.0.len(), 32);
    }
}
