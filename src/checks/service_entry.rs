//! ServiceEntry checks: MG0403.

use super::catalog;
use crate::finding::Finding;
use crate::model::fields::child;
use crate::model::service_entry::ServiceEntrySpec;
use crate::view::{ClusterView, Entry};

pub fn check(entry: &Entry, se: &ServiceEntrySpec, view: &ClusterView, out: &mut Vec<Finding>) {
    // MG0403: a TCP port needs an address to tell its traffic apart, unless
    // sidecars allocate one (DNS auto-allocation).
    if se.addresses.is_empty() && !view.mesh().dns_auto_allocate {
        for p in &se.ports {
            let protocol = p.protocol.as_deref().unwrap_or("");
            if protocol.is_empty() || protocol.eq_ignore_ascii_case("TCP") {
                let at = if protocol.is_empty() {
                    p.pointer.clone()
                } else {
                    child(&p.pointer, "protocol")
                };
                out.push(Finding::new(
                    &catalog::MG0403,
                    &entry.object.key,
                    at,
                    format!(
                        "port {} is {} and the ServiceEntry has no addresses: sidecars cannot tell its traffic from any other on port {}; add addresses or enable DNS auto-allocation",
                        p.number,
                        if protocol.is_empty() { "of no declared protocol" } else { "TCP" },
                        p.number
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::checks::testutil::*;

    fn se(extra: &str, protocol: &str) -> String {
        format!("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: db, namespace: default}}\nspec:\n  hosts: [db.example.com]\n{extra}  ports:\n  - {{number: 5432, name: pg{protocol}}}\n  resolution: DNS\n")
    }

    #[test]
    fn mg0403_tcp_port_without_addresses() {
        let v = view(&[]);
        assert_eq!(
            codes(&check_yaml(&v, &se("", ", protocol: TCP"))),
            [("MG0403".into(), "/spec/ports/0/protocol".into())]
        );
        assert_eq!(
            codes(&check_yaml(&v, &se("", ""))),
            [("MG0403".into(), "/spec/ports/0".into())]
        );
        assert!(check_yaml(&v, &se("  addresses: [10.1.2.3/32]\n", ", protocol: TCP")).is_empty());
        assert!(check_yaml(&v, &se("", ", protocol: HTTPS")).is_empty());
        let auto = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |\n    defaultConfig:\n      proxyMetadata:\n        ISTIO_META_DNS_AUTO_ALLOCATE: \"true\"\n";
        assert!(check_yaml(&view(&[auto]), &se("", ", protocol: TCP")).is_empty());
    }
}
