//! TLS for SMPP binds (rustls with the `ring` provider): the server's acceptor from PEM
//! files, and the ESME's connector trusting a CA file.

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::error::SetupError;

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, SetupError> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(SetupError(format!(
            "{}: no certificate in the file",
            path.display()
        )));
    }
    Ok(certs)
}

/// The acceptor for the server's TLS listener.
pub fn acceptor(cert_file: &Path, key_file: &Path) -> Result<TlsAcceptor, SetupError> {
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| format!("{}: {e}", key_file.display()))?;
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs(cert_file)?, key)
        .map_err(|e| format!("TLS certificate and key do not go together: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The connector for an ESME's TLS binds, trusting the CAs in `ca_file`.
pub fn connector(ca_file: &Path) -> Result<TlsConnector, SetupError> {
    let mut roots = RootCertStore::empty();
    for cert in certs(ca_file)? {
        roots
            .add(cert)
            .map_err(|e| format!("{}: {e}", ca_file.display()))?;
    }
    let config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The name to check the peer's certificate against.
pub fn server_name(name: &str) -> Result<ServerName<'static>, SetupError> {
    ServerName::try_from(name.to_string())
        .map_err(|e| SetupError(format!("`{name}` is not a valid TLS server name: {e}")))
}
