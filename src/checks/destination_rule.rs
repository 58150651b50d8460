//! DestinationRule checks: MG0201–MG0205.

use std::collections::{BTreeMap, BTreeSet};

use super::{catalog, join};
use crate::finding::{pointer, Finding};
use crate::model::destination_rule::{DestinationRuleSpec, TlsSetting};
use crate::model::service::TargetPort;
use crate::semantics::{envoy_names, host};
use crate::view::{ClusterView, Entry};

pub fn check(entry: &Entry, dr: &DestinationRuleSpec, view: &ClusterView, out: &mut Vec<Finding>) {
    check_tls_origination(entry, dr, view, out);
    let Some(raw) = &dr.host else { return };
    let key = &entry.object.key;
    let fqdn = host::resolve(raw, &key.namespace, view.cluster_domain());
    let resolves = if host::is_wildcard(&fqdn) {
        view.any_registry_under(&fqdn)
    } else {
        let clients = view.export_to(entry).client_namespaces(&key.namespace);
        view.registry(&fqdn).any(|e| {
            let ex = view.export_to(e);
            clients.iter().any(|c| ex.visible_to(c))
        })
    };
    check_overlap(entry, dr, &fqdn, view, out);
    if resolves && !host::is_wildcard(&fqdn) {
        check_subsets(entry, dr, &fqdn, view, out);
        check_tls_disable(entry, dr, &fqdn, view, out);
    }
    if !resolves {
        let clients = view.export_to(entry).client_namespaces(&key.namespace);
        out.push(Finding::new(
            &catalog::MG0201,
            key,
            pointer("/spec/host"),
            format!(
                "host {fqdn} resolves to no Service or ServiceEntry visible from namespace {}: this rule applies to nothing",
                join(clients)
            ),
        ));
    }
}

/// MG0205: SIMPLE or MUTUAL TLS that istiod will not apply as written. Not
/// reported when sidecars never use the host's cluster because the mesh routes
/// it to an egress gateway (TLS origination there honours `credentialName`).
fn check_tls_origination(entry: &Entry, dr: &DestinationRuleSpec, view: &ClusterView, out: &mut Vec<Finding>) {
    let key = &entry.object.key;
    let via_gateway = || {
        dr.host.as_deref().is_some_and(|h| {
            let fqdn = host::resolve(h, &key.namespace, view.cluster_domain());
            super::egress::sidecars_route_via_gateway(&fqdn, view)
        })
    };
    for t in &dr.tls {
        let mode = t.mode.as_deref().unwrap_or("");
        if !matches!(mode, "SIMPLE" | "MUTUAL") {
            continue;
        }
        let why = match &t.credential_name {
            Some(cred) if !dr.has_workload_selector && !cred.starts_with("configmap://") => Some(format!(
                "credentialName {cred:?} in a DestinationRule without workloadSelector: istiod drops this whole TLS \
                 setting for sidecars, so their traffic to the host leaves in plaintext"
            )),
            _ if t.insecure_skip_verify => Some(
                "insecureSkipVerify: true: the server's certificate is not verified".to_string(),
            ),
            None if mode == "MUTUAL" && !t.client_cert_and_key => Some(
                "MUTUAL with neither credentialName nor clientCertificate and privateKey: istiod rejects these TLS settings"
                    .to_string(),
            ),
            _ => None,
        };
        if let Some(why) = why {
            if via_gateway() {
                return;
            }
            out.push(Finding::new(
                &catalog::MG0205,
                key,
                crate::model::fields::child(&t.pointer, "mode"),
                format!("TLS mode {mode}: {why}"),
            ));
        }
    }
}

