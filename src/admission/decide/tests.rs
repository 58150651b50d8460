use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::*;
use crate::admission::review::{GroupVersionKind, ReviewVersion};
use crate::checks::testutil::view;

const GW: &str = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: public, namespace: istio-system}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n";
const SVC: &str =
    "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec:\n  ports: [{port: 80}]\n";

fn vs(name: &str, gateway: &str) -> Value {
    json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
           "metadata": {"name": name, "namespace": "shop"},
           "spec": {"hosts": ["shop.example.com"], "gateways": [gateway],
                    "http": [{"route": [{"destination": {"host": "web"}}]}]}})
}

fn req(
    op: Operation,
    kind: &str,
    group: &str,
    object: Option<Value>,
    old: Option<Value>,
    dry_run: bool,
) -> ReviewRequest {
    let meta = object.as_ref().or(old.as_ref()).unwrap()["metadata"].clone();
    ReviewRequest {
        version: ReviewVersion::V1,
        uid: "u".into(),
        kind: GroupVersionKind {
            group: group.into(),
            version: "v1".into(),
            kind: kind.into(),
        },
        namespace: meta["namespace"].as_str().unwrap_or_default().into(),
        name: meta["name"].as_str().unwrap_or_default().into(),
        operation: op,
        object,
        old_object: old,
        dry_run,
    }
}

fn create_vs(v: Value, dry_run: bool) -> ReviewRequest {
    req(
        Operation::Create,
        "VirtualService",
        "networking.istio.io",
        Some(v),
        None,
        dry_run,
    )
}

fn run(r: &ReviewRequest, base: &std::sync::Arc<ClusterView>, policy: &Policy, pending: &Pending) -> Decision {
    decide(&mut r.clone(), base, true, policy, pending, Instant::now()).unwrap()
}

#[test]
fn create_with_missing_gateway_is_denied_with_code_and_pointer() {
    let base = std::sync::Arc::new(view(&[SVC]));
    let d = run(
        &create_vs(vs("a", "istio-system/public"), false),
        &base,
        &Policy::with_defaults("meshgate"),
        &Pending::default(),
    );
    assert!(!d.allowed);
    assert_eq!(
        d.message.as_deref(),
        Some("MG0101 /spec/gateways/0: gateway \"istio-system/public\" not found: its routes are not served at that gateway (404 NR: no gateway route configuration gets a virtual host for shop.example.com)")
    );
}

#[test]
fn warnings_are_returned_and_allowed() {
    let base = std::sync::Arc::new(view(&[SVC, GW]));
    let mut v = vs("a", "istio-system/public");
    v["spec"]["hosts"] = json!(["shop.example.com"]);
    let gw_other_hosts = GW.replace("[\"*\"]", "[\"other.example.com\"]");
    let base2 = std::sync::Arc::new(view(&[SVC, &gw_other_hosts]));
    let d = run(
        &create_vs(v.clone(), false),
        &base,
        &Policy::with_defaults("m"),
        &Pending::default(),
    );
    assert!(d.allowed && d.warnings.is_empty(), "{d:?}");
    let d = run(
        &create_vs(v, false),
        &base2,
        &Policy::with_defaults("m"),
        &Pending::default(),
    );
    assert!(d.allowed);
    assert_eq!(d.warnings.len(), 1);
    assert!(
        d.warnings[0].starts_with("MG0106 /spec/gateways/0: "),
        "{:?}",
        d.warnings
    );
}

#[test]
fn update_keeps_existing_findings_as_warnings_unless_enforced() {
    let base = std::sync::Arc::new(view(&[SVC]));
    let old = vs("a", "istio-system/public");
    let mut new = old.clone();
    new["metadata"]["labels"] = json!({"team": "x"});
    let r = req(
        Operation::Update,
        "VirtualService",
        "networking.istio.io",
        Some(new.clone()),
        Some(old.clone()),
        false,
    );
    let d = run(&r, &base, &Policy::with_defaults("m"), &Pending::default());
    assert!(d.allowed, "{d:?}");
    assert_eq!(
        d.warnings,
        ["MG0101 /spec/gateways/0: gateway \"istio-system/public\" not found: its routes are not served at that gateway (404 NR: no gateway route configuration gets a virtual host for shop.example.com) (already present before this update)"]
    );
    let enforce = Policy::parse("settings:\n  enforceExisting: true\n", "m").unwrap();
    assert!(!run(&r, &base, &enforce, &Pending::default()).allowed);
    // A new problem in the update is denied.
    let mut worse = old.clone();
    worse["spec"]["gateways"] = json!(["istio-system/public", "istio-system/other"]);
    let r = req(
        Operation::Update,
        "VirtualService",
        "networking.istio.io",
        Some(worse),
        Some(old),
        false,
    );
    let d = run(&r, &base, &Policy::with_defaults("m"), &Pending::default());
    assert!(!d.allowed);
    assert_eq!(
        d.message.as_deref(),
        Some("MG0101 /spec/gateways/1: gateway \"istio-system/other\" not found: its routes are not served at that gateway (404 NR: no gateway route configuration gets a virtual host for shop.example.com)")
    );
}

