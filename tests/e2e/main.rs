//! End-to-end: a real kube-apiserver + etcd, the Istio CRDs, meshgate watching the
//! API server and registered as its validating webhook, and kubectl 1.33 as the
//! client. Each scenario of issue #4 is a named test; they share one control plane
//! and run in order (scenario h restarts the API server, i stops meshgate).

mod cluster;
#[path = "../common/mod.rs"]
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cluster::{gateway, service, tail, vs, Cluster, Run};
use libtest_mimic::{Arguments, Failed, Trial};
use meshgate::model::{Kind, ObjKey};

type Shared = Arc<Mutex<Option<Cluster>>>;

fn check(cond: bool, what: &str, r: &Run) -> Result<(), Failed> {
    if cond {
        Ok(())
    } else {
        Err(format!("{what}\n{r:?}").into())
    }
}

/// `meshgate check ARGS` as a CI step runs it.
fn meshgate_check(args: &[&str]) -> Run {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meshgate"))
        .arg("check")
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn apply(c: &Cluster, doc: &str, extra: &[&str]) -> Run {
    let mut args = vec!["apply"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-f", "-"]);
    c.kubectl(&args, Some(doc))
}

fn a_missing_gateway_is_denied(c: &Cluster) -> Result<(), Failed> {
    c.namespace("e2e-a");
    c.kubectl(&["apply", "-f", "-"], Some(&service("e2e-a", "web", "")));
    let r = apply(c, &vs("e2e-a", "web", "missing", "web"), &[]);
    check(r.code == 1, "kubectl exits 1", &r)?;
    check(
        r.stderr.contains("admission webhook \"istio.meshgate.io\" denied the request: MG0101 /spec/gateways/0: gateway \"e2e-a/missing\" not found: its routes are not served at that gateway (404 NR: no gateway route configuration gets a virtual host for shop.example.com)"),
        "the denial names MG0101 and its pointer",
        &r,
    )
}

fn b_dry_run_warns_and_the_real_apply_is_denied(c: &Cluster) -> Result<(), Failed> {
    // A dry run is not denied on a missing referent (the rest of a GitOps batch,
    // dry-run concurrently and on any replica, may create it): it warns that the
    // real apply is denied, and the real apply is.
    c.namespace("e2e-b");
    let doc = vs("e2e-b", "web", "istio-system/missing", "web.e2e-a.svc.cluster.local");
    let r = apply(c, &doc, &["--dry-run=server"]);
    check(r.code == 0, "kubectl exits 0", &r)?;
    check(
        r.stderr.contains(
            "Warning: MG0101 /spec/gateways/0: gateway \"istio-system/missing\" not found: its routes are not served at that gateway \
             (404 NR: no gateway route configuration gets a virtual host for shop.example.com) (dry run: not denied, as another object \
             of the batch may create or change Gateway istio-system/missing; the real apply is denied unless that happens first)",
        ),
        "the warning says the real apply is denied",
        &r,
    )?;
    check(
        r.stdout
            .contains("virtualservice.networking.istio.io/web created (server dry run)"),
        "dry-run created",
        &r,
    )?;
    let g = c.kubectl(&["get", "virtualservice", "web", "-n", "e2e-b"], None);
    check(g.code == 1 && g.stderr.contains("NotFound"), "nothing stored", &g)?;
    let r = apply(c, &doc, &[]);
    check(r.code == 1, "the real apply exits 1", &r)?;
    check(
        r.stderr.contains(
            "denied the request: MG0101 /spec/gateways/0: gateway \"istio-system/missing\" not found: its routes are not served at that gateway \
             (404 NR: no gateway route configuration gets a virtual host for shop.example.com)\n",
        ),
        "the real apply is denied with MG0101 alone",
        &r,
    )
}

fn c_gateway_then_virtual_service_is_admitted(c: &Cluster) -> Result<(), Failed> {
    c.namespace("e2e-c");
    let r = apply(c, &service("e2e-c", "web", ""), &[]);
    check(r.code == 0, "Service created", &r)?;
    let r = apply(c, &gateway("e2e-c", "gw", "*"), &[]);
    check(r.code == 0, "Gateway admitted", &r)?;
    let r = apply(c, &vs("e2e-c", "web", "gw", "web"), &[]);
    check(r.code == 0, "VirtualService admitted", &r)?;
    check(
        r.stdout.contains("virtualservice.networking.istio.io/web created"),
        "created",
        &r,
    )
}

fn d_deleting_a_bound_gateway_is_denied(c: &Cluster) -> Result<(), Failed> {
    let r = c.kubectl(&["delete", "gateways.networking.istio.io", "gw", "-n", "e2e-c"], None);
    check(r.code == 1, "kubectl exits 1", &r)?;
    check(
        r.stderr.contains("deleting Gateway e2e-c/gw breaks 1 object(s) that refer to it: VirtualService e2e-c/web (MG0101 /spec/gateways/0: gateway \"e2e-c/gw\" not found: its routes are not served at that gateway (404 NR: no gateway route configuration gets a virtual host for shop.example.com))"),
        "the denial names the VirtualService",
        &r,
    )?;
    let g = c.kubectl(&["get", "gateways.networking.istio.io", "gw", "-n", "e2e-c"], None);
    check(g.code == 0, "the Gateway is still there", &g)
}

fn e_a_warning_prints_and_exits_0(c: &Cluster) -> Result<(), Failed> {
    c.namespace("e2e-e");
    apply(c, &service("e2e-e", "web", ""), &[]);
    apply(c, &gateway("e2e-e", "gw", "other.example.com"), &[]);
    let r = apply(c, &vs("e2e-e", "web", "gw", "web"), &[]);
    check(r.code == 0, "kubectl exits 0", &r)?;
    check(
        r.stderr.contains(
            "Warning: MG0106 /spec/gateways/0: gateway \"e2e-e/gw\" serves none of this VirtualService's hosts",
        ),
        "Warning: MG0106 on stderr",
        &r,
    )
}

fn write_batch(dir: &std::path::Path, ns: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("1-service.yaml"), service(ns, "web", "")).unwrap();
    std::fs::write(dir.join("2-gateway.yaml"), gateway(ns, "gw", "*")).unwrap();
    std::fs::write(
        dir.join("3-destinationrule.yaml"),
        format!("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: web\n  namespace: {ns}\nspec:\n  host: web\n  subsets:\n  - name: v1\n    labels: {{version: v1}}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("4-virtualservice.yaml"),
        format!("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: web\n  namespace: {ns}\nspec:\n  hosts: [shop.example.com]\n  gateways: [gw]\n  http:\n  - route:\n    - destination: {{host: web, subset: v1, port: {{number: 80}}}}\n"),
    )
    .unwrap();
}

fn f_a_directory_in_one_apply_is_admitted(c: &Cluster) -> Result<(), Failed> {
    // Dry run first on a fresh namespace: nothing exists, and every object is
    // admitted: a referent missing in a dry run is a warning (dry runs are not
    // recorded, so the VirtualService's Gateway is missing there).
    c.namespace("e2e-f");
    let dir = c.dir.path().join("batch-f");
    write_batch(&dir, "e2e-f");
    let d = dir.display().to_string();
    let r = c.kubectl(&["apply", "--dry-run=server", "-f", &d], None);
    check(r.code == 0, "dry run of the directory admitted", &r)?;
    check(
        r.stdout
            .contains("virtualservice.networking.istio.io/web created (server dry run)"),
        "VS dry-run created",
        &r,
    )?;
    check(
        r.stderr
            .contains("Warning: MG0101 /spec/gateways/0: gateway \"e2e-f/gw\" not found")
            && r.stderr.contains("the real apply is denied unless that happens first)"),
        "the VirtualService's dry run warns: the Gateway's dry run was not recorded",
        &r,
    )?;
    let g = c.kubectl(
        &[
            "get",
            "virtualservice,gateway,destinationrule",
            "-n",
            "e2e-f",
            "-o",
            "name",
        ],
        None,
    );
    check(g.stdout.trim().is_empty(), "nothing stored by the dry run", &g)?;
    let r = c.kubectl(&["apply", "-f", &d], None);
    check(r.code == 0, "the directory applied", &r)?;
    check(
        r.stdout.contains("virtualservice.networking.istio.io/web created"),
        "VS created",
        &r,
    )
}

fn g_no_false_denial_from_watch_lag(c: &Cluster) -> Result<(), Failed> {
    // The Service opts out of review, so meshgate learns of it only by its watch or
    // by the read-through GET; the VirtualService follows at once.
    c.namespace("e2e-g");
    for i in 0..5 {
        let name = format!("svc{i}");
        let r = apply(c, &service("e2e-g", &name, "meshgate.io/skip: \"true\""), &[]);
        check(r.code == 0, "Service created", &r)?;
        let doc = vs("e2e-g", &name, "mesh", &name).replace("hosts: [shop.example.com]", &format!("hosts: [{name}]"));
        let r = apply(c, &doc, &[]);
        check(r.code == 0, "VirtualService right after its Service is admitted", &r)?;
    }
    // The read-through GET itself, against the real API server.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (hit, miss) = rt.block_on(async {
        let kc = kube::config::Kubeconfig::read_from(&c.kubeconfig).unwrap();
        let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .unwrap();
        let client = kube::Client::try_from(cfg).unwrap();
        let hit_key = ObjKey::new(Kind::Service, "e2e-g", "svc0");
        let miss_key = ObjKey::new(Kind::Service, "e2e-g", "nope");
        let hit = meshgate::live::fetch(&client, &hit_key, Duration::from_secs(2)).await;
        let miss = meshgate::live::fetch(&client, &miss_key, Duration::from_secs(2)).await;
        (hit, miss)
    });
    match (hit, miss) {
        (Ok(Some(o)), Ok(None)) if o.key == ObjKey::new(Kind::Service, "e2e-g", "svc0") => Ok(()),
        other => Err(format!("read-through GET: {other:?}").into()),
    }
}

fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) -> Result<(), Failed> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Err(format!("timed out waiting for {what}").into())
}

