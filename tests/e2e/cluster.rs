//! A real control plane on loopback: etcd and kube-apiserver built from the Go
//! module proxy (build-testbin.sh), the Istio CRDs, meshgate watching it, and the
//! webhook registered from `manifests/` with a url-based client config.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// kubectl 1.33 (one minor behind the 1.34 API server), from the image's Google
/// Cloud CLI package unless `MESHGATE_KUBECTL` names another.
fn kubectl_bin() -> String {
    std::env::var("MESHGATE_KUBECTL").unwrap_or_else(|_| "/usr/lib/google-cloud-sdk/bin/kubectl.1.33".to_string())
}
const TOKEN: &str = "meshgate-e2e-token";
/// meshgate's own token: it authenticates as the ServiceAccount of `manifests/`, so
/// the ClusterRole there is all it may do (a missing RBAC rule fails the suite).
const MESHGATE_TOKEN: &str = "meshgate-e2e-sa-token";
/// The remote clusters' reader (manifests/remote-reader's ServiceAccount): a
/// remote secret's kubeconfig carries it, so that ClusterRole is all meshgate
/// may do there.
pub const READER_TOKEN: &str = "meshgate-e2e-remote-reader-token";

pub fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

pub fn shared(p: &str) -> PathBuf {
    let base = std::env::var_os("MESHGATE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo("../shared"));
    base.join(p)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub struct Proc {
    name: &'static str,
    child: Child,
}

impl Proc {
    fn spawn(name: &'static str, cmd: &mut Command, log: &Path) -> Proc {
        let out = std::fs::File::create(log).unwrap();
        let err = out.try_clone().unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc { name, child }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
        eprintln!("e2e: stopped {}", self.name);
    }
}

/// The output of one kubectl run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    bin: PathBuf,
    pub kubeconfig: PathBuf,
    api_port: u16,
    etcd_port: u16,
    pub webhook_port: u16,
    pub admin_port: u16,
    ca_bundle: String,
    pub apiserver: Option<Proc>,
    pub meshgate: Option<Proc>,
    _etcd: Proc,
}

fn testbin() -> PathBuf {
    let out = Command::new("bash")
        .arg(repo("tests/e2e/build-testbin.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run build-testbin.sh");
    assert!(out.status.success(), "building kube-apiserver and etcd failed");
    PathBuf::from(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .trim(),
    )
}

fn wait_until(timeout: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

fn wait_for(what: &str, timeout: Duration, ok: impl FnMut() -> bool) {
    assert!(
        wait_until(timeout, ok),
        "timed out after {timeout:?} waiting for {what}"
    );
}

pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl Cluster {
    pub fn start() -> Cluster {
        let bin = testbin();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (etcd_port, etcd_peer, api_port) = (free_port(), free_port(), free_port());
        let etcd = Proc::spawn(
            "etcd",
            Command::new(bin.join("etcd"))
                .arg("--name=e2e")
                .arg(format!("--data-dir={}", d.join("etcd").display()))
                .arg(format!("--listen-client-urls=http://127.0.0.1:{etcd_port}"))
                .arg(format!("--advertise-client-urls=http://127.0.0.1:{etcd_port}"))
                .arg(format!("--listen-peer-urls=http://127.0.0.1:{etcd_peer}"))
                .arg(format!("--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}"))
                .arg(format!("--initial-cluster=e2e=http://127.0.0.1:{etcd_peer}"))
                .arg("--unsafe-no-fsync"),
            &d.join("etcd.log"),
        );
        // Service-account signing key (kube-apiserver wants SEC1 "EC PRIVATE KEY" or
        // RSA, not PKCS#8) and the admin token.
        let key = Command::new("openssl")
            .args(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out"])
            .arg(d.join("sa.key"))
            .status()
            .expect("openssl generates the service-account key");
        assert!(key.success(), "openssl ecparam failed");
        std::fs::write(
            d.join("tokens.csv"),
            format!(
                "{TOKEN},admin,admin,\"system:masters\"\n{MESHGATE_TOKEN},system:serviceaccount:meshgate:meshgate,meshgate-sa,\"system:serviceaccounts,system:serviceaccounts:meshgate\"\n{READER_TOKEN},system:serviceaccount:meshgate:meshgate-reader,meshgate-reader,\"system:serviceaccounts,system:serviceaccounts:meshgate\"\n"
            ),
        )
        .unwrap();
        let kubeconfig_for = |token: &str| {
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: e2e\n  cluster:\n    server: https://127.0.0.1:{api_port}\n    insecure-skip-tls-verify: true\nusers:\n- name: user\n  user:\n    token: {token}\ncontexts:\n- name: e2e\n  context: {{cluster: e2e, user: user}}\ncurrent-context: e2e\n"
            )
        };
        let kubeconfig = d.join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_for(TOKEN)).unwrap();
        std::fs::write(d.join("meshgate.kubeconfig"), kubeconfig_for(MESHGATE_TOKEN)).unwrap();
        let mut c = Cluster {
            dir,
            bin,
            kubeconfig,
            api_port,
            etcd_port,
            webhook_port: free_port(),
            admin_port: free_port(),
            ca_bundle: String::new(),
            apiserver: None,
            meshgate: None,
            _etcd: etcd,
        };
        c.start_apiserver();
        c.install_crds();
        // RBAC and webhook first: meshgate runs as the manifests' ServiceAccount.
        c.register_webhook();
        c.start_meshgate();
        c.wait_for_webhook();
        c
    }

    pub fn start_apiserver(&mut self) {
        let d = self.dir.path();
        let p = Proc::spawn(
            "kube-apiserver",
            Command::new(self.bin.join("kube-apiserver"))
                .arg(format!("--etcd-servers=http://127.0.0.1:{}", self.etcd_port))
                .arg("--bind-address=127.0.0.1")
                .arg("--advertise-address=127.0.0.1")
                .arg(format!("--secure-port={}", self.api_port))
                .arg(format!("--cert-dir={}", d.join("apiserver-certs").display()))
                .arg("--service-cluster-ip-range=10.0.0.0/16")
                .arg("--endpoint-reconciler-type=none")
                .arg(format!("--service-account-key-file={}", d.join("sa.key").display()))
                .arg(format!(
                    "--service-account-signing-key-file={}",
                    d.join("sa.key").display()
                ))
                .arg(format!("--service-account-issuer=https://127.0.0.1:{}", self.api_port))
                .arg(format!("--token-auth-file={}", d.join("tokens.csv").display()))
                .arg("--authorization-mode=RBAC")
                .arg("--disable-admission-plugins=ServiceAccount"),
            &d.join("apiserver.log"),
        );
        self.apiserver = Some(p);
        let ready = wait_until(Duration::from_secs(120), || {
            self.kubectl(&["get", "--raw", "/readyz"], None).code == 0
        });
        assert!(
            ready,
            "kube-apiserver not ready after 120 s:\n{}",
            tail(&self.log("apiserver.log"), 30)
        );
    }

    /// A second API server on loopback, a remote cluster of a multi-cluster
    /// mesh: it shares the etcd under its own prefix. Returns it and an admin
    /// kubeconfig for it (a real CA, a token).
    pub fn start_remote_apiserver(&self, name: &str) -> (Proc, PathBuf) {
        self.start_remote_apiserver_on(name, free_port())
    }

    /// A remote API server on `port`: a restart on the same port and cert
    /// dir keeps its address and its CA.
    pub fn start_remote_apiserver_on(&self, name: &str, port: u16) -> (Proc, PathBuf) {
        let d = self.dir.path();
        let certs = d.join(format!("{name}-certs"));
        let p = Proc::spawn(
            "remote kube-apiserver",
            Command::new(self.bin.join("kube-apiserver"))
                .arg(format!("--etcd-servers=http://127.0.0.1:{}", self.etcd_port))
                .arg(format!("--etcd-prefix=/registry-{name}"))
                .arg("--bind-address=127.0.0.1")
                .arg("--advertise-address=127.0.0.1")
                .arg(format!("--secure-port={port}"))
                .arg(format!("--cert-dir={}", certs.display()))
                .arg("--service-cluster-ip-range=10.1.0.0/16")
                .arg("--endpoint-reconciler-type=none")
                .arg(format!("--service-account-key-file={}", d.join("sa.key").display()))
                .arg(format!(
                    "--service-account-signing-key-file={}",
                    d.join("sa.key").display()
                ))
                .arg(format!("--service-account-issuer=https://127.0.0.1:{port}"))
                .arg(format!("--token-auth-file={}", d.join("tokens.csv").display()))
                .arg("--authorization-mode=RBAC")
                .arg("--disable-admission-plugins=ServiceAccount"),
            &d.join(format!("{name}-apiserver.log")),
        );
        let kubeconfig = d.join(format!("{name}.kubeconfig"));
        let write = |ca: Option<&str>| {
            let trust = match ca {
                Some(ca) => format!("certificate-authority-data: {ca}"),
                None => "insecure-skip-tls-verify: true".to_string(),
            };
            std::fs::write(
                &kubeconfig,
                format!("apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster:\n    server: https://127.0.0.1:{port}\n    {trust}\nusers:\n- name: admin\n  user:\n    token: {TOKEN}\ncontexts:\n- name: {name}\n  context: {{cluster: {name}, user: admin}}\ncurrent-context: {name}\n"),
            )
            .unwrap();
        };
        write(None);
        let ready = wait_until(Duration::from_secs(120), || {
            let r = Command::new(kubectl_bin())
                .arg(format!("--kubeconfig={}", kubeconfig.display()))
                .args(["get", "--raw", "/readyz"])
                .output();
            r.is_ok_and(|o| o.status.success())
        });
        assert!(
            ready,
            "remote kube-apiserver not ready:\n{}",
            tail(&self.log(&format!("{name}-apiserver.log")), 30)
        );
        // Its own CA (kube-apiserver wrote it in its cert dir), not trust-all.
        let ca = std::fs::read(certs.join("apiserver.crt")).expect("the remote API server's certificate");
        let b64 = Command::new("base64")
            .arg("-w0")
            .arg(certs.join("apiserver.crt"))
            .output()
            .expect("base64 runs");
        assert!(!ca.is_empty() && b64.status.success());
        write(Some(&String::from_utf8_lossy(&b64.stdout)));
        (p, kubeconfig)
    }

    fn install_crds(&self) {
        let crds = shared("istio/crds/istio-1.30.3-crd-all.gen.yaml");
        let r = self.kubectl(&["create", "-f", &crds.display().to_string()], None);
        assert_eq!(r.code, 0, "installing the Istio CRDs: {r:?}");
        // The Kubernetes Gateway API v1.5.1: the standard channel, and TCPRoute
        // from the experimental one (its safe-upgrades admission policy is not
        // installed: it only guards CRD upgrades).
        let gapi = shared("gateway-api/v1.5.1");
        for f in [
            "standard/gateway.networking.k8s.io_gatewayclasses.yaml",
            "standard/gateway.networking.k8s.io_gateways.yaml",
            "standard/gateway.networking.k8s.io_httproutes.yaml",
            "standard/gateway.networking.k8s.io_grpcroutes.yaml",
            "standard/gateway.networking.k8s.io_tlsroutes.yaml",
            "standard/gateway.networking.k8s.io_referencegrants.yaml",
            "standard/gateway.networking.k8s.io_listenersets.yaml",
            "standard/gateway.networking.k8s.io_backendtlspolicies.yaml",
            "experimental/gateway.networking.k8s.io_tcproutes.yaml",
        ] {
            let r = self.kubectl(&["create", "-f", &gapi.join(f).display().to_string()], None);
            assert_eq!(r.code, 0, "installing {f}: {r:?}");
        }
        // The PolicyReport API, as Kyverno or Policy Reporter would have installed it.
        let policy_reports = repo("tests/e2e/policyreport-crd.yaml");
        let r = self.kubectl(&["create", "-f", &policy_reports.display().to_string()], None);
        assert_eq!(r.code, 0, "installing the PolicyReport CRD: {r:?}");
        let r = self.kubectl(
            &["wait", "--for=condition=Established", "--timeout=120s", "crd", "--all"],
            None,
        );
        assert_eq!(r.code, 0, "{r:?}");
    }

    /// The webhook's serving pair (made once), and the CA bundle that trusts it.
    fn ensure_certs(&mut self) -> PathBuf {
        let certs = self.dir.path().join("meshgate-certs");
        if !certs.join("tls.crt").exists() {
            let out = Command::new(env!("CARGO_BIN_EXE_meshgate"))
                .args(["certs", "--dns", "localhost", "--ip", "127.0.0.1", "--out"])
                .arg(&certs)
                .output()
                .unwrap();
            assert!(out.status.success());
            self.ca_bundle = base64(&std::fs::read(certs.join("ca.crt")).unwrap());
        }
        certs
    }

    pub fn start_meshgate(&mut self) {
        let certs = self.ensure_certs();
        let d = self.dir.path();
        let p = Proc::spawn(
            "meshgate",
            Command::new(env!("CARGO_BIN_EXE_meshgate"))
                .env("RUST_LOG", "info")
                .env("POD_NAME", "meshgate-0")
                .arg("serve")
                .arg(format!("--kubeconfig={}", d.join("meshgate.kubeconfig").display()))
                .arg(format!("--addr=127.0.0.1:{}", self.webhook_port))
                .arg(format!("--admin-addr=127.0.0.1:{}", self.admin_port))
                .arg(format!("--tls-cert={}", certs.join("tls.crt").display()))
                .arg(format!("--tls-key={}", certs.join("tls.key").display()))
                .arg("--own-namespace=meshgate")
                .arg("--stale-seconds=10")
                .arg("--policy-reports"),
            &d.join("meshgate.log"),
        );
        self.meshgate = Some(p);
        let ready = wait_until(Duration::from_secs(60), || self.admin("/readyz").0 == 200);
        assert!(
            ready,
            "meshgate not ready after 60 s:\n{}",
            tail(&self.log("meshgate.log"), 30)
        );
    }

    /// Another replica with `--policy-reports` (its own ports, the same
    /// credentials and Lease): for the one-writer test.
    pub fn start_replica(&self, identity: &str) -> Proc {
        let d = self.dir.path();
        let certs = d.join("meshgate-certs");
        Proc::spawn(
            "meshgate replica",
            Command::new(env!("CARGO_BIN_EXE_meshgate"))
                .env("RUST_LOG", "info")
                .env("POD_NAME", identity)
                .arg("serve")
                .arg(format!("--kubeconfig={}", d.join("meshgate.kubeconfig").display()))
                .arg(format!("--addr=127.0.0.1:{}", free_port()))
                .arg(format!("--admin-addr=127.0.0.1:{}", free_port()))
                .arg(format!("--tls-cert={}", certs.join("tls.crt").display()))
                .arg(format!("--tls-key={}", certs.join("tls.key").display()))
                .arg("--own-namespace=meshgate")
                .arg("--policy-reports"),
            &d.join(format!("{identity}.log")),
        )
    }

    /// A replica for the GitOps scenario: its own ports, a policy file (hot
    /// reloaded every second), no PolicyReports.
    pub fn start_gate_replica(&self, identity: &'static str, config: &Path) -> Replica {
        let certs = self.dir.path().join("meshgate-certs");
        self.start_replica_with(identity, &certs, config, free_port(), &["--reload-seconds=1"])
    }

    /// Points every webhook entry at `https://127.0.0.1:PORT/validate`.
    pub fn point_webhook_at(&self, port: u16) -> Run {
        let url = format!("https://127.0.0.1:{port}/validate");
        self.kubectl(
            &[
                "patch",
                "validatingwebhookconfiguration",
                "meshgate",
                "--type=json",
                &format!(
                    "-p=[{{\"op\":\"replace\",\"path\":\"/webhooks/0/clientConfig/url\",\"value\":\"{url}\"}},\
                     {{\"op\":\"replace\",\"path\":\"/webhooks/1/clientConfig/url\",\"value\":\"{url}\"}},\
                     {{\"op\":\"replace\",\"path\":\"/webhooks/2/clientConfig/url\",\"value\":\"{url}\"}}]"
                ),
            ],
            None,
        )
    }

    pub fn certs(&self) -> PathBuf {
        self.dir.path().join("meshgate-certs")
    }

    /// GET on meshgate's admin listener: (status, body).
    pub fn admin(&self, path: &str) -> (u16, String) {
        admin_get(self.admin_port, path)
    }
}

/// A meshgate replica started by a scenario; stopped when dropped.
impl Cluster {
    /// meshgate serving with the given certificate pair on `webhook_port`,
    /// with policy file `config` (the Helm scenario: what a chart installs).
    pub fn start_replica_with(
        &self,
        identity: &'static str,
        certs: &Path,
        config: &Path,
        webhook_port: u16,
        extra: &[&str],
    ) -> Replica {
        let d = self.dir.path();
        let admin_port = free_port();
        let proc = Proc::spawn(
            identity,
            Command::new(env!("CARGO_BIN_EXE_meshgate"))
                .env("RUST_LOG", "info")
                .arg("serve")
                .arg(format!("--kubeconfig={}", d.join("meshgate.kubeconfig").display()))
                .arg(format!("--addr=127.0.0.1:{webhook_port}"))
                .arg(format!("--admin-addr=127.0.0.1:{admin_port}"))
                .arg(format!("--tls-cert={}", certs.join("tls.crt").display()))
                .arg(format!("--tls-key={}", certs.join("tls.key").display()))
                .arg(format!("--config={}", config.display()))
                .arg("--own-namespace=meshgate")
                .args(extra),
            &d.join(format!("{identity}.log")),
        );
        let replica = Replica {
            _proc: proc,
            webhook_port,
            admin_port,
        };
        wait_for(&format!("{identity} to be ready"), Duration::from_secs(60), || {
            admin_get(admin_port, "/readyz").0 == 200
        });
        replica
    }
}

pub struct Replica {
    _proc: Proc,
    pub webhook_port: u16,
    pub admin_port: u16,
}

pub fn free_loopback_port() -> u16 {
    free_port()
}

/// GET on an admin listener: (status, body).
pub fn admin_get(port: u16, path: &str) -> (u16, String) {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    let _ = write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let mut buf = String::new();
    let _ = std::io::Read::read_to_string(&mut s, &mut buf);
    let status = buf.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

impl Cluster {
    /// The webhook from `manifests/`, with its client config pointed at the local
    /// meshgate (an overlay on the real manifests, applied with `kubectl apply -k`).
    fn register_webhook(&mut self) {
        self.ensure_certs();
        // A namespaced object cannot be dry-run into a namespace that is itself only
        // dry-run, so the namespace exists first (as it would on any cluster).
        let r = self.kubectl(&["create", "namespace", "meshgate"], None);
        assert_eq!(r.code, 0, "{r:?}");
        let r = self.kubectl(
            &[
                "apply",
                "--dry-run=server",
                "-k",
                &repo("manifests").display().to_string(),
            ],
            None,
        );
        assert_eq!(r.code, 0, "kubectl apply --dry-run=server -k manifests/: {r:?}");
        let overlay = repo(&format!("target/e2e-overlay-{}", std::process::id()));
        std::fs::create_dir_all(&overlay).unwrap();
        std::fs::write(
            overlay.join("kustomization.yaml"),
            format!(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../../manifests\ncomponents:\n- ../../manifests/policy-reports\npatches:\n- target: {{kind: ValidatingWebhookConfiguration, name: meshgate}}\n  patch: |-\n    - op: replace\n      path: /webhooks/0/clientConfig\n      value:\n        url: https://127.0.0.1:{0}/validate\n        caBundle: {1}\n    - op: replace\n      path: /webhooks/1/clientConfig\n      value:\n        url: https://127.0.0.1:{0}/validate\n        caBundle: {1}\n    - op: replace\n      path: /webhooks/2/clientConfig\n      value:\n        url: https://127.0.0.1:{0}/validate\n        caBundle: {1}\n",
                self.webhook_port, self.ca_bundle
            ),
        )
        .unwrap();
        let r = self.kubectl(&["apply", "-k", &overlay.display().to_string()], None);
        let _ = std::fs::remove_dir_all(&overlay);
        assert_eq!(r.code, 0, "registering the webhook: {r:?}");
    }

    fn wait_for_webhook(&self) {
        // The API server picks the configuration up through an informer: probe
        // until meshgate answers.
        self.kubectl(&["create", "namespace", "e2e-probe"], None);
        wait_for("the webhook to answer", Duration::from_secs(60), || {
            let r = self.kubectl(
                &["apply", "--dry-run=server", "-f", "-"],
                Some(&vs("e2e-probe", "probe", "missing", "web")),
            );
            r.stderr.contains("MG0101")
        });
    }

    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Run {
        kubectl_at(&self.kubeconfig, args, stdin)
    }

    pub fn namespace(&self, ns: &str) {
        let r = self.kubectl(&["create", "namespace", ns], None);
        assert_eq!(r.code, 0, "{r:?}");
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A VirtualService bound to `gateway`, routing to `host`.
pub fn vs(ns: &str, name: &str, gateway: &str, host: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  hosts: [shop.example.com]\n  gateways: [{gateway}]\n  http:\n  - route:\n    - destination:\n        host: {host}\n        port: {{number: 80}}\n"
    )
}

pub fn gateway(ns: &str, name: &str, host: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  selector: {{istio: ingressgateway}}\n  servers:\n  - port: {{number: 80, name: http, protocol: HTTP}}\n    hosts: [\"{host}\"]\n"
    )
}

/// kubectl against the API server a kubeconfig names.
pub fn kubectl_at(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    let mut cmd = Command::new(kubectl_bin());
    cmd.arg(format!("--kubeconfig={}", kubeconfig.display()))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = cmd.spawn().expect("kubectl runs");
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap().into()
}

pub fn service(ns: &str, name: &str, labels: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels: {{{labels}}}\nspec:\n  selector: {{app: {name}}}\n  ports:\n  - {{name: http, port: 80, targetPort: 8080}}\n"
    )
}