#[test]
fn deleting_a_bound_gateway_is_denied_naming_the_referrers() {
    let v = crate::synthetic::to_yaml(&vs("a", "istio-system/public"));
    let base = std::sync::Arc::new(view(&[SVC, GW, &v]));
    let gw: Value = crate::manifest::parse_text("g", GW, "x").unwrap()[0]
        .object
        .value
        .clone();
    let r = req(
        Operation::Delete,
        "Gateway",
        "networking.istio.io",
        None,
        Some(gw),
        false,
    );
    let d = run(&r, &base, &Policy::with_defaults("m"), &Pending::default());
    assert!(!d.allowed);
    assert_eq!(
        d.message.as_deref(),
        Some("deleting Gateway istio-system/public breaks 1 object(s) that refer to it: VirtualService shop/a (MG0101 /spec/gateways/0: gateway \"istio-system/public\" not found: its routes are not served at that gateway (404 NR: no gateway route configuration gets a virtual host for shop.example.com))")
    );
    // An unbound gateway deletes freely.
    let base = std::sync::Arc::new(view(&[SVC, GW]));
    assert!(run(&r, &base, &Policy::with_defaults("m"), &Pending::default()).allowed);
}

#[test]
fn deleting_a_routed_service_and_removing_a_used_port_are_denied() {
    let v = crate::synthetic::to_yaml(
        &json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "a", "namespace": "shop"},
        "spec": {"hosts": ["web"], "http": [{"route": [{"destination": {"host": "web", "port": {"number": 80}}}]}]}}),
    );
    let base = std::sync::Arc::new(view(&[SVC, &v]));
    let svc: Value = crate::manifest::parse_text("s", SVC, "x").unwrap()[0]
        .object
        .value
        .clone();
    let r = req(Operation::Delete, "Service", "", None, Some(svc.clone()), false);
    let d = run(&r, &base, &Policy::with_defaults("m"), &Pending::default());
    assert!(
        d.message
            .as_deref()
            .unwrap()
            .contains("MG0102 /spec/http/0/route/0/destination/host"),
        "{d:?}"
    );
    let mut moved = svc.clone();
    moved["spec"]["ports"] = json!([{"port": 8080}]);
    let r = req(Operation::Update, "Service", "", Some(moved), Some(svc), false);
    let d = run(&r, &base, &Policy::with_defaults("m"), &Pending::default());
    assert!(!d.allowed);
    assert!(
        d.message
            .as_deref()
            .unwrap()
            .contains("MG0104 /spec/http/0/route/0/destination/port/number"),
        "{d:?}"
    );
}

#[test]
fn impact_names_at_most_ten_referrers_and_counts_the_rest() {
    let mut docs: Vec<String> = vec![SVC.into(), GW.into()];
    for i in 0..12 {
        docs.push(crate::synthetic::to_yaml(&vs(
            &format!("vs-{i:02}"),
            "istio-system/public",
        )));
    }
    let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
    let base = std::sync::Arc::new(view(&refs));
    let gw: Value = crate::manifest::parse_text("g", GW, "x").unwrap()[0]
        .object
        .value
        .clone();
    let r = req(
        Operation::Delete,
        "Gateway",
        "networking.istio.io",
        None,
        Some(gw),
        false,
    );
    let m = run(&r, &base, &Policy::with_defaults("m"), &Pending::default())
        .message
        .unwrap();
    assert!(m.contains("breaks 12 object(s)"), "{m}");
    assert!(m.ends_with(" and 2 more"), "{m}");
    assert_eq!(m.matches("VirtualService shop/").count(), 10);
}

fn gateway_review(dry_run: bool) -> ReviewRequest {
    let gw_obj: Value = crate::manifest::parse_text("g", GW, "x").unwrap()[0]
        .object
        .value
        .clone();
    req(
        Operation::Create,
        "Gateway",
        "networking.istio.io",
        Some(gw_obj),
        None,
        dry_run,
    )
}