fn h_api_server_restart_is_survived(c: &mut Cluster) -> Result<(), Failed> {
    c.apiserver.as_mut().unwrap().kill();
    c.apiserver = None;
    std::thread::sleep(Duration::from_secs(2));
    c.start_apiserver();
    // A Gateway created after the restart reaches meshgate through the recovered watch.
    c.namespace("e2e-h");
    apply(c, &service("e2e-h", "web", ""), &[]);
    let r = apply(c, &gateway("e2e-h", "gw", "*"), &["--dry-run=server"]);
    check(r.code == 0, "dry-run Gateway admitted after the restart", &r)?;
    let r = apply(c, &vs("e2e-h", "web", "gw", "web"), &[]);
    check(
        r.code == 1 && r.stderr.contains("MG0101"),
        "still denies a missing Gateway",
        &r,
    )?;
    // Created past the webhook (opted out), so only the watch can tell meshgate.
    let skipped = gateway("e2e-h", "gw", "*").replace("name: gw", "name: gw\n  labels: {meshgate.io/skip: \"true\"}");
    let created = c.kubectl(&["create", "-f", "-"], Some(&skipped));
    check(created.code == 0, "Gateway created past the webhook", &created)?;
    wait_until(
        "meshgate to see the Gateway through its watch",
        Duration::from_secs(60),
        || {
            let r = apply(c, &vs("e2e-h", "web", "gw", "web"), &["--dry-run=server"]);
            r.code == 0 && !r.stderr.contains("MG0101")
        },
    )?;
    let (_, metrics) = c.admin("/metrics");
    let restarts = metrics
        .lines()
        .filter(|l| l.starts_with("meshgate_watch_restarts{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>();
    if restarts < 1.0 {
        return Err(format!("expected watch restarts to be counted:\n{metrics}").into());
    }
    // Every watch (two dozen kinds with the Gateway API's) comes back through
    // its back-off: readiness returns once they have all listed again.
    wait_until(
        "meshgate to be ready again after the restart",
        Duration::from_secs(90),
        || c.admin("/readyz").0 == 200,
    )
}

fn set_failure_policy(c: &Cluster, policy: &str) -> Run {
    c.kubectl(
        &[
            "patch",
            "validatingwebhookconfiguration",
            "meshgate",
            "--type=json",
            &format!("-p=[{{\"op\":\"replace\",\"path\":\"/webhooks/0/failurePolicy\",\"value\":\"{policy}\"}}]"),
        ],
        None,
    )
}

fn i_failure_policy_when_meshgate_is_down(c: &mut Cluster) -> Result<(), Failed> {
    c.namespace("e2e-i");
    apply(c, &service("e2e-i", "web", ""), &[]);
    c.meshgate.as_mut().unwrap().kill();
    c.meshgate = None;
    let doc = vs("e2e-i", "web", "mesh", "web");
    let r = apply(c, &doc, &[]);
    check(r.code == 1, "failurePolicy Fail: the apply fails", &r)?;
    check(
        r.stderr.contains("failed calling webhook \"istio.meshgate.io\""),
        "a clear error",
        &r,
    )?;
    let p = set_failure_policy(c, "Ignore");
    check(p.code == 0, "patched", &p)?;
    wait_until("failurePolicy Ignore to take effect", Duration::from_secs(30), || {
        apply(c, &doc, &["--dry-run=server"]).code == 0
    })?;
    let r = apply(c, &doc, &[]);
    check(r.code == 0, "failurePolicy Ignore: the apply passes unchecked", &r)?;
    set_failure_policy(c, "Fail");
    c.start_meshgate();
    Ok(())
}

const POD_1_30: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-1\n  namespace: e2e-ef\n  labels: {app: web}\nspec:\n  containers:\n  - {name: web, image: web:1}\n  - {name: istio-proxy, image: docker.io/istio/proxyv2:1.30.3}\n";

fn envoy_filter(version: &str) -> String {
    format!("apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata:\n  name: stats\n  namespace: e2e-ef\nspec:\n  configPatches:\n  - applyTo: HTTP_FILTER\n    match:\n      context: SIDECAR_INBOUND\n      proxy: {{proxyVersion: '{version}'}}\n    patch:\n      operation: INSERT_FIRST\n      value: {{name: istio.stats}}\n")
}

fn j_envoy_filter_pinned_to_a_version_no_proxy_runs(c: &Cluster) -> Result<(), Failed> {
    c.namespace("e2e-ef");
    let r = c.kubectl(&["create", "-f", "-"], Some(POD_1_30));
    check(r.code == 0, "Pod created", &r)?;
    let dead = envoy_filter(r"^1\.17.*");
    // The Pod reaches meshgate through its watch (Pods are not reviewed).
    wait_until("meshgate to see the 1.30.3 proxy", Duration::from_secs(60), || {
        apply(c, &dead, &["--dry-run=server"]).stderr.contains("MG0501")
    })?;
    let r = apply(c, &dead, &[]);
    check(r.code == 1, "denied", &r)?;
    check(
        r.stderr.contains("MG0501 /spec/configPatches/0/match/proxy/proxyVersion: proxyVersion \"^1\\\\.17.*\" matches none of the proxies this patch applies to (they run 1.30.3)"),
        "MG0501 naming 1.30.3",
        &r,
    )?;
    let r = apply(c, &envoy_filter(r"^1\.30.*"), &[]);
    check(r.code == 0, "^1\\.30.* admitted", &r)?;
    // The upgrade, asked of the live cluster before it happens: with the proxies
    // at 1.31.0 the admitted filter would stop applying.
    let kubeconfig = c.kubeconfig.display().to_string();
    let r = meshgate_check(&[
        "--cluster",
        "--kubeconfig",
        &kubeconfig,
        "-n",
        "e2e-ef",
        "--proxy-version",
        "1.31.0",
    ]);
    check(
        r.code == 1
            && r.stdout.contains("error MG0501 EnvoyFilter e2e-ef/")
            && r.stdout.contains("once the proxies this patch applies to run 1.31.0 (--proxy-version), proxyVersion \"^1\\\\.30.*\" matches none of them"),
        "check --cluster --proxy-version 1.31.0: the ^1\\.30 filter would stop applying",
        &r,
    )
}

fn k_seed_stats_filter_for_a_missing_revision(c: &Cluster) -> Result<(), Failed> {
    // istiod 1.30.3 of the default revision (created as a plain object: no kubelet runs it).
    let istiod = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: istiod\n  namespace: istio-system\n  labels: {app: istiod}\nspec:\n  selector: {matchLabels: {app: istiod}}\n  template:\n    metadata: {labels: {app: istiod}}\n    spec:\n      containers: [{name: discovery, image: docker.io/istio/pilot:1.30.3}]\n";
    c.kubectl(&["create", "namespace", "istio-system"], None);
    let r = c.kubectl(&["create", "-f", "-"], Some(istiod));
    check(r.code == 0, "istiod Deployment created", &r)?;
    let seed = std::fs::read_to_string(cluster::repo("tests/fixtures/seed/stats-filter-1-17-5.yaml")).unwrap();
    wait_until("meshgate to see the control plane", Duration::from_secs(60), || {
        apply(c, &seed, &["--dry-run=server"]).stderr.contains("MG0002")
    })?;
    let r = apply(c, &seed, &[]);
    check(r.code == 0, "warnings only: admitted", &r)?;
    check(
        r.stderr.contains("Warning: MG0002 /metadata/labels/istio.io~1rev: revision \"1-17-5\" matches no control plane (installed revisions: default)"),
        "MG0002 on stderr",
        &r,
    )?;
    check(
        r.stderr.contains("Warning: MG0501 /spec/configPatches/0/match/proxy/proxyVersion: proxyVersion \"^1\\\\.17.*\" matches no installed control plane (control planes run 1.30.3)"),
        "MG0501 on stderr",
        &r,
    )
}

/// A revision tag made the way `istioctl tag set prod` makes it (a MutatingWebhookConfiguration
/// labelled `istio.io/tag`), seen through meshgate's metadata watch: a configuration object
/// labelled with the tag is read by no istiod, and the warning says which revision it means.
fn m_revision_tag_on_configuration(c: &Cluster) -> Result<(), Failed> {
    let tag = "apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata:\n  name: istio-revision-tag-prod\n  labels: {istio.io/tag: prod, istio.io/rev: default}\nwebhooks: []\n";
    let r = c.kubectl(&["create", "-f", "-"], Some(tag));
    check(r.code == 0, "tag webhook configuration created", &r)?;
    let tagged = envoy_filter(r"^1\.30.*").replace(
        "  namespace: e2e-ef\n",
        "  namespace: e2e-ef\n  labels: {istio.io/rev: prod}\n",
    );
    let expected = "Warning: MG0002 /metadata/labels/istio.io~1rev: revision \"prod\" matches no control plane (installed revisions: default): no istiod reads this object (\"prod\" is a revision tag of revision \"default\": tags select injection, configuration must name the revision itself)";
    wait_until("meshgate to see the revision tag", Duration::from_secs(60), || {
        apply(c, &tagged, &["--dry-run=server"]).stderr.contains(expected)
    })?;
    let r = apply(c, &tagged, &["--dry-run=server"]);
    check(r.code == 0, "a warning, not a denial", &r)
}

/// `meshgate check --cluster`: the files are checked against a live snapshot of the
/// API server merged with them (file objects shadow live ones). Uses scenario c's
/// Gateway `e2e-c/gw` (hosts `*`) and Service `e2e-c/web`.
fn n_check_against_the_live_cluster(c: &Cluster) -> Result<(), Failed> {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let bound = write("bound.yaml", &vs("e2e-c", "from-ci", "gw", "web"));
    let kubeconfig = c.kubeconfig.display().to_string();
    let r = meshgate_check(&[&bound]);
    check(
        r.code == 1 && r.stdout.contains("MG0101"),
        "files alone: the Gateway is unknown",
        &r,
    )?;
    let r = meshgate_check(&["--cluster", "--kubeconfig", &kubeconfig, &bound]);
    check(r.code == 0, "with the live Gateway and Service: exit 0", &r)?;
    check(
        r.stdout.contains("1 objects checked: 0 errors"),
        "only the file's object is checked",
        &r,
    )?;
    // A file's Gateway shadows the live one of the same name.
    let narrow = write("gateway.yaml", &gateway("e2e-c", "gw", "other.example.com"));
    let r = meshgate_check(&["--cluster", "--kubeconfig", &kubeconfig, "-o", "json", &bound, &narrow]);
    check(
        r.code == 0 && r.stdout.contains("\"code\": \"MG0106\""),
        "the file's Gateway (other.example.com) is the one judged",
        &r,
    )?;
    let missing = write("missing.yaml", &vs("e2e-c", "from-ci", "missing", "web"));
    let r = meshgate_check(&["--cluster", "--kubeconfig", &kubeconfig, &missing]);
    check(
        r.code == 1
            && r.stdout
                .contains("MG0101 VirtualService e2e-c/from-ci /spec/gateways/0"),
        "a Gateway missing from files and cluster: exit 1",
        &r,
    )?;
    // More objects of a kind than one list page (500): the last page counts too.
    let services: Vec<String> = (0..600)
        .map(|i| format!("{{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {{\"name\": \"s{i:03}\", \"namespace\": \"e2e-pages\"}}, \"spec\": {{\"clusterIP\": \"None\", \"ports\": [{{\"port\": 80}}]}}}}"))
        .collect();
    c.namespace("e2e-pages");
    let r = c.kubectl(
        &["create", "-f", "-"],
        Some(&format!(
            "{{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{}]}}",
            services.join(",")
        )),
    );
    check(r.code == 0, "600 Services created", &r)?;
    let routes: String = ["s000", "s499", "s500", "s599"]
        .iter()
        .map(|s| format!("  - route: [{{destination: {{host: {s}, port: {{number: 80}}}}}}]\n"))
        .collect();
    let paged = write(
        "paged.yaml",
        &format!("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: paged, namespace: e2e-pages}}\nspec:\n  hosts: [paged.example.com]\n  http:\n{routes}"),
    );
    let r = meshgate_check(&["--cluster", "--kubeconfig", &kubeconfig, "-o", "json", &paged]);
    check(
        r.code == 0 && r.stdout.contains("\"summary\"") && !r.stdout.contains("MG0102"),
        "routes to Services on the first and the second page resolve",
        &r,
    )?;
    // No files: an audit of the live cluster. An object the webhook let through
    // under `meshgate.io/ignore` is still broken, and the audit says so.
    c.namespace("e2e-audit");
    let legacy = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: legacy\n  namespace: e2e-audit\n  annotations: {meshgate.io/ignore: MG0101}\nspec:\n  hosts: [legacy.example.com]\n  gateways: [retired-gateway]\n  http:\n  - route: [{destination: {host: kubernetes.default.svc.cluster.local, port: {number: 443}}}]\n";
    let r = apply(c, legacy, &[]);
    check(r.code == 0, "an ignored finding is admitted", &r)?;
    let r = meshgate_check(&["--cluster", "--kubeconfig", &kubeconfig, "-n", "e2e-audit"]);
    check(
        r.code == 1
            && r.stdout.starts_with("error MG0101 VirtualService e2e-audit/legacy /spec/gateways/0: gateway \"e2e-audit/retired-gateway\" not found")
            && r.stdout.contains("1 objects checked: 1 errors"),
        "the audit of one namespace reports it, without a file",
        &r,
    )?;
    let r = meshgate_check(&[
        "--cluster",
        "--kubeconfig",
        &kubeconfig,
        "-n",
        "e2e-audit",
        "-o",
        "json",
    ]);
    check(
        r.code == 1 && r.stdout.contains("\"name\": \"legacy\"") && !r.stdout.contains("\"file\""),
        "as JSON, with no file or line",
        &r,
    )?;
    let r = meshgate_check(&["--cluster", "--kubeconfig", &kubeconfig, "-n", "e2e-pages"]);
    check(
        r.code == 0 && r.stdout.contains("600 objects checked: 0 errors"),
        "a consistent namespace: exit 0",
        &r,
    )?;
    let r = meshgate_check(&["--cluster", "--kubeconfig", &kubeconfig]);
    check(
        r.code == 1 && r.stdout.contains("error MG0101 VirtualService e2e-audit/legacy"),
        "the whole cluster: every namespace is audited",
        &r,
    )?;
    let r = meshgate_check(&["--cluster", "--kubeconfig", "/nonexistent/kubeconfig", &bound]);
    check(
        r.code == 2 && r.stderr.contains("meshgate: error: --cluster: /nonexistent/kubeconfig"),
        "an unreadable kubeconfig: exit 2",
        &r,
    )
}

const EGRESS_SE: &str = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: cnn, namespace: e2e-egress}\nspec:\n  hosts: [edition.cnn.com]\n  ports:\n  - {number: 80, name: http-port, protocol: HTTP}\n  - {number: 443, name: https, protocol: HTTPS}\n  resolution: DNS\n";
const EGRESS_GATEWAY: &str = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: istio-egressgateway, namespace: e2e-egress}\nspec:\n  selector: {istio: egressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [edition.cnn.com]\n";
const EGRESS_VS: &str = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: cnn-via-egress, namespace: e2e-egress}\nspec:\n  hosts: [edition.cnn.com]\n  gateways: [istio-egressgateway, mesh]\n  http:\n  - match: [{gateways: [mesh], port: 80}]\n    route: [{destination: {host: istio-egressgateway.istio-system.svc.cluster.local, port: {number: 80}}}]\n  - match: [{gateways: [istio-egressgateway], port: 80}]\n    route: [{destination: {host: edition.cnn.com, port: {number: 80}}}]\n";
const EGRESS_WORKLOAD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: istio-egressgateway-1\n  namespace: istio-system\n  labels: {istio: egressgateway}\nspec:\n  containers: [{name: istio-proxy, image: docker.io/istio/proxyv2:1.30.3, args: [proxy, router]}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: istio-egressgateway, namespace: istio-system}\nspec:\n  selector: {istio: egressgateway}\n  ports: [{name: http2, port: 80, targetPort: 8080}, {name: https, port: 443, targetPort: 8443}]\n";

