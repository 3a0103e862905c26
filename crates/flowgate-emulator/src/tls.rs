//! HTTPS for `flowgate emulate --tls`: Microsoft's clients refuse an
//! authority that is not `https://` (MSAL's `canonicalize`, msal-node's URL
//! checks, azure-identity's `normalize_authority`).
//!
//! Two ways to get a certificate:
//! - [`TlsIdentity::generate`]: a local certificate authority made at
//!   start-up and a leaf it signs for `localhost`, `127.0.0.1`, `::1` and any
//!   further names asked for. The CA certificate (never its key) is written
//!   to a file whose path the command prints, for `REQUESTS_CA_BUNDLE`
//!   (Python's requests: MSAL, azure-identity) or `NODE_EXTRA_CA_CERTS`
//!   (Node: msal-node), in the way Azurite documents its own certificates.
//!   Both are new on every start, so nothing needs to be kept safe: the key
//!   of a CA that a client trusts lives only in this process.
//! - [`TlsIdentity::from_pem_files`]: the operator's certificate chain and
//!   key (`--cert`, `--key`), e.g. from mkcert.
//!
//! [`TlsListener`] puts rustls (with ring) under `axum::serve`: handshakes
//! run in their own tasks, so a client that stalls one holds up no other.

use std::{net::SocketAddr, path::Path, sync::Arc, time::Duration};

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SanType,
};
use rustls::pki_types::{pem::PemObject as _, CertificateDer, PrivateKeyDer};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::mpsc,
};
use tokio_rustls::{server::TlsStream, TlsAcceptor};

/// Names every generated leaf certificate covers.
pub const DEFAULT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Days a generated certificate is valid (it is remade on every start).
const VALIDITY_DAYS: i64 = 30;

/// Longest a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A server certificate chain with its key, and the CA to trust when the
/// emulator made it.
pub struct TlsIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// The generated CA's certificate, PEM (`None` for the operator's files).
    pub ca_pem: Option<String>,
    /// The names the leaf covers (generated certificates only).
    pub names: Vec<String>,
}

impl TlsIdentity {
    /// A new CA and a leaf it signs for [`DEFAULT_NAMES`] and `extra_names`
    /// (host names or IP addresses).
    ///
    /// # Errors
    /// A name that is neither a DNS name nor an IP address, or key
    /// generation failing.
    pub fn generate(extra_names: &[String]) -> anyhow::Result<Self> {
        let mut names: Vec<String> = DEFAULT_NAMES.iter().map(|s| (*s).to_owned()).collect();
        for n in extra_names {
            let n = n.trim().trim_start_matches('[').trim_end_matches(']').to_owned();
            if !n.is_empty() && !names.contains(&n) {
                names.push(n);
            }
        }
        let now = time::OffsetDateTime::now_utc();
        let (not_before, not_after) = (now - time::Duration::days(1), now + time::Duration::days(VALIDITY_DAYS));

        let mut ca = CertificateParams::new(Vec::<String>::new()).context("CA parameters")?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.distinguished_name.push(DnType::OrganizationName, "flowgate emulator (test only)");
        ca.distinguished_name.push(DnType::CommonName, "flowgate emulator local CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        ca.not_before = not_before;
        ca.not_after = not_after;
        let ca_key = KeyPair::generate().context("CA key")?;
        let ca_cert = ca.self_signed(&ca_key).context("CA certificate")?;
        let issuer = Issuer::new(ca, ca_key);

        let mut leaf = CertificateParams::new(Vec::<String>::new()).context("leaf parameters")?;
        leaf.subject_alt_names = names
            .iter()
            .map(|n| match n.parse::<std::net::IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => {
                    n.clone().try_into().map(SanType::DnsName).with_context(|| format!("{n:?} is not a host name"))
                }
            })
            .collect::<anyhow::Result<_>>()?;
        leaf.distinguished_name.push(DnType::CommonName, names[0].clone());
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf.not_before = not_before;
        leaf.not_after = not_after;
        let leaf_key = KeyPair::generate().context("leaf key")?;
        let leaf_cert = leaf.signed_by(&leaf_key, &issuer).context("leaf certificate")?;

        let key = PrivateKeyDer::try_from(leaf_key.serialize_der()).map_err(|e| anyhow::anyhow!("leaf key: {e}"))?;
        Ok(Self {
            chain: vec![leaf_cert.der().clone(), ca_cert.der().clone()],
            key,
            ca_pem: Some(ca_cert.pem()),
            names,
        })
    }

    /// The operator's PEM certificate chain (leaf first) and private key
    /// (PKCS#8, PKCS#1 or SEC1).
    ///
    /// # Errors
    /// Unreadable files, no certificate, or no key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> anyhow::Result<Self> {
        let chain = CertificateDer::pem_file_iter(cert)
            .with_context(|| format!("cannot read {}", cert.display()))?
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("{} is not PEM", cert.display()))?;
        if chain.is_empty() {
            anyhow::bail!("{} holds no CERTIFICATE", cert.display());
        }
        let key = PrivateKeyDer::from_pem_file(key).with_context(|| format!("no private key in {}", key.display()))?;
        Ok(Self { chain, key, ca_pem: None, names: Vec::new() })
    }

    /// The rustls server configuration (HTTP/1.1 by ALPN).
    ///
    /// # Errors
    /// A key that does not match the certificate, or of a kind rustls
    /// cannot use.
    pub(crate) fn server_config(&self) -> anyhow::Result<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .context("the TLS certificate and key do not go together")?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// Writes the CA certificate to `path` (creating its folder).
///
/// # Errors
/// The file cannot be written.
pub fn write_ca(path: &Path, pem: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, pem).with_context(|| format!("cannot write {}", path.display()))
}

/// A TCP listener whose connections are TLS-terminated before axum sees
/// them. Failed or slow handshakes are dropped without a word (a plain-HTTP
/// client gets a closed connection).
pub(crate) struct TlsListener {
    local_addr: SocketAddr,
    accepted: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    /// The task that owns the TCP listener: stopped with this value, so
    /// that the port is released when the server stops.
    acceptor_task: tokio::task::AbortHandle,
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor_task.abort();
    }
}

impl TlsListener {
    /// Starts accepting on `listener`, until this value is dropped.
    pub(crate) fn new(listener: TcpListener, config: rustls::ServerConfig) -> std::io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let (tx, accepted) = mpsc::channel(64);
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, peer)) = listener.accept().await else {
                    // Out of file descriptors or the like: breathe, go on.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    if let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        let _ = tx.send((tls, peer)).await;
                    }
                });
            }
        });
        Ok(Self { local_addr, accepted, acceptor_task: task.abort_handle() })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(conn) => conn,
            // The accept task never ends while this receiver lives; should it,
            // wait for the server's shutdown rather than spin.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}