#[test]
fn a_dry_run_missing_only_referents_is_allowed_with_what_the_real_apply_does() {
    let base = std::sync::Arc::new(view(&[SVC]));
    let policy = Policy::with_defaults("m");
    let pending = Pending::default();
    let d = run(
        &create_vs(vs("a", "istio-system/public"), true),
        &base,
        &policy,
        &pending,
    );
    assert!(d.allowed, "{d:?}");
    assert_eq!(
        d.warnings,
        vec![
            "MG0101 /spec/gateways/0: gateway \"istio-system/public\" not found: its routes are not served at that gateway \
             (404 NR: no gateway route configuration gets a virtual host for shop.example.com) (dry run: not denied, as another \
             object of the batch may create or change Gateway istio-system/public; the real apply is denied unless that happens first)"
                .to_string()
        ]
    );
    // The real apply is denied; dry runs are judged on the API server's state:
    // a dry-run Gateway is not recorded, so it satisfies nothing.
    assert!(
        !run(
            &create_vs(vs("a", "istio-system/public"), false),
            &base,
            &policy,
            &pending
        )
        .allowed
    );
    assert!(run(&gateway_review(true), &base, &policy, &pending).allowed);
    assert!(pending.is_empty());
    // A missing subset (a DestinationRule the batch may bring) likewise.
    let subset = json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "s", "namespace": "shop"},
        "spec": {"hosts": ["web"], "http": [{"route": [{"destination": {"host": "web", "subset": "v9"}}]}]}});
    let d = run(&create_vs(subset.clone(), true), &base, &policy, &pending);
    assert!(d.allowed && d.warnings.len() == 1, "{d:?}");
    assert!(
        d.warnings[0].starts_with("MG0103 /spec/http/0/route/0/destination/subset: subset \"v9\""),
        "{d:?}"
    );
    assert!(d.warnings[0].ends_with("(dry run: not denied, as another object of the batch may create or change a DestinationRule in istio-system or shop; the real apply is denied unless that happens first)"), "{d:?}");
    let d = run(&create_vs(subset, false), &base, &policy, &pending);
    assert!(
        !d.allowed && d.message.as_deref().unwrap().starts_with("MG0103 "),
        "{d:?}"
    );
}

#[test]
fn a_dry_run_with_an_error_no_other_object_can_fix_is_denied() {
    // Two mesh VirtualServices for one host (MG0108): the batch cannot make that
    // right by creating anything, so a dry run denies as a real apply does.
    let other = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: first, namespace: shop}\nspec:\n  hosts: [web]\n  http:\n  - route:\n    - destination: {host: web}\n";
    let base = std::sync::Arc::new(view(&[SVC, other]));
    let policy = Policy::with_defaults("m");
    let second = json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "second", "namespace": "shop"},
        "spec": {"hosts": ["web"], "http": [{"route": [{"destination": {"host": "web"}}]}]}});
    let d = run(&create_vs(second, true), &base, &policy, &Pending::default());
    assert!(!d.allowed, "{d:?}");
    assert!(
        d.message.as_deref().unwrap().starts_with("MG0108 /spec/hosts/0: "),
        "{d:?}"
    );
}

#[test]
fn enforce_on_dry_run_restores_denial_and_the_per_replica_dry_run_overlay() {
    let base = std::sync::Arc::new(view(&[SVC]));
    let mut policy = Policy::with_defaults("m");
    policy.enforce_on_dry_run = true;
    let pending = Pending::default();
    let d = run(
        &create_vs(vs("a", "istio-system/public"), true),
        &base,
        &policy,
        &pending,
    );
    assert!(!d.allowed && d.warnings.is_empty(), "{d:?}");
    assert!(d.message.as_deref().unwrap().starts_with("MG0101 /spec/gateways/0: "));
    // A dry-run Gateway satisfies a later dry-run VirtualService on this replica only.
    assert!(run(&gateway_review(true), &base, &policy, &pending).allowed);
    assert!(
        run(
            &create_vs(vs("a", "istio-system/public"), true),
            &base,
            &policy,
            &pending
        )
        .allowed
    );
    assert!(
        !run(
            &create_vs(vs("a", "istio-system/public"), true),
            &base,
            &policy,
            &Pending::default()
        )
        .allowed
    );
    assert!(
        !run(
            &create_vs(vs("a", "istio-system/public"), false),
            &base,
            &policy,
            &pending
        )
        .allowed
    );
}

#[test]
fn real_admissions_count_until_the_watch_shows_them_or_the_ttl_ends() {
    let base = std::sync::Arc::new(view(&[SVC]));
    let policy = Policy::with_defaults("m");
    let pending = Pending::default();
    assert!(run(&gateway_review(false), &base, &policy, &pending).allowed);
    assert!(
        run(
            &create_vs(vs("b", "istio-system/public"), false),
            &base,
            &policy,
            &pending
        )
        .allowed
    );
    assert!(
        run(
            &create_vs(vs("b", "istio-system/public"), true),
            &base,
            &policy,
            &pending
        )
        .allowed
    );
    // After the TTL it is gone.
    let later = Instant::now() + Duration::from_secs(61);
    let d = decide(
        &mut create_vs(vs("c", "istio-system/public"), false),
        &base,
        true,
        &policy,
        &pending,
        later,
    )
    .unwrap();
    assert!(!d.allowed);
}

fn root(name: &str, delegate_ns: &str, delegate: &str) -> Value {
    json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
           "metadata": {"name": name, "namespace": "shop"},
           "spec": {"hosts": ["web"],
                    "http": [{"match": [{"uri": {"prefix": "/api"}}],
                              "delegate": {"name": delegate, "namespace": delegate_ns}},
                             {"route": [{"destination": {"host": "web"}}]}]}})
}

