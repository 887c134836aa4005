//! TLS to the databases: rustls with the ring provider, with libpq's meaning of `sslmode`.
//!
//! | sslmode | TLS | the server's certificate |
//! |---|---|---|
//! | `disable` | never | – |
//! | `allow` | only if the server refuses a plain connection | not checked ¹ |
//! | `prefer` (default) | when the server offers it; a failed TLS attempt is retried plain | not checked ¹ |
//! | `require` | always | not checked ¹ |
//! | `verify-ca` | always | must chain to a trusted root |
//! | `verify-full` | always | must chain to a trusted root and name the host |
//!
//! ¹ PostgreSQL, as libpq: checked like `verify-ca` when a root certificate file is
//! configured or `~/.postgresql/root.crt` exists. MySQL's `REQUIRED` never checks.
//!
//! The trusted roots are the `sslrootcert` file (PEM, one or more certificates: the RDS
//! bundle works as is), else for PostgreSQL `~/.postgresql/root.crt` when it exists, else the
//! system's trust store (Mozilla's list when the system has none). libpq instead refuses
//! `verify-*` without a root file; trusting the system store is the deliberate difference.
//! TLS is never used over a Unix socket, as in libpq. MySQL's `ssl-mode` values map onto
//! the same modes (`PREFERRED` = `prefer`, `REQUIRED` = `require`, `VERIFY_CA`,
//! `VERIFY_IDENTITY` = `verify-full`).

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientConfig, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::{EngineKind, RootCerts, SslMode, Target};

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Encrypted, but the certificate is not checked (libpq's `prefer`, `require`).
    Nothing,
    /// The certificate chains to a trusted root; the name is not checked (`verify-ca`).
    Chain,
    /// Chain and host name (`verify-full`).
    Full,
}

/// A root certificate file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RootsError(String);

/// The roots a connection trusts, loaded.
#[derive(Debug, Clone)]
pub struct Roots {
    pub store: Arc<RootCertStore>,
    /// For messages: `the CA file /etc/ssl/rds.pem`, `the system trust store`.
    pub described: String,
}

/// The certificate check a target's settings ask for, before any I/O: `verify-*` check as
/// named; for PostgreSQL, as libpq does, any TLS connection checks the chain when a root
/// file is configured or the default `~/.postgresql/root.crt` exists (`root_file_exists`).
pub fn verification(target: &Target, root_file_exists: bool) -> Verify {
    match target.sslmode {
        SslMode::VerifyFull => Verify::Full,
        SslMode::VerifyCa => Verify::Chain,
        // libpq checks the chain whenever a root file exists and TLS is used.
        SslMode::Allow | SslMode::Prefer | SslMode::Require
            if target.engine == EngineKind::Postgres && root_file_exists =>
        {
            Verify::Chain
        }
        _ => Verify::Nothing,
    }
}

/// Whether the target names a root certificate file that exists (an explicit file counts
/// even when missing: loading it then fails with a clear message).
pub fn root_file_configured(roots: &RootCerts) -> bool {
    match roots {
        RootCerts::File(_) => true,
        RootCerts::DefaultFile(p) => p.is_file(),
        RootCerts::System => false,
    }
}

/// Loads the roots a target trusts.
pub fn load_roots(roots: &RootCerts) -> Result<Roots, RootsError> {
    match roots {
        RootCerts::File(p) => load_file(p),
        RootCerts::DefaultFile(p) if p.is_file() => load_file(p),
        RootCerts::DefaultFile(_) | RootCerts::System => Ok(Roots {
            store: system_roots(),
            described: "the system trust store".into(),
        }),
    }
}

fn load_file(path: &Path) -> Result<Roots, RootsError> {
    let shown = path.display();
    let data = std::fs::read(path)
        .map_err(|e| RootsError(format!("sslrootcert {shown} cannot be read: {e}")))?;
    let mut store = RootCertStore::empty();
    let mut found = 0;
    for cert in CertificateDer::pem_slice_iter(&data) {
        let cert = cert.map_err(|e| {
            RootsError(format!(
                "sslrootcert {shown} is not a valid PEM file ({e:?}); it should hold the CA certificate(s), e.g. RDS's global-bundle.pem"
            ))
        })?;
        store.add(cert).map_err(|e| {
            RootsError(format!(
                "sslrootcert {shown} holds a certificate that cannot be used as a root: {e}"
            ))
        })?;
        found += 1;
    }
    if found == 0 {
        return Err(RootsError(format!(
            "sslrootcert {shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----); it should hold the CA certificate(s), e.g. RDS's global-bundle.pem"
        )));
    }
    Ok(Roots {
        store: Arc::new(store),
        described: format!("the CA file {shown}"),
    })
}

/// The system's trust store, loaded once; Mozilla's list when the system has none.
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut store = RootCertStore::empty();
            let native = rustls_native_certs::load_native_certs();
            let (added, _ignored) = store.add_parsable_certificates(native.certs);
            if added == 0 {
                store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
            Arc::new(store)
        })
        .clone()
}

