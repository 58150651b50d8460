//! The serving certificate, reloaded from disk without a restart. Kubernetes Secret
//! volumes swap a `..data` symlink, so the files are re-read by path on every poll
//! and compared by content (never by inode or a watch on one file). A new pair is
//! validated (it parses, and the key matches the certificate) before it replaces
//! the old one; a broken pair is logged and counted, and the old one stays.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no certificate in {0}")]
    NoCertificate(String),
    #[error("no private key in {0}")]
    NoKey(String),
    #[error("certificate and key do not form a valid pair: {0}")]
    Invalid(String),
}

/// A validated pair with its expiry (Unix seconds).
pub struct LoadedPair {
    pub key: Arc<CertifiedKey>,
    pub not_after: i64,
}

pub fn parse_pair(cert_pem: &[u8], key_pem: &[u8], origin: &str) -> Result<LoadedPair, TlsError> {
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Invalid(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(origin.to_string()));
    }
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut &key_pem[..])
        .map_err(|e| TlsError::Invalid(e.to_string()))?
        .ok_or_else(|| TlsError::NoKey(origin.to_string()))?;
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let certified =
        CertifiedKey::from_der(certs.clone(), key, &provider).map_err(|e| TlsError::Invalid(e.to_string()))?;
    let not_after = x509_parser::parse_x509_certificate(&certs[0])
        .map(|(_, c)| c.validity().not_after.timestamp())
        .map_err(|e| TlsError::Invalid(format!("certificate does not parse: {e}")))?;
    Ok(LoadedPair {
        key: Arc::new(certified),
        not_after,
    })
}

#[derive(Debug)]
pub struct ReloadingCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    /// The bytes the current pair came from, to notice changes cheaply.
    loaded_from: Mutex<(Vec<u8>, Vec<u8>)>,
    not_after: std::sync::atomic::AtomicI64,
}

pub enum Reload {
    Unchanged,
    Reloaded,
}

impl ReloadingCert {
    pub fn load(cert_path: PathBuf, key_path: PathBuf) -> Result<ReloadingCert, TlsError> {
        let (c, k) = read(&cert_path, &key_path)?;
        let pair = parse_pair(&c, &k, &cert_path.display().to_string())?;
        Ok(ReloadingCert {
            cert_path,
            key_path,
            current: RwLock::new(pair.key),
            loaded_from: Mutex::new((c, k)),
            not_after: pair.not_after.into(),
        })
    }

    pub fn not_after(&self) -> i64 {
        self.not_after.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Re-reads the files; swaps in a new valid pair, keeps the old one on error.
    pub fn reload(&self) -> Result<Reload, TlsError> {
        let (c, k) = read(&self.cert_path, &self.key_path)?;
        {
            let last = self.loaded_from.lock().unwrap_or_else(|p| p.into_inner());
            if last.0 == c && last.1 == k {
                return Ok(Reload::Unchanged);
            }
        }
        let pair = parse_pair(&c, &k, &self.cert_path.display().to_string())?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = pair.key;
        *self.loaded_from.lock().unwrap_or_else(|p| p.into_inner()) = (c, k);
        self.not_after
            .store(pair.not_after, std::sync::atomic::Ordering::Relaxed);
        Ok(Reload::Reloaded)
    }
}

fn read(cert: &PathBuf, key: &PathBuf) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
    let r = |p: &PathBuf| {
        std::fs::read(p).map_err(|source| TlsError::Read {
            path: p.display().to_string(),
            source,
        })
    };
    Ok((r(cert)?, r(key)?))
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

/// TLS 1.2+ with the process's crypto provider and a reloading certificate.
pub fn server_config(cert: Arc<ReloadingCert>) -> Result<rustls::ServerConfig, TlsError> {
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Invalid(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(cert);
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}
