//! Gateway checks: MG0301, MG0305.

use super::catalog;
use crate::finding::{pointer, Finding};
use crate::model::gateway::GatewaySpec;
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
