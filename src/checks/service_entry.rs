//! ServiceEntry checks: MG0401–MG0405 (the egress path itself lives in `egress`).

use super::{catalog, join};
use crate::finding::pointer;
use crate::finding::Finding;
use crate::model::fields::child;
use crate::model::service_entry::ServiceEntrySpec;
use crate::semantics::host;
use crate::view::Parsed;
use crate::view::{ClusterView, Entry};

pub fn check(entry: &Entry, se: &ServiceEntrySpec, view: &ClusterView, out: &mut Vec<Finding>) {
    let key = &entry.object.key;
    if se.is_mesh_external() && !se.has_workload_selector {
        for h in &se.hosts {
            super::egress::check_external_host(key, &h.value, &h.pointer, view, out);
        }
    }
    // MG0404: the same host and port declared by another ServiceEntry that shares
    // a client namespace, with another protocol or as a plain duplicate.
    let mine = view.export_to(entry);
    for h in &se.hosts {
        let mut conflicts = Vec::new();
        for other in view.registry(&h.value) {
            let Parsed::ServiceEntry(os) = &other.parsed else {
                continue;
            };
            if other.object.key == *key || !view.export_to(other).overlaps(&mine) {
                continue;
            }
            for p in &se.ports {
                if let Some(op) = os.ports.iter().find(|op| op.number == p.number) {
                    let (a, b) = (
                        p.protocol.as_deref().unwrap_or(""),
                        op.protocol.as_deref().unwrap_or(""),
                    );
                    conflicts.push(if a.eq_ignore_ascii_case(b) {
                        format!(
                            "{} declares {}:{} too",
                            other.object.key.qualified_name(),
                            h.value,
                            p.number
                        )
                    } else {
                        format!(
                            "{} declares {}:{} as {}",
                            other.object.key.qualified_name(),
                            h.value,
                            p.number,
                            if b.is_empty() { "unset" } else { b }
                        )
                    });
                }
            }
        }
        if !conflicts.is_empty() {
            out.push(Finding::new(
                &catalog::MG0404,
                key,
                h.pointer.clone(),
                format!("{}: istiod merges or drops one of them", join(&conflicts)),
            ));
        }
    }
    // MG0405: resolution that cannot work with these hosts. (NONE with wildcard
    // hosts is a supported pass-through and not reported.)
    let wildcard = se.hosts.iter().any(|h| host::is_wildcard(&h.value));
    let bad = match se.resolution.as_deref() {
        Some("STATIC") if wildcard => Some("resolution STATIC with a wildcard host: there is no address to send to"),
        Some("DNS") if wildcard && se.endpoint_count == 0 => {
            Some("resolution DNS with a wildcard host and no endpoints: a wildcard cannot be resolved")
        }
        _ => None,
    };
    if let Some(why) = bad {
        out.push(Finding::new(
            &catalog::MG0405,
            key,
            pointer("/spec/resolution"),
            why.to_string(),
        ));
    }
    // MG0403: a TCP port needs an address to tell its traffic apart, unless
    // sidecars get one by DNS auto-allocation (as istiod 1.25+ decides it).
    if se.addresses.is_empty() && !auto_allocated(entry, se, view) {
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
                        "port {} is {} and the ServiceEntry has no addresses{}: sidecars cannot tell its traffic from any other on port {}; add addresses{}",
                        p.number,
                        if protocol.is_empty() { "of no declared protocol" } else { "TCP" },
                        if view.mesh().dns_capture { " and is not eligible for DNS auto-allocation" } else { "" },
                        p.number,
                        if view.mesh().dns_capture { "" } else { " or turn on DNS capture (ISTIO_META_DNS_CAPTURE)" },
                    ),
                ));
            }
        }
    }
}

/// Whether sidecars get an address for the entry by DNS auto-allocation: DNS
/// capture is on, resolution is not NONE, the entry does not opt out with
/// `networking.istio.io/enable-autoallocate-ip: "false"`, and no host is a
/// wildcard unless resolution is DYNAMIC_DNS. (`status.addresses` is not read:
/// the allocation takes effect only where sidecars capture DNS.)
fn auto_allocated(entry: &Entry, se: &ServiceEntrySpec, view: &ClusterView) -> bool {
    let resolution = se.resolution.as_deref().unwrap_or("NONE");
    let opted_out = entry
        .object
        .labels
        .get("networking.istio.io/enable-autoallocate-ip")
        .is_some_and(|v| v.eq_ignore_ascii_case("false"));
    let wildcard = se.hosts.iter().any(|h| host::is_wildcard(&h.value));
    view.mesh().dns_capture && resolution != "NONE" && !opted_out && (!wildcard || resolution == "DYNAMIC_DNS")
}

#[cfg(test)]
mod tests {
    use crate::checks::testutil::*;