#[test]
fn a_missing_delegate_denies_only_when_flux_would_have_applied_it_first() {
    let base = std::sync::Arc::new(view(&[SVC]));
    let policy = Policy::with_defaults("m");
    // Sorted after its root (same namespace, later name): Flux applies it next,
    // so denying the root would stop the stage before it, at every interval.
    let d = run(
        &create_vs(root("m-root", "shop", "z-delegate"), false),
        &base,
        &policy,
        &Pending::default(),
    );
    assert!(d.allowed, "{d:?}");
    assert_eq!(d.warnings.len(), 1, "{d:?}");
    assert!(d.warnings[0]
        .starts_with("MG0107 /spec/http/0/delegate/name: delegate VirtualService \"shop/z-delegate\" not found"));
    assert!(d.warnings[0].ends_with(" (not denied: Flux applies VirtualService shop/z-delegate after this VirtualService, so the same batch may still create it)"), "{d:?}");
    // Sorted before it (earlier name, or an earlier namespace): it would be there.
    for (ns, name) in [("shop", "a-delegate"), ("apps", "z-delegate")] {
        let d = run(
            &create_vs(root("m-root", ns, name), false),
            &base,
            &policy,
            &Pending::default(),
        );
        assert!(!d.allowed, "{d:?}");
        assert!(
            d.message.as_deref().unwrap().starts_with(&format!(
                "MG0107 /spec/http/0/delegate/name: delegate VirtualService \"{ns}/{name}\" not found"
            )),
            "{d:?}"
        );
        // ...and its dry run warns that the real apply is denied.
        let d = run(
            &create_vs(root("m-root", ns, name), true),
            &base,
            &policy,
            &Pending::default(),
        );
        assert!(
            d.allowed && d.warnings[0].ends_with("the real apply is denied unless that happens first)"),
            "{d:?}"
        );
    }
}

#[test]
fn tombstones_hide_deleted_objects() {
    let base = std::sync::Arc::new(view(&[SVC, GW]));
    let policy = Policy::with_defaults("m");
    let pending = Pending::default();
    let gw_obj: Value = crate::manifest::parse_text("g", GW, "x").unwrap()[0]
        .object
        .value
        .clone();
    let r = req(
        Operation::Delete,
        "Gateway",
        "networking.istio.io",
        None,
        Some(gw_obj),
        false,
    );
    assert!(run(&r, &base, &policy, &pending).allowed);
    assert!(
        !run(
            &create_vs(vs("a", "istio-system/public"), false),
            &base,
            &policy,
            &pending
        )
        .allowed
    );
}

#[test]
fn exemptions_and_ignore_annotation() {
    let base = std::sync::Arc::new(view(&[SVC]));
    let policy = Policy::with_defaults("shop");
    let d = run(
        &create_vs(vs("a", "istio-system/public"), false),
        &base,
        &policy,
        &Pending::default(),
    );
    assert!(d.allowed && d.exempt);
    let policy = Policy::with_defaults("m");
    let mut v = vs("a", "istio-system/public");
    v["metadata"]["labels"] = json!({"meshgate.io/skip": "true"});
    assert!(run(&create_vs(v, false), &base, &policy, &Pending::default()).allowed);
    let mut v = vs("a", "istio-system/public");
    v["metadata"]["annotations"] = json!({"meshgate.io/ignore": "MG0106, MG0101"});
    assert!(run(&create_vs(v.clone(), false), &base, &policy, &Pending::default()).allowed);
    v["metadata"]["annotations"] = json!({"meshgate.io/ignore": "MG0106"});
    assert!(!run(&create_vs(v.clone(), false), &base, &policy, &Pending::default()).allowed);
    v["metadata"]["annotations"] = json!({"meshgate.io/ignore": "*"});
    assert!(run(&create_vs(v, false), &base, &policy, &Pending::default()).allowed);
}

#[test]
fn not_ready_never_denies_on_cluster_view_findings() {
    let base = std::sync::Arc::new(view(&[SVC]));
    let d = decide(
        &mut create_vs(vs("a", "istio-system/public"), false),
        &base,
        false,
        &Policy::with_defaults("m"),
        &Pending::default(),
        Instant::now(),
    )
    .unwrap();
    assert!(d.allowed);
    assert!(d.warnings.iter().any(|w| w.contains("not ready")), "{:?}", d.warnings);
    assert!(d.warnings.iter().any(|w| w.starts_with("MG0101")), "{:?}", d.warnings);
    let mut bad = vs("a", "mesh");
    bad["spec"]["hosts"] = json!("x");
    let d = decide(
        &mut create_vs(bad, false),
        &base,
        false,
        &Policy::with_defaults("m"),
        &Pending::default(),
        Instant::now(),
    )
    .unwrap();
    assert!(!d.allowed, "MG0001 needs no cluster view");
}

#[test]
fn unknown_kinds_are_errors_and_unparsable_objects_denied() {
    let base = std::sync::Arc::new(view(&[]));
    let r = req(
        Operation::Create,
        "Frobnicator",
        "example.com",
        Some(json!({"metadata": {"name": "x"}})),
        None,
        false,
    );
    assert!(matches!(
        decide(
            &mut r.clone(),
            &base,
            true,
            &Policy::with_defaults("m"),
            &Pending::default(),
            Instant::now()
        ),
        Err(DecideError::UnknownKind { .. })
    ));
    let r = create_vs(
        json!({"metadata": {"namespace": "shop", "name": "x"}, "spec": {}}),
        false,
    );
    let d = run(&r, &base, &Policy::with_defaults("m"), &Pending::default());
    assert!(!d.allowed);
    assert!(d.message.unwrap().starts_with("MG0001 /: not a Kubernetes object"));
}

