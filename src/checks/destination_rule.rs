//! DestinationRule checks: MG0201.

use super::{catalog, join};
use crate::finding::{pointer, Finding};
use crate::model::destination_rule::DestinationRuleSpec;
use crate::semantics::host;
use crate::view::{ClusterView, Entry};

pub fn check(entry: &Entry, dr: &DestinationRuleSpec, view: &ClusterView, out: &mut Vec<Finding>) {
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
}
