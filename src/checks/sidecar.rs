//! Sidecar checks: MG0701–MG0704.

use std::collections::BTreeSet;

use super::{catalog, join};
use crate::finding::{pointer, Finding};
use crate::model::sidecar::SidecarSpec;
use crate::semantics::host;
use crate::view::{ClusterView, Entry, Parsed};

pub fn check(entry: &Entry, sc: &SidecarSpec, view: &ClusterView, out: &mut Vec<Finding>) {
    let key = &entry.object.key;
    let root = view.mesh().root_namespace.as_str();
    // MG0701: `namespace/host` egress entries naming what does not exist.
    for h in &sc.egress_hosts {
        let Some((ns, name)) = h.value.split_once('/') else {
            continue;
        };
        let ns = if ns == "." { key.namespace.as_str() } else { ns };
        let problem = if ns != "*" && ns != "~" && !view.namespace_exists(ns) {
            Some(format!("namespace \"{ns}\" does not exist"))
        } else if ns != "*" && ns != "~" && !name.starts_with('*') {
            let fqdn = host::resolve(name, ns, view.cluster_domain());
            let visible = view.registry(&fqdn).any(|e| e.object.key.namespace == ns);
            (!visible).then(|| format!("no Service or ServiceEntry in namespace {ns} declares host {fqdn}"))
        } else {
            None
        };
        if let Some(why) = problem {
            out.push(Finding::new(
                &catalog::MG0701,
                key,
                h.pointer.clone(),
                format!("egress host {:?}: {why}", h.value),
            ));
        }
    }
    match sc.selector() {
        None => {
            // MG0702: one default Sidecar per namespace.
            let others: Vec<String> = view
                .default_sidecars(&key.namespace)
                .filter(|o| o.object.key != *key)
                .map(|o| o.object.key.qualified_name())
                .collect();
            if !others.is_empty() {
                out.push(Finding::new(
                    &catalog::MG0702,
                    key,
                    pointer("/metadata/name"),
                    format!(
                        "another Sidecar without workloadSelector ({}) already applies to namespace {}: istiod picks one of them and ignores the other",
                        join(&others),
                        key.namespace
                    ),
                ));
            }
        }
        Some(sel) => {
            // MG0704: the mesh-wide default lives in the root namespace without a selector.
            if key.namespace == root {
                out.push(Finding::new(
                    &catalog::MG0704,
                    key,
                    pointer("/spec/workloadSelector"),
                    format!("a Sidecar in the root namespace {root} with a workloadSelector is not the mesh-wide default; drop the selector or move it"),
                ));
            }
            // MG0703: selects nothing, or a workload another Sidecar selects too.
            let mine: BTreeSet<_> = view
                .workloads_matching(Some(&key.namespace), sel)
                .map(|e| e.object.key.clone())
                .collect();
            if mine.is_empty() {
                out.push(Finding::new(
                    &catalog::MG0703,
                    key,
                    pointer("/spec/workloadSelector"),
                    "workloadSelector selects no workload: this Sidecar applies to nothing".to_string(),
                ));
            } else {
                let mut overlapping = Vec::new();
                for other in view.selecting_sidecars(&key.namespace).filter(|o| o.object.key != *key) {
                    let Parsed::Sidecar(os) = &other.parsed else { continue };
                    let Some(osel) = os.selector() else { continue };
                    if view
                        .workloads_matching(Some(&key.namespace), osel)
                        .any(|w| mine.contains(&w.object.key))
                    {
                        overlapping.push(other.object.key.qualified_name());
                    }
                }
                if !overlapping.is_empty() {
                    out.push(Finding::new(
                        &catalog::MG0703,
                        key,
                        pointer("/spec/workloadSelector"),
                        format!(
                            "selects workloads that Sidecar {} selects too: istiod applies only one",
                            join(&overlapping)
                        ),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::checks::testutil::*;

    const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web}}\nspec: {containers: [{name: istio-proxy, image: istio/proxyv2:1.30.3}]}\n";
    const SVC: &str =
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec:\n  ports: [{port: 80}]\n";

    fn sidecar(ns: &str, name: &str, spec: &str) -> String {
        format!("apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n{spec}")
    }

    #[test]
    fn mg0701_egress_hosts_that_do_not_exist() {
        let v = view(&[POD, SVC]);
        let f = check_yaml(&v, &sidecar("shop", "default", "  egress:\n  - hosts: [\"./*\", \"shop/web.shop.svc.cluster.local\", \"gone/*\", \"shop/ratings.shop.svc.cluster.local\", \"*/*\"]\n"));
        assert_eq!(
            codes(&f),
            [
                ("MG0701".into(), "/spec/egress/0/hosts/2".into()),
                ("MG0701".into(), "/spec/egress/0/hosts/3".into())
            ]
        );
    }

    #[test]
    fn mg0702_second_default_sidecar() {
        let first = sidecar("shop", "default", "  egress:\n  - hosts: [\"./*\"]\n");
        let v = view(&[POD, &first]);
        let f = check_yaml(&v, &sidecar("shop", "second", "  egress:\n  - hosts: [\"./*\"]\n"));
        assert_eq!(codes(&f), [("MG0702".into(), "/metadata/name".into())]);
        assert!(check_yaml(&v, &first).is_empty());
    }

    #[test]
    fn mg0703_selects_nothing_or_overlaps() {
        let a = sidecar("shop", "a", "  workloadSelector:\n    labels: {app: web}\n");
        let v = view(&[POD, &a]);
        let f = check_yaml(
            &v,
            &sidecar("shop", "b", "  workloadSelector:\n    labels: {app: nothing}\n"),
        );
        assert_eq!(codes(&f), [("MG0703".into(), "/spec/workloadSelector".into())]);
        let f = check_yaml(
            &v,
            &sidecar("shop", "b", "  workloadSelector:\n    labels: {app: web}\n"),
        );
        assert_eq!(codes(&f), [("MG0703".into(), "/spec/workloadSelector".into())]);
        assert!(f[0].message.contains("shop/a"), "{}", f[0].message);
        assert!(check_yaml(&v, &a).is_empty());
    }

    #[test]
    fn mg0704_root_namespace_sidecar_with_selector() {
        let root_pod = POD.replace("namespace: shop", "namespace: istio-system");
        let v = view(&[&root_pod]);
        let f = check_yaml(
            &v,
            &sidecar(
                "istio-system",
                "default",
                "  workloadSelector:\n    labels: {app: web}\n",
            ),
        );
        assert_eq!(codes(&f), [("MG0704".into(), "/spec/workloadSelector".into())]);
        assert!(check_yaml(
            &v,
            &sidecar("istio-system", "default", "  egress:\n  - hosts: [\"./*\"]\n")
        )
        .is_empty());
    }
}