/// Istio's egress-gateway task: a MESH_EXTERNAL ServiceEntry, an egress Gateway and a
/// mesh VirtualService through `istio-egressgateway`; dead until the egress gateway
/// Pod and Service exist; then deleting that Service breaks the route (impact).
fn l_egress_path_through_a_missing_egress_gateway(c: &Cluster) -> Result<(), Failed> {
    c.namespace("e2e-egress");
    c.kubectl(&["create", "namespace", "istio-system"], None);
    let r = apply(c, EGRESS_SE, &[]);
    check(r.code == 0, "the ServiceEntry alone is admitted", &r)?;
    check(
        !r.stderr.contains("MG0402"),
        "without a warning: no egress gateway in this mesh yet, so MG0402 is info (audited only)",
        &r,
    )?;
    let path = format!("{EGRESS_SE}---\n{EGRESS_GATEWAY}---\n{EGRESS_VS}");
    let r = apply(c, &path, &[]);
    check(r.code == 1, "the dead path is denied", &r)?;
    check(
        r.stderr.contains("MG0401 /spec/servers/0/hosts/0: serves external host edition.cnn.com (ServiceEntry e2e-egress/cnn) as an egress gateway, but its selector {istio=egressgateway} matches no workload"),
        "the Gateway is denied with MG0401",
        &r,
    )?;
    check(
        r.stderr.contains("MG0102 /spec/http/0/route/0/destination/host: host istio-egressgateway.istio-system.svc.cluster.local matches no Service or ServiceEntry"),
        "the VirtualService is denied: its mesh route goes to a Service that does not exist (MG0102)",
        &r,
    )?;
    let r = c.kubectl(&["create", "-f", "-"], Some(EGRESS_WORKLOAD));
    check(r.code == 0, "egress gateway Pod and Service created", &r)?;
    wait_until(
        "meshgate to see the egress gateway Pod",
        Duration::from_secs(60),
        || apply(c, EGRESS_GATEWAY, &["--dry-run=server"]).code == 0,
    )?;
    let r = apply(c, &path, &[]);
    check(r.code == 0, "the live path is admitted", &r)?;
    check(
        r.stdout
            .contains("gateway.networking.istio.io/istio-egressgateway created")
            && r.stdout
                .contains("virtualservice.networking.istio.io/cnn-via-egress created"),
        "Gateway and VirtualService created",
        &r,
    )?;
    check(!r.stderr.contains("MG04"), "no egress finding left", &r)?;
    let r = c.kubectl(
        &["delete", "service", "istio-egressgateway", "-n", "istio-system"],
        None,
    );
    check(r.code == 1, "deleting the egress gateway Service is denied", &r)?;
    check(
        r.stderr.contains("deleting Service istio-system/istio-egressgateway breaks 1 object(s) that refer to it: VirtualService e2e-egress/cnn-via-egress (")
            && r.stderr.contains("MG0102 /spec/http/0/route/0/destination/host"),
        "naming the route with MG0102",
        &r,
    )
}