/// MG0203: another rule for the same host in the same namespace, defining the
/// same subset, or (both without subsets or selectors) the same host. istiod merges
/// same-namespace rules; rules of different namespaces never compete, because its
/// lookup takes the client's namespace first (see `destination_rules_for`).
fn check_overlap(entry: &Entry, dr: &DestinationRuleSpec, fqdn: &str, view: &ClusterView, out: &mut Vec<Finding>) {
    let key = &entry.object.key;
    let mut others = Vec::new();
    for other in view.destination_rules_for_host(fqdn) {
        if other.object.key == *key {
            continue;
        }
        let crate::view::Parsed::DestinationRule(od) = &other.parsed else {
            continue;
        };
        if other.object.key.namespace != key.namespace || dr.has_workload_selector || od.has_workload_selector {
            continue;
        }
        let shared: Vec<&str> = dr
            .subsets
            .iter()
            .filter(|s| od.subsets.iter().any(|o| o.name == s.name))
            .map(|s| s.name.as_str())
            .collect();
        if !shared.is_empty() {
            others.push(format!(
                "{} (subset {})",
                other.object.key.qualified_name(),
                join(&shared)
            ));
        } else if dr.subsets.is_empty() && od.subsets.is_empty() {
            others.push(other.object.key.qualified_name());
        }
    }
    if !others.is_empty() {
        out.push(Finding::new(
            &catalog::MG0203,
            key,
            pointer("/spec/host"),
            format!("DestinationRule {} in the same namespace also covers {fqdn}: istiod merges them and keeps only one definition of what they share", join(&others)),
        ));
    }
}

/// What a DISABLE TLS setting reaches: each workload behind `fqdn` (narrowed to
/// the setting's subset) with the target port of each Service port it covers;
/// `None` as target port: a named target port.
/// A workload port a TLS `DISABLE` setting sends plaintext to.
pub(crate) struct DisabledTarget {
    pub workload: std::sync::Arc<Entry>,
    /// The Service port clients call (the cluster's port).
    pub service_port: u32,
    /// The workload's port; `None` for a named target port.
    pub target_port: Option<u32>,
}

pub(crate) fn disabled_tls_targets(
    dr: &DestinationRuleSpec,
    t: &TlsSetting,
    fqdn: &str,
    view: &ClusterView,
) -> Vec<DisabledTarget> {
    let subset_labels = t
        .subset
        .as_ref()
        .and_then(|name| dr.subsets.iter().find(|s| &s.name == name))
        .map(|s| s.labels.clone())
        .unwrap_or_default();
    let mut out = Vec::new();
    for svc in view.registry(fqdn) {
        let crate::view::Parsed::Service(s) = &svc.parsed else {
            continue;
        };
        if s.selector.is_empty() {
            continue;
        }
        let ports: Vec<(u32, Option<u32>)> = s
            .ports
            .iter()
            .filter(|sp| match t.port {
                Some(p) => sp.port == p,
                None => !t.overridden_ports.contains(&sp.port),
            })
            .map(|sp| {
                let target = match &sp.target_port {
                    None => Some(sp.port),
                    Some(TargetPort::Number(n)) => Some(*n),
                    Some(TargetPort::Name(_)) => None,
                };
                (sp.port, target)
            })
            .collect();
        if ports.is_empty() {
            continue;
        }
        let mut selector = s.selector.clone();
        selector.extend(subset_labels.clone());
        for w in view.workloads_matching(Some(&svc.object.key.namespace), &selector) {
            if w.workload.as_ref().is_some_and(|wl| wl.proxy.is_some()) {
                out.extend(ports.iter().map(|&(service_port, target_port)| DisabledTarget {
                    workload: w.clone(),
                    service_port,
                    target_port,
                }));
            }
        }
    }
    out
}

