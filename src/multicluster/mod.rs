//! Multi-cluster meshes (product.md §4 "Multi-cluster meshes", issue #22): the
//! remote secrets through which meshgate, like istiod, reads other clusters'
//! service registries, and which findings a remote cluster can make wrong.
//! The view holds remote clusters' Services and workloads
//! (`ClusterView::apply_remote`); `live::remote` keeps them current.

pub mod remote_secret;

pub use remote_secret::{read, sanitize, RemoteCluster, RemoteSecret, RemoteSecretError};

use crate::finding::Finding;
use crate::model::Kind;
use crate::view::ClusterView;

/// Whether `finding` rests on a host (or its ports) being absent from the
/// registry, which a remote cluster may hold: its referent is the Service or
/// ServiceEntry that would declare it. (A Gateway API backend too: istiod
/// resolves it in the config cluster only, yet routes to its host, which a
/// remote cluster's Service makes work.)
pub fn rests_on_registry(finding: &Finding) -> bool {
    finding
        .referent
        .as_ref()
        .is_some_and(|r| matches!(r.kind(), Kind::Service | Kind::ServiceEntry))
}

/// Why an absence cannot be trusted now, if it cannot: the remote clusters
/// that are not synced (unreachable, or not listed yet), said after a finding
/// that is a warning for it.
pub fn unsynced_note(view: &ClusterView) -> Option<String> {
    let unsynced = view.unsynced_remotes();
    if unsynced.is_empty() {
        return None;
    }
    let named: Vec<String> = unsynced.iter().map(|(id, why)| format!("{id} ({why})")).collect();
    Some(format!(
        " (a warning, not a denial: remote cluster{} {} {} not synced and may serve it)",
        if named.len() == 1 { "" } else { "s" },
        named.join(", "),
        if named.len() == 1 { "is" } else { "are" },
    ))
}

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

    const SUBSET_DR: &str = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: pay, namespace: payments}\nspec:\n  host: pay.payments.svc.cluster.local\n  subsets:\n  - name: v2\n    labels: {version: v2}\n";
    const REMOTE_SELECTING_SVC: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: pay, namespace: payments}\nspec:\n  selector: {app: pay}\n  ports: [{name: http, port: 8080}]\n";
    const REMOTE_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: pay-v2, namespace: payments, labels: {app: pay, version: v2}}\nspec:\n  containers: [{name: app, image: pay}]\n";

    fn remote(v: &mut crate::view::ClusterView, text: &str) -> Vec<crate::view::reads::Topic> {
        parse_text("remote.yaml", text, "default")
            .unwrap()
            .into_iter()
            .flat_map(|m| v.apply_remote("west", m.object))
            .collect()
    }

    #[test]
    fn a_subset_whose_endpoints_live_in_a_remote_cluster_selects_workloads() {
        let mut v = view(&[]);
        remote(&mut v, REMOTE_SELECTING_SVC);
        let codes = |v: &crate::view::ClusterView| check_yaml(v, SUBSET_DR).iter().map(|f| f.code).collect::<Vec<_>>();
        assert_eq!(codes(&v), ["MG0202"], "no workload anywhere yet");
        let topics = remote(&mut v, REMOTE_POD);
        assert!(
            topics.contains(&crate::view::reads::Topic::Workloads(
                Some("payments".into()),
                Some(("app".into(), "pay".into()))
            )),
            "the audit re-checks subsets a remote workload enters: {topics:?}"
        );
        assert!(codes(&v).is_empty(), "{:?}", codes(&v));
    }

    #[test]
    fn remote_objects_leave_with_a_delete_a_relist_or_their_cluster() {
        let mut v = view(&[]);
        let codes = |v: &crate::view::ClusterView| check_yaml(v, VS).iter().map(|f| f.code).collect::<Vec<_>>();
        remote(&mut v, REMOTE_SVC);
        assert!(!codes(&v).contains(&"MG0102"));
        let key = crate::model::ObjKey::new(crate::model::Kind::Service, "payments", "pay");
        let topics = v.delete_remote("west", &key);
        assert!(topics.contains(&crate::view::reads::Topic::Host(
            "pay.payments.svc.cluster.local".into()
        )));
        assert!(codes(&v).contains(&"MG0102"));
        remote(&mut v, REMOTE_SVC);
        v.replace_remote("west", crate::model::Kind::Service, Vec::new());
        assert!(codes(&v).contains(&"MG0102"), "a re-list without it drops it");
        remote(&mut v, REMOTE_SVC);
        v.set_remote_sync("west", crate::view::RemoteSync::Synced);
        v.drop_remote_cluster("west");
        assert!(codes(&v).contains(&"MG0102"));
        assert!(
            v.remote_clusters().is_empty(),
            "a dropped cluster is forgotten, sync state too"
        );
    }

    #[test]
    fn a_new_cluster_is_unsynced_until_listed_and_only_registry_findings_rest_on_it() {
        let mut v = view(&[]);
        remote(&mut v, REMOTE_SVC);
        assert_eq!(v.unsynced_remotes(), [("west", "not listed yet")]);
        v.set_remote_sync("west", crate::view::RemoteSync::Synced);
        assert!(v.unsynced_remotes().is_empty());
        assert_eq!(super::unsynced_note(&v), None);
        let f = check_yaml(&view(&[]), VS);
        let mg0102 = f.iter().find(|f| f.code == "MG0102").unwrap();
        assert!(super::rests_on_registry(mg0102));
    }
}