/// The audit's findings: `GET /report?QUERY` as (code, "Kind/name", pointer).
fn audit(c: &Cluster, query: &str) -> Vec<(String, String, String)> {
    let (status, body) = c.admin(&format!("/report?{query}"));
    if status != 200 {
        return Vec::new();
    }
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["findings"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .map(|f| {
                    (
                        f["code"].as_str().unwrap_or("").to_string(),
                        format!(
                            "{}/{}",
                            f["kind"].as_str().unwrap_or(""),
                            f["name"].as_str().unwrap_or("")
                        ),
                        f["pointer"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The PolicyReport meshgate wrote for a namespace: (policy, result, "Kind/name").
fn policy_report(c: &Cluster, ns: &str) -> Option<Vec<(String, String, String)>> {
    let r = c.kubectl(
        &[
            "get",
            "policyreports.wgpolicyk8s.io",
            "meshgate",
            "-n",
            ns,
            "-o",
            "json",
        ],
        None,
    );
    if r.code != 0 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&r.stdout).ok()?;
    Some(
        v["results"]
            .as_array()?
            .iter()
            .map(|x| {
                (
                    x["policy"].as_str().unwrap_or("").to_string(),
                    x["result"].as_str().unwrap_or("").to_string(),
                    format!(
                        "{}/{}",
                        x["resources"][0]["kind"].as_str().unwrap_or(""),
                        x["resources"][0]["name"].as_str().unwrap_or("")
                    ),
                )
            })
            .collect(),
    )
}

fn has(found: &[(String, String, String)], code: &str, subject: &str) -> bool {
    found.iter().any(|(c, s, _)| c == code && s == subject)
}

fn has_at(found: &[(String, String, String)], code: &str, subject: &str, pointer: &str) -> bool {
    found.iter().any(|(c, s, p)| c == code && s == subject && p == pointer)
}

/// The audit follows the cluster with no object applied (issue #10, item 5): the
/// egress gateway's Pod goes away and MG0401 appears on the egress Gateway of
/// scenario l, in `/report`, the metrics and the namespace's PolicyReport; it
/// comes back and the finding goes (and with it the report, if nothing is left).
fn o_audit_follows_the_cluster(c: &Cluster) -> Result<(), Failed> {
    let gateway = "Gateway/istio-egressgateway";
    wait_until("the first audit pass", Duration::from_secs(60), || {
        c.admin("/report").0 == 200
    })?;
    let before = audit(c, "namespace=e2e-egress&severity=error");
    if has(&before, "MG0401", gateway) {
        return Err(format!("the live egress path already has MG0401: {before:?}").into());
    }
    let r = c.kubectl(
        &[
            "delete",
            "pod",
            "istio-egressgateway-1",
            "-n",
            "istio-system",
            "--wait=false",
        ],
        None,
    );
    check(
        r.code == 0,
        "the egress gateway Pod deleted (Pods are not reviewed)",
        &r,
    )?;
    wait_until("MG0401 in /report", Duration::from_secs(60), || {
        has(&audit(c, "namespace=e2e-egress&severity=error"), "MG0401", gateway)
    })?;
    let (_, metrics) = c.admin("/metrics");
    if !metrics.contains("meshgate_audit_findings{code=\"MG0401\",severity=\"error\",namespace=\"e2e-egress\"} ") {
        return Err(format!("the audit gauge lacks MG0401 in e2e-egress:\n{}", tail(&metrics, 40)).into());
    }
    wait_until("MG0401 in the e2e-egress PolicyReport", Duration::from_secs(60), || {
        policy_report(c, "e2e-egress").is_some_and(|rs| {
            rs.iter()
                .any(|(p, res, s)| p == "MG0401" && res == "fail" && s == gateway)
        })
    })?;
    // One writer: a second replica starts; the Lease stays with the first, and the
    // report is not rewritten (its results did not change).
    let holder = || {
        c.kubectl(
            &[
                "get",
                "lease",
                "meshgate-policy-reports",
                "-n",
                "meshgate",
                "-o",
                "jsonpath={.spec.holderIdentity}",
            ],
            None,
        )
        .stdout
    };
    let version = || {
        c.kubectl(
            &[
                "get",
                "policyreports.wgpolicyk8s.io",
                "meshgate",
                "-n",
                "e2e-egress",
                "-o",
                "jsonpath={.metadata.resourceVersion}",
            ],
            None,
        )
        .stdout
    };
    let (lease_before, written) = (holder(), version());
    check(
        lease_before == "meshgate-0",
        "the first replica holds the Lease",
        &c.kubectl(&["get", "lease", "-A", "-o", "yaml"], None),
    )?;
    let mut replica = c.start_replica("meshgate-1");
    let passes = |m: &str| {
        m.lines()
            .find_map(|l| l.strip_prefix("meshgate_audit_passes "))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let before = passes(&c.admin("/metrics").1);
    // An unrelated change: a Pod in another namespace makes an audit pass.
    let r = c.kubectl(
        &["run", "idle", "-n", "e2e-ef", "--image=idle:1", "--restart=Never"],
        None,
    );
    check(r.code == 0, "an unrelated Pod created", &r)?;
    wait_until(
        "an audit pass after the unrelated change",
        Duration::from_secs(30),
        || passes(&c.admin("/metrics").1) > before,
    )?;
    std::thread::sleep(Duration::from_secs(6)); // three Lease ticks of the replica
    let (lease_after, rewritten) = (holder(), version());
    replica.kill();
    if lease_after != "meshgate-0" || rewritten != written {
        return Err(format!(
            "with two replicas: Lease holder {lease_after:?} (want meshgate-0), report resourceVersion {written} -> {rewritten}:\n{}",
            tail(&c.log("meshgate-1.log"), 20)
        )
        .into());
    }
    let r = c.kubectl(
        &["create", "-f", "-"],
        Some(EGRESS_WORKLOAD.split("---").next().unwrap()),
    );
    check(r.code == 0, "the egress gateway Pod is back", &r)?;
    wait_until("MG0401 to leave /report", Duration::from_secs(60), || {
        !has(&audit(c, "namespace=e2e-egress"), "MG0401", gateway) && c.admin("/report").0 == 200
    })?;
    wait_until("MG0401 to leave the PolicyReport", Duration::from_secs(60), || {
        policy_report(c, "e2e-egress").is_none_or(|rs| !rs.iter().any(|(p, _, _)| p == "MG0401"))
    })?;
    // Whatever the report holds now is exactly what /report says of the namespace.
    let now: Vec<(String, String)> = audit(c, "namespace=e2e-egress")
        .into_iter()
        .map(|(code, subject, _)| (code, subject))
        .collect();
    let written: Vec<(String, String)> = policy_report(c, "e2e-egress")
        .unwrap_or_default()
        .into_iter()
        .map(|(p, _, s)| (p, s))
        .collect();
    if now != written {
        return Err(format!("PolicyReport {written:?} differs from /report {now:?}").into());
    }
    Ok(())
}

/// The seed's canary upgrade (issue #10, item 5): workloads of revision 1-17-5,
/// a filter pinned to `^1\.17` (the seed's stats filter as a team writes it) and
/// the seed's own revision-labelled copy; a 1-18 control plane installed; the
/// namespace relabelled (the relabel warns, MG0508) and its Pod recreated with a
/// 1.18 proxy. No EnvoyFilter
/// is applied, and yet `/report` and the PolicyReport now list MG0501 on the
/// pinned filter (it stopped applying: the failure the seed describes, while the
/// 1-17-5 control plane is still installed) and MG0506 on the seed's copy (its
/// revision serves no sidecar any more).
fn p_canary_upgrade_leaves_the_seed_filter_dead(c: &Cluster) -> Result<(), Failed> {
    let pinned = "EnvoyFilter/stats";
    let seed = "EnvoyFilter/stats-filter-1.17-1-17-5";
    let istiod = |rev: &str, version: &str| {
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: istiod-{rev}\n  namespace: istio-system\n  labels: {{app: istiod, istio.io/rev: {rev}}}\nspec:\n  selector: {{matchLabels: {{app: istiod, istio.io/rev: {rev}}}}}\n  template:\n    metadata: {{labels: {{app: istiod, istio.io/rev: {rev}}}}}\n    spec:\n      containers: [{{name: discovery, image: docker.io/istio/pilot:{version}}}]\n")
    };
    let pod = |rev: &str, version: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: reviews-1\n  namespace: e2e-canary\n  labels: {{app: reviews, istio.io/rev: {rev}}}\n  annotations:\n    sidecar.istio.io/status: '{{\"revision\":\"{rev}\"}}'\nspec:\n  containers:\n  - {{name: reviews, image: reviews:1}}\n  - {{name: istio-proxy, image: docker.io/istio/proxyv2:{version}}}\n")
    };
    let r = c.kubectl(&["create", "-f", "-"], Some(&istiod("1-17-5", "1.17.5")));
    check(r.code == 0, "control plane 1-17-5 (1.17.5) installed", &r)?;
    let r = c.kubectl(&["create", "namespace", "e2e-canary"], None);
    check(r.code == 0, "namespace created", &r)?;
    let r = c.kubectl(&["label", "namespace", "e2e-canary", "istio.io/rev=1-17-5"], None);
    check(r.code == 0, "namespace on revision 1-17-5", &r)?;
    let r = c.kubectl(&["create", "-f", "-"], Some(&pod("1-17-5", "1.17.5")));
    check(r.code == 0, "a 1.17.5 workload", &r)?;
    let filter = envoy_filter(r"^1\.17.*").replace("namespace: e2e-ef", "namespace: e2e-canary");
    wait_until("the 1.17 filter to be admitted", Duration::from_secs(60), || {
        apply(c, &filter, &["--dry-run=server"]).code == 0
    })?;
    let r = apply(c, &filter, &[]);
    check(
        r.code == 0 && !r.stderr.contains("MG0501"),
        "the pinned filter applies to the 1.17.5 proxy",
        &r,
    )?;
    // Scenario k applied the seed's copy while no 1-17-5 control plane ran; now one
    // runs, with a 1.17.5 sidecar of its revision: it applies too.
    // (Its GATEWAY patch keeps MG0506: no gateway of revision 1-17-5 runs.)
    let sidecar_outbound = "/spec/configPatches/0/match/context";
    wait_until("both filters to apply to the sidecar", Duration::from_secs(60), || {
        let canary = audit(c, "namespace=e2e-canary");
        let system = audit(c, "namespace=istio-system");
        c.admin("/report").0 == 200
            && !has(&canary, "MG0501", pinned)
            && !has(&system, "MG0501", seed)
            && !has_at(&system, "MG0506", seed, sidecar_outbound)
            && !has(&system, "MG0002", seed)
    })?;
    // The canary: a 1-18 control plane, the namespace moved to it, the Pod recreated.
    let r = c.kubectl(&["create", "-f", "-"], Some(&istiod("1-18", "1.18.0")));
    check(r.code == 0, "control plane 1-18 (1.18.0) installed", &r)?;
    let r = c.kubectl(
        &["label", "--overwrite", "namespace", "e2e-canary", "istio.io/rev=1-18"],
        None,
    );
    check(r.code == 0, "namespace relabelled to revision 1-18", &r)?;
    // The change that causes the failure is where meshgate says so (MG0508, a
    // warning from the fail-open webhook entry).
    for filter in ["e2e-canary/stats", "istio-system/stats-filter-1.17-1-17-5"] {
        let line = format!("Warning: MG0508 /metadata/labels/istio.io~1rev: namespace e2e-canary now injects revision 1-18 (1.18.0): once its 1 workload(s) restart, EnvoyFilter {filter} stops applying to 1 of them (reviews-1)");
        check(
            r.stderr.contains(&line),
            &format!("the relabel warns that {filter} stops applying"),
            &r,
        )?;
    }
    let r = c.kubectl(
        &["delete", "pod", "reviews-1", "-n", "e2e-canary", "--wait=false"],
        None,
    );
    check(r.code == 0, "the old Pod deleted", &r)?;
    let r = c.kubectl(&["create", "-f", "-"], Some(&pod("1-18", "1.18.0")));
    check(r.code == 0, "the Pod recreated with a 1.18.0 proxy", &r)?;
    wait_until(
        "MG0501 on the pinned filter in /report",
        Duration::from_secs(60),
        || has(&audit(c, "namespace=e2e-canary&severity=error"), "MG0501", pinned),
    )?;
    wait_until(
        "MG0506 on the seed copy's sidecar patch in /report",
        Duration::from_secs(60),
        || {
            has_at(
                &audit(c, "namespace=istio-system&code=MG0506"),
                "MG0506",
                seed,
                sidecar_outbound,
            )
        },
    )?;
    let (status, body) = c.admin("/report?namespace=e2e-canary&code=MG0501");
    if status != 200
        || !body.contains("(they run 1.18.0)")
        || !body.contains("revision 1-17-5 (1.17.5) serves none of them")
    {
        return Err(format!("/report's MG0501 should name the 1.18.0 proxies and the left-over plane: {body}").into());
    }
    wait_until("MG0501 in the e2e-canary PolicyReport", Duration::from_secs(60), || {
        policy_report(c, "e2e-canary").is_some_and(|rs| {
            rs.iter()
                .any(|(p, res, s)| p == "MG0501" && res == "fail" && s == pinned)
        })
    })?;
    // explain on the live view (issue #11): the upgraded sidecar's path lists the
    // pinned filter as not applied, on the admin listener and from the CLI.
    let not_applied = "proxyVersion \"^1\\\\.17.*\" does not match this proxy's 1.18.0";
    let (status, body) = c.admin("/explain?from=e2e-canary/reviews-1&url=http://kubernetes.default:443/&format=json");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let stats = v["envoy_filters"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["envoy_filter"] == "EnvoyFilter/e2e-canary/stats"))
        .cloned()
        .unwrap_or_default();
    if status != 200
        || v["client"]["version"] != "1.18.0"
        || stats["applied"] != false
        || !stats["reason"].as_str().unwrap_or("").contains(not_applied)
    {
        return Err(format!(
            "GET /explain should list e2e-canary/stats as not applied to the 1.18.0 sidecar: {status} {body}"
        )
        .into());
    }
    let kubeconfig = c.kubeconfig.display().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meshgate"))
        .args([
            "explain",
            "--cluster",
            "--kubeconfig",
            &kubeconfig,
            "--from",
            "e2e-canary/reviews-1",
        ])
        .arg("http://kubernetes.default:443/")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    if !text.contains(&format!(
        "EnvoyFilter/e2e-canary/stats /spec/configPatches/0 (HTTP_FILTER): NOT applied: {not_applied}"
    )) {
        return Err(format!(
            "explain --cluster should list the pinned filter as not applied:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}

/// `kubectl apply -f dir/` in file order: a VirtualService whose file comes
/// before its Gateway's is denied once (kubectl carries on and creates the
/// Gateway), and the second run converges; a root whose delegate's file comes
/// later but whose name sorts after it (Flux's order) is admitted with a warning.
fn r_kubectl_file_order_converges(c: &Cluster) -> Result<(), Failed> {
    c.namespace("e2e-r");
    let dir = c.dir.path().join("batch-r");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("1-service.yaml"), service("e2e-r", "web", "")).unwrap();
    std::fs::write(dir.join("2-virtualservice.yaml"), vs("e2e-r", "web", "gw", "web")).unwrap();
    std::fs::write(dir.join("3-gateway.yaml"), gateway("e2e-r", "gw", "*")).unwrap();
    std::fs::write(
        dir.join("4-root.yaml"),
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: m-root, namespace: e2e-r}\nspec:\n  hosts: [web]\n  http:\n  - match: [{uri: {prefix: /api}}]\n    delegate: {name: z-delegate, namespace: e2e-r}\n  - route: [{destination: {host: web, port: {number: 80}}}]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("5-delegate.yaml"),
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: z-delegate, namespace: e2e-r}\nspec:\n  http:\n  - route: [{destination: {host: web, port: {number: 80}}}]\n",
    )
    .unwrap();
    let d = dir.display().to_string();
    let r = c.kubectl(&["apply", "-f", &d], None);
    check(r.code == 1, "the first run exits 1", &r)?;
    check(
        r.stderr
            .contains("denied the request: MG0101 /spec/gateways/0: gateway \"e2e-r/gw\" not found"),
        "the VirtualService before its Gateway is denied",
        &r,
    )?;
    check(
        r.stdout.contains("gateway.networking.istio.io/gw created")
            && r.stdout.contains("virtualservice.networking.istio.io/m-root created")
            && r.stdout
                .contains("virtualservice.networking.istio.io/z-delegate created"),
        "kubectl carried on: Gateway, root and delegate created",
        &r,
    )?;
    check(
        r.stderr.contains("Warning: MG0107 /spec/http/0/delegate/name: delegate VirtualService \"e2e-r/z-delegate\" not found")
            && r.stderr.contains("(not denied: Flux applies VirtualService e2e-r/z-delegate after this VirtualService, so the same batch may still create it)"),
        "the root before its delegate: a warning, not a denial",
        &r,
    )?;
    let r = c.kubectl(&["apply", "-f", &d], None);
    check(r.code == 0, "the second run converges", &r)?;
    check(
        r.stdout.contains("virtualservice.networking.istio.io/web created"),
        "the VirtualService created",
        &r,
    )
}

const GAPI_GATEWAY: &str = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: public, namespace: e2e-gapi}\nspec:\n  gatewayClassName: istio\n  listeners:\n  - name: http\n    port: 80\n    protocol: HTTP\n    hostname: \"*.example.com\"\n";

fn httproute(ns: &str, name: &str, parent: &str, backend: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  parentRefs: [{parent}]\n  hostnames: [shop.example.com]\n  rules:\n  - backendRefs: [{backend}]\n"
    )
}

/// The Kubernetes Gateway API on the real API server (its v1.5.1 CRDs): routes
/// to a missing Gateway, a sectionName typo, a namespace the listener does not
/// admit, a backend port the Service lacks, a cross-namespace backend and its
/// ReferenceGrant, a GAMMA route, and a Gateway of another controller.
fn s_gateway_api_routes(c: &Cluster) -> Result<(), Failed> {
    for ns in ["e2e-gapi", "e2e-gapi-other", "e2e-gapi-backend"] {
        c.namespace(ns);
    }
    apply(c, &service("e2e-gapi", "web", ""), &[]);
    apply(c, &service("e2e-gapi-backend", "pay", ""), &[]);
    let route = httproute("e2e-gapi", "web", "{name: public}", "{name: web, port: 80}");
    let r = apply(c, &route, &["--dry-run=server"]);
    check(
        r.code == 0
            && r.stderr
                .contains("Warning: MG0901 /spec/parentRefs/0/name: parent Gateway e2e-gapi/public not found")
            && r.stderr.contains("the real apply is denied unless that happens first)"),
        "dry run: MG0901 warns",
        &r,
    )?;
    let r = apply(c, &route, &[]);
    check(
        r.code == 1 && r.stderr.contains("denied the request: MG0901 /spec/parentRefs/0/name: parent Gateway e2e-gapi/public not found: the route is attached to nothing there and istiod writes no status for it; requests for shop.example.com at that gateway get 404"),
        "a route to a missing Gateway is denied",
        &r,
    )?;
    let r = apply(c, GAPI_GATEWAY, &[]);
    check(r.code == 0, "the Gateway is admitted", &r)?;
    let r = apply(c, &route, &[]);
    check(
        r.code == 0 && !r.stderr.contains("MG09"),
        "the route is admitted once its Gateway exists",
        &r,
    )?;
    let typo = httproute(
        "e2e-gapi",
        "typo",
        "{name: public, sectionName: htpp}",
        "{name: web, port: 80}",
    );
    let r = apply(c, &typo, &[]);
    check(
        r.code == 1 && r.stderr.contains("MG0902 /spec/parentRefs/0/sectionName: sectionName \"htpp\" names no listener of Gateway e2e-gapi/public (listeners: http (port 80); istiod: NoMatchingParent)"),
        "a sectionName typo is denied",
        &r,
    )?;
    let other = httproute(
        "e2e-gapi-other",
        "web",
        "{name: public, namespace: e2e-gapi}",
        "{name: web, namespace: e2e-gapi, port: 80}",
    );
    let r = apply(c, &other, &[]);
    check(
        r.code == 1 && r.stderr.contains("MG0903 /spec/parentRefs/0: no listener of Gateway e2e-gapi/public admits this route: listener \"http\" does not admit namespace e2e-gapi-other"),
        "a namespace the listener does not admit is denied",
        &r,
    )?;
    let port = httproute("e2e-gapi", "port", "{name: public}", "{name: web, port: 8080}");
    let r = apply(c, &port, &[]);
    check(
        r.code == 1
            && r.stderr.contains(
                "MG0912 /spec/rules/0/backendRefs/0/port: port 8080 is not a port of Service e2e-gapi/web (ports: 80)",
            ),
        "a backend port the Service lacks is denied",
        &r,
    )?;
    // Cross-namespace: Flux applies a ReferenceGrant after an HTTPRoute, so its
    // absence is a warning at the route's apply; deleting it later is denied.
    let cross = httproute(
        "e2e-gapi",
        "pay",
        "{name: public}",
        "{name: pay, namespace: e2e-gapi-backend, port: 80}",
    );
    let r = apply(c, &cross, &[]);
    check(
        r.code == 0
            && r.stderr.contains("Warning: MG0913 /spec/rules/0/backendRefs/0/namespace: backend Service e2e-gapi-backend/pay is in another namespace and no ReferenceGrant in e2e-gapi-backend lets HTTPRoute in e2e-gapi refer to it (istiod: RefNotPermitted): its share of requests gets 500")
            && r.stderr.contains("(not denied: Flux applies a ReferenceGrant in e2e-gapi-backend after this HTTPRoute"),
        "a cross-namespace backend without a grant warns",
        &r,
    )?;
    let grant = "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {name: from-gapi, namespace: e2e-gapi-backend}\nspec:\n  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: e2e-gapi}]\n  to: [{group: \"\", kind: Service}]\n";
    let r = apply(c, grant, &[]);
    check(r.code == 0, "the ReferenceGrant is admitted", &r)?;
    let r = apply(
        c,
        &cross.replace(
            "name: pay, namespace: e2e-gapi}",
            "name: pay, namespace: e2e-gapi, labels: {edited: \"yes\"}}",
        ),
        &[],
    );
    check(
        r.code == 0 && !r.stderr.contains("MG0913"),
        "with the grant, no finding",
        &r,
    )?;
    let r = c.kubectl(
        &["delete", "referencegrant", "from-gapi", "-n", "e2e-gapi-backend"],
        None,
    );
    check(
        r.code == 1 && r.stderr.contains("deleting ReferenceGrant e2e-gapi-backend/from-gapi breaks 1 object(s) that refer to it: HTTPRoute e2e-gapi/pay (MG0913"),
        "deleting the grant is denied (impact)",
        &r,
    )?;
    // GAMMA: a mesh route with a Service parent.
    let mesh = httproute(
        "e2e-gapi",
        "mesh",
        "{group: \"\", kind: Service, name: front, port: 80}",
        "{name: web, port: 80}",
    )
    .replace("  hostnames: [shop.example.com]\n", "");
    // A warning (no traffic that worked breaks: the parent host has no Service).
    let r = apply(c, &mesh, &["--dry-run=server"]);
    check(
        r.code == 0 && r.stderr.contains("Warning: MG0931 /spec/parentRefs/0/name: parent Service e2e-gapi/front not found: this route is not applied in the mesh"),
        "a mesh route to a missing Service parent warns",
        &r,
    )?;
    apply(c, &service("e2e-gapi", "front", ""), &[]);
    let r = apply(c, &mesh, &[]);
    check(
        r.code == 0 && !r.stderr.contains("MG09"),
        "admitted without a word once the Service exists",
        &r,
    )?;
    // Another controller's Gateway: its routes are not judged.
    let nginx = "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: nginx}\nspec: {controllerName: gateway.nginx.org/nginx-gateway-controller}\n";
    let r = c.kubectl(&["apply", "-f", "-"], Some(nginx));
    check(r.code == 0, "GatewayClass nginx", &r)?;
    let foreign = GAPI_GATEWAY
        .replace("name: public", "name: foreign")
        .replace("gatewayClassName: istio", "gatewayClassName: nginx");
    wait_until("meshgate to see the nginx class", Duration::from_secs(30), || {
        let r = apply(c, &foreign, &["--dry-run=server"]);
        r.code == 0 && !r.stderr.contains("MG0907")
    })?;
    let r = apply(c, &foreign, &[]);
    check(
        r.code == 0 && !r.stderr.contains("MG09"),
        "a Gateway of another controller's class is not judged",
        &r,
    )?;
    let r = apply(
        c,
        &httproute(
            "e2e-gapi",
            "foreign",
            "{name: foreign, sectionName: nope}",
            "{name: nope, port: 80}",
        ),
        &[],
    );
    check(r.code == 0 && !r.stderr.contains("MG09"), "nor its routes", &r)?;
    // A certificate Secret's deletion: warned of (secrets.meshgate.io), never
    // denied; its data never reaches meshgate's log.
    let tls = "apiVersion: v1\nkind: Secret\nmetadata: {name: shop-cert, namespace: e2e-gapi}\ntype: kubernetes.io/tls\ndata: {tls.crt: bWVzaGdhdGUtZTJlLWNlcnQ=, tls.key: bWVzaGdhdGUtZTJlLWtleQ==}\n";
    let opaque = "apiVersion: v1\nkind: Secret\nmetadata: {name: settings, namespace: e2e-gapi}\ndata: {password: bWVzaGdhdGUtZTJlLXB3}\n";
    for s in [tls, opaque] {
        let r = c.kubectl(&["apply", "-f", "-"], Some(s));
        check(r.code == 0, "a Secret is created", &r)?;
    }
    let secure = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: secure, namespace: e2e-gapi}\nspec:\n  gatewayClassName: istio\n  listeners:\n  - name: https\n    port: 443\n    protocol: HTTPS\n    hostname: \"*.example.com\"\n    tls: {certificateRefs: [{name: shop-cert}]}\n";
    wait_until(
        "meshgate to see the certificate Secret",
        Duration::from_secs(30),
        || {
            let r = apply(c, secure, &[]);
            r.code == 0 && !r.stderr.contains("MG0921")
        },
    )?;
    let r = apply(
        c,
        &httproute("e2e-gapi", "secure", "{name: secure}", "{name: web, port: 80}"),
        &[],
    );
    check(
        r.code == 0 && !r.stderr.contains("MG09"),
        "a route on the HTTPS listener",
        &r,
    )?;
    let r = c.kubectl(&["delete", "secret", "shop-cert", "-n", "e2e-gapi"], None);
    check(
        r.code == 0
            && r.stderr.contains("Warning: without this Secret, Gateway e2e-gapi/secure: MG0921 /spec/listeners/0/tls/certificateRefs/0: listener \"https\" has no usable certificate: Secret e2e-gapi/shop-cert does not exist (istiod: InvalidCertificateRef)")
            && r.stderr.contains("Warning: without this Secret, HTTPRoute e2e-gapi/secure: MG0906 /spec/parentRefs/0"),
        "deleting a certificate Secret in use warns of its listener and route",
        &r,
    )?;
    let r = c.kubectl(&["delete", "secret", "settings", "-n", "e2e-gapi"], None);
    check(
        r.code == 0 && !r.stderr.contains("Warning"),
        "an Opaque Secret without a certificate is not even sent",
        &r,
    )?;
    // ConfigMaps are watched as metadata: a BackendTLSPolicy's missing CA
    // bundle warns live, and stops once the ConfigMap exists.
    apply(c, &service("e2e-gapi", "ledger", ""), &[]);
    let btls = "apiVersion: gateway.networking.k8s.io/v1\nkind: BackendTLSPolicy\nmetadata: {name: ledger, namespace: e2e-gapi}\nspec:\n  targetRefs: [{group: \"\", kind: Service, name: ledger}]\n  validation:\n    hostname: ledger.internal\n    caCertificateRefs: [{group: \"\", kind: ConfigMap, name: internal-ca}]\n";
    let r = apply(c, btls, &[]);
    check(
        r.code == 0 && r.stderr.contains("Warning: MG0924 /spec/validation/caCertificateRefs/0: CA ConfigMap e2e-gapi/internal-ca does not exist"),
        "a BackendTLSPolicy whose CA ConfigMap is missing warns",
        &r,
    )?;
    let r = c.kubectl(
        &[
            "create",
            "configmap",
            "internal-ca",
            "-n",
            "e2e-gapi",
            "--from-literal=ca.crt=x",
        ],
        None,
    );
    check(r.code == 0, "the CA ConfigMap is created", &r)?;
    wait_until("meshgate to see the CA ConfigMap", Duration::from_secs(30), || {
        let r = apply(c, btls, &[]);
        r.code == 0 && !r.stderr.contains("MG0924")
    })?;
    let log = c.log("meshgate.log");
    check(
        !log.contains("bWVzaGdhdGUtZTJl") && !log.contains("meshgate-e2e-"),
        "no Secret data in meshgate's log",
        &r,
    )
}

const AMB_NS: &str =
    "apiVersion: v1\nkind: Namespace\nmetadata: {name: e2e-amb, labels: {istio.io/dataplane-mode: ambient}}\n";
/// A Pod istio-cni captured (its redirection annotation: what istiod reads).
const AMB_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-1\n  namespace: e2e-amb\n  labels: {app: web}\n  annotations: {ambient.istio.io/redirection: enabled}\nspec:\n  containers: [{name: web, image: web:1}]\n";
const WAYPOINT_CLASS: &str = "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: istio-waypoint}\nspec: {controllerName: istio.io/mesh-controller}\n";
const AMB_WAYPOINT: &str = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: waypoint, namespace: e2e-amb}\nspec:\n  gatewayClassName: istio-waypoint\n  listeners: [{name: mesh, port: 15008, protocol: HBONE}]\n";

fn amb_policy(name: &str, body: &str) -> String {
    format!("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: {name}, namespace: e2e-amb}}\nspec:\n{body}")
}

fn t_ambient(c: &Cluster) -> Result<(), Failed> {
    for doc in [AMB_NS, AMB_POD, WAYPOINT_CLASS, AMB_WAYPOINT] {
        let r = c.kubectl(&["apply", "-f", "-"], Some(doc));
        check(r.code == 0, "ambient fixtures apply", &r)?;
    }
    // What istiod's deployment controller writes once the waypoint runs: its
    // address (istiod binds no waypoint without one).
    let r = c.kubectl(
        &[
            "patch",
            "gateways.gateway.networking.k8s.io",
            "waypoint",
            "-n",
            "e2e-amb",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"addresses":[{"type":"Hostname","value":"waypoint.e2e-amb.svc.cluster.local"}]}}"#,
        ],
        None,
    );
    check(r.code == 0, "the waypoint's status address", &r)?;
    // An HTTP-only ALLOW for the captured pod: ztunnel's deny-all.
    let l7 = amb_policy(
        "web-get",
        "  selector: {matchLabels: {app: web}}\n  rules:\n  - to: [{operation: {methods: [GET]}}]\n",
    );
    wait_until("meshgate to see the captured pod", Duration::from_secs(30), || {
        apply(c, &l7, &["--dry-run=server"]).stderr.contains("MG1004")
    })?;
    // Another ALLOW of the same batch (Flux applies AuthorizationPolicies by
    // name) may still admit their traffic: warned, never a false denial.
    let r = apply(c, &l7, &[]);
    check(
        r.code == 0
            && r.stderr.contains("Warning: MG1004 /spec/rules/0: it selects 1 ambient workload(s) (web-1), so ztunnel enforces it, which cannot see HTTP attributes: every rule of this ALLOW has some (methods), so istiod sends it with no rule left and ztunnel denies every connection to them (web-1): deny-all, connections reset")
            && r.stderr.contains("(not denied: Flux applies a AuthorizationPolicy in e2e-amb or istio-system after this AuthorizationPolicy"),
        "an L7 ALLOW selecting ambient pods is warned (MG1004), as the batch may still admit them",
        &r,
    )?;
    // A targetRefs policy naming the waypoint class from outside the root namespace.
    let class = amb_policy(
        "all-waypoints",
        "  targetRefs: [{group: gateway.networking.k8s.io, kind: GatewayClass, name: istio-waypoint}]\n  rules: [{}]\n",
    );
    let r = apply(c, &class, &[]);
    check(
        r.code == 0
            && r.stderr.contains("Warning: MG1008 /spec/targetRefs/0: targetRefs istio-waypoint: a GatewayClass target attaches only from the root namespace (istio-system), not e2e-amb: this policy is not applied there"),
        "a GatewayClass target outside the root namespace is warned (MG1008: decided at the waypoint, past what the oracle shows)",
        &r,
    )?;
    // A Service naming a waypoint that does not exist: warned.
    let missing = "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: e2e-amb, labels: {istio.io/use-waypoint: nope}}\nspec:\n  selector: {app: api}\n  ports: [{name: http, port: 80}]\n";
    let r = apply(c, missing, &[]);
    check(
        r.code == 0
            && r.stderr.contains("Warning: MG1001 /metadata/labels/istio.io~1use-waypoint: istio.io/use-waypoint names e2e-amb/nope, which istiod does not bind: Gateway e2e-amb/nope does not exist: traffic bypasses the waypoint"),
        "a Service labelled with a missing waypoint is warned (MG1001)",
        &r,
    )?;
    // A Service bound to the waypoint, an L7 policy at the waypoint for it.
    let bound_first = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: e2e-amb, labels: {istio.io/use-waypoint: waypoint}}\nspec:\n  selector: {app: web}\n  ports: [{name: http, port: 80}]\n";
    let bound = bound_first;
    let r = apply(c, bound, &[]);
    check(r.code == 0, "the Service bound to the waypoint is created", &r)?;
    let at_waypoint = amb_policy(
        "web-get-at-waypoint",
        "  targetRefs: [{group: \"\", kind: Service, name: web}]\n  rules:\n  - to: [{operation: {methods: [GET]}}]\n",
    );
    wait_until(
        "meshgate to see the waypoint's address",
        Duration::from_secs(30),
        || {
            let r = apply(c, &at_waypoint, &["--dry-run=server"]);
            r.code == 0 && !r.stderr.contains("MG10")
        },
    )
    .map_err(|e| {
        let g = c.kubectl(
            &[
                "get",
                "gateways.gateway.networking.k8s.io",
                "-n",
                "e2e-amb",
                "-o",
                "yaml",
            ],
            None,
        );
        Failed::from(format!("{e:?}\n{}", g.stdout))
    })?;
    let r = apply(c, bound, &[]);
    check(
        r.code == 0 && !r.stderr.contains("MG10"),
        "a Service bound to a ready waypoint is admitted without a word",
        &r,
    )?;
    let r = apply(c, &at_waypoint, &[]);
    check(
        r.code == 0 && !r.stderr.contains("MG10"),
        "an L7 policy at the Service's waypoint is admitted",
        &r,
    )?;
    // Deleting the waypoint: the policy would no longer apply (impact).
    let r = c.kubectl(
        &[
            "delete",
            "gateways.gateway.networking.k8s.io",
            "waypoint",
            "-n",
            "e2e-amb",
        ],
        None,
    );
    check(
        r.code == 1
            && r.stderr.contains(
                "deleting Gateway.gateway.networking.k8s.io e2e-amb/waypoint breaks 2 object(s) that refer to it",
            )
            && r.stderr
                .contains("AuthorizationPolicy e2e-amb/web-get-at-waypoint (MG1008 /spec/targetRefs/0")
            && r.stderr
                .contains("Service e2e-amb/web (MG1001 /metadata/labels/istio.io~1use-waypoint"),
        "deleting a waypoint a targetRefs policy depends on is denied, naming it",
        &r,
    )
}