#[test]
fn policy_root_namespace_beats_mesh_config() {
    // A DestinationRule in `mesh-root` defines the subset; only a root namespace of
    // `mesh-root` makes istiod (and meshgate) use it.
    let dr = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: web, namespace: mesh-root}\nspec:\n  host: web.shop.svc.cluster.local\n  subsets: [{name: v1, labels: {version: v1}}]\n";
    let base = std::sync::Arc::new(view(&[SVC, dr]));
    let mut v = vs("a", "mesh");
    v["spec"]["http"][0]["route"][0]["destination"]["subset"] = json!("v1");
    let default = run(
        &create_vs(v.clone(), false),
        &base,
        &Policy::with_defaults("m"),
        &Pending::default(),
    );
    assert!(!default.allowed);
    let rooted = Policy::parse("settings:\n  rootNamespace: mesh-root\n", "m").unwrap();
    assert!(run(&create_vs(v, false), &base, &rooted, &Pending::default()).allowed);
}

#[test]
fn removing_a_used_subset_or_deleting_its_rule_is_denied() {
    let dr = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: web, namespace: shop}\nspec:\n  host: web\n  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]\n";
    let mut route = vs("a", "mesh");
    route["spec"]["hosts"] = json!(["web"]);
    route["spec"]["http"][0]["route"][0]["destination"]["subset"] = json!("v1");
    let base = std::sync::Arc::new(view(&[SVC, dr, &crate::synthetic::to_yaml(&route)]));
    let old: Value = crate::manifest::parse_text("d", dr, "x").unwrap()[0]
        .object
        .value
        .clone();
    let policy = Policy::with_defaults("m");
    // Dropping v2 (unused) is fine; dropping v1 breaks the route.
    let mut keep_v1 = old.clone();
    keep_v1["spec"]["subsets"] = json!([{"name": "v1", "labels": {"version": "v1"}}]);
    let r = req(
        Operation::Update,
        "DestinationRule",
        "networking.istio.io",
        Some(keep_v1),
        Some(old.clone()),
        false,
    );
    assert!(run(&r, &base, &policy, &Pending::default()).allowed);
    let mut keep_v2 = old.clone();
    keep_v2["spec"]["subsets"] = json!([{"name": "v2", "labels": {"version": "v2"}}]);
    let r = req(
        Operation::Update,
        "DestinationRule",
        "networking.istio.io",
        Some(keep_v2),
        Some(old.clone()),
        false,
    );
    let d = run(&r, &base, &policy, &Pending::default());
    assert!(!d.allowed);
    assert!(
        d.message.as_deref().unwrap().contains("this change to DestinationRule shop/web breaks 1 object(s) that refer to it: VirtualService shop/a (MG0103 /spec/http/0/route/0/destination/subset"),
        "{d:?}"
    );
    let r = req(
        Operation::Delete,
        "DestinationRule",
        "networking.istio.io",
        None,
        Some(old),
        false,
    );
    let d = run(&r, &base, &policy, &Pending::default());
    assert!(
        d.message
            .as_deref()
            .unwrap()
            .starts_with("deleting DestinationRule shop/web breaks 1 object(s)"),
        "{d:?}"
    );
}

#[test]
fn require_egress_gateway_denies_an_external_host_without_egress_path() {
    let base = std::sync::Arc::new(view(&[]));
    let se = json!({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
                    "metadata": {"name": "github", "namespace": "shop"},
                    "spec": {"hosts": ["github.com"], "resolution": "DNS",
                             "ports": [{"number": 443, "name": "https", "protocol": "HTTPS"}]}});
    let r = req(
        Operation::Create,
        "ServiceEntry",
        "networking.istio.io",
        Some(se),
        None,
        false,
    );
    let mut policy = Policy::with_defaults("meshgate");
    let d = run(&r, &base, &policy, &Pending::default());
    // A mesh with no sign of egress gateways: MG0402 is info, audited only.
    assert!(d.allowed);
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    policy.require_egress_gateway = true;
    let d = run(&r, &base, &policy, &Pending::default());
    assert!(!d.allowed);
    assert!(
        d.message
            .as_deref()
            .unwrap()
            .starts_with("MG0402 /spec/hosts/0: no egress path"),
        "{:?}",
        d.message
    );
}

