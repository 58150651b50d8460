//! Multi-cluster meshes (product.md §4 "Multi-cluster meshes", issue #22): the
//! remote secrets through which meshgate, like istiod, reads other clusters'
//! service registries. This part reads and sanitises them; watching remote
//! clusters and merging their registries build on it.

pub mod remote_secret;

pub use remote_secret::{is_remote_secret, read, sanitize, RemoteCluster, RemoteSecret, RemoteSecretError};

#[cfg(test)]
mod tests {
    use crate::checks::testutil::{check_yaml, view};
    use crate::manifest::parse_text;

    const VS: &str = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: pay, namespace: shop}\nspec:\n  hosts: [pay.shop.svc.cluster.local]\n  http:\n  - route:\n    - destination: {host: pay.payments.svc.cluster.local, port: {number: 8080}}\n";
    const REMOTE_SVC: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: pay, namespace: payments}\nspec:\n  ports: [{name: http, port: 8080}]\n";

    #[test]
    fn a_host_only_a_remote_cluster_serves_is_a_valid_destination() {
        let local = view(&[]);
        let codes = |v: &crate::view::ClusterView| check_yaml(v, VS).iter().map(|f| f.code).collect::<Vec<_>>();
        assert!(codes(&local).contains(&"MG0102"), "{:?}", codes(&local));
        let mut merged = local.clone();
        for m in parse_text("remote.yaml", REMOTE_SVC, "default").unwrap() {
            merged.apply_remote("west", m.object);
        }
        assert!(!codes(&merged).contains(&"MG0102"), "{:?}", codes(&merged));
        assert_eq!(
            merged.remote_clusters_serving("pay.payments.svc.cluster.local"),
            vec!["west"]
        );
        // Its ports count too: a port the remote Service lacks is still MG0104.
        let wrong_port = VS.replace("number: 8080", "number: 9090");
        assert!(check_yaml(&merged, &wrong_port).iter().any(|f| f.code == "MG0104"));
    }
}