/// The workload ports a TLS `DISABLE` setting sends plaintext to that accept
/// only mTLS (STRICT at their target port, `portLevelMtls` included): their
/// proxies reset those connections. MG0204 and `meshgate explain` share it.
pub(crate) fn strict_plaintext_targets(
    dr: &DestinationRuleSpec,
    t: &TlsSetting,
    fqdn: &str,
    view: &ClusterView,
) -> Vec<DisabledTarget> {
    disabled_tls_targets(dr, t, fqdn, view)
        .into_iter()
        .filter(|target| {
            target.workload.workload.as_ref().is_some_and(|wl| {
                view.effective_mtls(&wl.namespace, &wl.labels).at(target.target_port) == Some("STRICT")
            })
        })
        .collect()
}

/// MG0204: TLS turned off toward workload ports that accept only mTLS (the
/// effective mode per target port, `portLevelMtls` included).
fn check_tls_disable(entry: &Entry, dr: &DestinationRuleSpec, fqdn: &str, view: &ClusterView, out: &mut Vec<Finding>) {
    for t in dr.tls.iter().filter(|t| t.mode.as_deref() == Some("DISABLE")) {
        let mut strict = BTreeSet::new();
        let mut clusters = BTreeSet::new();
        for target in strict_plaintext_targets(dr, t, fqdn, view) {
            let port = target.target_port.map(|p| format!(":{p}")).unwrap_or_default();
            strict.insert(format!("{}{port}", target.workload.object.key.qualified_name()));
            let subset = t.subset.as_deref().unwrap_or("");
            clusters.insert(envoy_names::outbound_cluster(target.service_port, subset, fqdn));
        }
        if strict.is_empty() {
            continue;
        }
        out.push(Finding::new(
            &catalog::MG0204,
            &entry.object.key,
            crate::model::fields::child(&t.pointer, "mode"),
            format!(
                "TLS DISABLE toward {fqdn}, whose workloads ({}) accept only mTLS there (STRICT PeerAuthentication): \
                 cluster {} sends plaintext, their proxies reset these connections, and clients see 503 (upstream connect error, UF/URX)",
                super::join_at_most(&strict, 5),
                super::join_at_most(&clusters, 5)
            ),
        ));
    }
}

/// Node labels a subset may use: matched against the labels of the Node a Pod
/// runs on (product.md §4), and not judged when the view holds no Nodes.
const TOPOLOGY_LABELS: &[&str] = &[
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "topology.istio.io/subzone",
    "kubernetes.io/hostname",
];