/// MG0508 at admission: relabelling a namespace to another revision warns, and
/// never denies, even when the policy says deny for the code.
#[test]
fn namespace_relabel_warns_and_never_denies() {
    let istiod = |rev: &str, v: &str| {
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: istiod-{rev}, namespace: istio-system, labels: {{app: istiod, istio.io/rev: {rev}}}}}\nspec:\n  template:\n    metadata: {{labels: {{app: istiod, istio.io/rev: {rev}}}}}\n    spec: {{containers: [{{name: discovery, image: docker.io/istio/pilot:{v}}}]}}\n")
    };
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web, istio.io/rev: 1-17-5}}\nspec:\n  containers:\n  - {name: web, image: web:1}\n  - {name: istio-proxy, image: docker.io/istio/proxyv2:1.17.5}\n";
    let ef = "apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {name: stats, namespace: shop}\nspec:\n  configPatches:\n  - applyTo: HTTP_FILTER\n    match: {context: SIDECAR_INBOUND, proxy: {proxyVersion: '^1\\.17.*'}}\n    patch: {operation: INSERT_FIRST, value: {name: x}}\n";
    let ns = |rev: &str| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"istio.io/rev": rev}}});
    let base = std::sync::Arc::new(view(&[&istiod("1-17-5", "1.17.5"), &istiod("1-18", "1.18.0"), pod, ef]));
    let strict = Policy::parse("codes:\n  MG0508: deny\n", "meshgate").unwrap();
    for policy in [Policy::with_defaults("meshgate"), strict] {
        let r = req(
            Operation::Update,
            "Namespace",
            "",
            Some(ns("1-18")),
            Some(ns("1-17-5")),
            false,
        );
        let d = run(&r, &base, &policy, &Pending::default());
        assert!(d.allowed, "never a denial: {:?}", d.message);
        assert_eq!(
            d.warnings,
            ["MG0508 /metadata/labels/istio.io~1rev: namespace shop now injects revision 1-18 (1.18.0): once its 1 workload(s) restart, EnvoyFilter shop/stats stops applying to 1 of them (web-1)"]
        );
    }
    // A CREATE, or a label that moves nothing: allowed without a word.
    let r = req(Operation::Create, "Namespace", "", Some(ns("1-18")), None, false);
    assert!(run(&r, &base, &Policy::with_defaults("meshgate"), &Pending::default())
        .warnings
        .is_empty());
}

#[test]
fn deleting_a_certificate_secret_warns_of_the_listeners_and_routes_it_leaves_without_one() {
    let class = "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: istio}\nspec: {controllerName: istio.io/gateway-controller}\n";
    let gw = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: edge, namespace: shop}\nspec:\n  gatewayClassName: istio\n  listeners:\n  - name: https\n    port: 443\n    protocol: HTTPS\n    hostname: shop.example.com\n    tls: {certificateRefs: [{name: shop-cert}]}\n";
    let route = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, namespace: shop}\nspec:\n  parentRefs: [{name: edge}]\n  hostnames: [shop.example.com]\n  rules:\n  - backendRefs: [{name: web, port: 80}]\n";
    let istio_gw = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: public, namespace: shop}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [\"*\"]\n    tls: {mode: SIMPLE, credentialName: shop-cert}\n";
    let ingress = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ingress, namespace: shop}\nspec:\n  template:\n    metadata: {labels: {istio: ingressgateway}}\n    spec: {containers: [{name: istio-proxy, image: docker.io/istio/proxyv2:1.30.3}]}\n";
    let secret = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "shop"},
               "type": "kubernetes.io/tls"})
    };
    let yaml = |v: Value| crate::synthetic::to_yaml(&v);
    let base = std::sync::Arc::new(view(&[
        class,
        gw,
        route,
        SVC,
        istio_gw,
        ingress,
        &yaml(secret("shop-cert")),
        &yaml(secret("unused")),
    ]));
    let policy = Policy::with_defaults("m");
    let r = req(Operation::Delete, "Secret", "", None, Some(secret("shop-cert")), false);
    let d = run(&r, &base, &policy, &Pending::default());
    // Warnings, never a denial: a missing Secret is what cert-manager's first
    // minutes look like too.
    assert!(d.allowed, "{d:?}");
    let has = |prefix: &str, code: &str| d.warnings.iter().any(|w| w.starts_with(prefix) && w.contains(code));
    assert!(
        has(
            "without this Secret, Gateway shop/edge",
            "MG0921 /spec/listeners/0/tls/certificateRefs/0"
        ),
        "{:?}",
        d.warnings
    );
    assert!(
        has("without this Secret, HTTPRoute shop/r", "MG0906 /spec/parentRefs/0"),
        "{:?}",
        d.warnings
    );
    assert!(
        has(
            "without this Secret, Gateway shop/public",
            "MG0303 /spec/servers/0/tls/credentialName"
        ),
        "{:?}",
        d.warnings
    );
    assert_eq!(d.warnings.len(), 3, "{:?}", d.warnings);
    // A Secret nothing names: nothing to say.
    let r = req(Operation::Delete, "Secret", "", None, Some(secret("unused")), false);
    let d = run(&r, &base, &policy, &Pending::default());
    assert!(d.allowed && d.warnings.is_empty(), "{d:?}");
}

