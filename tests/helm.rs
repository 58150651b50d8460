//! The Helm chart (`charts/meshgate`, issue #23) with Helm itself (v4.3.2 from
//! the Go module proxy, tests/helm/build.sh): `helm lint --strict`, the schema
//! (a typo is an error), each certificate mode, and the render diff — the
//! chart renders what `kubectl kustomize` renders from `manifests/` (and its
//! cert-manager overlay and PolicyReports component), modulo the labels and
//! the certificate objects the chart adds, so the two never drift.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::repo;
use serde_json::Value;

/// Helm, built once per test run (tests/helm/build.sh).
fn helm_bin() -> &'static str {
    static HELM: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HELM.get_or_init(|| common::go_binary("tests/helm/build.sh", "Helm"))
}

fn kubectl_bin() -> String {
    std::env::var("MESHGATE_KUBECTL").unwrap_or_else(|_| "/usr/lib/google-cloud-sdk/bin/kubectl.1.33".to_string())
}

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn helm(args: &[&str]) -> Out {
    let o = Command::new(helm_bin())
        .args(args)
        .env("HELM_CACHE_HOME", std::env::temp_dir().join("meshgate-helm-cache"))
        .env("HELM_CONFIG_HOME", std::env::temp_dir().join("meshgate-helm-config"))
        .env("HELM_DATA_HOME", std::env::temp_dir().join("meshgate-helm-data"))
        .output()
        .expect("helm runs");
    Out {
        ok: o.status.success(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn chart() -> String {
    repo("charts/meshgate").display().to_string()
}

/// `helm template meshgate charts/meshgate -n meshgate` with `--set` pairs.
fn template(sets: &[&str]) -> Out {
    let c = chart();
    let mut args = vec!["template", "meshgate", c.as_str(), "-n", "meshgate"];
    for s in sets {
        args.push("--set");
        args.push(s);
    }
    helm(&args)
}

/// The rendered documents as JSON, whole (Secrets with their data).
fn objects(yaml: &str) -> Vec<Value> {
    meshgate::manifest::yaml::parse_documents(yaml)
        .expect("rendered YAML parses")
        .into_iter()
        .map(|d| d.value)
        .filter(|v| v.is_object())
        .collect()
}

fn find<'a>(objs: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    objs.iter().find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

#[test]
fn the_chart_lints_strictly_in_every_certificate_mode() {
    for sets in [
        vec![],
        vec!["certificates.mode=certManager"],
        vec![
            "certificates.mode=existingSecret",
            "certificates.existingSecret.name=mine",
            "certificates.existingSecret.caBundle=Y2E=",
        ],
        vec![
            "policyReports.enabled=true",
            "serviceMonitor.enabled=true",
            "networkPolicy.enabled=true",
        ],
    ] {
        let mut args = vec!["lint", "--strict"];
        let c = chart();
        args.push(&c);
        for s in &sets {
            args.push("--set");
            args.push(s);
        }
        let r = helm(&args);
        assert!(r.ok, "helm lint --strict {sets:?}:\n{}{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains("1 chart(s) linted, 0 chart(s) failed"),
            "{}",
            r.stdout
        );
    }
}

#[test]
fn a_values_typo_is_an_error_naming_it() {
    let r = template(&["replica=3"]);
    assert!(!r.ok, "a typo must fail: {}", r.stdout);
    assert!(
        r.stderr.contains("values don't meet the specifications of the schema")
            && r.stderr.contains("additional properties 'replica' not allowed"),
        "{}",
        r.stderr
    );
    let r = template(&["webhook.failurePolicy=Sometimes"]);
    assert!(!r.ok && r.stderr.contains("failurePolicy"), "{}", r.stderr);
    let r = template(&["certificates.mode=existingSecret"]);
    assert!(
        !r.ok
            && r.stderr
                .contains("certificates.existingSecret.name is required in mode existingSecret"),
        "{}",
        r.stderr
    );
}

#[test]
fn each_certificate_mode_renders_its_certificate_and_ca_bundle() {
    // generate: one CA signs the Secret and is the caBundle of every entry.
    let r = template(&[]);
    assert!(r.ok, "{}", r.stderr);
    let objs = objects(&r.stdout);
    let secret = find(&objs, "Secret", "meshgate-tls").expect("a generated Secret");
    assert_eq!(secret["type"], "kubernetes.io/tls");
    let ca = secret["data"]["ca.crt"].as_str().unwrap();
    let webhook = find(&objs, "ValidatingWebhookConfiguration", "meshgate").unwrap();
    let bundles: Vec<&Value> = webhook["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| &w["clientConfig"]["caBundle"])
        .collect();
    assert_eq!(bundles.len(), 3);
    assert!(bundles.iter().all(|b| b.as_str() == Some(ca)), "{bundles:?}");
    // The certificate names the Service.
    let text = subject_alt_names(&decode(secret["data"]["tls.crt"].as_str().unwrap()));
    assert!(text.contains("DNS:meshgate.meshgate.svc"), "{text}");
    // A webhook.url's host is in it too (meshgate outside the cluster).
    let r = template(&["webhook.url=https://127.0.0.1:9443/validate"]);
    let objs = objects(&r.stdout);
    let crt = decode(
        find(&objs, "Secret", "meshgate-tls").unwrap()["data"]["tls.crt"]
            .as_str()
            .unwrap(),
    );
    let text = subject_alt_names(&crt);
    assert!(text.contains("IP Address:127.0.0.1"), "{text}");

    // certManager: an Issuer, a Certificate for the Service, CA injection.
    let r = template(&["certificates.mode=certManager"]);
    assert!(r.ok, "{}", r.stderr);
    let objs = objects(&r.stdout);
    assert!(find(&objs, "Secret", "meshgate-tls").is_none());
    let cert = find(&objs, "Certificate", "meshgate-tls").expect("a Certificate");
    assert_eq!(cert["spec"]["issuerRef"]["name"], "meshgate-selfsigned");
    assert!(find(&objs, "Issuer", "meshgate-selfsigned").is_some());
    let webhook = find(&objs, "ValidatingWebhookConfiguration", "meshgate").unwrap();
    assert_eq!(
        webhook["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
        "meshgate/meshgate-tls"
    );
    assert!(webhook["webhooks"][0]["clientConfig"]["caBundle"].is_null());
    let r = template(&[
        "certificates.mode=certManager",
        "certificates.certManager.issuerRef.name=corp-ca",
        "certificates.certManager.issuerRef.kind=ClusterIssuer",
    ]);
    let objs = objects(&r.stdout);
    assert!(find(&objs, "Issuer", "meshgate-selfsigned").is_none());
    assert_eq!(
        find(&objs, "Certificate", "meshgate-tls").unwrap()["spec"]["issuerRef"]["kind"],
        "ClusterIssuer"
    );

    // existingSecret: the Secret named, the CA bundle given.
    let r = template(&[
        "certificates.mode=existingSecret",
        "certificates.existingSecret.name=corp-tls",
        "certificates.existingSecret.caBundle=Q0E=",
    ]);
    assert!(r.ok, "{}", r.stderr);
    let objs = objects(&r.stdout);
    assert!(!objs.iter().any(|o| o["kind"] == "Secret" || o["kind"] == "Certificate"));
    let d = find(&objs, "Deployment", "meshgate").unwrap();
    assert_eq!(
        d["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"],
        "corp-tls"
    );
    let webhook = find(&objs, "ValidatingWebhookConfiguration", "meshgate").unwrap();
    assert_eq!(webhook["webhooks"][0]["clientConfig"]["caBundle"], "Q0E=");
}

#[test]
fn values_reach_the_objects() {
    let r = template(&[
        "image.digest=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "replicas=3",
        "webhook.failurePolicy=Ignore",
        "webhook.timeoutSeconds=9",
        "webhook.upgrades.enabled=false",
        "webhook.url=https://127.0.0.1:9443/validate",
        "clusterId=east",
        "commonLabels.team=platform",
        "podDisruptionBudget.enabled=false",
        "nodeSelector.pool=system",
        "policy.settings.enforceOnDryRun=true",
    ]);
    assert!(r.ok, "{}", r.stderr);
    let objs = objects(&r.stdout);
    let d = find(&objs, "Deployment", "meshgate").unwrap();
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(
        pod["containers"][0]["image"],
        "ghcr.io/meshgate/meshgate@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    );
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(pod["nodeSelector"]["pool"], "system");
    assert!(pod["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "--cluster-id=east"));
    assert!(
        objs.iter().all(|o| o["metadata"]["labels"]["team"] == "platform"),
        "commonLabels on every object"
    );
    assert!(find(&objs, "PodDisruptionBudget", "meshgate").is_none());
    let webhook = find(&objs, "ValidatingWebhookConfiguration", "meshgate").unwrap();
    let entries = webhook["webhooks"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "the upgrades entry is off");
    assert_eq!(entries[0]["failurePolicy"], "Ignore");
    assert_eq!(entries[0]["timeoutSeconds"], 9);
    assert_eq!(entries[0]["clientConfig"]["url"], "https://127.0.0.1:9443/validate");
    assert!(entries[0]["clientConfig"]["service"].is_null());
    // The optional objects: a ServiceMonitor scraping the admin port, a
    // NetworkPolicy admitting the webhook port, PolicyReports' RBAC and flag.
    let r = template(&[
        "serviceMonitor.enabled=true",
        "networkPolicy.enabled=true",
        "policyReports.enabled=true",
    ]);
    assert!(r.ok, "{}", r.stderr);
    let extra = objects(&r.stdout);
    let sm = find(&extra, "ServiceMonitor", "meshgate").expect("a ServiceMonitor");
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "admin");
    assert_eq!(sm["spec"]["endpoints"][0]["path"], "/metrics");
    let np = find(&extra, "NetworkPolicy", "meshgate").expect("a NetworkPolicy");
    assert_eq!(np["spec"]["ingress"][0]["ports"][0]["port"], "webhook");
    assert!(find(&extra, "ClusterRole", "meshgate-policy-reports").is_some());
    let args = &find(&extra, "Deployment", "meshgate").unwrap()["spec"]["template"]["spec"]["containers"][0]["args"];
    assert!(args.as_array().unwrap().iter().any(|a| a == "--policy-reports"));
    // Off by default.
    let defaults = objects(&template(&[]).stdout);
    assert!(
        find(&defaults, "ServiceMonitor", "meshgate").is_none()
            && find(&defaults, "NetworkPolicy", "meshgate").is_none()
    );
    // The policy the chart writes is one meshgate accepts, with the values in it.
    let text = find(&objs, "ConfigMap", "meshgate-policy").unwrap()["data"]["meshgate.yaml"]
        .as_str()
        .unwrap()
        .to_string();
    let policy = meshgate::policy::Policy::parse(&text, "meshgate").expect("meshgate reads the chart's policy");
    assert!(policy.enforce_on_dry_run);
    assert!(policy.exempt_namespaces.contains("meshgate") && policy.exempt_namespaces.contains("kube-system"));
}

/// The chart's objects and kustomize's, normalised: keyed by kind/namespace/
/// name; labels (the chart adds its own), the chart's `checksum/` pod
/// annotation and caBundles (a certificate's, per install) dropped; selectors
/// without the chart's `app.kubernetes.io/instance`; the policy file parsed.
fn normalised(objs: Vec<Value>) -> BTreeMap<String, Value> {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for key in ["matchLabels", "selector"] {
                    if let Some(Value::Object(sel)) = m.get_mut(key) {
                        sel.remove("app.kubernetes.io/instance");
                    }
                }
                if let Some(Value::Object(meta)) = m.get_mut("metadata") {
                    meta.remove("labels");
                    if let Some(Value::Object(a)) = meta.get_mut("annotations") {
                        a.retain(|k, _| !k.starts_with("checksum/"));
                        if a.is_empty() {
                            meta.remove("annotations");
                        }
                    }
                }
                m.remove("caBundle");
                // A CEL expression's whitespace is not its meaning (kustomize
                // re-folds `>-` scalars with blank lines).
                if let Some(Value::String(e)) = m.get_mut("expression") {
                    *e = e.split_whitespace().collect::<Vec<_>>().join(" ");
                }
                for (_, child) in m.iter_mut() {
                    strip(child);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    objs.into_iter()
        .map(|mut o| {
            strip(&mut o);
            if o["kind"] == "ConfigMap" {
                if let Some(text) = o["data"]["meshgate.yaml"].as_str() {
                    let parsed = meshgate::manifest::yaml::parse_documents(text)
                        .ok()
                        .and_then(|mut v| v.pop())
                        .map(|d| d.value)
                        .unwrap_or(Value::Null);
                    o["data"]["meshgate.yaml"] = parsed;
                }
            }
            let key = format!(
                "{}/{}/{}",
                o["kind"].as_str().unwrap_or(""),
                o["metadata"]["namespace"].as_str().unwrap_or(""),
                o["metadata"]["name"].as_str().unwrap_or("")
            );
            (key, o)
        })
        .collect()
}

fn kustomize(dir: &str) -> Vec<Value> {
    let o = Command::new(kubectl_bin())
        .args(["kustomize", dir])
        .output()
        .expect("kubectl kustomize runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    objects(&String::from_utf8_lossy(&o.stdout))
}

/// A kustomization in a temp dir over `manifests/` (resources) plus components.
fn kustomize_with(resources: &str, components: &[&str]) -> Vec<Value> {
    // kustomize takes relative paths only: a directory two levels under the repository.
    std::fs::create_dir_all(repo("target")).unwrap();
    let dir = tempfile::tempdir_in(repo("target")).unwrap();
    let rel = |p: &str| format!("../../{p}");
    let mut k = format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- {}\n",
        rel(resources)
    );
    if !components.is_empty() {
        k.push_str("components:\n");
        for c in components {
            k.push_str(&format!("- {}\n", rel(c)));
        }
    }
    std::fs::write(dir.path().join("kustomization.yaml"), k).unwrap();
    kustomize(&dir.path().display().to_string())
}

fn assert_same(chart: Vec<Value>, kustomized: Vec<Value>, chart_only: &[&str], kustomize_only: &[&str]) {
    let mut a = normalised(chart);
    let mut b = normalised(kustomized);
    for k in chart_only {
        assert!(a.remove(*k).is_some(), "the chart renders {k}");
    }
    for k in kustomize_only {
        assert!(b.remove(*k).is_some(), "kustomize renders {k}");
    }
    let keys_a: Vec<&String> = a.keys().collect();
    let keys_b: Vec<&String> = b.keys().collect();
    assert_eq!(keys_a, keys_b, "the same objects");
    for (k, va) in &a {
        let vb = &b[k];
        assert!(
            va == vb,
            "{k} differs:\nchart:     {}\nkustomize: {}",
            serde_json::to_string(va).unwrap(),
            serde_json::to_string(vb).unwrap()
        );
    }
}

#[test]
fn the_chart_renders_what_kustomize_renders() {
    // Defaults: the chart adds the generated certificate Secret; kustomize adds
    // the Namespace (Helm's --create-namespace makes it).
    let r = template(&[]);
    assert!(r.ok, "{}", r.stderr);
    assert_same(
        objects(&r.stdout),
        kustomize(&repo("manifests").display().to_string()),
        &["Secret/meshgate/meshgate-tls"],
        &["Namespace//meshgate"],
    );
    // cert-manager: manifests/cert-manager.
    let r = template(&["certificates.mode=certManager"]);
    assert_same(
        objects(&r.stdout),
        kustomize(&repo("manifests/cert-manager").display().to_string()),
        &[],
        &["Namespace//meshgate"],
    );
    // PolicyReports: the component over manifests/.
    let r = template(&["policyReports.enabled=true"]);
    assert_same(
        objects(&r.stdout),
        kustomize_with("manifests", &["manifests/policy-reports"]),
        &["Secret/meshgate/meshgate-tls"],
        &["Namespace//meshgate"],
    );
}

fn decode(b64: &str) -> Vec<u8> {
    common::piped(Command::new("base64").arg("-d"), b64.as_bytes()).stdout
}

/// `openssl x509 -noout -ext subjectAltName` of a PEM certificate.
fn subject_alt_names(pem: &[u8]) -> String {
    let o = common::piped(
        Command::new("openssl").args(["x509", "-noout", "-ext", "subjectAltName"]),
        pem,
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}
