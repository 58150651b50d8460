//! `meshgate check` as a CI pipeline runs it: real files, real process, exit codes.

mod common;

use common::*;
use serde_json::json;

fn path(p: &std::path::Path) -> String {
    p.display().to_string()
}

#[test]
fn missing_gateway_json_contract_and_exit_1() {
    let f = repo("tests/fixtures/cli/missing-gateway.yaml");
    let o = run(&["check", "-o", "json", &path(&f)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(
        v,
        json!({
            "findings": [{
                "code": "MG0101",
                "severity": "error",
                "kind": "VirtualService",
                "namespace": "shop",
                "name": "web",
                "pointer": "/spec/gateways/0",
                "message": "gateway \"istio-system/public\" not found: its routes are not served at that gateway (404 NR: no gateway route configuration gets a virtual host for shop.example.com)",
                "file": path(&f),
                "line": 22
            }],
            "summary": {"errors": 1, "warnings": 0, "infos": 0},
            "skipped": []
        })
    );
}

#[test]
fn text_output_names_file_line_code_and_pointer() {
    let f = repo("tests/fixtures/cli/missing-gateway.yaml");
    let o = run(&["check", &path(&f)]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "{}:22: error MG0101 VirtualService shop/web /spec/gateways/0: gateway \"istio-system/public\" not found: its routes are not served at that gateway (404 NR: no gateway route configuration gets a virtual host for shop.example.com)\n",
            path(&f)
        )),
        "{out}"
    );
    assert!(
        out.ends_with("2 objects checked: 1 errors, 0 warnings, 0 infos\n"),
        "{out}"
    );
}