    /// The findings these tests are about: the egress path (MG0402) has its own.
    fn check(v: &crate::view::ClusterView, doc: &str) -> Vec<crate::finding::Finding> {
        check_yaml_without(v, doc, "MG0402")
    }

    fn se(extra: &str, protocol: &str) -> String {
        format!("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: db, namespace: default}}\nspec:\n  hosts: [db.example.com]\n{extra}  ports:\n  - {{number: 5432, name: pg{protocol}}}\n  resolution: DNS\n")
    }

    #[test]
    fn mg0403_tcp_port_without_addresses() {
        let v = view(&[]);
        assert_eq!(
            codes(&check(&v, &se("", ", protocol: TCP"))),
            [("MG0403".into(), "/spec/ports/0/protocol".into())]
        );
        assert_eq!(
            codes(&check(&v, &se("", ""))),
            [("MG0403".into(), "/spec/ports/0".into())]
        );
        assert!(check(&v, &se("  addresses: [10.1.2.3/32]\n", ", protocol: TCP")).is_empty());
        assert!(check(&v, &se("", ", protocol: HTTPS")).is_empty());
        // DNS capture on: auto-allocation gives the entry an address...
        let capture = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |\n    defaultConfig:\n      proxyMetadata:\n        ISTIO_META_DNS_CAPTURE: \"true\"\n";
        let v = view(&[capture]);
        assert!(check(&v, &se("", ", protocol: TCP")).is_empty());
        // ...unless resolution is NONE, the entry opts out, or a host is a wildcard (not DYNAMIC_DNS).
        let none = se("", ", protocol: TCP").replace("resolution: DNS", "resolution: NONE");
        assert_eq!(codes(&check(&v, &none)).len(), 1);
        let opt_out = se("", ", protocol: TCP").replace(
            "namespace: default}",
            "namespace: default, labels: {networking.istio.io/enable-autoallocate-ip: \"False\"}}",
        );
        assert_eq!(codes(&check(&v, &opt_out)).len(), 1);
        let wildcard = se("", ", protocol: TCP").replace("[db.example.com]", "[\"*.db.example.com\"]");
        assert_eq!(
            codes(&check(&v, &wildcard)).iter().filter(|c| c.0 == "MG0403").count(),
            1
        );
        let dynamic = wildcard.replace("resolution: DNS", "resolution: DYNAMIC_DNS");
        assert!(check(&v, &dynamic).iter().all(|f| f.code != "MG0403"));
        // The pre-1.25 flag alone does nothing without DNS capture.
        let old_flag = capture.replace("ISTIO_META_DNS_CAPTURE", "ISTIO_META_DNS_AUTO_ALLOCATE");
        assert_eq!(codes(&check(&view(&[&old_flag]), &se("", ", protocol: TCP"))).len(), 1);
    }

    #[test]
    fn mg0404_same_host_and_port_twice() {
        let a = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: a, namespace: default}\nspec:\n  hosts: [api.example.com]\n  ports: [{number: 443, name: https, protocol: HTTPS}]\n  resolution: DNS\n";
        let v = view(&[a]);
        let b = a
            .replace("name: a,", "name: b,")
            .replace("protocol: HTTPS", "protocol: TLS")
            .replace("name: https", "name: tls");
        let f = check(&v, &b);
        assert_eq!(codes(&f), [("MG0404".into(), "/spec/hosts/0".into())]);
        assert!(
            f[0].message.contains("default/a declares api.example.com:443 as HTTPS"),
            "{}",
            f[0].message
        );
        let dup = a.replace("name: a,", "name: c,");
        assert!(check(&v, &dup)[0].message.contains("declares api.example.com:443 too"));
        // Itself, another port, or a disjoint exportTo scope: fine.
        assert!(check(&v, a).is_empty());
        assert!(check(&v, &dup.replace("number: 443", "number: 8443")).is_empty());
        assert!(check(&v, &dup.replace("spec:\n", "spec:\n  exportTo: [\"~\"]\n")).is_empty());
    }

    #[test]
    fn mg0405_resolution_that_cannot_work() {
        let v = view(&[]);
        let se = |res: &str, extra: &str| {
            format!("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: w, namespace: default}}\nspec:\n  hosts: [\"*.example.com\"]\n  addresses: [10.0.0.1]\n  ports: [{{number: 443, name: tls, protocol: TLS}}]\n  resolution: {res}\n{extra}")
        };
        assert_eq!(
            codes(&check(&v, &se("STATIC", ""))),
            [("MG0405".into(), "/spec/resolution".into())]
        );
        assert_eq!(
            codes(&check(&v, &se("DNS", ""))),
            [("MG0405".into(), "/spec/resolution".into())]
        );
        assert!(check(&v, &se("DNS", "  endpoints: [{address: lb.example.com}]\n")).is_empty());
        assert!(check(&v, &se("NONE", "")).is_empty());
    }
}
