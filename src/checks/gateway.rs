//! Gateway checks: MG0301, MG0303, MG0305.

use super::catalog;
use crate::finding::{pointer, Finding};
use crate::model::gateway::GatewaySpec;
use crate::model::{Kind, ObjKey};
use crate::view::{ClusterView, Entry};

pub fn check(entry: &Entry, gw: &GatewaySpec, view: &ClusterView, out: &mut Vec<Finding>) {
    let key = &entry.object.key;
    if !gw.selector.is_empty() && view.workloads_matching(None, &gw.selector).next().is_none() {
        let sel: Vec<String> = gw.selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push(Finding::new(
            &catalog::MG0301,
            key,
            pointer("/spec/selector"),
            format!(
                "selector {{{}}} matches no gateway workload in any namespace: no proxy serves this Gateway",
                sel.join(",")
            ),
        ));
    }
    // MG0303: the TLS secret must live where the gateway proxies run.
    if !gw.selector.is_empty() {
        let namespaces: std::collections::BTreeSet<&str> = view
            .workloads_matching(None, &gw.selector)
            .map(|w| w.object.key.namespace.as_str())
            .collect();
        for (i, s) in gw.servers.iter().enumerate() {
            let Some(cred) = s.credential_name.as_deref().filter(|c| !c.is_empty()) else {
                continue;
            };
            let found = namespaces
                .iter()
                .any(|ns| view.get(&ObjKey::new(Kind::Secret, *ns, cred)).is_some());
            if !namespaces.is_empty() && !found {
                out.push(Finding::new(
                    &catalog::MG0303,
                    key,
                    pointer(&format!("/spec/servers/{i}/tls/credentialName")),
                    format!(
                        "credentialName {cred:?}: no such Secret in namespace {} where the gateway proxies run; TLS on this server will fail",
                        super::join(&namespaces)
                    ),
                ));
            }
        }
    }
    let bound = view
        .gateway_binders(&key.namespace, &key.name)
        .any(|vs| view.export_to(vs).visible_to(&key.namespace));
    if !bound {
        out.push(Finding::new(
            &catalog::MG0305,
            key,
            pointer("/metadata/name"),
            format!(
                "no VirtualService visible to namespace {} binds gateway {}: every request to it gets 404",
                key.namespace,
                key.qualified_name()
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::checks::testutil::*;

    const GW: &str = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: public, namespace: istio-system}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n";
    const VS: &str = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: bound, namespace: default}\nspec:\n  hosts: [\"*\"]\n  gateways: [istio-system/public]\n  http:\n  - route:\n    - destination: {host: reviews}\n";

    #[test]
    fn mg0301_selector_matches_no_workload() {
        let v = view(&[VS]);
        assert_eq!(codes(&check_yaml(&v, GW)), [("MG0301".into(), "/spec/selector".into())]);
        let v = view(&[VS, INGRESS_POD]);
        assert!(check_yaml(&v, GW).is_empty());
    }

    #[test]
    fn mg0301_counts_deployment_templates_in_file_mode() {
        let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: gw, namespace: ingress}\nspec:\n  template:\n    metadata:\n      labels: {istio: ingressgateway}\n    spec: {containers: [{name: istio-proxy, image: auto}]}\n";
        let v = view(&[VS, deploy]);
        assert!(check_yaml(&v, GW).is_empty());
    }

    #[test]
    fn mg0303_credential_secret_in_the_gateway_namespace() {
        let tls_gw = GW.replace(
            "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n",
            "  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [\"*\"]\n    tls: {mode: SIMPLE, credentialName: shop-cert}\n",
        );
        let v = view(&[VS, INGRESS_POD]);
        assert_eq!(
            codes(&check_yaml(&v, &tls_gw)),
            [("MG0303".into(), "/spec/servers/0/tls/credentialName".into())]
        );
        let wrong_ns =
            "apiVersion: v1\nkind: Secret\nmetadata: {name: shop-cert, namespace: default}\ntype: kubernetes.io/tls\n";
        assert_eq!(
            codes(&check_yaml(&view(&[VS, INGRESS_POD, wrong_ns]), &tls_gw)).len(),
            1
        );
        let right_ns = wrong_ns.replace("namespace: default", "namespace: istio-system");
        assert!(check_yaml(&view(&[VS, INGRESS_POD, &right_ns]), &tls_gw).is_empty());
    }

    #[test]
    fn mg0305_unbound_gateway_is_info() {
        let v = view(&[INGRESS_POD]);
        let f = check_yaml(&v, GW);
        assert_eq!(codes(&f), [("MG0305".into(), "/metadata/name".into())]);
        assert_eq!(f[0].severity, crate::finding::Severity::Info);
    }

    #[test]
    fn mg0305_binder_must_be_visible_to_the_gateway_namespace() {
        let hidden = VS.replace("  hosts:", "  exportTo: [\".\"]\n  hosts:");
        let v = view(&[INGRESS_POD, &hidden]);
        assert_eq!(codes(&check_yaml(&v, GW)), [("MG0305".into(), "/metadata/name".into())]);
    }
}