#[test]
fn consistent_set_exits_0() {
    let o = run(&[
        "check",
        "-o",
        "json",
        &path(&repo("tests/fixtures/cli/missing-gateway.yaml")),
        &path(&repo("tests/fixtures/cli/public-gateway.yaml")),
        &path(&repo("tests/fixtures/ingress")),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(json(&o)["findings"], json!([]));
}

fn bookinfo(files: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec!["check".into(), "-o".into(), "json".into()];
    args.extend(
        files
            .iter()
            .map(|f| path(&shared(&format!("istio/samples/bookinfo/{f}")))),
    );
    args.push(path(&repo("tests/fixtures/ingress")));
    args
}

#[test]
fn bookinfo_consistent_set_has_no_error() {
    let args = bookinfo(&[
        "platform/kube/bookinfo.yaml",
        "platform/kube/bookinfo-versions.yaml",
        "networking/bookinfo-gateway.yaml",
        "networking/destination-rule-all.yaml",
        "networking/virtual-service-all-v1.yaml",
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // The only findings: destination-rule-all.yaml defines subsets for versions
    // that bookinfo.yaml does not deploy (ratings v2, v2-mysql, v2-mysql-vm;
    // details v2). istioctl reports the same (IST0173).
    let v = json(&o);
    let got: Vec<(String, String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().into(),
                f["name"].as_str().unwrap().into(),
                f["pointer"].as_str().unwrap().into(),
            )
        })
        .collect();
    let w = |name: &str, i: u32| {
        (
            "MG0202".to_string(),
            name.to_string(),
            format!("/spec/subsets/{i}/labels"),
        )
    };
    // And the gateway route to productpage names no subset while the mesh route
    // uses subset v1 (MG0111).
    let gw = (
        "MG0111".to_string(),
        "bookinfo".to_string(),
        "/spec/http/0/route/0/destination/host".to_string(),
    );
    assert_eq!(
        got,
        [gw, w("ratings", 1), w("ratings", 2), w("ratings", 3), w("details", 1)]
    );
    assert_eq!(v["summary"], json!({"errors": 0, "warnings": 5, "infos": 0}));
}

#[test]
fn bookinfo_without_destination_rules_reports_mg0103_on_every_subset_route() {
    let args = bookinfo(&[
        "platform/kube/bookinfo.yaml",
        "platform/kube/bookinfo-versions.yaml",
        "networking/bookinfo-gateway.yaml",
        "networking/virtual-service-all-v1.yaml",
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run(&args);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v = json(&o);
    let vs_file = path(&shared("istio/samples/bookinfo/networking/virtual-service-all-v1.yaml"));
    let got: Vec<(String, String, String, u64)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| {
            assert_eq!(f["file"], vs_file.as_str());
            assert_eq!(f["severity"], "error");
            (
                f["code"].as_str().unwrap().to_string(),
                f["name"].as_str().unwrap().to_string(),
                f["pointer"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    let p = "/spec/http/0/route/0/destination/subset";
    assert_eq!(
        got,
        [
            ("MG0103".into(), "productpage".into(), p.into(), 12),
            ("MG0103".into(), "reviews".into(), p.into(), 25),
            ("MG0103".into(), "ratings".into(), p.into(), 38),
            ("MG0103".into(), "details".into(), p.into(), 51),
        ]
    );
    assert_eq!(v["summary"]["errors"], 4);
}

#[test]
fn stdin_namespace_flag_and_kind_list() {
    let input = r#"{"apiVersion": "v1", "kind": "List", "items": [
      {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
       "metadata": {"name": "r"},
       "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}}]}]}}
    ]}"#;
    let o = run_with_stdin(&["check", "-o", "json", "-n", "team-a", "-"], input);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let f = &json(&o)["findings"][0];
    assert_eq!(f["code"], "MG0102");
    assert_eq!(f["namespace"], "team-a");
    assert_eq!(f["file"], "<stdin>");
    assert_eq!(f["line"], 4);
    assert!(f["message"]
        .as_str()
        .unwrap()
        .contains("reviews.team-a.svc.cluster.local"));
}

#[test]
fn fail_on_threshold() {
    // An unbound Gateway is an info finding (MG0305) and a selector with no workload a warning.
    let gw = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: g, namespace: istio-system}\nspec:\n  selector: {istio: nothing}\n";
    let o = run_with_stdin(&["check", "-"], gw);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = run_with_stdin(&["check", "--fail-on", "warning", "-"], gw);
    assert_eq!(o.status.code(), Some(1));
    let o = run_with_stdin(&["check", "--fail-on", "never", "-o", "json", "-"], gw);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json(&o)["summary"], json!({"errors": 0, "warnings": 1, "infos": 1}));
}

/// A real repository tree: kustomizations, a Helm chart's Chart.yaml and
/// values.yaml, a JSON 6902 patch list, an object with only `generateName`, a
/// flow sequence closed at its key's indentation, a BOM with CRLF line ends, and
/// one file that is not valid YAML. Every object is checked; the non-objects are
/// skipped with a note; only the broken file makes the exit status 2.
#[test]
fn real_repository_tree_checks_every_object_and_exits_2_for_the_broken_file() {
    let tree = repo("tests/fixtures/realtree");
    let o = run(&["check", "-o", "json", &path(&tree)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["summary"], json!({"errors": 0, "warnings": 0, "infos": 0}), "{v:#}");
    let skipped: Vec<(String, u64)> = v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let file = s["file"].as_str().unwrap();
            (file[path(&tree).len() + 1..].to_string(), s["line"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(
        skipped,
        [
            ("base/kustomization.yaml".to_string(), 2),
            ("chart/Chart.yaml".to_string(), 1),
            ("chart/values.yaml".to_string(), 1),
            ("overlays/prod/generated.yaml".to_string(), 2),
            ("overlays/prod/kustomization.yaml".to_string(), 1),
            ("overlays/prod/replicas.yaml".to_string(), 2),
        ]
    );
    assert_eq!(
        v["unreadable"],
        json!([{
            "file": path(&tree.join("broken.yaml")),
            "line": 6,
            "message": "not valid YAML: did not find expected ',' or ']' while parsing a flow sequence (column 5)"
        }])
    );
    // Text: one note per skipped document, the broken file as an error with its line,
    // and every object of the readable files checked.
    let o = run(&["check", &path(&tree)]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "meshgate: error: {}:6: not valid YAML",
            path(&tree.join("broken.yaml"))
        )),
        "{err}"
    );
    assert_eq!(err.matches("meshgate: note: ").count(), 6, "{err}");
    assert!(
        stdout(&o).contains("5 objects checked: 0 errors, 0 warnings, 0 infos; 6 documents skipped (not Kubernetes objects); 1 files not checked"),
        "{}",
        stdout(&o)
    );
    // Without the broken file the same tree passes.
    let o = run(&[
        "check",
        &path(&tree.join("base")),
        &path(&tree.join("overlays")),
        &path(&tree.join("chart")),
        &path(&tree.join("namespace-bom-crlf.yaml")),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn unparsable_input_exits_2_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "apiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n").unwrap();
    let o = run(&["check", &path(&bad)]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.starts_with(&format!("meshgate: error: {}:", path(&bad))), "{err}");
    assert!(
        err.contains("bad.yaml:5: not valid YAML") || err.contains("bad.yaml:4: not valid YAML"),
        "{err}"
    );

    let o = run(&["check", "/nonexistent/path.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/path.yaml"), "{}", stderr(&o));

    let o = run(&["check"]);
    assert_eq!(o.status.code(), Some(2), "no path is a usage error");
    let o = run(&["check", "-o", "xml", "x"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn directories_are_walked_recursively_for_yaml_and_json() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
    std::fs::write(
        dir.path().join("a/b/vs.json"),
        r#"{"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{"name":"x","namespace":"default"},
            "spec":{"hosts":["web"],"gateways":["gw"]}}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("a/notes.txt"), "not yaml: [").unwrap();
    std::fs::write(dir.path().join(".hidden.yaml"), "not yaml: [").unwrap();
    let o = run(&["check", "-o", "json", &path(dir.path())]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let f = &json(&o)["findings"][0];
    assert_eq!(f["code"], "MG0101");
    assert_eq!(f["pointer"], "/spec/gateways/0");
    assert_eq!(
        f["message"],
        "gateway \"default/gw\" not found: its routes are not served at that gateway (404 NR: no gateway route configuration gets a virtual host for web)"
    );
}

#[test]
fn sarif_output_is_valid_json_with_results() {
    let f = repo("tests/fixtures/cli/missing-gateway.yaml");
    let o = run(&["check", "-o", "sarif", &path(&f)]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(v["version"], "2.1.0");
    let r = &v["runs"][0]["results"][0];
    assert_eq!(r["ruleId"], "MG0101");
    assert_eq!(r["level"], "error");
    assert_eq!(r["locations"][0]["physicalLocation"]["region"]["startLine"], 22);
}

#[test]
fn malformed_field_is_a_finding_not_a_crash() {
    let vs = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec:\n  hosts: [a]\n  http:\n  - route: 7\n";
    let o = run_with_stdin(&["check", "-o", "json", "-"], vs);
    assert_eq!(o.status.code(), Some(1));
    let f = &json(&o)["findings"][0];
    assert_eq!(f["code"], "MG0001");
    assert_eq!(f["pointer"], "/spec/http/0/route");
    assert_eq!(f["line"], 7);
    assert_eq!(f["message"], "cannot read this field: expected a list, found a number; Istio's validation rejects the object, or istiod ignores the field");
}

#[test]
fn seed_stats_filter_is_pinned_to_a_revision_and_version_nobody_runs() {
    let o = run(&["check", "-o", "json", &path(&repo("tests/fixtures/seed"))]);
    assert_eq!(o.status.code(), Some(0), "warnings only: {}", stdout(&o));
    let v = json(&o);
    let got: Vec<(String, String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().into(),
                f["severity"].as_str().unwrap().into(),
                f["pointer"].as_str().unwrap().into(),
            )
        })
        .collect();
    let w = |c: &str, p: &str| (c.to_string(), "warning".to_string(), p.to_string());
    assert_eq!(
        got,
        [
            w("MG0002", "/metadata/labels/istio.io~1rev"),
            w("MG0506", "/spec/configPatches/0/match/context"),
            w("MG0501", "/spec/configPatches/0/match/proxy/proxyVersion"),
            w("MG0506", "/spec/configPatches/1/match/context"),
            w("MG0501", "/spec/configPatches/1/match/proxy/proxyVersion"),
            w("MG0506", "/spec/configPatches/2/match/context"),
            w("MG0501", "/spec/configPatches/2/match/proxy/proxyVersion"),
        ]
    );
    assert!(v["findings"][0]["message"]
        .as_str()
        .unwrap()
        .contains("installed revisions: default"));
    assert!(v["findings"][2]["message"]
        .as_str()
        .unwrap()
        .contains("control planes run 1.30.3"));
}

#[test]
fn json_fields_keep_the_documented_order() {
    let f = repo("tests/fixtures/cli/missing-gateway.yaml");
    let out = stdout(&run(&["check", "-o", "json", &path(&f)]));
    let keys = [
        "\"code\"",
        "\"severity\"",
        "\"kind\"",
        "\"namespace\"",
        "\"name\"",
        "\"pointer\"",
        "\"message\"",
        "\"file\"",
        "\"line\"",
    ];
    let at: Vec<usize> = keys
        .iter()
        .map(|k| out.find(k).unwrap_or_else(|| panic!("{k} missing: {out}")))
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{out}");
    assert!(out.find("\"findings\"") < out.find("\"summary\""));
    let s = out.find("\"summary\"").unwrap();
    assert!(
        out[s..].find("\"errors\"") < out[s..].find("\"warnings\"")
            && out[s..].find("\"warnings\"") < out[s..].find("\"infos\"")
    );
}

#[test]
fn require_egress_gateway_turns_a_direct_external_host_into_an_error() {
    // Istio's own github.com sample: external hosts reached straight from the sidecars.
    let sample = std::fs::read_to_string(shared("istio/samples/external/github.yaml")).unwrap();
    let o = run_with_stdin(&["check", "-o", "json", "-"], &sample);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let f = json(&o)["findings"].as_array().unwrap().clone();
    let egress: Vec<(&str, &str, &str)> = f
        .iter()
        .filter(|f| f["code"] == "MG0402")
        .map(|f| {
            (
                f["name"].as_str().unwrap(),
                f["pointer"].as_str().unwrap(),
                f["severity"].as_str().unwrap(),
            )
        })
        .collect();
    // Nothing in these files uses an egress gateway: Istio's default, information only.
    assert_eq!(
        egress,
        [
            ("github-https", "/spec/hosts/0", "info"),
            ("github-tcp", "/spec/hosts/0", "info")
        ]
    );
    let o = run_with_stdin(&["check", "--require-egress-gateway", "-"], &sample);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("error MG0402 ServiceEntry default/github-https /spec/hosts/0"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn kubeconfig_needs_cluster_and_an_unreachable_cluster_exits_2() {
    let vs = repo("tests/fixtures/cli/missing-gateway.yaml").display().to_string();
    let o = run(&["check", "--kubeconfig", "/dev/null", &vs]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--cluster"), "{}", stderr(&o));
    // A kubeconfig naming a server nobody listens on: a clear error, not findings.
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:9'}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n",
    )
    .unwrap();
    let o = run(&["check", "--cluster", "--kubeconfig", &kc.display().to_string(), &vs]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("meshgate: error: --cluster: API discovery failed"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());
}

/// Object identity is (API group, kind, namespace, name): a Role and a
/// RoleBinding of one name are two objects, not one defined twice; the same
/// Service twice is noted.
#[test]
fn identity_includes_group_and_kind() {
    let rbac = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: reader, namespace: shop}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: reader, namespace: shop}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\n";
    let o = run_with_stdin(&["check", "-"], rbac);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("defined"), "{}", stderr(&o));
    let twice = "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: shop}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: shop}\n";
    let o = run_with_stdin(&["check", "-"], twice);
    assert!(
        stderr(&o).contains("Service shop/a is defined at <stdin>:1 and again at <stdin>:5"),
        "{}",
        stderr(&o)
    );
}

/// A later definition shadows an earlier one of the same identity: only the
/// later is checked, and the shadowing is noted. The same whether or not two
/// different kinds of one name came first (they share a key in the view).
#[test]
fn a_shadowed_definition_is_not_checked() {
    let broken = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web, namespace: shop}\nspec:\n  hosts: [web.example.com]\n  gateways: [istio-system/missing]\n  tcp: [{route: [{destination: {host: web.example.com}}]}]\n";
    let fixed = broken.replace("istio-system/missing", "mesh");
    let rbac = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r, namespace: shop}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: r, namespace: shop}\n---\n";
    for prefix in ["", rbac] {
        let lines = prefix.lines().count();
        let o = run_with_stdin(&["check", "-o", "json", "-"], &format!("{prefix}{broken}---\n{fixed}"));
        assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
        assert!(!stdout(&o).contains("MG0101"), "{}", stdout(&o));
        let note = format!(
            "VirtualService shop/web is defined at <stdin>:{} and again at <stdin>:{}",
            lines + 1,
            lines + 9
        );
        assert!(stderr(&o).contains(&note), "{}", stderr(&o));
        // The other way round, the broken one is checked.
        let o = run_with_stdin(&["check", "-o", "json", "-"], &format!("{prefix}{fixed}---\n{broken}"));
        assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
        assert_eq!(json(&o)["findings"][0]["line"], lines + 14);
    }
}

/// An upgrade asked ahead: `--proxy-version 1.31.0` judges EnvoyFilters as if the
/// proxies ran 1.31.0. A filter pinned to 1.30 would stop applying (MG0501); one
/// pinned to 1.31, dead today, would start (MG0507, info). `--revision` limits the
/// question to the proxies of one control plane.
#[test]
fn proxy_version_judges_envoy_filters_as_after_an_upgrade() {
    let ef = |name: &str, version: &str| {
        format!("apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {{name: {name}, namespace: shop}}\nspec:\n  configPatches:\n  - applyTo: HTTP_FILTER\n    match:\n      context: SIDECAR_INBOUND\n      proxy: {{proxyVersion: '^1\\.{version}.*'}}\n    patch: {{operation: MERGE, value: {{name: x}}}}\n")
    };
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web}}\nspec: {containers: [{name: istio-proxy, image: docker.io/istio/proxyv2:1.30.3}]}\n";
    let istiod = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: istiod, namespace: istio-system, labels: {app: istiod, istio.io/rev: default}}\nspec:\n  template:\n    metadata: {labels: {app: istiod, istio.io/rev: default}}\n    spec: {containers: [{name: discovery, image: docker.io/istio/pilot:1.30.3}]}\n";
    let input = format!(
        "{pod}---\n{istiod}---\n{}---\n{}",
        ef("for-130", "30"),
        ef("for-131", "31")
    );
    let codes = |o: &std::process::Output| -> Vec<(String, String, String)> {
        json(o)["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let s = |k: &str| f[k].as_str().unwrap().to_string();
                (s("code"), s("severity"), s("name"))
            })
            .collect()
    };
    // Today: the 1.31 filter is dead (no proxy or control plane runs 1.31).
    let o = run_with_stdin(&["check", "-o", "json", "-"], &input);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(codes(&o), [("MG0501".into(), "error".into(), "for-131".into())]);
    // After the upgrade: the 1.30 filter stops applying, the 1.31 one starts.
    let o = run_with_stdin(&["check", "-o", "json", "--proxy-version", "1.31.0", "-"], &input);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        codes(&o),
        [
            ("MG0501".into(), "error".into(), "for-130".into()),
            ("MG0507".into(), "info".into(), "for-131".into())
        ]
    );
    assert!(stdout(&o).contains("would stop applying"), "{}", stdout(&o));
    // Only the proxies of another revision move: nothing changes here.
    let o = run_with_stdin(
        &[
            "check",
            "-o",
            "json",
            "--proxy-version",
            "1.31.0",
            "--revision",
            "canary",
            "-",
        ],
        &input,
    );
    assert_eq!(codes(&o), [("MG0501".into(), "error".into(), "for-131".into())]);
    let o = run(&["check", "--revision", "canary", "x.yaml"]);
    assert_eq!(o.status.code(), Some(2), "--revision needs --proxy-version");
}

