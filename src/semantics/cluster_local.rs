//! Cluster-local hosts (multi-cluster meshes): istiod sends a proxy only its
//! own cluster's endpoints for them, whatever other clusters serve. As
//! `pilot/pkg/model/cluster_local.go`: MeshConfig `serviceSettings` with
//! `clusterLocal`, plus defaults (`*.kube-system.svc.<domain>`,
//! `kubernetes.default.svc.<domain>`, istiod's own host) that a
//! `clusterLocal: false` entry covering them removes; the most specific
//! match wins (an exact host before any wildcard, a longer wildcard first).

use crate::model::mesh_config::MeshConfig;

/// Whether istiod treats `host` as cluster-local.
pub fn is_cluster_local(mesh: &MeshConfig, host: &str, domain: &str) -> bool {
    let mut defaults: Vec<String> = vec![
        format!("*.kube-system.svc.{domain}"),
        format!("kubernetes.default.svc.{domain}"),
        format!("istiod.istio-system.svc.{domain}"),
    ];
    for (h, local) in &mesh.service_settings {
        if !local {
            defaults.retain(|d| !(h == d || (d.starts_with('*') && h.ends_with(&d[1..]))));
        }
    }
    let mut rules: Vec<(&str, bool)> = mesh.service_settings.iter().map(|(h, l)| (h.as_str(), *l)).collect();
    // Defaults come last: an explicit entry for the same pattern wins (istiod
    // inserts the defaults into the same maps after the settings).
    for d in &defaults {
        if !rules.iter().any(|(h, _)| h == d) {
            rules.push((d, true));
        }
    }
    if let Some((_, local)) = rules.iter().find(|(h, _)| *h == host) {
        return *local;
    }
    rules
        .iter()
        .filter(|(h, _)| h.starts_with('*') && (*h == "*" || host.ends_with(&h[1..])))
        .max_by_key(|(h, _)| h.len())
        .is_some_and(|(_, local)| *local)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mesh(text: &str) -> MeshConfig {
        MeshConfig::from_mesh_text(text).unwrap()
    }

    #[test]
    fn defaults_settings_and_their_overrides() {
        let d = MeshConfig::default();
        assert!(is_cluster_local(
            &d,
            "kube-dns.kube-system.svc.cluster.local",
            "cluster.local"
        ));
        assert!(is_cluster_local(
            &d,
            "kubernetes.default.svc.cluster.local",
            "cluster.local"
        ));
        assert!(!is_cluster_local(&d, "pay.shop.svc.cluster.local", "cluster.local"));
        let m = mesh("serviceSettings:\n- settings: {clusterLocal: true}\n  hosts: [\"*.shop.svc.cluster.local\"]\n- settings: {clusterLocal: false}\n  hosts: [pay.shop.svc.cluster.local, \"*.kube-system.svc.cluster.local\"]\n");
        assert!(is_cluster_local(&m, "cart.shop.svc.cluster.local", "cluster.local"));
        assert!(
            !is_cluster_local(&m, "pay.shop.svc.cluster.local", "cluster.local"),
            "exact beats wildcard"
        );
        assert!(
            !is_cluster_local(&m, "kube-dns.kube-system.svc.cluster.local", "cluster.local"),
            "a default removed"
        );
        let all = mesh("serviceSettings:\n- settings: {clusterLocal: true}\n  hosts: [\"*\"]\n");
        assert!(is_cluster_local(&all, "pay.shop.svc.cluster.local", "cluster.local"));
    }
}