/// The system's roots as DER, for drivers that take certificates rather than a store.
pub fn system_roots_der() -> Arc<Vec<Vec<u8>>> {
    static DER: OnceLock<Arc<Vec<Vec<u8>>>> = OnceLock::new();
    DER.get_or_init(|| {
        Arc::new(
            rustls_native_certs::load_native_certs()
                .certs
                .into_iter()
                .map(|c| c.as_ref().to_vec())
                .collect(),
        )
    })
    .clone()
}

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// Makes ring the process's rustls provider, for drivers that build their own TLS
/// configuration from the process default. Harmless when one is already installed.
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A rustls client configuration that checks `verify` against `roots`.
pub fn client_config(verify: Verify, roots: Option<&Roots>) -> Result<ClientConfig, RootsError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| RootsError(format!("TLS set-up failed: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = match (verify, roots) {
        (Verify::Nothing, _) | (_, None) => Arc::new(NoCheck(provider)),
        (Verify::Chain | Verify::Full, Some(roots)) => {
            let webpki = WebPkiServerVerifier::builder_with_provider(roots.store.clone(), provider)
                .build()
                .map_err(|e| RootsError(format!("TLS set-up failed: {e}")))?;
            if verify == Verify::Full {
                webpki
            } else {
                Arc::new(ChainOnly(webpki))
            }
        }
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// `prefer` / `require`: the connection is encrypted and the handshake signatures are
/// checked, but not who issued the certificate — libpq's behaviour for these modes.
#[derive(Debug)]
struct NoCheck(Arc<CryptoProvider>);

impl ServerCertVerifier for NoCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted root; the host name is not compared.
/// webpki checks the chain before the name, so a name mismatch means the chain was good.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// What to tell the operator about a failed TLS handshake, from the error text of either
/// driver; empty when the failure is not about TLS.
pub fn hint(detail: &str, target: &Target, roots: &str) -> String {
    let has = |s: &str| detail.contains(s);
    if has("UnknownIssuer") || has("BadSignature") || has("UnknownRevocationStatus") {
        format!(
            " The server's certificate is not signed by a CA in {roots}: set sslrootcert to the CA certificate that signed it (for RDS, the region or global bundle from https://truststore.pki.rds.amazonaws.com, e.g. sslrootcert=/path/global-bundle.pem), or use sslmode=require to encrypt without verifying the server."
        )
    } else if has("NotValidForName") || has("not valid for name") {
        format!(
            " The server's certificate does not name host {}: connect with a name the certificate carries (for RDS, the instance or cluster endpoint, not an IP address or a CNAME of your own), or use sslmode=verify-ca to check the CA only.",
            target.host
        )
    } else if has("Expired")
        || has("NotValidYet")
        || has("certificate expired")
        || has("not valid yet")
    {
        " The server's certificate is outside its validity period (or this machine's clock is wrong).".into()
    } else if has("server does not support TLS") || has("server does not have this capability") {
        " The server has TLS turned off: use sslmode=prefer or disable for this target, or turn TLS on at the server (ssl = on for PostgreSQL; ssl_cert/ssl_key for MySQL/MariaDB).".into()
    } else if has("InvalidDnsName") || has("invalid dns name") {
        format!(
            " TLS needs a host name or IP address to check the certificate against; `{}` is neither.",
            target.host
        )
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PasswordSource;

    fn target(engine: EngineKind, sslmode: SslMode) -> Target {
        Target {
            name: "t".into(),
            engine,
            host: "db.example.com".into(),
            port: 5432,
            user: "u".into(),
            database: None,
            password: PasswordSource::Default,
            sslmode,
            sslrootcert: RootCerts::System,
            application_name: "x".into(),
        }
    }

    #[test]
    fn modes_map_to_libpq_checks() {
        let pg = |m| verification(&target(EngineKind::Postgres, m), false);
        assert_eq!(pg(SslMode::Prefer), Verify::Nothing);
        assert_eq!(pg(SslMode::Require), Verify::Nothing);
        assert_eq!(pg(SslMode::VerifyCa), Verify::Chain);
        assert_eq!(pg(SslMode::VerifyFull), Verify::Full);
        // require + a root file = verify-ca, as in libpq.
        assert_eq!(
            verification(&target(EngineKind::Postgres, SslMode::Require), true),
            Verify::Chain
        );
        assert_eq!(
            verification(&target(EngineKind::Postgres, SslMode::Prefer), true),
            Verify::Chain
        );
        // MySQL's REQUIRED never verifies.
        assert_eq!(
            verification(&target(EngineKind::Mysql, SslMode::Require), true),
            Verify::Nothing
        );
    }

    #[test]
    fn root_files_are_checked_with_clear_messages() {
        let dir = std::env::temp_dir().join(format!("pwt-tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.pem");
        let err = load_roots(&RootCerts::File(missing.clone())).unwrap_err();
        assert!(
            err.0.contains("cannot be read") && err.0.contains("missing.pem"),
            "{err}"
        );
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        let err = load_roots(&RootCerts::File(junk)).unwrap_err();
        assert!(err.0.contains("no PEM certificate"), "{err}");
        // A default file that does not exist falls back to the system store.
        let roots = load_roots(&RootCerts::DefaultFile(missing)).unwrap();
        assert_eq!(roots.described, "the system trust store");
        assert!(!root_file_configured(&RootCerts::DefaultFile(
            dir.join("none")
        )));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn handshake_failures_get_a_fix() {
        let t = target(EngineKind::Postgres, SslMode::VerifyFull);
        let h = hint(
            "error performing TLS handshake: invalid peer certificate: UnknownIssuer",
            &t,
            "the CA file /x.pem",
        );
        assert!(h.contains("sslrootcert") && h.contains("/x.pem"), "{h}");
        let h = hint("invalid peer certificate: NotValidForName", &t, "");
        assert!(
            h.contains("db.example.com") && h.contains("verify-ca"),
            "{h}"
        );
        assert_eq!(hint("password authentication failed", &t, ""), "");
    }
}
