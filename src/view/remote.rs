//! Remote clusters of a multi-cluster mesh, as the view holds them: their
//! Services (merged into the host registry by hostname, as istiod's aggregate
//! registry merges them) and their workloads (Pods: a subset's endpoints may
//! live only there), with each cluster's sync state. Istio configuration is
//! never read from a remote cluster (istiod reads it from the config cluster
//! only), so nothing else is kept.
//!
//! Persistent maps: the view is cloned on every write and shared as snapshots.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::entry::{Entry, ViewSettings};
use super::reads::{published, Topic};
use crate::model::workload::labels_match;
use crate::model::{Kind, ObjKey, Object};

/// Whether a remote cluster's objects in the view are its current state.
/// While not, the view keeps its last-known objects, and `why` is said in
/// warnings ("unreachable since 2026-12-07T05:12:03Z").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemoteSync {
    Synced,
    /// Not listed yet (added, or its secret rotated).
    Syncing {
        why: String,
    },
    /// Not answering now (its last-known objects, if any, are kept).
    Unreachable {
        why: String,
    },
}

/// Remote objects keyed by (cluster, object).
type ByCluster = imbl::OrdMap<(Arc<str>, ObjKey), Arc<Entry>>;

impl RemoteSync {
    /// The state as the metrics name it: `synced`, `syncing` or `unreachable`.
    pub fn state(&self) -> &'static str {
        match self {
            RemoteSync::Synced => "synced",
            RemoteSync::Syncing { .. } => "syncing",
            RemoteSync::Unreachable { .. } => "unreachable",
        }
    }

    /// Why the cluster is not synced (`None` when it is).
    pub fn why(&self) -> Option<&str> {
        match self {
            RemoteSync::Synced => None,
            RemoteSync::Syncing { why } | RemoteSync::Unreachable { why } => Some(why),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub(super) struct Remotes {
    clusters: imbl::OrdMap<Arc<str>, Cluster>,
    /// Host → its remote Services, keyed by (cluster, Service).
    hosts: imbl::HashMap<String, ByCluster>,
    /// Namespace → its remote workloads, keyed by (cluster, Pod).
    workloads: imbl::HashMap<String, ByCluster>,
}

#[derive(Clone, Debug)]
struct Cluster {
    objects: imbl::OrdMap<ObjKey, Arc<Entry>>,
    sync: RemoteSync,
}

/// Kinds read from remote clusters.
pub fn is_remote_kind(kind: Kind) -> bool {
    matches!(kind, Kind::Service | Kind::Pod)
}

impl Remotes {
    fn cluster(&mut self, id: &str) -> &mut Cluster {
        if !self.clusters.contains_key(id) {
            let fresh = Cluster {
                objects: imbl::OrdMap::new(),
                sync: RemoteSync::Syncing {
                    why: "not listed yet".to_string(),
                },
            };
            self.clusters.insert(Arc::from(id), fresh);
        }
        self.clusters.get_mut(id).expect("inserted above")
    }

    /// Adds or replaces one object of cluster `id`; returns the topics whose
    /// answers changed (for the audit). Kinds not read remotely are ignored.
    pub fn apply(&mut self, id: &str, object: Object, settings: &ViewSettings) -> Vec<Topic> {
        if !is_remote_kind(object.key.kind) {
            return Vec::new();
        }
        let entry = Arc::new(Entry::new(object, settings));
        let key = entry.object.key.clone();
        let mut topics = self.remove(id, &key, settings);
        let cluster: Arc<str> = self
            .clusters
            .get_key_value(id)
            .map_or_else(|| Arc::from(id), |(k, _)| k.clone());
        self.cluster(id).objects.insert(key.clone(), entry.clone());
        for h in entry.provided_hosts(&settings.cluster_domain) {
            self.hosts
                .entry(h)
                .or_default()
                .insert((cluster.clone(), key.clone()), entry.clone());
        }
        if entry.workload.is_some() {
            self.workloads
                .entry(key.namespace.clone())
                .or_default()
                .insert((cluster, key), entry.clone());
        }
        topics.extend(published(&entry, &settings.cluster_domain));
        topics
    }

    /// Removes one object of cluster `id`; returns the topics that changed.
    pub fn remove(&mut self, id: &str, key: &ObjKey, settings: &ViewSettings) -> Vec<Topic> {
        let Some(cluster) = self.clusters.get_mut(id) else {
            return Vec::new();
        };
        let Some(old) = cluster.objects.remove(key) else {
            return Vec::new();
        };
        let pair = (Arc::<str>::from(id), key.clone());
        for h in old.provided_hosts(&settings.cluster_domain) {
            if let Some(list) = self.hosts.get_mut(&h) {
                list.remove(&pair);
                if list.is_empty() {
                    self.hosts.remove(&h);
                }
            }
        }
        if let Some(list) = self.workloads.get_mut(&key.namespace) {
            list.remove(&pair);
            if list.is_empty() {
                self.workloads.remove(&key.namespace);
            }
        }
        published(&old, &settings.cluster_domain)
    }

    /// Replaces every object of `kind` of cluster `id` (a re-list).
    pub fn replace(&mut self, id: &str, kind: Kind, objects: Vec<Object>, settings: &ViewSettings) -> Vec<Topic> {
        let stale: Vec<ObjKey> = self
            .clusters
            .get(id)
            .map(|c| c.objects.keys().filter(|k| k.kind == kind).cloned().collect())
            .unwrap_or_default();
        let mut topics = Vec::new();
        for k in stale {
            topics.extend(self.remove(id, &k, settings));
        }
        for o in objects {
            topics.extend(self.apply(id, o, settings));
        }
        self.cluster(id);
        topics
    }

    /// Forgets cluster `id` entirely (its remote secret was deleted).
    pub fn drop_cluster(&mut self, id: &str, settings: &ViewSettings) -> Vec<Topic> {
        let keys: Vec<ObjKey> = self
            .clusters
            .get(id)
            .map(|c| c.objects.keys().cloned().collect())
            .unwrap_or_default();
        let mut topics = Vec::new();
        for k in keys {
            topics.extend(self.remove(id, &k, settings));
        }
        self.clusters.remove(id);
        topics
    }

    pub fn set_sync(&mut self, id: &str, sync: RemoteSync) {
        self.cluster(id).sync = sync;
    }

    /// Every remote cluster known, with its sync state.
    pub fn clusters(&self) -> BTreeMap<&str, &RemoteSync> {
        self.clusters.iter().map(|(id, c)| (&**id, &c.sync)).collect()
    }

    pub fn object_count(&self, id: &str, kind: Kind) -> usize {
        self.clusters
            .get(id)
            .map_or(0, |c| c.objects.keys().filter(|k| k.kind == kind).count())
    }

    pub fn services(&self, host: &str) -> impl Iterator<Item = (&Arc<str>, &Arc<Entry>)> {
        self.hosts
            .get(host)
            .into_iter()
            .flat_map(|m| m.iter().map(|((c, _), e)| (c, e)))
    }

    /// Every remote Service, with its cluster.
    pub fn all_services(&self) -> impl Iterator<Item = (&Arc<str>, &Arc<Entry>)> {
        self.clusters.iter().flat_map(|(id, c)| {
            c.objects
                .iter()
                .filter(|(k, _)| k.kind == Kind::Service)
                .map(move |(_, e)| (id, e))
        })
    }

    pub fn workloads_matching<'a>(
        &'a self,
        namespace: &str,
        selector: &'a BTreeMap<String, String>,
    ) -> impl Iterator<Item = (&'a Arc<str>, &'a Arc<Entry>)> + 'a {
        self.workloads
            .get(namespace)
            .into_iter()
            .flat_map(|m| m.iter().map(|((c, _), e)| (c, e)))
            .filter(move |(_, e)| e.workload.as_ref().is_some_and(|w| labels_match(selector, &w.labels)))
    }
}
