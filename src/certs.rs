//! Certificates for the webhook: a local CA and a serving certificate signed by it
//! (`serve --dev` and `meshgate certs`).

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SanType,
};

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0:?} is not a valid IP address")]
    BadIp(String),
}

/// PEM text of a generated CA and serving pair.
pub struct Generated {
    pub ca_cert: String,
    pub ca_key: String,
    pub tls_cert: String,
    pub tls_key: String,
}

fn year_now() -> i32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    1970 + (secs / 31_556_952) as i32
}

/// A CA valid ten years and a serving certificate valid one, for `dns` and `ips`.
pub fn generate(dns: &[String], ips: &[String]) -> Result<Generated, CertError> {
    let year = year_now();
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name.push(DnType::CommonName, "meshgate local CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    ca.not_after = rcgen::date_time_ymd(year + 10, 1, 1);
    let ca_cert = ca.self_signed(&ca_key)?;

    let key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(dns.to_vec())?;
    for ip in ips {
        let addr = ip.parse().map_err(|_| CertError::BadIp(ip.clone()))?;
        leaf.subject_alt_names.push(SanType::IpAddress(addr));
    }
    leaf.distinguished_name.push(
        DnType::CommonName,
        dns.first().cloned().unwrap_or_else(|| "meshgate".into()),
    );
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    leaf.not_after = rcgen::date_time_ymd(year + 1, 12, 31);
    let issuer = Issuer::from_params(&ca, &ca_key);
    let tls_cert = leaf.signed_by(&key, &issuer)?;
    Ok(Generated {
        ca_cert: ca_cert.pem(),
        ca_key: ca_key.serialize_pem(),
        tls_cert: tls_cert.pem(),
        tls_key: key.serialize_pem(),
    })
}

fn write(dir: &Path, name: &str, text: &str, private: bool) -> Result<(), CertError> {
    let path = dir.join(name);
    let io = |source| CertError::Io {
        path: path.display().to_string(),
        source,
    };
    std::fs::write(&path, text).map_err(io)?;
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(())
}

/// Writes `ca.crt`, `ca.key`, `tls.crt`, `tls.key` into `dir`.
pub fn write_all(dir: &Path, g: &Generated) -> Result<(), CertError> {
    std::fs::create_dir_all(dir).map_err(|source| CertError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    write(dir, "ca.crt", &g.ca_cert, false)?;
    write(dir, "ca.key", &g.ca_key, true)?;
    write(dir, "tls.crt", &g.tls_cert, false)?;
    write(dir, "tls.key", &g.tls_key, true)
}

/// `--dev`: generate a pair for `localhost` and `127.0.0.1` unless one is there.
/// Returns whether it generated.
pub fn ensure_dev(dir: &Path) -> Result<bool, CertError> {
    if ["ca.crt", "tls.crt", "tls.key"].iter().all(|f| dir.join(f).exists()) {
        return Ok(false);
    }
    let g = generate(&["localhost".into()], &["127.0.0.1".into()])?;
    write_all(dir, &g)?;
    Ok(true)
}