#[test]
fn deleting_a_waypoint_denies_what_depends_on_it_and_warns_of_what_bypasses_it() {
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {istio.io/dataplane-mode: ambient}}\n";
    let class = "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: istio-waypoint}\nspec: {controllerName: istio.io/mesh-controller}\n";
    let waypoint = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "waypoint", "namespace": "shop"},
        "spec": {"gatewayClassName": "istio-waypoint", "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]}});
    let bound = |name: &str| {
        format!("apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: shop, labels: {{istio.io/use-waypoint: waypoint}}}}\nspec:\n  ports: [{{port: 80}}]\n")
    };
    let policy = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: web-get, namespace: shop}\nspec:\n  targetRefs: [{group: \"\", kind: Service, name: web}]\n  rules:\n  - to: [{operation: {methods: [GET]}}]\n";
    let yaml = |v: &Value| crate::synthetic::to_yaml(v);
    let policy_obj = Policy::with_defaults("m");
    // A Service bound to it without L7 configuration: a warning.
    let base = std::sync::Arc::new(view(&[ns, class, &yaml(&waypoint), &bound("api")]));
    let r = req(
        Operation::Delete,
        "Gateway",
        "gateway.networking.k8s.io",
        None,
        Some(waypoint.clone()),
        false,
    );
    let d = run(&r, &base, &policy_obj, &Pending::default());
    assert!(d.allowed, "{d:?}");
    assert!(
        d.warnings.iter().any(|w| w.starts_with("without this Gateway, Service shop/api: MG1001 /metadata/labels/istio.io~1use-waypoint: istio.io/use-waypoint names shop/waypoint, which istiod does not bind")),
        "{:?}",
        d.warnings
    );
    // A targetRefs policy depends on it: denied, naming the policy and the Service.
    let base = std::sync::Arc::new(view(&[ns, class, &yaml(&waypoint), &bound("web"), policy]));
    let d = run(&r, &base, &policy_obj, &Pending::default());
    assert!(!d.allowed, "{d:?}");
    let m = d.message.unwrap();
    assert!(
        m.starts_with("deleting Gateway.gateway.networking.k8s.io shop/waypoint breaks 2 object(s) that refer to it"),
        "{m}"
    );
    assert!(
        m.contains("AuthorizationPolicy shop/web-get (MG1008 /spec/targetRefs/0"),
        "{m}"
    );
    assert!(
        m.contains("Service shop/web (MG1001 /metadata/labels/istio.io~1use-waypoint"),
        "{m}"
    );
}

#[test]
fn relabelling_a_namespace_into_ambient_warns_of_policies_that_turn_into_a_deny_all() {
    let ns = |labels: &str| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": serde_json::from_str::<Value>(labels).unwrap()}});
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web}}\nspec:\n  containers: [{name: web, image: web:1}]\n";
    let l7 = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: web-get, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  rules:\n  - to: [{operation: {methods: [GET]}}]\n";
    let before = ns("{}");
    let base = std::sync::Arc::new(view(&[&crate::synthetic::to_yaml(&before), pod, l7]));
    let r = req(
        Operation::Update,
        "Namespace",
        "",
        Some(ns(r#"{"istio.io/dataplane-mode": "ambient"}"#)),
        Some(before.clone()),
        false,
    );
    let d = run(&r, &base, &Policy::with_defaults("m"), &Pending::default());
    assert!(d.allowed, "{d:?}");
    assert!(
        d.warnings.iter().any(|w| w
            .starts_with("once istio-cni applies this label, AuthorizationPolicy shop/web-get: MG1004 /spec/rules/0")),
        "{:?}",
        d.warnings
    );
    // Another label change says nothing about ambient.
    let r = req(
        Operation::Update,
        "Namespace",
        "",
        Some(ns(r#"{"team": "a"}"#)),
        Some(before),
        false,
    );
    let d = run(&r, &base, &Policy::with_defaults("m"), &Pending::default());
    assert!(d.warnings.iter().all(|w| !w.contains("MG10")), "{:?}", d.warnings);
}

#[test]
fn an_ambient_deny_all_another_policy_of_the_batch_may_lift_is_never_denied() {
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {istio.io/dataplane-mode: ambient}}\n";
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web}}\nspec:\n  containers: [{name: web, image: web:1}]\n";
    let l7 = json!({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
        "metadata": {"name": "web-get", "namespace": "shop"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "rules": [{"to": [{"operation": {"methods": ["GET"]}}]}]}});
    let base = std::sync::Arc::new(view(&[ns, pod]));
    for dry_run in [true, false] {
        let r = req(
            Operation::Create,
            "AuthorizationPolicy",
            "security.istio.io",
            Some(l7.clone()),
            None,
            dry_run,
        );
        let d = run(&r, &base, &Policy::with_defaults("m"), &Pending::default());
        assert!(d.allowed, "{d:?}");
        assert!(
            d.warnings.iter().any(|w| w.starts_with("MG1004 /spec/rules/0")),
            "{:?}",
            d.warnings
        );
    }
}

mod multicluster {
    use super::*;
    use crate::manifest::parse_text;
    use crate::view::RemoteSync;

