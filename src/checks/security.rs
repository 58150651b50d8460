//! PeerAuthentication, RequestAuthentication and AuthorizationPolicy checks:
//! MG0601–MG0607.

use super::{catalog, join};
use crate::finding::{pointer, Finding};
use crate::model::security::SecuritySpec;
use crate::model::workload::labels_match;
use crate::model::Kind;
use crate::view::{ClusterView, Entry};

pub fn check(entry: &Entry, spec: &SecuritySpec, view: &ClusterView, out: &mut Vec<Finding>) {
    let key = &entry.object.key;
    let root = view.mesh().root_namespace.as_str();
    // In the root namespace a policy with a selector applies to matching workloads
    // of every namespace.
    let scope = (key.namespace != root).then_some(key.namespace.as_str());
    if let Some(sel) = spec.selector.as_ref().filter(|s| !s.is_empty()) {
        if view.workloads_matching(scope, sel).next().is_none() {
            let where_ = scope.map_or("any namespace".to_string(), |ns| format!("namespace {ns}"));
            out.push(Finding::new(
                &catalog::MG0601,
                key,
                pointer("/spec/selector"),
                format!(
                    "selector {} matches no workload in {where_}: this policy applies to nothing",
                    super::selector_text(sel)
                ),
            ));
        }
    }
    // MG0604: source namespaces that do not exist; an entry with `*` is a pattern
    // (any characters), reported when no namespace matches it; `*` alone never.
    for ns in &spec.source_namespaces {
        let v = ns.value.as_str();
        let (known, what) = if v == "*" {
            (true, "")
        } else if v.contains('*') {
            (view.namespace_matching(v), "pattern matches no namespace that exists")
        } else {
            (view.namespace_exists(v), "does not exist")
        };
        if !known {
            out.push(Finding::new(
                &catalog::MG0604,
                key,
                ns.pointer.clone(),
                format!("namespace \"{v}\" {what}: this condition matches no request from a namespace known today"),
            ));
        }
    }
    // MG0605: principals `<trust domain>/ns/<ns>/sa/<sa>` whose ServiceAccount is unknown.
    for pr in &spec.source_principals {
        if pr.value.contains('*') {
            continue;
        }
        let parts: Vec<&str> = pr.value.split('/').collect();
        if let [_, "ns", ns, "sa", sa] = parts.as_slice() {
            if !view.service_account_exists(ns, sa) {
                out.push(Finding::new(
                    &catalog::MG0605,
                    key,
                    pr.pointer.clone(),
                    format!(
                        "principal {:?}: no ServiceAccount {ns}/{sa} exists or is used by a workload",
                        pr.value
                    ),
                ));
            }
        }
    }
    // MG0606: operation hosts that no Service or ServiceEntry declares.
    for h in &spec.operation_hosts {
        let host = h.value.split(':').next().unwrap_or("");
        if host.contains('*') || host.is_empty() {
            continue;
        }
        let fqdn = crate::semantics::host::resolve(host, &key.namespace, view.cluster_domain());
        // At a gateway the Host header names a Gateway's host: that counts too.
        if view.registry(&fqdn).next().is_none()
            && view.covering_registry(&fqdn).is_empty()
            && view.gateways_serving_host(host).is_empty()
        {
            out.push(Finding::new(
                &catalog::MG0606,
                key,
                h.pointer.clone(),
                format!("host {:?} matches no Service, ServiceEntry or Gateway host", h.value),
            ));
        }
    }
    // MG0603: STRICT while a DestinationRule turns TLS off toward covered workloads.
    if key.kind == Kind::PeerAuthentication && spec.mtls_mode.as_deref() == Some("STRICT") {
        let selector = spec.selector.as_ref().filter(|s| !s.is_empty());
        let covers = |ns: &str, labels: &crate::model::labels::Labels| {
            scope.is_none_or(|s| s == ns) && selector.is_none_or(|sel| labels_match(sel, labels))
        };
        // Judged on the view with this policy in it: a port counts where the mode
        // in effect is STRICT (a more specific policy or a port-level entry may set
        // another mode there).
        let mut with = view.clone();
        with.apply_entry(std::sync::Arc::new(entry.clone()));
        let strict = |w: &crate::model::workload::Workload, port: Option<u32>| {
            with.effective_mtls(&w.namespace, &w.labels).at(port) == Some("STRICT")
        };
        let mut rules = Vec::new();
        for dr in view.tls_disabling_destination_rules() {
            let crate::view::Parsed::DestinationRule(d) = &dr.parsed else {
                continue;
            };
            let Some(h) = &d.host else { continue };
            let fqdn = crate::semantics::host::resolve(h, &dr.object.key.namespace, view.cluster_domain());
            let hit = d.tls.iter().filter(|t| t.mode.as_deref() == Some("DISABLE")).any(|t| {
                super::destination_rule::disabled_tls_targets(d, t, &fqdn, view)
                    .iter()
                    .any(|target| {
                        target
                            .workload
                            .workload
                            .as_ref()
                            .is_some_and(|wl| covers(&wl.namespace, &wl.labels) && strict(wl, target.target_port))
                    })
            });
            if hit {
                rules.push(dr.object.key.qualified_name());
            }
        }
        if !rules.is_empty() {
            out.push(Finding::new(
                &catalog::MG0603,
                key,
                pointer("/spec/mtls/mode"),
                format!(
                    "STRICT mTLS, but DestinationRule {} turns TLS off toward workloads this policy covers: their clients' requests will fail",
                    join(&rules)
                ),
            ));
        }
    }
    if key.kind == Kind::AuthorizationPolicy {
        peer_identity::check(entry, spec, view, out);
    }
    if key.kind == Kind::PeerAuthentication && spec.is_namespace_wide() {
        let others: Vec<String> = view
            .namespace_wide_peer_authentications(&key.namespace)
            .filter(|o| o.object.key != *key)
            .map(|o| o.object.key.qualified_name())
            .collect();
        if !others.is_empty() {
            let scope = if key.namespace == root {
                "mesh-wide".to_string()
            } else {
                format!("in namespace {}", key.namespace)
            };
            out.push(Finding::new(
                &catalog::MG0602,
                key,
                pointer("/metadata/name"),
                format!(
                    "another selector-less PeerAuthentication ({}) already applies {scope}: istiod uses only the oldest and ignores the other; keep one",
                    join(&others)
                ),
            ));
        }
    }
}