/// `meshgate check --cluster` with a remote cluster (a second API server
/// sharing the etcd under its own prefix, reached with its real CA and a
/// token): a host only it serves is a valid destination; unreachable, what
/// rests on absence is a warning naming it; an unsafe kubeconfig is refused and
/// never run.
fn u_remote_cluster(c: &Cluster) -> Result<(), Failed> {
    let (remote, west) = c.start_remote_apiserver("west");
    let r = cluster::kubectl_at(
        &west,
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: Namespace\nmetadata: {name: e2e-mc}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: pay, namespace: e2e-mc}\nspec:\n  selector: {app: pay}\n  ports: [{name: http, port: 8080}]\n"),
    );
    check(r.code == 0, "a Service only on the remote cluster", &r)?;
    let dir = tempfile::tempdir().unwrap();
    let vs = dir.path().join("vs.yaml");
    std::fs::write(
        &vs,
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: pay, namespace: e2e-mc-client}\nspec:\n  hosts: [pay.e2e-mc.svc.cluster.local]\n  http:\n  - route:\n    - destination: {host: pay.e2e-mc.svc.cluster.local, port: {number: 8080}}\n",
    )
    .unwrap();
    let (local, vs) = (c.kubeconfig.display().to_string(), vs.display().to_string());
    let r = meshgate_check(&["--cluster", "--kubeconfig", &local, &vs]);
    check(
        r.code == 1 && r.stdout.contains("MG0102"),
        "without the remote cluster the host is missing",
        &r,
    )?;
    let west_arg = format!("west={}", west.display());
    let r = meshgate_check(&[
        "--cluster",
        "--kubeconfig",
        &local,
        "--remote-kubeconfig",
        &west_arg,
        &vs,
    ]);
    check(
        r.code == 0
            && !r.stdout.contains("MG0102")
            && r.stdout.contains("info MG0113 VirtualService e2e-mc-client/pay /spec/http/0/route/0/destination/host: host pay.e2e-mc.svc.cluster.local is served only by remote cluster west")
            && r.stderr.contains("meshgate: note: remote cluster west: ")
            && r.stderr.contains(" Services and Pods listed in "),
        "a host only the remote cluster serves is valid, and said to be served there",
        &r,
    )?;
    // Unreachable: a warning naming it, never an error that rests on absence.
    let down = dir.path().join("down.kubeconfig");
    std::fs::write(
        &down,
        std::fs::read_to_string(&west)
            .unwrap()
            .replace("server: https://127.0.0.1:", "server: https://127.0.0.1:1#"),
    )
    .unwrap();
    let down_arg = format!("west={}", down.display());
    let r = meshgate_check(&[
        "--cluster",
        "--kubeconfig",
        &local,
        "--remote-kubeconfig",
        &down_arg,
        &vs,
    ]);
    check(
        r.code == 0
            && r.stderr.contains("remote cluster west could not be read")
            && r.stdout.contains("warning MG0102")
            && r.stdout.contains(
                "(a warning, not a denial: remote cluster west (could not be read) is not synced and may serve it)",
            ),
        "an unreachable remote makes absence a warning",
        &r,
    )?;
    // An exec kubeconfig: refused, and its command never runs.
    let marker = dir.path().join("ran");
    let exec = dir.path().join("exec.kubeconfig");
    std::fs::write(
        &exec,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: x, cluster: {{server: https://127.0.0.1:1}}}}]\nusers:\n- name: x\n  user:\n    exec: {{apiVersion: client.authentication.k8s.io/v1, command: touch, args: [\"{}\"]}}\ncontexts: [{{name: x, context: {{cluster: x, user: x}}}}]\ncurrent-context: x\n",
            marker.display()
        ),
    )
    .unwrap();
    let exec_arg = format!("west={}", exec.display());
    let r = meshgate_check(&[
        "--cluster",
        "--kubeconfig",
        &local,
        "--remote-kubeconfig",
        &exec_arg,
        &vs,
    ]);
    check(
        r.code == 2 && r.stderr.contains("user \"x\": exec is not allowed in a remote secret") && !marker.exists(),
        "an exec kubeconfig is refused and nothing runs",
        &r,
    )?;
    drop(remote);
    Ok(())
}