    /// A mesh route to `pay.payments`, which the local cluster does not serve.
    fn route() -> Value {
        json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
               "metadata": {"name": "pay", "namespace": "shop"},
               "spec": {"hosts": ["pay.shop.svc.cluster.local"],
                        "http": [{"route": [{"destination": {"host": "pay.payments.svc.cluster.local"}}]}]}})
    }

    fn remote_svc() -> crate::model::Object {
        let text =
            "apiVersion: v1\nkind: Service\nmetadata: {name: pay, namespace: payments}\nspec:\n  ports: [{port: 80}]\n";
        parse_text("r.yaml", text, "default").unwrap().remove(0).object
    }

    fn decide_route(base: ClusterView) -> Decision {
        run(
            &create_vs(route(), false),
            &std::sync::Arc::new(base),
            &Policy::with_defaults("meshgate"),
            &Pending::default(),
        )
    }

    #[test]
    fn a_route_to_a_host_only_a_synced_remote_serves_is_allowed_with_an_info() {
        let mut v = view(&[]);
        v.apply_remote("west", remote_svc());
        v.set_remote_sync("west", RemoteSync::Synced);
        let d = decide_route(v);
        assert!(d.allowed, "{:?}", d.message);
        let info: Vec<&str> = d
            .findings
            .iter()
            .filter(|(f, _)| f.code == "MG0113")
            .map(|(f, _)| f.message.as_str())
            .collect();
        assert_eq!(
            info,
            ["host pay.payments.svc.cluster.local is served only by remote cluster west: istiod sends these requests there"]
        );
    }

    #[test]
    fn absence_is_denied_while_every_remote_is_synced_and_the_remotes_are_asked_first() {
        let mut v = view(&[]);
        v.set_remote_sync("west", RemoteSync::Synced);
        let d = decide_route(v);
        assert!(!d.allowed);
        assert!(d
            .message
            .as_deref()
            .unwrap()
            .starts_with("MG0102 /spec/http/0/route/0/destination/host"));
        assert_eq!(
            d.remote_lookups,
            [crate::model::ObjKey::new(Kind::Service, "payments", "pay")]
        );
    }

    #[test]
    fn absence_is_a_warning_naming_the_cluster_while_a_remote_is_unsynced() {
        let mut v = view(&[]);
        v.set_remote_sync("west", RemoteSync::Synced);
        v.set_remote_sync(
            "east",
            RemoteSync::Unreachable {
                why: "unreachable since 2026-12-07T05:00:00Z".into(),
            },
        );
        let d = decide_route(v);
        assert!(d.allowed, "{:?}", d.message);
        assert!(
            d.warnings.iter().any(|w| w.starts_with("MG0102 ")
                && w.ends_with("(a warning, not a denial: remote cluster east (unreachable since 2026-12-07T05:00:00Z) is not synced and may serve it)")),
            "{:?}",
            d.warnings
        );
        assert!(d.remote_lookups.is_empty());
    }

    #[test]
    fn an_unsynced_remote_never_softens_what_it_cannot_change() {
        // A missing Gateway is Istio configuration: read from this cluster only.
        let mut v = view(&[SVC]);
        v.set_remote_sync("east", RemoteSync::Syncing { why: "syncing".into() });
        let d = run(
            &create_vs(vs("a", "istio-system/public"), false),
            &std::sync::Arc::new(v),
            &Policy::with_defaults("meshgate"),
            &Pending::default(),
        );
        assert!(!d.allowed);
        assert!(d.message.unwrap().starts_with("MG0101 "));
    }

    #[test]
    fn deleting_a_service_a_remote_also_serves_breaks_nothing() {
        let local =
            "apiVersion: v1\nkind: Service\nmetadata: {name: pay, namespace: payments}\nspec:\n  ports: [{port: 80}]\n";
        // JSON is YAML.
        let route_text = route().to_string();
        let mut v = view(&[local, &route_text]);
        v.set_remote_sync("west", RemoteSync::Synced);
        let delete = |v: &ClusterView| {
            let old = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "pay", "namespace": "payments"},
                             "spec": {"ports": [{"port": 80}]}});
            run(
                &req(Operation::Delete, "Service", "", None, Some(old), false),
                &std::sync::Arc::new(v.clone()),
                &Policy::with_defaults("meshgate"),
                &Pending::default(),
            )
        };
        let d = delete(&v);
        assert!(!d.allowed, "only this cluster serves it");
        assert_eq!(
            d.remote_lookups,
            [crate::model::ObjKey::new(Kind::Service, "payments", "pay")]
        );
        let mut served = v.clone();
        served.apply_remote("west", remote_svc());
        assert!(delete(&served).allowed, "{:?}", delete(&served).message);
        let mut unsynced = v.clone();
        unsynced.set_remote_sync("west", RemoteSync::Syncing { why: "syncing".into() });
        let d = delete(&unsynced);
        assert!(d.allowed, "{:?}", d.message);
        assert!(
            d.warnings
                .iter()
                .any(|w| w.contains("shop/pay") && w.contains("remote cluster west (syncing)")),
            "{:?}",
            d.warnings
        );
    }
}
