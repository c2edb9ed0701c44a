//! HTTPS built in: the listener's TLS from config `http.tls_mode` — `off`, `files` (PEM
//! `http.tls_cert` and `http.tls_key`, rustls), or `self_signed` (a certificate for
//! `http.tls_names`, or for the listen address and `localhost` when empty, generated on first
//! start with rcgen and kept in the data directory; made again when the names change). Every
//! problem stops the start with a message naming the key. The certificate's SHA-256 fingerprint
//! and its public key's SPKI hash (what Chromium's `--ignore-certificate-errors-spki-list` and
//! certificate pinning take) are logged so that room PCs can be told to trust it.

use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `http.tls_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    #[default]
    Off,
    Files,
    SelfSigned,
}

/// A TLS problem at start, naming the config key it is about.
#[derive(Debug, thiserror::Error)]
#[error("config key {key}: {message}")]
pub struct TlsError {
    pub key: &'static str,
    pub message: String,
}

fn err(key: &'static str, message: impl Into<String>) -> TlsError {
    TlsError {
        key,
        message: message.into(),
    }
}

/// The listener's TLS, ready to accept.
#[derive(Clone)]
pub struct Tls {
    pub acceptor: tokio_rustls::TlsAcceptor,
    /// SHA-256 of the certificate (DER), as colon-separated hex.
    pub fingerprint: String,
    /// base64 of the SHA-256 of the certificate's SubjectPublicKeyInfo.
    pub spki_sha256: String,
    /// Where the certificate is (for the log).
    pub cert_path: PathBuf,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("fingerprint", &self.fingerprint)
            .field("spki_sha256", &self.spki_sha256)
            .finish()
    }
}

/// The file names of the generated certificate in the data directory.
pub const SELF_SIGNED_CERT: &str = "tls-self-signed.crt";
pub const SELF_SIGNED_KEY: &str = "tls-self-signed.key";
const SELF_SIGNED_NAMES: &str = "tls-self-signed.names";

/// The names a self-signed certificate covers: the configured ones, or the listen address
/// (every loopback name when it listens on all addresses) and `localhost`.
pub fn names_for(configured: &[String], addr: SocketAddr) -> Vec<String> {
    if !configured.is_empty() {
        return configured.to_vec();
    }
    let mut names = vec!["localhost".to_string()];
    let ip = addr.ip();
    if ip.is_unspecified() {
        names.extend(["127.0.0.1".to_string(), "::1".to_string()]);
    } else {
        names.push(ip.to_string());
    }
    names
}

/// Builds the listener's TLS for `http`, or `None` when `tls_mode` is `off`.
pub fn load(
    http: &crate::config::HttpConfig,
    data_dir: &Path,
    addr: SocketAddr,
) -> Result<Option<Tls>, TlsError> {
    let (cert_path, key_path, cert_key, key_key) = match http.tls_mode {
        TlsMode::Off => return Ok(None),
        TlsMode::Files => (
            http.tls_cert.clone(),
            http.tls_key.clone(),
            "http.tls_cert",
            "http.tls_key",
        ),
        TlsMode::SelfSigned => {
            let names = names_for(&http.tls_names, addr);
            ensure_self_signed(data_dir, &names)?;
            (
                data_dir.join(SELF_SIGNED_CERT),
                data_dir.join(SELF_SIGNED_KEY),
                "http.tls_mode",
                "http.tls_mode",
            )
        }
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .map_err(|e| err(cert_key, format!("{}: {e}", cert_path.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| err(cert_key, format!("{}: {e}", cert_path.display())))?;
    let Some(leaf) = certs.first() else {
        return Err(err(
            cert_key,
            format!("{}: no certificate in the file", cert_path.display()),
        ));
    };
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| err(key_key, format!("{}: {e}", key_path.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signing = provider
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|e| err(key_key, format!("{}: {e}", key_path.display())))?;
    let spki = signing
        .public_key()
        .ok_or_else(|| err(key_key, "the key's public part cannot be derived"))?;
    let fingerprint = Sha256::digest(leaf.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    let spki_sha256 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&spki));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(key_key, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            err(
                key_key,
                format!(
                    "{} does not go with the certificate in {}: {e}",
                    key_path.display(),
                    cert_path.display()
                ),
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Tls {
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        fingerprint,
        spki_sha256,
        cert_path,
    }))
}

/// Makes the self-signed certificate and key (0600) unless those in `dir` already cover `names`.
fn ensure_self_signed(dir: &Path, names: &[String]) -> Result<(), TlsError> {
    let cert = dir.join(SELF_SIGNED_CERT);
    let key = dir.join(SELF_SIGNED_KEY);
    let names_file = dir.join(SELF_SIGNED_NAMES);
    let wanted = names.join("\n");
    let same = std::fs::read_to_string(&names_file).is_ok_and(|n| n == wanted);
    if same && cert.exists() && key.exists() {
        return Ok(());
    }
    let made = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| err("http.tls_names", format!("cannot make a certificate: {e}")))?;
    let io = |e: std::io::Error| err("data.dir", format!("{}: {e}", dir.display()));
    for path in [&cert, &key, &names_file] {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
    }
    crate::auth::token::write_private(&key, made.signing_key.serialize_pem().as_bytes())
        .map_err(io)?;
    std::fs::write(&cert, made.cert.pem()).map_err(io)?;
    std::fs::write(&names_file, wanted).map_err(io)?;
    tracing::warn!(cert = %cert.display(), names = ?names, "made a self-signed TLS certificate");
    Ok(())
}

/// Listens on `addr` (plain HTTP) and answers every request with a redirect (308) to the same
/// path under `public_url`, until `shutdown` turns true.
pub async fn spawn_redirect(
    addr: &str,
    public_url: &str,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(), TlsError> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        err(
            "http.redirect_addr",
            format!("cannot listen on {addr}: {e}"),
        )
    })?;
    let base = public_url.trim_end_matches('/').to_string();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let to = format!(
            "{base}{}",
            uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
        );
        async move { axum::response::Redirect::permanent(&to) }
    });
    tokio::spawn(async move {
        let stop = async move {
            let _ = shutdown.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::warn!("redirect listener: {e}");
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(mode: TlsMode, cert: &Path, key: &Path) -> crate::config::HttpConfig {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml"))
                .unwrap();
        let mut c = crate::config::Config::from_toml_str(&text, Path::new("d"), [])
            .unwrap()
            .http;
        c.tls_mode = mode;
        c.tls_cert = cert.to_path_buf();
        c.tls_key = key.to_path_buf();
        c
    }

    fn addr() -> SocketAddr {
        "127.0.0.1:8443".parse().unwrap()
    }

    #[test]
    fn names_default_to_the_address_and_localhost() {
        assert_eq!(names_for(&[], addr()), vec!["localhost", "127.0.0.1"]);
        let any: SocketAddr = "0.0.0.0:443".parse().unwrap();
        assert_eq!(names_for(&[], any), vec!["localhost", "127.0.0.1", "::1"]);
        let given = vec!["giaoban.lan".to_string()];
        assert_eq!(names_for(&given, any), given);
    }

    #[test]
    fn off_is_none_and_self_signed_is_made_once_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        let none = Path::new("");
        assert!(
            load(&http(TlsMode::Off, none, none), dir.path(), addr())
                .unwrap()
                .is_none()
        );
        let a = load(&http(TlsMode::SelfSigned, none, none), dir.path(), addr())
            .unwrap()
            .unwrap();
        let b = load(&http(TlsMode::SelfSigned, none, none), dir.path(), addr())
            .unwrap()
            .unwrap();
        assert_eq!(a.fingerprint, b.fingerprint, "kept across starts");
        assert_eq!(a.fingerprint.len(), 32 * 3 - 1);
        assert_eq!(a.spki_sha256.len(), 44);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SELF_SIGNED_KEY))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Other names: a new certificate.
        let mut h = http(TlsMode::SelfSigned, none, none);
        h.tls_names = vec!["giaoban.lan".into()];
        let c = load(&h, dir.path(), addr()).unwrap().unwrap();
        assert_ne!(c.fingerprint, a.fingerprint);
        // The files mode reads the same pair.
        let d = load(
            &http(
                TlsMode::Files,
                &dir.path().join(SELF_SIGNED_CERT),
                &dir.path().join(SELF_SIGNED_KEY),
            ),
            dir.path(),
            addr(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(d.fingerprint, c.fingerprint);
        assert_eq!(d.spki_sha256, c.spki_sha256);
    }

    #[test]
    fn missing_broken_and_mismatched_files_name_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let one = rcgen::generate_simple_self_signed(vec!["a".to_string()]).unwrap();
        let two = rcgen::generate_simple_self_signed(vec!["b".to_string()]).unwrap();
        let cert = dir.path().join("c.pem");
        let key = dir.path().join("k.pem");
        let other_key = dir.path().join("k2.pem");
        std::fs::write(&cert, one.cert.pem()).unwrap();
        std::fs::write(&key, one.signing_key.serialize_pem()).unwrap();
        std::fs::write(&other_key, two.signing_key.serialize_pem()).unwrap();
        let e = |c: &Path, k: &Path| {
            load(&http(TlsMode::Files, c, k), dir.path(), addr()).expect_err("refused")
        };
        let missing = dir.path().join("none.pem");
        assert_eq!(e(&missing, &key).key, "http.tls_cert");
        assert_eq!(e(&cert, &missing).key, "http.tls_key");
        let mismatch = e(&cert, &other_key);
        assert_eq!(mismatch.key, "http.tls_key");
        assert!(
            mismatch
                .to_string()
                .contains("does not go with the certificate"),
            "{mismatch}"
        );
        // A key file given as the certificate and the other way round.
        assert_eq!(e(&key, &key).key, "http.tls_cert");
        assert_eq!(e(&cert, &cert).key, "http.tls_key");
        assert!(load(&http(TlsMode::Files, &cert, &key), dir.path(), addr()).is_ok());
    }
}