mod peer_identity;

#[cfg(test)]
mod tests {
    use crate::checks::testutil::*;

    const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web}}\nspec: {containers: [{name: istio-proxy, image: istio/proxyv2:1.30.3}]}\n";

    fn policy(kind: &str, ns: &str, name: &str, spec: &str) -> String {
        format!("apiVersion: security.istio.io/v1\nkind: {kind}\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n{spec}")
    }

    #[test]
    fn mg0601_selector_matches_no_workload_for_each_kind() {
        let v = view(&[POD]);
        for kind in ["PeerAuthentication", "RequestAuthentication", "AuthorizationPolicy"] {
            let f = check_yaml(
                &v,
                &policy(kind, "shop", "p", "  selector:\n    matchLabels: {app: nothing}\n"),
            );
            assert_eq!(codes(&f), [("MG0601".into(), "/spec/selector".into())], "{kind}");
            assert!(
                check_yaml(
                    &v,
                    &policy(kind, "shop", "p", "  selector:\n    matchLabels: {app: web}\n")
                )
                .is_empty(),
                "{kind}"
            );
        }
        // In another namespace the workload does not count; in the root namespace it does.
        let f = check_yaml(
            &v,
            &policy(
                "AuthorizationPolicy",
                "other",
                "p",
                "  selector:\n    matchLabels: {app: web}\n",
            ),
        );
        assert_eq!(codes(&f)[0].0, "MG0601");
        assert!(check_yaml(
            &v,
            &policy(
                "AuthorizationPolicy",
                "istio-system",
                "p",
                "  selector:\n    matchLabels: {app: web}\n"
            )
        )
        .is_empty());
    }

    #[test]
    fn mg0602_second_selector_less_peer_authentication() {
        let first = policy("PeerAuthentication", "shop", "default", "  mtls: {mode: STRICT}\n");
        let v = view(&[POD, &first]);
        let f = check_yaml(
            &v,
            &policy("PeerAuthentication", "shop", "second", "  mtls: {mode: PERMISSIVE}\n"),
        );
        assert_eq!(codes(&f), [("MG0602".into(), "/metadata/name".into())]);
        assert!(f[0].message.contains("shop/default"), "{}", f[0].message);
        // Re-applying the same one, one with a selector, or one in another namespace is fine.
        assert!(check_yaml(&v, &first).is_empty());
        assert!(check_yaml(
            &v,
            &policy(
                "PeerAuthentication",
                "shop",
                "web",
                "  selector:\n    matchLabels: {app: web}\n"
            )
        )
        .is_empty());
        assert!(check_yaml(
            &v,
            &policy("PeerAuthentication", "other", "default", "  mtls: {mode: STRICT}\n")
        )
        .is_empty());
    }

    #[test]
    fn mg0604_to_mg0606_authorization_policy_references() {
        let svc =
            "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec:\n  ports: [{port: 80}]\n";
        let pod = POD.replace("spec: {containers", "spec: {serviceAccountName: web, containers");
        let v = view(&[&pod, svc]);
        let ap = |rules: &str| policy("AuthorizationPolicy", "shop", "ap", &format!("  rules:\n{rules}"));
        let f = check_yaml(
            &v,
            &ap("  - from:\n    - source:\n        namespaces: [shop, gone, \"team-*\"]\n        principals: [cluster.local/ns/shop/sa/web, cluster.local/ns/shop/sa/ghost, \"*\"]\n    to:\n    - operation:\n        hosts: [web, \"web.shop.svc.cluster.local:80\", nowhere.example.com, \"*.example.com\"]\n"),
        );
        assert_eq!(
            codes(&f),
            [
                ("MG0604".into(), "/spec/rules/0/from/0/source/namespaces/1".into()),
                ("MG0604".into(), "/spec/rules/0/from/0/source/namespaces/2".into()),
                ("MG0605".into(), "/spec/rules/0/from/0/source/principals/1".into()),
                ("MG0606".into(), "/spec/rules/0/to/0/operation/hosts/2".into()),
            ]
        );
        assert!(check_yaml(
            &v,
            &ap("  - from:\n    - source: {namespaces: [shop], principals: [cluster.local/ns/shop/sa/web]}\n")
        )
        .is_empty());
    }

    /// A policy on the ingress gateway names the hosts clients ask for: a host a
    /// Gateway serves is known, though no Service declares it.
    #[test]
    fn mg0606_gateway_hosts_count() {
        let gw = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: app, namespace: app}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [app.example.com]\n";
        let ap = policy(
            "AuthorizationPolicy",
            "istio-system",
            "ap",
            "  rules:\n  - to:\n    - operation: {hosts: [app.example.com, other.example.com]}\n",
        );
        let f = check_yaml(&view(&[gw]), &ap);
        assert_eq!(
            codes(&f),
            [("MG0606".into(), "/spec/rules/0/to/0/operation/hosts/1".into())]
        );
    }

    /// `*` in a namespace entry is a pattern, as istiod matches it; a lone `*`
    /// matches everything; the built-in namespaces always exist.
    #[test]
    fn mg0604_patterns_and_builtin_namespaces() {
        let ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n";
        let v = view(&[POD, ns]);
        let ap = |list: &str| {
            policy(
                "AuthorizationPolicy",
                "shop",
                "ap",
                &format!("  rules:\n  - from:\n    - source:\n        notNamespaces: {list}\n"),
            )
        };
        let f = check_yaml(
            &v,
            &ap("[\"*\", \"team-*\", \"*-a\", \"t*a\", \"kube-*\", kube-node-lease, default, \"prod-*\", \"*-b\"]"),
        );
        assert_eq!(
            codes(&f),
            [
                ("MG0604".into(), "/spec/rules/0/from/0/source/notNamespaces/7".into()),
                ("MG0604".into(), "/spec/rules/0/from/0/source/notNamespaces/8".into()),
            ]
        );
        assert!(
            f[0].message.contains("pattern matches no namespace"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn mg0603_strict_while_a_rule_disables_tls() {
        let svc = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n";
        let dr = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: plain, namespace: client}\nspec:\n  host: web.shop.svc.cluster.local\n  trafficPolicy: {tls: {mode: DISABLE}}\n";
        let v = view(&[POD, svc, dr]);
        let strict = |ns: &str, sel: &str| {
            policy(
                "PeerAuthentication",
                ns,
                "p",
                &format!("{sel}  mtls: {{mode: STRICT}}\n"),
            )
        };
        let f = check_yaml(&v, &strict("shop", ""));
        assert_eq!(codes(&f), [("MG0603".into(), "/spec/mtls/mode".into())]);
        assert!(f[0].message.contains("client/plain"), "{}", f[0].message);
        assert_eq!(
            codes(&check_yaml(&v, &strict("istio-system", ""))).len(),
            1,
            "mesh-wide"
        );
        assert!(check_yaml(&v, &strict("other", "")).is_empty(), "another namespace");
        assert!(
            check_yaml(&v, &strict("shop", "  selector: {matchLabels: {app: other}}\n"))
                .iter()
                .all(|f| f.code != "MG0603")
        );
        assert!(check_yaml(
            &v,
            &policy("PeerAuthentication", "shop", "p", "  mtls: {mode: PERMISSIVE}\n")
        )
        .is_empty());
    }

    /// STRICT with a port-level exception, and a rule turning TLS off on that
    /// port only: consistent. The same rule on a STRICT port is reported.
    #[test]
    fn mg0603_port_level_exception_matches_the_rule() {
        let svc = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {app: web}\n  ports: [{port: 80, targetPort: 8080}, {port: 9090}]\n";
        let dr = |port: u32| {
            format!("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: plain, namespace: shop}}\nspec:\n  host: web\n  trafficPolicy:\n    portLevelSettings:\n    - port: {{number: {port}}}\n      tls: {{mode: DISABLE}}\n")
        };
        let pa = policy(
            "PeerAuthentication",
            "shop",
            "web",
            "  selector: {matchLabels: {app: web}}\n  mtls: {mode: STRICT}\n  portLevelMtls:\n    9090: {mode: PERMISSIVE}\n",
        );
        assert!(check_yaml(&view(&[POD, svc, &dr(9090)]), &pa).is_empty());
        assert_eq!(
            codes(&check_yaml(&view(&[POD, svc, &dr(80)]), &pa)),
            [("MG0603".into(), "/spec/mtls/mode".into())]
        );
    }

    /// A workload DISABLE with one port kept STRICT: identities arrive on that
    /// port, so a `principals` condition can match: no MG0607.
    #[test]
    fn mg0607_not_when_a_port_keeps_mtls() {
        let pa = policy(
            "PeerAuthentication",
            "shop",
            "web",
            "  selector: {matchLabels: {app: web}}\n  mtls: {mode: DISABLE}\n  portLevelMtls:\n    8080: {mode: STRICT}\n",
        );
        let ap = policy(
            "AuthorizationPolicy",
            "shop",
            "allow",
            "  selector:\n    matchLabels: {app: web}\n  rules:\n  - from:\n    - source: {principals: [cluster.local/ns/shop/sa/default]}\n",
        );
        assert!(check_yaml(&view(&[POD, &pa]), &ap).is_empty());
        let all_plain = pa.replace("8080: {mode: STRICT}", "8080: {mode: DISABLE}");
        assert_eq!(codes(&check_yaml(&view(&[POD, &all_plain]), &ap))[0].0, "MG0607");
    }

    #[test]
    fn mg0607_peer_identity_for_workloads_without_mtls() {
        let ap = |selector: &str, field: &str| {
            policy(
                "AuthorizationPolicy",
                "shop",
                "allow-frontend",
                &format!("{selector}  rules:\n  - from:\n    - source:\n        {field}\n"),
            )
        };
        let web = "  selector:\n    matchLabels: {app: web}\n";
        let principals = ap(web, "principals: [cluster.local/ns/shop/sa/default]");
        let pa = |name: &str, spec: &str| policy("PeerAuthentication", "shop", name, spec);
        let disable = pa("plain", "  mtls: {mode: DISABLE}\n");
        let v = view(&[POD, &disable]);
        let f = check_yaml(&v, &principals);
        assert_eq!(
            codes(&f),
            [("MG0607".into(), "/spec/rules/0/from/0/source/principals".into())]
        );
        assert_eq!(
            f[0].message,
            "`principals` needs the peer identity that mTLS carries, but workload shop/web-1 runs with mTLS DISABLE: requests arrive without one, so this condition never matches (an ALLOW rule answers 403 RBAC: access denied; a DENY rule never denies)"
        );
        assert_eq!(f[0].severity, crate::finding::Severity::Error);
        // STRICT, or the default PERMISSIVE with auto mTLS on: the identity is there.
        let strict = pa("strict", "  mtls: {mode: STRICT}\n");
        assert!(check_yaml(&view(&[POD, &strict]), &principals).is_empty());
        assert!(check_yaml(&view(&[POD]), &principals).is_empty());
        // PERMISSIVE with auto mTLS turned off in MeshConfig: plaintext from clients.
        let no_auto = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |\n    enableAutoMtls: false\n";
        let f = check_yaml(&view(&[POD, no_auto]), &principals);
        assert!(
            f[0].message.contains("runs with mTLS PERMISSIVE with auto mTLS off"),
            "{}",
            f[0].message
        );
        // Namespace-wide policy on `namespaces`, a workload-level DISABLE inside.
        let selecting_disable = pa(
            "web-plain",
            "  selector:\n    matchLabels: {app: web}\n  mtls: {mode: DISABLE}\n",
        );
        let namespaces = ap("", "namespaces: [shop]");
        let f = check_yaml(&view(&[POD, &selecting_disable]), &namespaces);
        assert_eq!(
            codes(&f),
            [("MG0607".into(), "/spec/rules/0/from/0/source/namespaces".into())]
        );
        assert!(
            f[0].message.contains("workload shop/web-1 runs without mTLS"),
            "{}",
            f[0].message
        );
        let f = check_yaml(&view(&[POD, &disable]), &namespaces);
        assert!(
            f[0].message.contains("namespace shop runs with mTLS DISABLE"),
            "{}",
            f[0].message
        );
        // Conditions that need no identity (request principals) are not judged.
        assert!(check_yaml(&v, &ap(web, "requestPrincipals: [\"*\"]")).is_empty());
    }
}