/// A remote secret as `istioctl create-remote-secret` writes it, in
/// meshgate's namespace: one key per cluster id holding a kubeconfig.
fn remote_secret(name: &str, cluster_id: &str, kubeconfig: &str) -> String {
    let indented: String = kubeconfig.lines().map(|l| format!("    {l}\n")).collect();
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: meshgate\n  labels: {{istio/multiCluster: \"true\"}}\n  annotations: {{networking.istio.io/cluster: {cluster_id}}}\ntype: Opaque\nstringData:\n  {cluster_id}: |\n{indented}"
    )
}

/// The value of the metric line that starts with `series` (name and labels),
/// on meshgate's admin port, if published.
fn metric(c: &Cluster, series: &str) -> Option<String> {
    let (_, body) = c.admin("/metrics");
    let prefix = format!("{series} ");
    body.lines().find_map(|l| l.strip_prefix(&prefix)).map(str::to_string)
}

/// `meshgate_remote_cluster_ready{cluster="ID"}`, if published.
fn remote_ready(c: &Cluster, id: &str) -> Option<String> {
    metric(c, &format!("meshgate_remote_cluster_ready{{cluster=\"{id}\"}}"))
}

fn mc_route(name: &str, host: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: {name}, namespace: e2e-mcl-client}}\nspec:\n  hosts: [{name}.e2e-mcl-client.svc.cluster.local]\n  http:\n  - route:\n    - destination: {{host: {host}, port: {{number: 8080}}}}\n"
    )
}

const MC_REMOTE_SVC: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: e2e-mcl}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: pay, namespace: e2e-mcl}\nspec:\n  selector: {app: pay}\n  ports: [{name: http, port: 8080}]\n";
const MC_HOST: &str = "pay.e2e-mcl.svc.cluster.local";