/// Whether a workload's endpoint carries the subset's `topology` labels, as
/// istiod labels endpoints: region/zone/subzone from the Pod's locality label
/// (`topology.istio.io/locality`, or the legacy `istio-locality`, `a.b.c`),
/// else from its Node's labels; `kubernetes.io/hostname` from `spec.nodeName`;
/// empty values set nothing. A key the endpoint lacks does not match. What
/// cannot be known (a template, a Pod not scheduled, a Node not in the view, no
/// Nodes at all without a locality label) counts as matching.
fn topology_matches(w: &Entry, topology: &BTreeMap<String, String>, view: &ClusterView) -> bool {
    let Some(wl) = w.workload.as_ref() else { return true };
    let locality = wl
        .labels
        .get("topology.istio.io/locality")
        .or_else(|| wl.labels.get("istio-locality"))
        .filter(|l| !l.is_empty());
    let node = wl.node.as_deref().and_then(|n| view.node_labels(n));
    topology.iter().all(|(k, want)| {
        let from_locality = |i: usize| locality.and_then(|l| l.split('.').nth(i)).filter(|v| !v.is_empty());
        let from_node = |key: &str| {
            node.and_then(|n| n.get(key))
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        let (have, knowable) = match k.as_str() {
            "topology.kubernetes.io/region" => (
                from_locality(0).or_else(|| from_node(k)),
                locality.is_some() || node.is_some(),
            ),
            "topology.kubernetes.io/zone" => (
                from_locality(1).or_else(|| from_node(k)),
                locality.is_some() || node.is_some(),
            ),
            "topology.istio.io/subzone" => (
                from_locality(2).or_else(|| from_node(k)),
                locality.is_some() || node.is_some(),
            ),
            "kubernetes.io/hostname" => (wl.node.as_deref().filter(|n| !n.is_empty()), wl.node.is_some()),
            _ => (None, false),
        };
        if !knowable || (locality.is_none() && node.is_none() && k != "kubernetes.io/hostname" && !view.has_nodes()) {
            return true;
        }
        have == Some(want.as_str())
    })
}

/// MG0202: a subset whose labels, with the Service's selector, select no workload.
fn check_subsets(entry: &Entry, dr: &DestinationRuleSpec, fqdn: &str, view: &ClusterView, out: &mut Vec<Finding>) {
    let services: Vec<_> = view
        .registry(fqdn)
        .filter_map(|e| match &e.parsed {
            crate::view::Parsed::Service(s) if !s.selector.is_empty() => {
                Some((e.object.key.namespace.clone(), s.selector.clone()))
            }
            _ => None,
        })
        .collect();
    if services.is_empty() {
        return; // ServiceEntries and selector-less Services: endpoints are not workloads here.
    }
    for s in &dr.subsets {
        let (topology, labels): (BTreeMap<String, String>, BTreeMap<String, String>) = s
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .partition(|(k, _)| TOPOLOGY_LABELS.contains(&k.as_str()));
        let selects = services.iter().any(|(ns, selector)| {
            let mut all = selector.clone();
            all.extend(labels.clone());
            let found = view
                .workloads_matching(Some(ns), &all)
                .any(|w| topology.is_empty() || topology_matches(w, &topology, view));
            // A remote cluster's workloads are endpoints of the host too
            // (istiod merges them); their nodes are not read, so topology
            // labels are not judged there.
            // A cluster-local host gets this cluster's endpoints only.
            found
                || (!crate::semantics::cluster_local::is_cluster_local(view.mesh(), fqdn, view.cluster_domain())
                    && view.remote_workloads_matching(ns, &all).next().is_some())
        });
        if !selects {
            out.push(Finding::new(
                &catalog::MG0202,
                &entry.object.key,
                crate::model::fields::child(&s.pointer, "labels"),
                format!(
                    "subset \"{}\" ({}) selects no workload behind {fqdn}: routes to it get no healthy upstream (503)",
                    s.name,
                    super::selector_text(&s.labels)
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::checks::testutil::*;

    #[test]
    fn mg0201_host_without_service() {
        let v = view(&[SVC_REVIEWS]);
        let f = codes(&check_yaml(&v, "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: default}\nspec:\n  host: ratings\n"));
        assert_eq!(f, [("MG0201".into(), "/spec/host".into())]);
        let ok = check_yaml(&v, "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: default}\nspec:\n  host: reviews\n");
        assert!(ok.is_empty(), "{ok:?}");
    }

    #[test]
    fn mg0201_wildcard_host_needs_some_host_under_it() {
        let v = view(&[SVC_REVIEWS]);
        let ok = check_yaml(&v, "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: default}\nspec:\n  host: \"*.default.svc.cluster.local\"\n");
        assert!(ok.is_empty(), "{ok:?}");
        let bad = check_yaml(&v, "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: default}\nspec:\n  host: \"*.other.svc.cluster.local\"\n");
        assert_eq!(codes(&bad), [("MG0201".into(), "/spec/host".into())]);
    }

    /// MG0205 as istiod applies TLS settings: a sidecar DestinationRule's
    /// credentialName drops the TLS block (plaintext); insecureSkipVerify; MUTUAL
    /// without any client certificate. An empty caCertificates is the system
    /// trust store since Istio 1.21: fine.
    #[test]
    fn mg0205_tls_istiod_will_not_apply_as_written() {
        let v = view(&[SVC_REVIEWS]);
        let dr = |tls: &str, extra: &str| {
            format!("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: r, namespace: default}}\nspec:\n  host: reviews\n{extra}  trafficPolicy:\n    tls: {tls}\n")
        };
        let mg = |doc: &str| -> Vec<(String, String)> {
            codes(&check_yaml(&v, doc))
                .into_iter()
                .filter(|(c, _)| c == "MG0205")
                .collect()
        };
        let at = [("MG0205".to_string(), "/spec/trafficPolicy/tls/mode".to_string())];
        let f = check_yaml(&v, &dr("{mode: SIMPLE, credentialName: reviews-ca}", ""));
        assert_eq!(codes(&f), at);
        assert!(f[0].message.contains("plaintext"), "{}", f[0].message);
        assert_eq!(f[0].severity, crate::finding::Severity::Warning);
        // With a workloadSelector (a gateway's rule) or a configmap:// reference: applied.
        assert!(mg(&dr(
            "{mode: SIMPLE, credentialName: reviews-ca}",
            "  workloadSelector: {matchLabels: {istio: egressgateway}}\n"
        ))
        .is_empty());
        assert!(mg(&dr("{mode: SIMPLE, credentialName: \"configmap://reviews-ca\"}", "")).is_empty());
        assert_eq!(mg(&dr("{mode: SIMPLE, insecureSkipVerify: true}", "")), at);
        assert_eq!(mg(&dr("{mode: MUTUAL}", "")), at);
        assert!(mg(&dr("{mode: MUTUAL, clientCertificate: /c, privateKey: /k}", "")).is_empty());
        // Plain SIMPLE, and an empty caCertificates: the system trust store verifies.
        assert!(mg(&dr("{mode: SIMPLE}", "")).is_empty());
        assert!(mg(&dr("{mode: SIMPLE, caCertificates: \"\"}", "")).is_empty());
        // Per port and per subset too.
        let nested = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: default}\nspec:\n  host: reviews\n  trafficPolicy:\n    portLevelSettings:\n    - port: {number: 9080}\n      tls: {mode: MUTUAL}\n  subsets:\n  - name: v1\n    labels: {version: v1}\n    trafficPolicy:\n      tls: {mode: SIMPLE, insecureSkipVerify: true}\n";
        assert_eq!(
            mg(nested),
            [
                (
                    "MG0205".to_string(),
                    "/spec/trafficPolicy/portLevelSettings/0/tls/mode".to_string()
                ),
                (
                    "MG0205".to_string(),
                    "/spec/subsets/0/trafficPolicy/tls/mode".to_string()
                )
            ]
        );
    }

    /// Istio's egress TLS-origination task: the mesh routes the external host to
    /// the egress gateway, whose rule originates TLS with credentialName. The
    /// sidecars never use the host's own cluster, so nothing is dropped for them.
    #[test]
    fn mg0205_not_when_sidecars_route_through_an_egress_gateway() {
        let se = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: cnn, namespace: default}\nspec:\n  hosts: [edition.cnn.com]\n  ports: [{number: 443, name: https, protocol: HTTPS}]\n  resolution: DNS\n";
        let egress_svc = "apiVersion: v1\nkind: Service\nmetadata: {name: istio-egressgateway, namespace: istio-system}\nspec:\n  selector: {istio: egressgateway}\n  ports: [{name: https, port: 443}]\n";
        let dr = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: originate, namespace: default}\nspec:\n  host: edition.cnn.com\n  trafficPolicy:\n    tls: {mode: MUTUAL, credentialName: client-credential}\n";
        let direct = view(&[se, egress_svc]);
        assert_eq!(check_yaml(&direct, dr).iter().filter(|f| f.code == "MG0205").count(), 1);
        let mesh_vs = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: via-egress, namespace: default}\nspec:\n  hosts: [edition.cnn.com]\n  gateways: [mesh, istio-system/egress]\n  http:\n  - match: [{gateways: [mesh], port: 80}]\n    route: [{destination: {host: istio-egressgateway.istio-system.svc.cluster.local, port: {number: 443}}}]\n  - match: [{gateways: [istio-system/egress], port: 443}]\n    route: [{destination: {host: edition.cnn.com, port: {number: 443}}}]\n";
        let via = view(&[se, egress_svc, mesh_vs]);
        assert!(check_yaml(&via, dr).iter().all(|f| f.code != "MG0205"));
    }

    #[test]
    fn mg0201_host_not_exported_to_the_rule() {
        let v = view(&[
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: private\n  namespace: other\n  annotations: {networking.istio.io/exportTo: \".\"}\nspec:\n  ports: [{port: 80}]\n",
        ]);
        let bad = check_yaml(&v, "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: default}\nspec:\n  host: private.other.svc.cluster.local\n");
        assert_eq!(codes(&bad), [("MG0201".into(), "/spec/host".into())]);
        let ok = check_yaml(&v, "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: other}\nspec:\n  host: private\n");
        assert!(ok.is_empty(), "{ok:?}");
    }

    /// Endpoint locality as istiod sets it: from the Pod's locality label (no
    /// Node needed), non-empty parts only; the hostname from spec.nodeName.
    #[test]
    fn mg0202_endpoint_locality_labels() {
        let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: r1, namespace: default, labels: {app: reviews, version: v1, topology.istio.io/locality: us-east1.us-east1-b}}\nspec: {nodeName: node-b}\n";
        let v = view(&[SVC_REVIEWS, pod]);
        let dr = |labels: &str| {
            format!("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: r, namespace: default}}\nspec:\n  host: reviews\n  subsets:\n  - {{name: s, labels: {{{labels}}}}}\n")
        };
        let judged = |labels: &str| codes(&check_yaml(&v, &dr(labels)));
        assert!(judged("topology.kubernetes.io/zone: us-east1-b").is_empty());
        assert!(judged("topology.kubernetes.io/region: us-east1, version: v1").is_empty());
        assert_eq!(judged("topology.kubernetes.io/zone: us-east1-c").len(), 1);
        // The locality has no subzone: a subset asking for one selects nothing.
        assert_eq!(judged("topology.istio.io/subzone: rack-1").len(), 1);
        // The hostname is the Node the Pod runs on, with or without Node objects.
        assert!(judged("kubernetes.io/hostname: node-b").is_empty());
        assert_eq!(judged("kubernetes.io/hostname: node-a").len(), 1);
    }

    #[test]
    fn mg0202_subset_without_workloads() {
        let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: r1, namespace: default, labels: {app: reviews, version: v1}}\n";
        let v = view(&[SVC_REVIEWS, pod]);
        let dr = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: default}\nspec:\n  host: reviews\n  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v2, labels: {version: v2}}\n  - {name: near, labels: {version: v1, topology.kubernetes.io/zone: a}}\n";
        let f = check_yaml(&v, dr);
        // No Nodes in the view: the zone label of `near` is not judged.
        assert_eq!(codes(&f), [("MG0202".into(), "/spec/subsets/1/labels".into())]);
        // With Nodes, the zone is the zone of the Node the Pod runs on.
        let scheduled = "apiVersion: v1\nkind: Pod\nmetadata: {name: r1, namespace: default, labels: {app: reviews, version: v1}}\nspec: {nodeName: node-b}\n";
        let node = |zone: &str| {
            format!("apiVersion: v1\nkind: Node\nmetadata:\n  name: node-b\n  labels: {{topology.kubernetes.io/zone: {zone}}}\n")
        };
        let elsewhere = view(&[SVC_REVIEWS, scheduled, &node("b")]);
        assert_eq!(
            codes(&check_yaml(&elsewhere, dr)),
            [
                ("MG0202".into(), "/spec/subsets/1/labels".into()),
                ("MG0202".into(), "/spec/subsets/2/labels".into())
            ]
        );
        let here = view(&[SVC_REVIEWS, scheduled, &node("a")]);
        assert_eq!(
            codes(&check_yaml(&here, dr)),
            [("MG0202".into(), "/spec/subsets/1/labels".into())]
        );
        // A Pod not scheduled yet (no nodeName) cannot be judged: it counts.
        let unscheduled = view(&[SVC_REVIEWS, pod, &node("b")]);
        assert_eq!(codes(&check_yaml(&unscheduled, dr)).len(), 1);
    }

    #[test]
    fn mg0204_tls_disable_toward_strict_workloads() {
        let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: r1, namespace: default, labels: {app: reviews}}\nspec: {containers: [{name: istio-proxy, image: istio/proxyv2:1.30.3}]}\n";
        let strict_mesh = "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: istio-system}\nspec: {mtls: {mode: STRICT}}\n";
        let permissive_here = "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: default}\nspec: {mtls: {mode: PERMISSIVE}}\n";
        let dr = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: default}\nspec:\n  host: reviews\n  trafficPolicy: {tls: {mode: DISABLE}}\n";
        let f = check_yaml(&view(&[SVC_REVIEWS, pod, strict_mesh]), dr);
        assert_eq!(codes(&f), [("MG0204".into(), "/spec/trafficPolicy/tls/mode".into())]);
        assert_eq!(f[0].severity, crate::finding::Severity::Error);
        assert!(f[0].message.contains("default/r1"), "{}", f[0].message);
        // The cluster `istioctl proxy-config clusters` shows without a transport socket.
        assert!(
            f[0].message
                .contains("cluster outbound|9080||reviews.default.svc.cluster.local sends plaintext"),
            "{}",
            f[0].message
        );
        // The namespace's PERMISSIVE policy beats the mesh's STRICT one; no policy is PERMISSIVE.
        assert!(check_yaml(&view(&[SVC_REVIEWS, pod, strict_mesh, permissive_here]), dr).is_empty());
        assert!(check_yaml(&view(&[SVC_REVIEWS, pod]), dr).is_empty());
        // A workload-level STRICT policy beats a PERMISSIVE namespace.
        let strict_workload = "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: reviews, namespace: default}\nspec:\n  selector: {matchLabels: {app: reviews}}\n  mtls: {mode: STRICT}\n";
        assert_eq!(
            codes(&check_yaml(
                &view(&[SVC_REVIEWS, pod, permissive_here, strict_workload]),
                dr
            ))
            .len(),
            1
        );
    }

    /// The port-level mTLS exception pattern: STRICT for the workload with one
    /// port (a metrics or legacy port) PERMISSIVE or DISABLE, and a rule turning
    /// TLS off for that port only. Valid; TLS off on any other port is not.
    #[test]
    fn mg0204_port_level_mtls_exception_is_valid() {
        let svc = "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: shop}\nspec:\n  selector: {app: api}\n  ports: [{name: http, port: 80, targetPort: 8080}, {name: http-metrics, port: 9090}]\n";
        let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: api-1, namespace: shop, labels: {app: api}}\nspec: {containers: [{name: istio-proxy, image: istio/proxyv2:1.30.3}]}\n";
        for exception in ["DISABLE", "PERMISSIVE"] {
            let pa = format!("apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {{name: api, namespace: shop}}\nspec:\n  selector: {{matchLabels: {{app: api}}}}\n  mtls: {{mode: STRICT}}\n  portLevelMtls:\n    9090: {{mode: {exception}}}\n");
            let v = view(&[svc, pod, &pa]);
            let on_exception_port = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: api, namespace: shop}\nspec:\n  host: api\n  trafficPolicy:\n    portLevelSettings:\n    - port: {number: 9090}\n      tls: {mode: DISABLE}\n";
            let f = check_yaml(&v, on_exception_port);
            assert!(f.is_empty(), "{exception}: {f:?}");
            // Port 80 (target 8080) stays STRICT: TLS off there breaks.
            let on_strict_port = on_exception_port.replace("number: 9090", "number: 80");
            let f = check_yaml(&v, &on_strict_port);
            assert_eq!(
                codes(&f),
                [(
                    "MG0204".into(),
                    "/spec/trafficPolicy/portLevelSettings/0/tls/mode".into()
                )],
                "{exception}"
            );
            assert!(
                f[0].message.contains("shop/api-1:8080") && f[0].message.contains("503"),
                "{}",
                f[0].message
            );
            // Top-level DISABLE with port 80 overridden back to ISTIO_MUTUAL: fine.
            let top_with_override = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: api, namespace: shop}\nspec:\n  host: api\n  trafficPolicy:\n    tls: {mode: DISABLE}\n    portLevelSettings:\n    - port: {number: 80}\n      tls: {mode: ISTIO_MUTUAL}\n";
            assert!(check_yaml(&v, top_with_override).is_empty(), "{exception}");
            // Top-level DISABLE alone reaches port 80 too.
            let top = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: api, namespace: shop}\nspec:\n  host: api\n  trafficPolicy:\n    tls: {mode: DISABLE}\n";
            assert_eq!(codes(&check_yaml(&v, top))[0].0, "MG0204", "{exception}");
        }
    }

    /// A subset's DISABLE reaches only the subset's workloads.
    #[test]
    fn mg0204_subset_tls_reaches_only_its_workloads() {
        let v1 = "apiVersion: v1\nkind: Pod\nmetadata: {name: r1, namespace: default, labels: {app: reviews, version: v1}}\nspec: {containers: [{name: istio-proxy, image: istio/proxyv2:1.30.3}]}\n";
        let v2 = v1.replace("r1", "r2").replace("version: v1", "version: v2");
        let strict_v2 = "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: v2, namespace: default}\nspec:\n  selector: {matchLabels: {version: v2}}\n  mtls: {mode: STRICT}\n";
        let v = view(&[SVC_REVIEWS, v1, &v2, strict_v2]);
        let dr = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: default}\nspec:\n  host: reviews\n  subsets:\n  - name: v1\n    labels: {version: v1}\n    trafficPolicy: {tls: {mode: DISABLE}}\n  - name: v2\n    labels: {version: v2}\n";
        assert!(check_yaml(&v, dr).is_empty());
        let to_v2 = dr.replace("labels: {version: v1}", "labels: {version: v2}");
        assert_eq!(
            codes(&check_yaml(&v, &to_v2))[0],
            ("MG0204".into(), "/spec/subsets/0/trafficPolicy/tls/mode".into())
        );
    }

    #[test]
    fn mg0203_two_rules_for_the_same_host_and_subset() {
        let a = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: a, namespace: default}\nspec:\n  host: reviews\n  subsets: [{name: v1, labels: {version: v1}}]\n";
        let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: r1, namespace: default, labels: {app: reviews, version: v1}}\n";
        let v = view(&[SVC_REVIEWS, pod, a]);
        let b = a
            .replace("name: a,", "name: b,")
            .replace("host: reviews", "host: reviews.default.svc.cluster.local");
        let f = check_yaml(&v, &b);
        assert_eq!(codes(&f), [("MG0203".into(), "/spec/host".into())]);
        assert!(f[0].message.contains("default/a (subset v1)"), "{}", f[0].message);
        assert!(check_yaml(&v, a).is_empty(), "itself");
        let other_subset = b.replace("name: v1, labels: {version: v1}", "name: v2, labels: {version: v1}");
        assert!(check_yaml(&v, &other_subset).is_empty());
        let private = b
            .replace("spec:\n", "spec:\n  exportTo: [\".\"]\n")
            .replace("namespace: default}", "namespace: other}");
        assert!(
            !codes(&check_yaml(&v, &private)).iter().any(|(c, _)| c == "MG0203"),
            "another namespace"
        );
    }
}
