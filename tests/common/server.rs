//! An in-process meshgate server on loopback ports with real certificates, and a
//! real HTTPS client (hyper over tokio-rustls) to talk to it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use meshgate::manifest::parse_text;
use meshgate::policy::Policy;
use meshgate::server::{self, AppState, ServeOptions};
use meshgate::view::{ClusterView, SharedView, ViewSettings};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

pub struct TestServer {
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    pub dir: tempfile::TempDir,
    pub state: AppState,
    pub cas: Vec<String>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    pub task: Option<tokio::task::JoinHandle<Result<(), server::ServeError>>>,
}

pub fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub fn view_from(docs: &[&str]) -> ClusterView {
    let mut v = ClusterView::new(ViewSettings::default());
    for d in docs {
        for m in parse_text("fixture.yaml", d, "default").expect("fixture parses") {
            v.apply(m.object);
        }
    }
    v
}

pub struct Setup {
    pub view: ClusterView,
    pub fetcher: Option<Arc<dyn server::Fetch>>,
    pub policy_file: Option<String>,
    pub header_read_timeout: Duration,
    pub body_limit: usize,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            view: ClusterView::new(ViewSettings::default()),
            fetcher: None,
            policy_file: None,
            header_read_timeout: Duration::from_secs(10),
            body_limit: server::DEFAULT_BODY_LIMIT,
        }
    }
}

pub fn write_pair(dir: &std::path::Path) -> String {
    let g = meshgate::certs::generate(&["localhost".into()], &["127.0.0.1".into()]).unwrap();
    // Written to temporary names and renamed, as a Secret volume's symlink swap
    // makes both files change at once.
    std::fs::write(dir.join("tls.crt.new"), &g.tls_cert).unwrap();
    std::fs::write(dir.join("tls.key.new"), &g.tls_key).unwrap();
    std::fs::rename(dir.join("tls.key.new"), dir.join("tls.key")).unwrap();
    std::fs::rename(dir.join("tls.crt.new"), dir.join("tls.crt")).unwrap();
    g.ca_cert
}

impl TestServer {
    pub async fn start(setup: Setup) -> TestServer {
        install_provider();
        let dir = tempfile::tempdir().unwrap();
        let ca = write_pair(dir.path());
        let config = setup.policy_file.as_ref().map(|text| {
            let p = dir.path().join("meshgate.yaml");
            std::fs::write(&p, text).unwrap();
            p
        });
        let opts = ServeOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            admin_addr: "127.0.0.1:0".parse().unwrap(),
            cert: dir.path().join("tls.crt"),
            key: dir.path().join("tls.key"),
            config: config.clone(),
            own_namespace: "meshgate".into(),
            body_limit: setup.body_limit,
            header_read_timeout: setup.header_read_timeout,
            reload_interval: Duration::from_millis(100),
            shutdown_grace: Duration::from_secs(5),
            audit_debounce: Duration::from_millis(20),
        };
        let policy =
            server::load_policy(config.as_ref(), "meshgate").unwrap_or_else(|_| Policy::with_defaults("meshgate"));
        let mut state = AppState::new(Arc::new(SharedView::new(setup.view, true)), policy);
        state.fetcher = setup.fetcher;
        let bound = server::bind(&opts).unwrap();
        let addr = bound.webhook.local_addr().unwrap();
        let admin = bound.admin.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(opts, bound, state.clone(), async {
            let _ = rx.await;
        }));
        let s = TestServer {
            addr,
            admin,
            dir,
            state,
            cas: vec![ca],
            shutdown: Some(tx),
            task: Some(task),
        };
        // Wait until the TLS listener answers.
        for _ in 0..100 {
            if s.client().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        s
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub async fn stop(mut self) -> Result<(), server::ServeError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.take().unwrap().await.unwrap()
    }

    /// A keep-alive HTTPS connection trusting the server's CA(s).
    pub async fn client(&self) -> Result<Client, String> {
        Client::connect(self.addr, &self.cas).await
    }

    /// One request on a fresh connection.
    pub async fn post(&self, body: impl Into<Vec<u8>>) -> (u16, serde_json::Value) {
        let mut c = self.client().await.expect("connects");
        c.post("/validate", body.into()).await.expect("request succeeds")
    }

    pub async fn admin_get(&self, path: &str) -> (u16, String) {
        let stream = TcpStream::connect(self.admin).await.unwrap();
        let (mut send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let req = hyper::Request::get(path)
            .header("host", "localhost")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let resp = send.send_request(req).await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

pub struct Client {
    send: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    pub peer_cert: Vec<u8>,
}

pub fn tls_connector(cas: &[String]) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for ca in cas {
        for c in rustls_pemfile::certs(&mut ca.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
    }
    let cfg = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(cfg))
}

impl Client {
    pub async fn connect(addr: SocketAddr, cas: &[String]) -> Result<Client, String> {
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let tls = tls_connector(cas)
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        let peer_cert = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first().map(|c: &CertificateDer| c.to_vec()))
            .unwrap_or_default();
        let (send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        Ok(Client { send, peer_cert })
    }

    pub async fn post(&mut self, path: &str, body: Vec<u8>) -> Result<(u16, serde_json::Value), String> {
        self.send.ready().await.map_err(|e| e.to_string())?;
        let req = hyper::Request::post(path)
            .header("host", "localhost")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let resp = self.send.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()));
        Ok((status, v))
    }
}

/// An AdmissionReview body.
pub fn review(
    api: &str,
    op: &str,
    kind: (&str, &str),
    object: Option<serde_json::Value>,
    old: Option<serde_json::Value>,
    dry_run: bool,
) -> Vec<u8> {
    let meta = object
        .as_ref()
        .or(old.as_ref())
        .map(|o| o["metadata"].clone())
        .unwrap_or_default();
    serde_json::to_vec(&serde_json::json!({
        "apiVersion": api, "kind": "AdmissionReview",
        "request": {
            "uid": format!("uid-{}", meta["name"].as_str().unwrap_or("x")),
            "kind": {"group": kind.0, "version": "v1", "kind": kind.1},
            "namespace": meta["namespace"], "name": meta["name"],
            "operation": op, "object": object, "oldObject": old, "dryRun": dry_run,
        }
    }))
    .unwrap()
}