/// Issue #22 live: meshgate reads a remote cluster through its own remote
/// secret (a real CA, the reader's token and manifests/remote-reader's RBAC
/// there), and no absence it cannot vouch for ever denies.
fn v_remote_cluster_live(c: &Cluster) -> Result<(), Failed> {
    let (remote, admin_kc) = c.start_remote_apiserver("east");
    let port: u16 = std::fs::read_to_string(&admin_kc)
        .unwrap()
        .split("server: https://127.0.0.1:")
        .nth(1)
        .and_then(|s| s.lines().next())
        .and_then(|p| p.trim().parse().ok())
        .expect("the remote kubeconfig names its port");
    let mut remote = Some(remote);
    let reader = repo_path("manifests/remote-reader");
    let r = cluster::kubectl_at(&admin_kc, &["apply", "-k", &reader], None);
    check(r.code == 0, "manifests/remote-reader applies in the remote cluster", &r)?;
    let r = cluster::kubectl_at(&admin_kc, &["apply", "-f", "-"], Some(MC_REMOTE_SVC));
    check(r.code == 0, "a Service only the remote cluster has", &r)?;
    c.namespace("e2e-mcl-client");
    let reader_kc = std::fs::read_to_string(&admin_kc).unwrap().replace(
        "token: meshgate-e2e-token",
        &format!("token: {}", cluster::READER_TOKEN),
    );
    // First with a token the remote cluster refuses, and a key naming the
    // local cluster (istiod's default id here: no istiod sets CLUSTER_ID).
    let wrong = remote_secret(
        "istio-remote-secret-east",
        "east",
        &reader_kc.replace(cluster::READER_TOKEN, "not-a-token"),
    ) + &format!(
        "  Kubernetes: |\n{}",
        reader_kc.lines().map(|l| format!("    {l}\n")).collect::<String>()
    );
    let r = apply(c, &wrong, &[]);
    check(r.code == 0, "the remote secret applies", &r)?;
    wait_until(
        "remote cluster east known but not synced",
        Duration::from_secs(60),
        || {
            remote_ready(c, "east").as_deref() == Some("0")
                && c.admin("/metrics")
                    .1
                    .contains("meshgate_remote_cluster_state{cluster=\"east\",state=\"unreachable\"} 1")
        },
    )?;
    check(
        remote_ready(c, "Kubernetes").is_none()
            && c.log("meshgate.log")
                .contains("remote secret key names the local cluster; ignored"),
        "a key naming the local cluster is ignored",
        &r,
    )?;
    // Rotated to the reader's token: picked up at run time.
    let secret = remote_secret("istio-remote-secret-east", "east", &reader_kc);
    let r = apply(c, &secret, &[]);
    check(r.code == 0, "the rotated remote secret applies", &r)?;
    wait_until(
        "remote cluster east synced after the rotation",
        Duration::from_secs(60),
        || remote_ready(c, "east").as_deref() == Some("1"),
    )?;
    // A route to a host only the remote cluster serves: admitted.
    let r = apply(c, &mc_route("pay", MC_HOST), &[]);
    check(
        r.code == 0 && !r.stderr.contains("MG0102"),
        "a route to a remote-only host is admitted",
        &r,
    )?;
    // The remote Service deleted: a new route is denied, the admitted one reported.
    let r = cluster::kubectl_at(&admin_kc, &["delete", "service", "pay", "-n", "e2e-mcl"], None);
    check(r.code == 0, "the remote Service is deleted", &r)?;
    let mut last = None;
    wait_until("a new route to the deleted remote host denied", Duration::from_secs(30), || {
        let r = apply(c, &mc_route("pay-new", MC_HOST), &["--dry-run=server"]);
        let r = if r.code == 0 { apply(c, &mc_route("pay-new", MC_HOST), &[]) } else { r };
        let denied = r.code == 1 && r.stderr.contains("MG0102 /spec/http/0/route/0/destination/host: host pay.e2e-mcl.svc.cluster.local matches no Service or ServiceEntry");
        last = Some(r);
        denied
    })
    .map_err(|e| format!("{e:?}: {last:?}"))?;
    wait_until("the admitted route in /report", Duration::from_secs(60), || {
        audit(c, "namespace=e2e-mcl-client").contains(&(
            "MG0102".to_string(),
            "VirtualService/pay".to_string(),
            "/spec/http/0/route/0/destination/host".to_string(),
        ))
    })?;
    // The remote API server stopped: absence is no longer vouched for.
    drop(remote.take());
    wait_until("remote cluster east unsynced", Duration::from_secs(60), || {
        remote_ready(c, "east").as_deref() == Some("0")
    })?;
    let r = apply(c, &mc_route("nowhere", "nowhere.e2e-mcl.svc.cluster.local"), &[]);
    check(
        r.code == 0
            && r.stderr.contains("Warning: MG0102 /spec/http/0/route/0/destination/host: host nowhere.e2e-mcl.svc.cluster.local matches no Service or ServiceEntry")
            && r.stderr.contains("(a warning, not a denial: remote cluster east (unreachable since "),
        "a route to a host present nowhere is admitted with a warning naming the unreachable cluster",
        &r,
    )?;
    check(
        c.admin("/readyz").0 == 200,
        "/readyz is 200 while a remote cluster is down",
        &r,
    )?;
    let r = c.kubectl(&["delete", "virtualservice", "nowhere", "-n", "e2e-mcl-client"], None);
    check(r.code == 0, "clean up", &r)?;
    // Restarted (same address, same CA): absence is enforced again.
    remote = Some(c.start_remote_apiserver_on("east", port).0);
    wait_until("remote cluster east synced again", Duration::from_secs(90), || {
        remote_ready(c, "east").as_deref() == Some("1")
    })?;
    let r = apply(c, &mc_route("nowhere", "nowhere.e2e-mcl.svc.cluster.local"), &[]);
    check(
        r.code == 1 && r.stderr.contains("denied the request: MG0102"),
        "absence is enforced again",
        &r,
    )?;
    // The Service back, then the secret deleted: the remote-only host is denied.
    let r = cluster::kubectl_at(&admin_kc, &["apply", "-f", "-"], Some(MC_REMOTE_SVC));
    check(r.code == 0, "the remote Service again", &r)?;
    wait_until("the remote host served again", Duration::from_secs(30), || {
        apply(c, &mc_route("pay-new", MC_HOST), &["--dry-run=server"]).code == 0
            && !apply(c, &mc_route("pay-new", MC_HOST), &["--dry-run=server"])
                .stderr
                .contains("MG0102")
    })?;
    let r = c.kubectl(
        &["delete", "secret", "istio-remote-secret-east", "-n", "meshgate"],
        None,
    );
    check(r.code == 0, "the remote secret is deleted", &r)?;
    wait_until(
        "remote cluster east removed from the metrics",
        Duration::from_secs(30),
        || remote_ready(c, "east").is_none(),
    )?;
    let r = apply(c, &mc_route("pay-new", MC_HOST), &[]);
    check(
        r.code == 1 && r.stderr.contains("denied the request: MG0102"),
        "without the secret the remote-only host is denied",
        &r,
    )?;
    // A secret whose kubeconfig runs a command: rejected, nothing runs.
    let marker = c.dir.path().join("remote-exec-ran");
    let exec_kc = format!(
        "apiVersion: v1\nkind: Config\nclusters: [{{name: x, cluster: {{server: \"https://127.0.0.1:{port}\"}}}}]\nusers:\n- name: x\n  user:\n    exec: {{apiVersion: client.authentication.k8s.io/v1, command: touch, args: [\"{}\"]}}\ncontexts: [{{name: x, context: {{cluster: x, user: x}}}}]\ncurrent-context: x\n",
        marker.display()
    );
    let before = rejections(c);
    let r = apply(c, &remote_secret("istio-remote-secret-exec", "north", &exec_kc), &[]);
    check(
        r.code == 0,
        "the exec secret is stored (the API server does not judge it)",
        &r,
    )?;
    wait_until("the exec secret rejected", Duration::from_secs(30), || {
        rejections(c) > before
    })?;
    std::thread::sleep(Duration::from_secs(1));
    let log = c.log("meshgate.log");
    check(
        !marker.exists()
            && remote_ready(c, "north").is_none()
            && log.contains("exec is not allowed in a remote secret"),
        "an exec kubeconfig is rejected, logged, and never run",
        &r,
    )?;
    let r = c.kubectl(
        &["delete", "secret", "istio-remote-secret-exec", "-n", "meshgate"],
        None,
    );
    check(r.code == 0, "clean up", &r)?;
    drop(remote);
    Ok(())
}

fn rejections(c: &Cluster) -> u64 {
    metric(c, "meshgate_remote_secret_rejections_total")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn repo_path(p: &str) -> String {
    cluster::repo(p).display().to_string()
}

/// Helm (tests/helm: helm.sh/helm/v4 v4.3.2), built once per run or found in the cache.
fn helm_bin() -> &'static str {
    static HELM: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HELM.get_or_init(|| common::go_binary("tests/helm/build.sh", "Helm"))
}

