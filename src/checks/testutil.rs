//! Helpers for check unit tests: small views from YAML snippets.

use crate::finding::Finding;
use crate::manifest::parse_text;
use crate::view::{ClusterView, Entry, ViewSettings};

pub const SVC_REVIEWS: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: reviews, namespace: default}\nspec:\n  selector: {app: reviews}\n  ports: [{port: 9080, name: http}]\n";
pub const INGRESS_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: ingress-1\n  namespace: istio-system\n  labels: {istio: ingressgateway}\nspec:\n  containers: [{name: istio-proxy, image: docker.io/istio/proxyv2:1.30.3}]\n";

pub fn view(docs: &[&str]) -> ClusterView {
    let mut v = ClusterView::new(ViewSettings::default());
    for d in docs {
        for m in parse_text("test.yaml", d, "default").expect("test fixture parses") {
            v.apply(m.object);
        }
    }
    v
}

/// Checks one object (not added to the view, as at admission of a new object).
pub fn check_yaml(view: &ClusterView, doc: &str) -> Vec<Finding> {
    let mut m = parse_text("subject.yaml", doc, "default").expect("subject parses");
    assert_eq!(m.len(), 1, "one subject object");
    let entry = Entry::new(m.remove(0).object, view.settings());
    super::check(&entry, view)
}

/// `check_yaml` without findings of `code` (for tests about other codes of the same kind).
pub fn check_yaml_without(view: &ClusterView, doc: &str, code: &str) -> Vec<Finding> {
    let mut f = check_yaml(view, doc);
    f.retain(|f| f.code != code);
    f
}

/// (code, pointer) pairs, the part of a finding tests usually pin.
pub fn codes(findings: &[Finding]) -> Vec<(String, String)> {
    findings
        .iter()
        .map(|f| (f.code.to_string(), f.pointer.to_string()))
        .collect()
}