/// Checks run on every core in small chunks; the findings still come in input
/// order, one per broken object, whatever the split. Cheap Pods first and the
/// costlier VirtualServices later, as in a real dump, with broken ones here and there.
#[test]
fn findings_keep_input_order_across_threads() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..1500 {
        text.push_str(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\n  namespace: shop\n  labels:\n    app: a{}\n---\n",
            i % 7
        ));
    }
    let mut broken = Vec::new();
    for i in 0..1500 {
        let gateway = if i % 13 == 0 || (700..760).contains(&i) {
            broken.push(format!("vs{i}"));
            "istio-system/missing"
        } else {
            "mesh"
        };
        text.push_str(&format!(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: vs{i}\n  namespace: shop\nspec:\n  hosts: [\"h{i}.example.com\"]\n  gateways: [\"{gateway}\"]\n  tcp:\n  - route:\n    - destination:\n        host: h{i}.example.com\n---\n"
        ));
    }
    let f = dir.path().join("many.yaml");
    std::fs::write(&f, text).unwrap();
    let o = run(&["check", "-o", "json", "--fail-on", "never", &path(&f)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    let found: Vec<(String, u64)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "MG0101")
        .map(|f| (f["name"].as_str().unwrap().to_string(), f["line"].as_u64().unwrap()))
        .collect();
    let names: Vec<&String> = found.iter().map(|(n, _)| n).collect();
    assert_eq!(names, broken.iter().collect::<Vec<_>>());
    assert!(found.windows(2).all(|w| w[0].1 < w[1].1), "lines not ascending");
}

/// Istio's Gateway API samples, each file with the platform manifests it needs:
/// no finding at all (no error, no warning, no info).
#[test]
fn istio_gateway_api_samples_have_no_finding() {
    let sets: &[(&[&str], &str)] = &[
        (
            &[
                "bookinfo/platform/kube/bookinfo.yaml",
                "bookinfo/platform/kube/bookinfo-versions.yaml",
                "bookinfo/gateway-api/bookinfo-gateway.yaml",
            ],
            "bookinfo/gateway-api",
        ),
        (&["helloworld/helloworld.yaml"], "helloworld/gateway-api"),
        (&["httpbin/httpbin.yaml"], "httpbin/gateway-api"),
        (&["tcp-echo/tcp-echo-services.yaml"], "tcp-echo/gateway-api"),
    ];
    let mut checked = 0;
    for (platform, dir) in sets {
        for entry in std::fs::read_dir(shared(&format!("istio/samples/{dir}"))).unwrap() {
            let file = entry.unwrap().path();
            let mut args: Vec<String> = vec!["check".into(), "-o".into(), "json".into()];
            args.extend(platform.iter().map(|p| path(&shared(&format!("istio/samples/{p}")))));
            // Routes of one name shadow each other: each file alone, with the
            // Gateway its routes attach to.
            args.push(path(&file));
            if dir.starts_with("helloworld") && !file.ends_with("helloworld-gateway.yaml") {
                args.push(path(&shared(
                    "istio/samples/helloworld/gateway-api/helloworld-gateway.yaml",
                )));
            }
            if dir.starts_with("tcp-echo") && !file.ends_with("tcp-echo-all-v1.yaml") {
                args.push(path(&shared("istio/samples/tcp-echo/gateway-api/tcp-echo-all-v1.yaml")));
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let o = run(&args);
            assert_eq!(o.status.code(), Some(0), "{}: {}", file.display(), stdout(&o));
            assert_eq!(json(&o)["findings"], json!([]), "{}", file.display());
            checked += 1;
        }
    }
    assert!(checked >= 11, "only {checked} sample files found");
}

/// The same samples with the mistakes issue #20 names: a sectionName typo
/// (404), a backend port not on the Service (500), a missing parent Gateway.
#[test]
fn broken_gateway_api_samples_are_errors_on_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let tcp = std::fs::read_to_string(shared("istio/samples/tcp-echo/gateway-api/tcp-echo-all-v1.yaml"))
        .unwrap()
        .replace("sectionName: tcp-31400", "sectionName: tcp-31401");
    std::fs::write(dir.path().join("tcp.yaml"), tcp).unwrap();
    let o = run(&["check", &path(&dir.path().join("tcp.yaml"))]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("error MG0902 TCPRoute default/tcp-echo /spec/parentRefs/0/sectionName: sectionName \"tcp-31401\" names no listener of Gateway default/tcp-echo-gateway (listeners: tcp-31400 (port 31400); istiod: NoMatchingParent)"),
        "{}",
        stdout(&o)
    );
    let route = std::fs::read_to_string(shared("istio/samples/bookinfo/gateway-api/bookinfo-gateway.yaml"))
        .unwrap()
        .replace("port: 9080", "port: 8080");
    std::fs::write(dir.path().join("route.yaml"), &route).unwrap();
    let platform = path(&shared("istio/samples/bookinfo/platform/kube/bookinfo.yaml"));
    let o = run(&["check", &platform, &path(&dir.path().join("route.yaml"))]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("route.yaml:"), "{out}");
    assert!(
        out.contains("error MG0912 HTTPRoute default/bookinfo /spec/rules/0/backendRefs/0/port: port 8080 is not a port of Service default/productpage (ports: 9080)"),
        "{out}"
    );
    let no_gateway = route.split("---").nth(1).unwrap().replace("port: 8080", "port: 9080");
    std::fs::write(dir.path().join("orphan.yaml"), no_gateway).unwrap();
    let o = run(&["check", &platform, &path(&dir.path().join("orphan.yaml"))]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("error MG0901 HTTPRoute default/bookinfo /spec/parentRefs/0/name: parent Gateway default/bookinfo-gateway not found"),
        "{}",
        stdout(&o)
    );
}

/// Istio's ambient sample (bookinfo with waypoints, Argo CD's application):
/// no finding at all; and its namespace turned into the classic mistake — an
/// HTTP-only ALLOW for its captured pods — is MG1004 on the rule.
#[test]
fn istio_ambient_sample_has_no_finding_and_an_l7_allow_there_is_a_deny_all() {
    let app = shared("istio/samples/ambient-argo/application");
    let o = run(&["check", "-o", "json", &path(&app)]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(json(&o)["findings"], json!([]));
    let dir = tempfile::tempdir().unwrap();
    let ns = std::fs::read_to_string(app.join("namespace.yaml")).unwrap();
    assert!(ns.contains("name: ambient"), "{ns}");
    std::fs::write(
        dir.path().join("policy.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: ambient, labels: {istio.io/dataplane-mode: ambient}}\n---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: reviews-get, namespace: ambient}\nspec:\n  selector: {matchLabels: {app: reviews}}\n  rules:\n  - to: [{operation: {methods: [GET]}}]\n",
    )
    .unwrap();
    let files: Vec<String> = std::fs::read_dir(&app)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.ends_with("namespace.yaml"))
        .map(|p| path(&p))
        .collect();
    let mut args = vec!["check".to_string(), "-n".into(), "ambient".into()];
    args.extend(files);
    args.push(path(&dir.path().join("policy.yaml")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run(&args);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("error MG1004 AuthorizationPolicy ambient/reviews-get /spec/rules/0: it selects"),
        "{}",
        stdout(&o)
    );
}