fn helm(c: &Cluster, args: &[&str]) -> cluster::Run {
    let home = c.dir.path().join("helm-home");
    let out = std::process::Command::new(helm_bin())
        .args(args)
        .arg(format!("--kubeconfig={}", c.kubeconfig.display()))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .expect("helm runs");
    cluster::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `kubectl get -o jsonpath=...` of one object.
fn jsonpath(c: &Cluster, what: &[&str], path: &str) -> String {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    let p = format!("jsonpath={path}");
    args.extend_from_slice(&["-o", &p]);
    c.kubectl(&args, None).stdout
}

/// Issue #23: the chart installed, upgraded and uninstalled with Helm against
/// the real API server. meshgate runs on loopback with the certificate the
/// chart generated and the policy it wrote, behind the webhook configuration
/// it installed (`webhook.url`). The objects of this scenario carry
/// `meshgate.io/skip: "true"`, which the suite's own webhook skips, so a
/// denial can only come from the chart's.
fn w_helm_install_upgrade_uninstall(c: &Cluster) -> Result<(), Failed> {
    let chart = cluster::repo("charts/meshgate").display().to_string();
    let port = cluster::free_loopback_port();
    let url = format!("webhook.url=https://127.0.0.1:{port}/validate");
    let base = [
        "--namespace",
        "meshgate-helm",
        "--set",
        &url,
        "--set",
        "policy.exemptions.optOutLabel=e2e.meshgate.io/helm-skip",
    ];
    // A typo in the values: the schema refuses it, nothing is installed.
    let mut typo = vec!["install", "mg", &chart, "--create-namespace", "--set", "replica=3"];
    typo.extend_from_slice(&base);
    let r = helm(c, &typo);
    check(
        r.code != 0 && r.stderr.contains("additional properties 'replica' not allowed"),
        "a values typo fails helm install with the schema's message",
        &r,
    )?;
    check(
        c.kubectl(&["get", "validatingwebhookconfiguration", "mg-meshgate"], None)
            .code
            != 0,
        "nothing installed",
        &r,
    )?;
    let mut install = vec!["install", "mg", &chart, "--create-namespace"];
    install.extend_from_slice(&base);
    let r = helm(c, &install);
    check(r.code == 0 && r.stdout.contains("STATUS: deployed"), "helm install", &r)?;
    // The certificate the chart generated, and the CA bundle it installed.
    let secret = ["secret", "mg-meshgate-tls", "-n", "meshgate-helm"];
    let (crt, key, ca) = (
        jsonpath(c, &secret, "{.data.tls\\.crt}"),
        jsonpath(c, &secret, "{.data.tls\\.key}"),
        jsonpath(c, &secret, "{.data.ca\\.crt}"),
    );
    let bundle = jsonpath(
        c,
        &["validatingwebhookconfiguration", "mg-meshgate"],
        "{.webhooks[0].clientConfig.caBundle}",
    );
    check(
        !crt.is_empty() && !key.is_empty() && bundle == ca,
        "the generated CA is the webhook's caBundle",
        &r,
    )?;
    let certs = c.dir.path().join("helm-certs");
    std::fs::create_dir_all(&certs).unwrap();
    for (file, b64) in [("tls.crt", &crt), ("tls.key", &key)] {
        let out = common::piped(std::process::Command::new("base64").arg("-d"), b64.as_bytes());
        std::fs::write(certs.join(file), out.stdout).unwrap();
    }
    let policy = c.dir.path().join("helm-policy.yaml");
    let text = jsonpath(
        c,
        &["configmap", "mg-meshgate-policy", "-n", "meshgate-helm"],
        "{.data.meshgate\\.yaml}",
    );
    std::fs::write(&policy, &text).unwrap();
    let replica = c.start_replica_with("helm-meshgate", &certs, &policy, port, &[]);
    c.namespace("e2e-helm");
    let broken = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web, namespace: e2e-helm, labels: {meshgate.io/skip: \"true\"}}\nspec:\n  hosts: [web.example.com]\n  gateways: [missing]\n  http:\n  - route:\n    - destination: {host: web}\n";
    let denied = |r: &cluster::Run| {
        r.code == 1
            && r.stderr
                .contains("admission webhook \"istio.meshgate.io\" denied the request: MG0101 /spec/gateways/0")
    };
    let r = apply(c, broken, &[]);
    check(
        denied(&r),
        "the chart's webhook answers: meshgate on its generated certificate denies",
        &r,
    )?;
    // An upgrade keeps the certificate (lookup), so running replicas keep serving.
    let mut upgrade = vec!["upgrade", "mg", &chart, "--set", "webhook.timeoutSeconds=7"];
    upgrade.extend_from_slice(&base);
    let r = helm(c, &upgrade);
    check(r.code == 0 && r.stdout.contains("REVISION: 2"), "helm upgrade", &r)?;
    check(
        jsonpath(c, &secret, "{.data.tls\\.crt}") == crt
            && jsonpath(
                c,
                &["validatingwebhookconfiguration", "mg-meshgate"],
                "{.webhooks[0].clientConfig.caBundle}",
            ) == bundle
            && jsonpath(
                c,
                &["validatingwebhookconfiguration", "mg-meshgate"],
                "{.webhooks[0].timeoutSeconds}",
            ) == "7",
        "the upgrade keeps the generated certificate and CA bundle and applies the new value",
        &r,
    )?;
    let r = apply(c, broken, &[]);
    check(denied(&r), "after the upgrade the webhook still answers", &r)?;
    // Uninstall as README says: the webhook configuration first (the API server
    // never calls a webhook whose Service is going away), then the release.
    let r = c.kubectl(&["delete", "validatingwebhookconfiguration", "mg-meshgate"], None);
    check(r.code == 0, "the webhook configuration deleted first", &r)?;
    let r = helm(c, &["uninstall", "mg", "--namespace", "meshgate-helm"]);
    check(r.code == 0, "helm uninstall after it", &r)?;
    let r = c.kubectl(
        &["get", "all,configmaps,secrets", "-n", "meshgate-helm", "-o", "name"],
        None,
    );
    check(
        !r.stdout.contains("mg-meshgate"),
        "nothing of the release is left in its namespace",
        &r,
    )?;
    let r = c.kubectl(&["get", "clusterroles,clusterrolebindings", "-o", "name"], None);
    check(!r.stdout.contains("mg-meshgate"), "nor cluster-wide", &r)?;
    let r = c.kubectl(&["get", "validatingwebhookconfigurations", "-o", "name"], None);
    check(
        r.code == 0 && !r.stdout.contains("mg-meshgate"),
        "no webhook configuration left",
        &r,
    )?;
    let r = apply(c, broken, &[]);
    check(r.code == 0, "with the chart gone, nothing of it reviews", &r)?;
    drop(replica);
    let r = c.kubectl(
        &["delete", "namespace", "e2e-helm", "meshgate-helm", "--wait=false"],
        None,
    );
    check(r.code == 0, "clean up", &r)
}

/// The Flux driver (tests/flux-driver: fluxcd/pkg/ssa v0.78.0), built or found in the cache.
fn flux_driver() -> String {
    common::go_binary("tests/flux-driver/build.sh", "the Flux driver")
}

/// Flux's real apply logic against two replicas behind a relay that sends each
/// review to a random one (issue #19). Valid batches: no denial, converged;
/// broken ones: stopped at the real apply of the broken object with exactly its
/// finding; and, with `enforceOnDryRun: true`, the race that is not the default.
fn q_gitops_batches_on_two_replicas(c: &Cluster) -> Result<(), Failed> {
    let batches: usize = std::env::var("MESHGATE_FLUX_BATCHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let driver = flux_driver();
    let policy = c.dir.path().join("gate-policy.yaml");
    std::fs::write(&policy, "settings:\n  enforceOnDryRun: false\n").unwrap();
    let replicas = [
        c.start_gate_replica("meshgate-gate-0", &policy),
        c.start_gate_replica("meshgate-gate-1", &policy),
    ];
    let relay = cluster::free_loopback_port();
    let p = c.point_webhook_at(relay);
    check(p.code == 0, "webhook pointed at the relay", &p)?;
    let certs = c.certs();
    let run = |mode: &str, valid: usize, broken: usize, seed: u32| -> (Run, serde_json::Value) {
        let out = std::process::Command::new(&driver)
            .arg(format!("--kubeconfig={}", c.kubeconfig.display()))
            .arg(format!("--relay=127.0.0.1:{relay}"))
            .arg(format!("--tls-cert={}", certs.join("tls.crt").display()))
            .arg(format!("--tls-key={}", certs.join("tls.key").display()))
            .arg(format!("--ca={}", certs.join("ca.crt").display()))
            .arg(format!(
                "--backends=https://127.0.0.1:{},https://127.0.0.1:{}",
                replicas[0].webhook_port, replicas[1].webhook_port
            ))
            .arg(format!("--mode={mode}"))
            .arg(format!("--valid={valid}"))
            .arg(format!("--broken={broken}"))
            .arg(format!("--seed={seed}"))
            .arg(format!("--prefix=flux-{mode}"))
            .output()
            .expect("run the Flux driver");
        let r = Run::from(out);
        eprintln!("{}", tail(&r.stderr, 8));
        let summary = r
            .stdout
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or_default();
        (r, summary)
    };
    let result = (|| {
        let (r, s) = run("gate", batches, 12, 19);
        check(
            r.code == 0,
            "every valid batch applied with no denial and converged, every broken one stopped at its broken object",
            &r,
        )?;
        let n = |k: &str| s[k].as_u64().unwrap_or(u64::MAX);
        let valid = batches as u64 + 2;
        check(
            n("Valid") == valid && n("ValidDenied") == 0 && n("Converged") == valid && n("DelegateOrderCases") == 2,
            "valid batches (and a root before and after its delegate): 0 denials, all converged",
            &r,
        )?;
        // 4 dangling gateways and 4 missing subsets are always stopped; a missing
        // delegate is stopped when Flux would have applied it before its root.
        check(
            n("Broken") == 12 && n("BrokenStopped") + n("BrokenAdmittedWithWarn") == 12 && n("BrokenStopped") >= 8,
            "broken batches stopped with exactly their finding",
            &r,
        )?;
        check(
            n("DryRunReferentWarnings") > 0,
            "concurrent dry runs met missing referents, and warned instead of denying",
            &r,
        )?;
        for (i, rep) in s["Replicas"].as_array().cloned().unwrap_or_default().iter().enumerate() {
            check(
                rep["dryRun"].as_u64().unwrap_or(0) > 0 && rep["real"].as_u64().unwrap_or(0) > 0,
                &format!("replica {i} answered dry runs and real applies"),
                &r,
            )?;
        }
        for rep in &replicas {
            let (_, m) = cluster::admin_get(rep.admin_port, "/metrics");
            let rt: Vec<&str> = m
                .lines()
                .filter(|l| l.starts_with("meshgate_read_through_total"))
                .collect();
            eprintln!("replica on {}: {}", rep.webhook_port, rt.join(", "));
        }
        // The old behaviour: dry runs enforced on each replica's own overlay.
        std::fs::write(&policy, "settings:\n  enforceOnDryRun: true\n").unwrap();
        for rep in &replicas {
            wait_until("the replicas to reload the policy", Duration::from_secs(30), || {
                cluster::admin_get(rep.admin_port, "/metrics")
                    .1
                    .lines()
                    .any(|l| l.starts_with("meshgate_config_reloads_total ") && !l.ends_with(" 0"))
            })?;
        }
        let (r, s) = run("race", 20, 0, 20);
        check(r.code == 0, "the race run completed", &r)?;
        check(
            s["ValidDenied"].as_u64().unwrap_or(0) > 0,
            "enforceOnDryRun: true denies valid batches (their dry runs race across replicas)",
            &r,
        )
    })();
    let p = c.point_webhook_at(c.webhook_port);
    check(p.code == 0, "webhook pointed back at meshgate", &p)?;
    result
}

fn trial(name: &'static str, shared: &Shared, f: fn(&mut Cluster) -> Result<(), Failed>) -> Trial {
    let shared = shared.clone();
    Trial::test(name, move || {
        let mut guard = shared.lock().unwrap_or_else(|p| p.into_inner());
        let c = guard.get_or_insert_with(Cluster::start);
        let result = f(c);
        if result.is_err() {
            eprintln!("--- meshgate.log (tail)\n{}", tail(&c.log("meshgate.log"), 40));
        }
        result
    })
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut args = Arguments::from_args();
    args.test_threads = Some(1);
    let shared: Shared = Arc::new(Mutex::new(None));
    let trials = vec![
        trial("scenario_a_missing_gateway_is_denied", &shared, |c| {
            a_missing_gateway_is_denied(c)
        }),
        trial("scenario_b_dry_run_warns_and_the_real_apply_is_denied", &shared, |c| {
            b_dry_run_warns_and_the_real_apply_is_denied(c)
        }),
        trial("scenario_c_gateway_then_virtual_service_is_admitted", &shared, |c| {
            c_gateway_then_virtual_service_is_admitted(c)
        }),
        trial("scenario_d_deleting_a_bound_gateway_is_denied", &shared, |c| {
            d_deleting_a_bound_gateway_is_denied(c)
        }),
        trial("scenario_e_a_warning_prints_and_exits_0", &shared, |c| {
            e_a_warning_prints_and_exits_0(c)
        }),
        trial("scenario_f_a_directory_in_one_apply_is_admitted", &shared, |c| {
            f_a_directory_in_one_apply_is_admitted(c)
        }),
        trial("scenario_g_no_false_denial_from_watch_lag", &shared, |c| {
            g_no_false_denial_from_watch_lag(c)
        }),
        trial(
            "scenario_h_api_server_restart_is_survived",
            &shared,
            h_api_server_restart_is_survived,
        ),
        trial(
            "scenario_i_failure_policy_when_meshgate_is_down",
            &shared,
            i_failure_policy_when_meshgate_is_down,
        ),
        trial(
            "scenario_j_envoy_filter_pinned_to_a_version_no_proxy_runs",
            &shared,
            |c| j_envoy_filter_pinned_to_a_version_no_proxy_runs(c),
        ),
        trial("scenario_k_seed_stats_filter_for_a_missing_revision", &shared, |c| {
            k_seed_stats_filter_for_a_missing_revision(c)
        }),
        trial(
            "scenario_l_egress_path_through_a_missing_egress_gateway",
            &shared,
            |c| l_egress_path_through_a_missing_egress_gateway(c),
        ),
        trial("scenario_m_revision_tag_on_configuration", &shared, |c| {
            m_revision_tag_on_configuration(c)
        }),
        trial("scenario_n_check_against_the_live_cluster", &shared, |c| {
            n_check_against_the_live_cluster(c)
        }),
        trial("scenario_o_audit_follows_the_cluster", &shared, |c| {
            o_audit_follows_the_cluster(c)
        }),
        trial("scenario_p_canary_upgrade_leaves_the_seed_filter_dead", &shared, |c| {
            p_canary_upgrade_leaves_the_seed_filter_dead(c)
        }),
        trial("scenario_q_gitops_batches_on_two_replicas", &shared, |c| {
            q_gitops_batches_on_two_replicas(c)
        }),
        trial("scenario_r_kubectl_file_order_converges", &shared, |c| {
            r_kubectl_file_order_converges(c)
        }),
        trial("scenario_s_gateway_api_routes", &shared, |c| s_gateway_api_routes(c)),
        trial("scenario_t_ambient", &shared, |c| t_ambient(c)),
        trial("scenario_u_remote_cluster_in_check", &shared, |c| u_remote_cluster(c)),
        trial("scenario_v_remote_cluster_live", &shared, |c| v_remote_cluster_live(c)),
        trial("scenario_w_helm_install_upgrade_uninstall", &shared, |c| {
            w_helm_install_upgrade_uninstall(c)
        }),
    ];
    let conclusion = libtest_mimic::run(&args, trials);
    // Stop every process before exiting.
    drop(shared.lock().unwrap_or_else(|p| p.into_inner()).take());
    conclusion.exit();
}
