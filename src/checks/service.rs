//! Kubernetes Service as the mesh sees it: MG0801.

use super::catalog;
use crate::finding::Finding;
use crate::model::fields::{child, index};
use crate::model::service::ServiceSpec;
use crate::view::{ClusterView, Entry};

/// Istio's reserved ports (15021 status-port, 15090 prometheus, ...): the proxy
/// serves them itself.
const ISTIO_PORTS: std::ops::RangeInclusive<u32> = 15000..=15099;

fn named_protocol(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    crate::model::service::PROTOCOLS
        .iter()
        .any(|p| name == *p || name.strip_prefix(p).is_some_and(|rest| rest.starts_with('-')))
}

pub fn check(entry: &Entry, svc: &ServiceSpec, view: &ClusterView, out: &mut Vec<Finding>) {
    let key = &entry.object.key;
    // Istio's own Services (its system and root namespaces) are Istio's business.
    if svc.selector.is_empty() || key.namespace == "istio-system" || key.namespace == view.mesh().root_namespace {
        return;
    }
    // In the mesh: it selects at least one workload with a proxy.
    let meshed = view
        .workloads_matching(Some(&key.namespace), &svc.selector)
        .any(|w| w.workload.as_ref().is_some_and(|w| w.proxy.is_some()));
    if !meshed {
        return;
    }
    let ports_at = crate::finding::pointer("/spec/ports");
    for (i, p) in svc.ports.iter().enumerate() {
        if p.protocol
            .as_deref()
            .is_some_and(|pr| pr.eq_ignore_ascii_case("UDP") || pr.eq_ignore_ascii_case("SCTP"))
        {
            continue;
        }
        if p.app_protocol.as_deref().is_some_and(|a| !a.is_empty()) || ISTIO_PORTS.contains(&p.port) {
            continue;
        }
        if p.name.as_deref().is_some_and(named_protocol) {
            continue;
        }
        let at = index(&ports_at, i);
        let at = if p.name.is_some() { child(&at, "name") } else { at };
        out.push(Finding::new(
            &catalog::MG0801,
            key,
            at,
            format!(
                "port {} ({}) declares no protocol: name it <protocol>[-suffix] (http, grpc, tcp, ...) or set appProtocol, or istiod falls back to protocol sniffing",
                p.port,
                p.name.as_deref().map_or("unnamed".to_string(), |n| format!("name {n:?}"))
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::named_protocol;
    use crate::checks::testutil::*;

    const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web}}\nspec: {containers: [{name: istio-proxy, image: istio/proxyv2:1.30.3}]}\n";

    fn svc(ports: &str) -> String {
        format!("apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: shop}}\nspec:\n  selector: {{app: web}}\n  ports:\n{ports}")
    }

    #[test]
    fn protocol_names() {
        assert!(
            named_protocol("http")
                && named_protocol("http-web")
                && named_protocol("grpc-web")
                && named_protocol("TCP-db")
        );
        assert!(!named_protocol("web") && !named_protocol("httpx") && !named_protocol(""));
    }

    /// The ingress gateway's `status-port` 15021 and Istio's system namespace.
    #[test]
    fn mg0801_not_on_istio_ports_or_istio_namespaces() {
        let v = view(&[POD]);
        assert!(check_yaml(
            &v,
            &svc("  - {name: status-port, port: 15021}\n  - {name: metrics, port: 15090}\n")
        )
        .is_empty());
        assert_eq!(
            codes(&check_yaml(&v, &svc("  - {name: status-port, port: 15100}\n"))).len(),
            1
        );
        let gw_pod = POD.replace("namespace: shop", "namespace: istio-system");
        let istio_svc = svc("  - {name: web, port: 80}\n").replace("namespace: shop", "namespace: istio-system");
        assert!(check_yaml(&view(&[&gw_pod]), &istio_svc).is_empty());
    }

    #[test]
    fn mg0801_port_without_protocol_in_the_mesh() {
        let v = view(&[POD]);
        let f = check_yaml(&v, &svc("  - {name: web, port: 80}\n  - {port: 81}\n  - {name: http-api, port: 82}\n  - {name: x, port: 83, appProtocol: https}\n  - {name: dns, port: 53, protocol: UDP}\n"));
        assert_eq!(
            codes(&f),
            [
                ("MG0801".into(), "/spec/ports/0/name".into()),
                ("MG0801".into(), "/spec/ports/1".into())
            ]
        );
        assert_eq!(f[0].severity, crate::finding::Severity::Info);
        // Outside the mesh (no proxy behind it) there is nothing to say.
        let bare = POD
            .replace(", image: istio/proxyv2:1.30.3", ", image: web:1")
            .replace("name: istio-proxy", "name: web");
        assert!(check_yaml(&view(&[&bare]), &svc("  - {name: web, port: 80}\n")).is_empty());
    }
}
