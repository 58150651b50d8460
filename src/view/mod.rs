//! The cluster view (product.md §2): every object the checks may ask about, plus
//! indexes shaped for those questions, so that a review costs lookups, not scans.
//!
//! One code path for files and watches: `apply` and `delete` update the indexes
//! incrementally, touching only the entries of the object concerned.

mod entry;
mod index;
mod keyset;
mod map;
pub mod reads;
mod remote;
mod shared;

pub use entry::{Entry, Parsed, RegistryPort, ViewSettings};
pub use map::Storage;
pub use remote::{is_remote_kind, RemoteSync};
pub use shared::{Changes, SharedView};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::model::labels::LabelLookup;
use crate::model::mesh_config::MeshConfig;
use crate::model::proxy::{namespace_injection, Injection, Proxy};
use crate::model::workload::labels_match;
use crate::model::{Kind, ObjKey, Object};
use crate::semantics::export_to::ExportTo;
use crate::semantics::host;
use index::{Indexes, Keys};
use reads::{read, read_workloads, Topic};

/// Where to look for the MeshConfig ConfigMap first.
const DEFAULT_ISTIO_NAMESPACE: &str = "istio-system";

/// Control-plane revision → the versions its istiod Deployments/Pods run.
pub type ControlPlanes = BTreeMap<String, BTreeSet<Option<String>>>;

/// Control planes and revision tags, resolved once per query.
struct Revisions {
    planes: ControlPlanes,
    tags: BTreeMap<String, String>,
}

impl Revisions {
    /// A tag that is not itself a control plane's revision names the tag's revision.
    fn resolve(&self, label: String) -> String {
        match self.tags.get(&label) {
            Some(target) if !self.planes.contains_key(&label) => target.clone(),
            _ => label,
        }
    }
}

/// A proxy as checks see it, injection resolved.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ResolvedProxy {
    pub version: Option<String>,
    pub gateway: bool,
    pub revision: String,
}

/// `check --proxy-version V [--revision R]`: proxies judged as if they ran `version`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssumedProxyVersion {
    pub version: String,
    /// Only the proxies of this control-plane revision; `None`: all.
    pub revision: Option<String>,
}

/// Namespaces every cluster has, in file mode too.
pub const BUILTIN_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// `*` matches any run of characters (including none); everything else itself.
fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == text;
    };
    if parts.len() == 1 {
        return pattern == text;
    }
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    for m in middle {
        match rest.find(m) {
            Some(i) => rest = &rest[i + m.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// A workload's effective mTLS mode: one for every port, except the (target)
/// ports a `portLevelMtls` entry sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MtlsMode {
    pub mode: String,
    pub ports: BTreeMap<u32, String>,
}

impl MtlsMode {
    /// The mode on a target port; `None`: a named target port, which could be
    /// any of the port-level entries.
    pub fn at(&self, target_port: Option<u32>) -> Option<&str> {
        match target_port {
            Some(p) => Some(self.ports.get(&p).unwrap_or(&self.mode)),
            None if self.ports.is_empty() => Some(&self.mode),
            None => None,
        }
    }

    /// Whether every port has a mode for which `pred` holds.
    pub fn everywhere(&self, pred: impl Fn(&str) -> bool) -> bool {
        pred(&self.mode) && self.ports.values().all(|m| pred(m))
    }
}

/// Cheap to clone when its maps are persistent (`Storage::Persistent`, the
/// default): a clone shares all structure.
#[derive(Clone, Debug, Default)]
pub struct ClusterView {
    settings: ViewSettings,
    /// Keyed by the key the indexes share (one copy per object).
    objects: index::HashMap<Arc<ObjKey>, Arc<Entry>>,
    idx: Indexes,
    /// `kubernetes.default` (its FQDN and entry), answered when the view holds no
    /// such Service.
    builtin_service: Option<(String, Arc<Entry>)>,
    /// Names of the Namespace objects (patterns are matched against them).
    declared_namespaces: imbl::OrdSet<String>,
    /// An upgrade as a question: proxies (of one revision, or all) judged as if
    /// they ran this version (`check --proxy-version`).
    assumed_proxy_version: Option<AssumedProxyVersion>,
    mesh: MeshConfig,
    /// MeshConfig candidates by namespace of their `istio` ConfigMap.
    mesh_sources: BTreeMap<String, MeshConfig>,
    /// Namespaces that objects live in, with their object counts (file mode).
    object_namespaces: index::HashMap<String, usize>,
    /// Policy's `rootNamespace`, which beats MeshConfig's.
    root_override: Option<String>,
    /// Judge live Pods' ambient capture by istio-cni's label rules, not by its
    /// annotation: what a Namespace relabel will do once istio-cni acts.
    predict_ambient: bool,
    /// Services and workloads of remote clusters (a multi-cluster mesh:
    /// istiod merges registries by hostname): `registry` answers their
    /// Services too. Istio configuration is never read from them.
    remotes: remote::Remotes,
}

impl ClusterView {
    /// A view to share as snapshots (persistent maps).
    pub fn new(settings: ViewSettings) -> ClusterView {
        ClusterView::with_storage(settings, Storage::Persistent)
    }

    /// A view whose maps are stored as `storage` says: `Plain` for a view built
    /// once and only read (`check`), where cloning is rare and may copy all.
    pub fn with_storage(settings: ViewSettings, storage: Storage) -> ClusterView {
        // The API server's own Service exists in every cluster, in file mode too.
        let kubernetes = serde_json::json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default"},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 6443}]},
        });
        let builtin_service = Object::from_value(kubernetes, "default").ok().map(|o| {
            let fqdn = host::service_fqdn("kubernetes", "default", &settings.cluster_domain);
            (fqdn, Arc::new(Entry::new(o, &settings)))
        });
        ClusterView {
            builtin_service,
            settings,
            objects: index::HashMap::new(storage),
            idx: Indexes::new(storage),
            object_namespaces: index::HashMap::new(storage),
            ..ClusterView::default()
        }
    }

    pub fn settings(&self) -> &ViewSettings {
        &self.settings
    }

    pub fn cluster_domain(&self) -> &str {
        &self.settings.cluster_domain
    }

    pub fn mesh(&self) -> &MeshConfig {
        read(|| Topic::Mesh);
        &self.mesh
    }

    pub fn len(&self) -> usize {
        read(|| Topic::All);
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        read(|| Topic::All);
        self.objects.is_empty()
    }

    /// Object counts by kind, for metrics and logs.
    pub fn counts(&self) -> BTreeMap<Kind, usize> {
        read(|| Topic::All);
        let mut out = BTreeMap::new();
        for k in self.objects.keys() {
            *out.entry(k.kind).or_insert(0) += 1;
        }
        out
    }

    /// Adds or replaces an object. Returns the entry it replaced.
    pub fn apply(&mut self, object: Object) -> Option<Arc<Entry>> {
        let entry = Arc::new(Entry::new(object, &self.settings));
        self.apply_entry(entry)
    }

    pub fn apply_entry(&mut self, entry: Arc<Entry>) -> Option<Arc<Entry>> {
        let key = Arc::new(entry.object.key.clone());
        self.apply_keyed(key, entry)
    }

    /// `apply_entry` with the entry's key already shared: a caller that keeps
    /// the key too (check's definitions) shares the view's copy.
    pub fn apply_keyed(&mut self, key: Arc<ObjKey>, entry: Arc<Entry>) -> Option<Arc<Entry>> {
        // One map operation for the common case (a new object); a replaced
        // object's index entries leave before the new ones come.
        let old = self.objects.insert(key.clone(), entry.clone());
        if let Some(old) = &old {
            self.unindex(&key, old);
        }
        self.idx.add(&key, &entry, &self.settings.cluster_domain);
        match self.object_namespaces.get_mut(key.namespace.as_str()) {
            Some(n) => *n += 1,
            None => {
                self.object_namespaces.insert(key.namespace.clone(), 1);
            }
        }
        if key.kind == Kind::Namespace {
            self.declared_namespaces.insert(key.name.clone());
        }
        let is_mesh_config = if let Parsed::MeshConfig(mc) = &entry.parsed {
            self.mesh_sources.insert(key.namespace.clone(), (**mc).clone());
            true
        } else {
            false
        };
        if is_mesh_config {
            self.refresh_mesh();
        }
        old
    }

    /// Removes an object and its index entries.
    pub fn delete(&mut self, key: &ObjKey) -> Option<Arc<Entry>> {
        let old = self.objects.remove(key)?;
        self.unindex(&Arc::new(key.clone()), &old);
        Some(old)
    }

    /// Takes an object's contributions out of the indexes and counts.
    fn unindex(&mut self, key: &Arc<ObjKey>, old: &Arc<Entry>) {
        self.idx.remove(key, old, &self.settings.cluster_domain);
        if let Some(n) = self.object_namespaces.get_mut(&key.namespace) {
            *n -= 1;
            if *n == 0 {
                self.object_namespaces.remove(&key.namespace);
            }
        }
        if key.kind == Kind::Namespace {
            self.declared_namespaces.remove(&key.name);
        }
        if matches!(old.parsed, Parsed::MeshConfig(_)) {
            self.mesh_sources.remove(&key.namespace);
            self.refresh_mesh();
        }
    }

    /// The same view with proxies judged as if they ran another version (or as
    /// they run, with `None`). A cheap clone: proxies are resolved at query time.
    pub fn with_assumed_proxy_version(&self, assumed: Option<AssumedProxyVersion>) -> ClusterView {
        let mut v = self.clone();
        v.assumed_proxy_version = assumed;
        v
    }

    /// The same view judging ambient capture by labels (see `predict_ambient`).
    pub fn with_predicted_ambient(&self) -> ClusterView {
        let mut v = self.clone();
        v.predict_ambient = true;
        v
    }

    pub fn predicts_ambient(&self) -> bool {
        self.predict_ambient
    }

    pub fn assumed_proxy_version(&self) -> Option<&AssumedProxyVersion> {
        self.assumed_proxy_version.as_ref()
    }

    /// The same view with the root namespace fixed by policy instead of MeshConfig.
    pub fn with_root_namespace(&self, root: &str) -> ClusterView {
        let mut v = self.clone();
        v.root_override = Some(root.to_string());
        v.refresh_mesh();
        v
    }

    fn refresh_mesh(&mut self) {
        self.mesh = self
            .mesh_sources
            .get(DEFAULT_ISTIO_NAMESPACE)
            .or_else(|| self.mesh_sources.values().next())
            .cloned()
            .unwrap_or_default();
        if let Some(root) = &self.root_override {
            self.mesh.root_namespace = root.clone();
        }
    }

    pub fn get(&self, key: &ObjKey) -> Option<&Arc<Entry>> {
        read(|| Topic::Object(key.clone()));
        self.objects.get(key)
    }

    pub fn entries(&self) -> impl Iterator<Item = &Arc<Entry>> {
        read(|| Topic::All);
        self.objects.values()
    }

    pub fn namespace_exists(&self, ns: &str) -> bool {
        read(|| Topic::Namespaces);
        BUILTIN_NAMESPACES.contains(&ns)
            || self.declared_namespaces.contains(ns)
            || (self.settings.file_mode && self.object_namespaces.contains_key(ns))
    }

    /// Whether some existing namespace matches `pattern`, where `*` stands for any
    /// characters (AuthorizationPolicy `namespaces` patterns).
    pub fn namespace_matching(&self, pattern: &str) -> bool {
        read(|| Topic::Namespaces);
        let file_mode = self.settings.file_mode.then_some(&self.object_namespaces);
        BUILTIN_NAMESPACES.iter().copied().any(|n| glob_match(pattern, n))
            || self.declared_namespaces.iter().any(|n| glob_match(pattern, n))
            || file_mode.is_some_and(|m| m.keys().any(|n| !n.is_empty() && glob_match(pattern, n)))
    }

    /// Resolves an entry's `exportTo` with the MeshConfig default for its kind.
    pub fn export_to(&self, entry: &Entry) -> ExportTo {
        read(|| Topic::Mesh);
        let default: &[String] = match entry.object.key.kind {
            Kind::Service | Kind::ServiceEntry => &self.mesh.default_service_export_to,
            Kind::VirtualService => &self.mesh.default_virtual_service_export_to,
            Kind::DestinationRule => &self.mesh.default_destination_rule_export_to,
            _ => &[],
        };
        ExportTo::resolve(entry.export_to_entries(), default, &entry.object.key.namespace)
    }

    /// `registry` without remote clusters' Services.
    pub fn local_registry(&self, host: &str) -> impl Iterator<Item = &Arc<Entry>> {
        read(|| Topic::Host(host.to_string()));
        let declared = self.idx.hosts.get(host);
        let builtin = self
            .builtin_service
            .iter()
            .filter(|(fqdn, _)| declared.is_none() && fqdn == host)
            .map(|(_, e)| e)
            .next();
        self.lookup(declared).chain(builtin)
    }

    /// Services and ServiceEntries that declare exactly `host` (a wildcard host
    /// matches only the same wildcard), this cluster's and remote clusters'.
    pub fn registry(&self, host: &str) -> impl Iterator<Item = &Arc<Entry>> {
        let remote = self.remotes.services(host).map(|(_, e)| e);
        self.local_registry(host).chain(remote)
    }

    /// An object (Service or Pod) of remote cluster `cluster` (multi-cluster
    /// meshes): its host counts wherever a host is resolved, its workload
    /// wherever a subset's endpoints are. Other kinds are ignored. Returns the
    /// topics whose answers changed.
    pub fn apply_remote(&mut self, cluster: &str, object: Object) -> Vec<Topic> {
        self.remotes.apply(cluster, object, &self.settings)
    }

    pub fn delete_remote(&mut self, cluster: &str, key: &ObjKey) -> Vec<Topic> {
        self.remotes.remove(cluster, key, &self.settings)
    }

    /// Replaces every object of `kind` of a remote cluster (a re-list).
    pub fn replace_remote(&mut self, cluster: &str, kind: Kind, objects: Vec<Object>) -> Vec<Topic> {
        self.remotes.replace(cluster, kind, objects, &self.settings)
    }

    /// Forgets a remote cluster (its remote secret is gone).
    pub fn drop_remote_cluster(&mut self, cluster: &str) -> Vec<Topic> {
        self.remotes.drop_cluster(cluster, &self.settings)
    }

    pub fn set_remote_sync(&mut self, cluster: &str, sync: RemoteSync) {
        self.remotes.set_sync(cluster, sync);
    }

    /// Every remote cluster, with its sync state.
    pub fn remote_clusters(&self) -> BTreeMap<&str, &RemoteSync> {
        self.remotes.clusters()
    }

    /// Remote clusters whose objects may not be current, with why: while one
    /// is listed, nothing meshgate finds absent is known to be absent.
    pub fn unsynced_remotes(&self) -> Vec<(&str, &str)> {
        self.remotes
            .clusters()
            .into_iter()
            .filter_map(|(id, s)| s.why().map(|why| (id, why)))
            .collect()
    }

    pub fn remote_object_count(&self, cluster: &str, kind: Kind) -> usize {
        self.remotes.object_count(cluster, kind)
    }

    /// Every remote cluster's Services (explain's registry of a proxy).
    pub fn remote_services(&self) -> impl Iterator<Item = &Arc<Entry>> {
        read(|| Topic::Registry);
        self.remotes.all_services().map(|(_, e)| e)
    }

    /// The remote clusters that serve `host`.
    pub fn remote_clusters_serving(&self, host: &str) -> Vec<&str> {
        read(|| Topic::Host(host.to_string()));
        let mut out: Vec<&str> = self.remotes.services(host).map(|(c, _)| &**c).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Remote workloads of `namespace` whose labels include all of `selector`,
    /// with their cluster.
    pub fn remote_workloads_matching<'a>(
        &'a self,
        namespace: &'a str,
        selector: &'a BTreeMap<String, String>,
    ) -> impl Iterator<Item = (&'a Arc<str>, &'a Arc<Entry>)> + 'a {
        read_workloads(Some(namespace), selector.iter().next());
        self.remotes.workloads_matching(namespace, selector)
    }

    /// Wildcard registry hosts covering `host`, most specific first.
    pub fn covering_registry(&self, host: &str) -> Vec<(String, &Arc<Entry>)> {
        let mut out = Vec::new();
        for w in host::covering_wildcards(host) {
            read(|| Topic::Host(w.clone()));
            for e in self.lookup(self.idx.hosts.get(&w)) {
                out.push((w.clone(), e));
            }
        }
        out
    }

    /// Whether any registry host lies under wildcard `pattern` (`*.foo.com`).
    pub fn any_registry_under(&self, pattern: &str) -> bool {
        read(|| Topic::Registry);
        if self.idx.hosts.contains_key(pattern) {
            return true;
        }
        let Some(suffix) = pattern.strip_prefix("*.") else {
            return pattern == "*" && !self.idx.hosts.is_empty();
        };
        let prefix = format!("{}.", host::reversed(suffix));
        self.idx
            .reversed_hosts
            .range(prefix.clone()..)
            .next()
            .is_some_and(|h| h.starts_with(&prefix))
    }

    pub fn gateway(&self, namespace: &str, name: &str) -> Option<&Arc<Entry>> {
        self.get(&ObjKey::new(Kind::Gateway, namespace, name))
    }

    pub fn virtual_service(&self, namespace: &str, name: &str) -> Option<&Arc<Entry>> {
        self.get(&ObjKey::new(Kind::VirtualService, namespace, name))
    }

    /// VirtualServices that name Gateway `namespace/name` anywhere.
    pub fn gateway_binders(&self, namespace: &str, name: &str) -> impl Iterator<Item = &Arc<Entry>> {
        read(|| Topic::GatewayBinders(namespace.to_string(), name.to_string()));
        self.lookup(self.idx.gateway_binders.get(&(namespace.to_string(), name.to_string())))
    }

    /// VirtualServices whose `http[].delegate` names VirtualService `namespace/name`.
    pub fn delegators(&self, namespace: &str, name: &str) -> impl Iterator<Item = &Arc<Entry>> {
        read(|| Topic::Delegators(namespace.to_string(), name.to_string()));
        self.lookup(self.idx.delegators.get(&(namespace.to_string(), name.to_string())))
    }

    /// ReferenceGrants of a namespace.
    pub fn reference_grants_in(&self, namespace: &str) -> impl Iterator<Item = &Arc<Entry>> {
        read(|| Topic::ReferenceGrants(namespace.to_string()));
        self.lookup(self.idx.reference_grants.get(namespace))
    }

    /// BackendTLSPolicies of a namespace.
    pub fn backend_tls_policies_in(&self, namespace: &str) -> impl Iterator<Item = &Arc<Entry>> {
        read(|| Topic::BackendTlsPolicies(namespace.to_string()));
        self.lookup(self.idx.backend_tls_policies.get(namespace))
    }

    /// Gateway API routes naming Gateway API Gateway `namespace/name` as a parent
    /// (reverse index for impact analysis).
    pub fn k8s_gateway_routes(&self, namespace: &str, name: &str) -> impl Iterator<Item = &Arc<Entry>> {
        self.lookup(
            self.idx
                .k8s_gateway_routes
                .get(&(namespace.to_string(), name.to_string())),
        )
    }

    /// Gateway API routes naming ListenerSet `namespace/name` as a parent.
    pub fn listener_set_routes(&self, namespace: &str, name: &str) -> impl Iterator<Item = &Arc<Entry>> {
        self.lookup(
            self.idx
                .listener_set_routes
                .get(&(namespace.to_string(), name.to_string())),
        )
    }

    /// ListenerSets whose parent is Gateway API Gateway `namespace/name`.
    pub fn gateway_listener_sets(&self, namespace: &str, name: &str) -> impl Iterator<Item = &Arc<Entry>> {
        read(|| Topic::ListenerSetsOf(namespace.to_string(), name.to_string()));
        self.lookup(
            self.idx
                .gateway_listener_sets
                .get(&(namespace.to_string(), name.to_string())),
        )
    }

    /// Gateway API routes naming Service or ServiceEntry `namespace/name` as a
    /// parent or a backend (reverse index for impact analysis).
    pub fn service_routes(&self, namespace: &str, name: &str) -> impl Iterator<Item = &Arc<Entry>> {
        self.lookup(self.idx.service_routes.get(&(namespace.to_string(), name.to_string())))
    }

    /// Gateway API routes with a backend in `namespace` from another namespace.
    pub fn cross_namespace_routes(&self, namespace: &str) -> impl Iterator<Item = &Arc<Entry>> {
        self.lookup(self.idx.cross_namespace_routes.get(namespace))
    }

    /// Mesh-bound VirtualServices declaring host `fqdn`.
    pub fn mesh_virtual_services(&self, fqdn: &str) -> impl Iterator<Item = &Arc<Entry>> {
        read(|| Topic::Host(fqdn.to_string()));
        self.lookup(self.idx.mesh_vs_hosts.get(fqdn))
    }

    /// VirtualServices routing or mirroring to `fqdn` (reverse index for impact analysis).
    pub fn host_referrers(&self, fqdn: &str) -> impl Iterator<Item = &Arc<Entry>> {
        read(|| Topic::Host(fqdn.to_string()));
        self.lookup(self.idx.host_referrers.get(fqdn))
    }

    /// DestinationRules of any namespace whose (resolved) host is exactly `host`:
    /// one map lookup per namespace that has rules.
    pub fn destination_rules_for_host(&self, host: &str) -> Vec<&Arc<Entry>> {
        read(|| Topic::Host(host.to_string()));
        self.idx
            .drs
            .values()
            .flat_map(|per_ns| self.lookup(per_ns.get(host)))
            .collect()
    }

    /// DestinationRules in `namespace` whose host is exactly `host`.
    fn destination_rules_in(&self, namespace: &str, host: &str) -> Vec<&Arc<Entry>> {
        read(|| Topic::Host(host.to_string()));
        self.lookup(self.idx.drs.get(namespace).and_then(|m| m.get(host)))
            .collect()
    }

    /// The DestinationRules istiod applies for `host` from a client in `client_ns`
    /// (product.md §4): its own namespace first (whatever their exportTo), then the
    /// destination's namespaces, then the root namespace, each exported to the
    /// client; within a step the exact host beats the most specific wildcard, and
    /// rules for the same host in one namespace merge.
    pub fn destination_rules_for(
        &self,
        host: &str,
        client_ns: &str,
        destination_namespaces: &[String],
    ) -> Vec<&Arc<Entry>> {
        let root = self.mesh().root_namespace.as_str();
        let mut steps: Vec<(&str, bool)> = vec![(client_ns, false)];
        for ns in destination_namespaces {
            if ns != client_ns && !steps.iter().any(|(s, _)| s == ns) {
                steps.push((ns, true));
            }
        }
        if !steps.iter().any(|(s, _)| *s == root) {
            steps.push((root, true));
        }
        for (ns, must_export) in steps {
            let candidates = std::iter::once(host.to_string()).chain(host::covering_wildcards(host));
            for h in candidates {
                let found: Vec<&Arc<Entry>> = self
                    .destination_rules_in(ns, &h)
                    .into_iter()
                    .filter(|dr| !must_export || self.export_to(dr).visible_to(client_ns))
                    .collect();
                if !found.is_empty() {
                    return found;
                }
            }
        }
        Vec::new()
    }

    /// Workloads whose labels include all of `selector`, in `namespace` (or any
    /// namespace when `None`). An empty selector selects every workload in scope.
    pub fn workloads_matching<'a>(
        &'a self,
        namespace: Option<&'a str>,
        selector: &'a BTreeMap<String, String>,
    ) -> impl Iterator<Item = &'a Arc<Entry>> + 'a {
        // A workload that enters or leaves the answer carries every selector
        // label, so the first one is topic enough.
        read_workloads(namespace, selector.iter().next());
        let labelled = |k: &str, v: &str| self.idx.workloads_by_label.get(k).and_then(|values| values.get(v));
        let candidates: Box<dyn Iterator<Item = &Arc<ObjKey>>> =
            match selector.iter().min_by_key(|(k, v)| labelled(k, v).map_or(0, Keys::len)) {
                Some((k, v)) => match labelled(k, v) {
                    Some(set) => Box::new(set.iter()),
                    None => Box::new(std::iter::empty()),
                },
                None => Box::new(self.idx.workloads.iter()),
            };
        candidates
            .filter_map(|k| self.objects.get(k.as_ref()))
            .filter(move |e| {
                let Some(w) = &e.workload else { return false };
                namespace.is_none_or(|ns| w.namespace == ns) && labels_match(selector, &w.labels)
            })
    }

    /// A ServiceAccount exists when the view has it or a workload runs as it (in
    /// file mode ServiceAccounts are rarely among the manifests).
    pub fn service_account_exists(&self, namespace: &str, name: &str) -> bool {
        read_workloads(Some(namespace), None);
        self.get(&ObjKey::new(Kind::ServiceAccount, namespace, name)).is_some()
            || self
                .idx
                .service_accounts_in_use
                .get(namespace)
                .is_some_and(|accounts| accounts.contains_key(name))
    }

    /// Services of a namespace.
    pub fn services_in(&self, namespace: &str) -> impl Iterator<Item = &Arc<Entry>> {
        read(|| Topic::Services(namespace.to_string()));
        self.lookup(self.idx.services_by_ns.get(namespace))
    }

    /// The ports a gateway workload listens on for its Gateway servers: istiod
    /// binds a server's port to the `targetPort` of the Service port with that
    /// number, among the Services selecting the workload (a number kept as is
    /// when none maps it).
    pub fn gateway_target_ports(&self, namespace: &str, labels: &(impl LabelLookup + ?Sized)) -> BTreeMap<u32, u32> {
        let mut out = BTreeMap::new();
        for e in self.services_in(namespace) {
            let Parsed::Service(s) = &e.parsed else { continue };
            if s.selector.is_empty() || !labels_match(&s.selector, labels) {
                continue;
            }
            for p in &s.ports {
                let target = match &p.target_port {
                    Some(crate::model::service::TargetPort::Number(n)) => *n,
                    _ => p.port,
                };
                out.entry(p.port).or_insert(target);
            }
        }
        out
    }

    /// Gateways with a server on `port` whose host (a `namespace/host` server host)
    /// can name a common host with `server_host`: the same host, a wildcard
    /// covering it, or (for a wildcard) a host under it. Range lookups, no scan.
    pub fn gateways_serving(&self, port: u32, server_host: &str) -> Vec<&Arc<Entry>> {
        read(|| Topic::Gateways);
        let Some(set) = self.idx.gateway_hosts.get(&port) else {
            return Vec::new();
        };
        let h = index::server_host(server_host);
        let floor = Arc::new(ObjKey::new(Kind::Gateway, "", ""));
        let mut keys: BTreeSet<&Arc<ObjKey>> = BTreeSet::new();
        // Exactly this host, or a wildcard covering it.
        for pattern in std::iter::once(h.to_string()).chain(host::covering_wildcards(h)) {
            let rev = host::reversed(&pattern);
            for (r, k) in set.range((rev.clone(), floor.clone())..) {
                if *r != rev {
                    break;
                }
                keys.insert(k);
            }
        }
        // For a wildcard, every host under it.
        if h == "*" {
            keys.extend(set.iter().map(|(_, k)| k));
        } else if let Some(suffix) = h.strip_prefix("*.") {
            let prefix = format!("{}.", host::reversed(suffix));
            for (r, k) in set.range((prefix.clone(), floor.clone())..) {
                if !r.starts_with(&prefix) {
                    break;
                }
                keys.insert(k);
            }
        }
        keys.into_iter().filter_map(|k| self.objects.get(k.as_ref())).collect()
    }

    /// Gateways serving `server_host` (as `gateways_serving` matches it) on any port.
    pub fn gateways_serving_host(&self, server_host: &str) -> Vec<&Arc<Entry>> {
        read(|| Topic::Gateways);
        let mut out: Vec<&Arc<Entry>> = Vec::new();
        for port in self.idx.gateway_hosts.keys() {
            for g in self.gateways_serving(*port, server_host) {
                if !out.iter().any(|o| Arc::ptr_eq(o, g)) {
                    out.push(g);
                }
            }
        }
        out.sort_by(|a, b| a.object.key.cmp(&b.object.key));
        out
    }

    /// Whether a RequestAuthentication applies to a workload: one of its namespace
    /// selecting it or namespace-wide, or one of the root namespace (mesh-wide, or
    /// selecting it in any namespace).
    pub fn request_authentication_for(
        &self,
        workload_namespace: &str,
        labels: &(impl LabelLookup + ?Sized),
    ) -> Option<&Arc<Entry>> {
        let applies = |e: &&Arc<Entry>| match &e.parsed {
            Parsed::Security(s) => {
                !s.has_target_refs && s.selector.as_ref().is_none_or(|sel| labels_match(sel, labels))
            }
            _ => false,
        };
        read(|| Topic::RequestAuthentications(workload_namespace.to_string()));
        let root = &self.mesh().root_namespace;
        read(|| Topic::RequestAuthentications(root.clone()));
        self.lookup(self.idx.request_auth.get(workload_namespace))
            .find(applies)
            .or_else(|| self.lookup(self.idx.request_auth.get(root)).find(applies))
    }

    /// Whether the mesh shows any sign of sending traffic through egress
    /// gateways: outbound policy REGISTRY_ONLY, a workload with an egress gateway
    /// label, or a Gateway selecting one.
    pub fn uses_egress_gateways(&self) -> bool {
        read(|| Topic::Gateways);
        for (k, v) in index::EGRESS_GATEWAY_LABELS {
            read(|| Topic::Workloads(None, Some((k.to_string(), v.to_string()))));
        }
        !self.mesh().outbound_allow_any
            || self.idx.egress_gateway_selectors > 0
            || index::EGRESS_GATEWAY_LABELS.iter().any(|(k, v)| {
                self.idx
                    .workloads_by_label
                    .get(*k)
                    .and_then(|values| values.get(*v))
                    .is_some_and(|s| !s.is_empty())
            })
    }

    /// Gateways with a server of `class` on `port`.
    pub fn gateways_on_port(
        &self,
        port: u32,
        class: crate::model::gateway::ServerClass,
    ) -> impl Iterator<Item = &Arc<Entry>> {
        read(|| Topic::Gateways);
        self.lookup(self.idx.gateway_port_classes.get(&(port, class)))
    }

    /// The Services, ServiceEntries and Namespaces whose `istio.io/use-waypoint`
    /// names Gateway `namespace/name`.
    pub fn waypoint_users(&self, namespace: &str, name: &str) -> impl Iterator<Item = &Arc<Entry>> {
        read(|| Topic::WaypointUsers(namespace.to_string(), name.to_string()));
        self.lookup(self.idx.waypoint_users.get(&(namespace.to_string(), name.to_string())))
    }

    /// The workloads of a namespace.
    pub fn workloads_in(&self, namespace: &str) -> impl Iterator<Item = &Arc<Entry>> {
        read_workloads(Some(namespace), None);
        self.lookup(self.idx.workloads_by_ns.get(namespace))
    }

    /// Where ambient workloads can be: every workload of a namespace labelled
    /// ambient, and workloads opted in by label or captured by istio-cni.
    pub fn ambient_candidates(&self) -> impl Iterator<Item = &Arc<Entry>> {
        read_workloads(None, None);
        read(|| Topic::Namespaces);
        let namespaces = self
            .lookup(Some(&self.idx.ambient_namespaces))
            .flat_map(move |ns| self.lookup(self.idx.workloads_by_ns.get(&ns.object.key.name)));
        namespaces.chain(self.lookup(Some(&self.idx.ambient_opt_ins)))
    }

    /// A namespace's labels as Kubernetes gives them (the API server adds
    /// `kubernetes.io/metadata.name`), for namespace selectors.
    pub fn namespace_labels(&self, ns: &str) -> BTreeMap<String, String> {
        let mut labels: BTreeMap<String, String> = self
            .get(&ObjKey::new(Kind::Namespace, "", ns))
            .map(|e| e.object.labels.clone())
            .unwrap_or_default();
        labels.insert("kubernetes.io/metadata.name".to_string(), ns.to_string());
        labels
    }

    /// The AuthorizationPolicies of a namespace.
    pub fn authorization_policies_in(&self, namespace: &str) -> impl Iterator<Item = &Arc<Entry>> {
        read(|| Topic::AuthorizationPolicies(namespace.to_string()));
        self.lookup(self.idx.authorization_policies.get(namespace))
    }

    /// The RequestAuthentications of a namespace.
    pub fn request_authentications_in(&self, namespace: &str) -> impl Iterator<Item = &Arc<Entry>> {
        read(|| Topic::RequestAuthentications(namespace.to_string()));
        self.lookup(self.idx.request_auth.get(namespace))
    }

    /// Gateway API Gateways and ListenerSets whose listeners name Secret
    /// `namespace/name` as a certificate.
    pub fn certificate_users(&self, namespace: &str, name: &str) -> impl Iterator<Item = &Arc<Entry>> {
        read(|| Topic::CertificateUsers(namespace.to_string(), name.to_string()));
        self.lookup(
            self.idx
                .certificate_users
                .get(&(namespace.to_string(), name.to_string())),
        )
    }

    /// Gateways whose servers use TLS credential `name`.
    pub fn gateways_with_credential(&self, name: &str) -> impl Iterator<Item = &Arc<Entry>> {
        read(|| Topic::Gateways);
        self.lookup(self.idx.gateway_credentials.get(name))
    }

    /// Sidecars of a namespace without a workloadSelector.
    pub fn default_sidecars(&self, namespace: &str) -> impl Iterator<Item = &Arc<Entry>> {
        read(|| Topic::Sidecars(namespace.to_string()));
        self.lookup(self.idx.sidecars_default.get(namespace))
    }

    /// Sidecars of a namespace with a workloadSelector.
    pub fn selecting_sidecars(&self, namespace: &str) -> impl Iterator<Item = &Arc<Entry>> {
        read(|| Topic::Sidecars(namespace.to_string()));
        self.lookup(self.idx.sidecars_selecting.get(namespace))
    }

    /// Selector-less PeerAuthentications of a namespace.
    pub fn namespace_wide_peer_authentications(&self, namespace: &str) -> impl Iterator<Item = &Arc<Entry>> {
        read(|| Topic::PeerAuthentications(namespace.to_string()));
        self.lookup(self.idx.namespace_wide_peer_auth.get(namespace))
    }

    /// PeerAuthentications of a namespace with a selector.
    pub fn selecting_peer_authentications(&self, namespace: &str) -> impl Iterator<Item = &Arc<Entry>> {
        read(|| Topic::PeerAuthentications(namespace.to_string()));
        self.lookup(self.idx.selecting_peer_auth.get(namespace))
    }

    /// DestinationRules that set TLS mode DISABLE somewhere.
    pub fn tls_disabling_destination_rules(&self) -> impl Iterator<Item = &Arc<Entry>> {
        read(|| Topic::TlsDisablingRules);
        self.lookup(Some(&self.idx.tls_disabling_drs))
    }

    /// The mTLS mode that applies to a workload, as istiod resolves it: a
    /// PeerAuthentication selecting it, else its namespace's, else the mesh's
    /// (root namespace); PERMISSIVE when none sets a mode. The selecting policy's
    /// `portLevelMtls` entries override the mode on their (target) ports.
    pub fn effective_mtls(&self, workload_namespace: &str, labels: &(impl LabelLookup + ?Sized)) -> MtlsMode {
        let mode_of = |e: &Arc<Entry>| match &e.parsed {
            Parsed::Security(s) => s.mtls_mode.clone().filter(|m| m != "UNSET"),
            _ => None,
        };
        let selecting = self
            .selecting_peer_authentications(workload_namespace)
            .find(|e| match &e.parsed {
                Parsed::Security(s) => s.selector.as_ref().is_some_and(|sel| labels_match(sel, labels)),
                _ => false,
            });
        let mode = selecting
            .and_then(mode_of)
            .or_else(|| {
                self.namespace_wide_peer_authentications(workload_namespace)
                    .find_map(mode_of)
            })
            .or_else(|| {
                self.namespace_wide_peer_authentications(&self.mesh().root_namespace)
                    .find_map(mode_of)
            })
            .unwrap_or_else(|| "PERMISSIVE".to_string());
        let ports = match selecting.map(|e| &e.parsed) {
            Some(Parsed::Security(s)) => s
                .port_level_mtls
                .iter()
                .filter(|(_, m)| m.as_str() != "UNSET")
                .map(|(p, m)| (*p, m.clone()))
                .collect(),
            _ => BTreeMap::new(),
        };
        MtlsMode { mode, ports }
    }

    /// Installed control planes: revision → versions (a version is `None` when its
    /// image has no tag).
    pub fn control_planes(&self) -> ControlPlanes {
        read(|| Topic::ControlPlanes);
        let mut out: BTreeMap<String, BTreeSet<Option<String>>> = BTreeMap::new();
        for (rev, keys) in &self.idx.control_planes {
            for e in self.lookup(Some(keys)) {
                if let Some(cp) = &e.control_plane {
                    out.entry(rev.clone()).or_default().insert(cp.version.clone());
                }
            }
        }
        out
    }

    /// Every control plane the view knows (istiod Deployments and Pods).
    pub fn control_plane_list(&self) -> Vec<&crate::model::proxy::ControlPlane> {
        read(|| Topic::ControlPlanes);
        self.idx
            .control_planes
            .values()
            .flat_map(|keys| self.lookup(Some(keys)))
            .filter_map(|e| e.control_plane.as_deref())
            .collect()
    }

    /// Whether the view holds any Node (else Node labels cannot be judged).
    pub fn has_nodes(&self) -> bool {
        read(|| Topic::Nodes);
        !self.idx.nodes.is_empty()
    }

    /// The labels of Node `name`, if the view has it.
    pub fn node_labels(&self, name: &str) -> Option<&BTreeMap<String, String>> {
        read(|| Topic::Nodes);
        self.objects
            .get(&ObjKey::new(Kind::Node, "", name))
            .map(|e| &e.object.labels)
    }

    /// Revision tags: tag → the revision it points at.
    pub fn revision_tags(&self) -> BTreeMap<String, String> {
        read(|| Topic::ControlPlanes);
        let mut out = BTreeMap::new();
        for keys in self.idx.revision_tags.values() {
            for e in self.lookup(Some(keys)) {
                if let Some((tag, rev)) = crate::model::proxy::revision_tag(&e.object.labels) {
                    out.insert(tag, rev);
                }
            }
        }
        out
    }

    /// The control-plane revisions that namespaces' labels send new workloads
    /// to (`istio.io/rev`, a revision tag resolved; `istio-injection: enabled`
    /// is the default revision): of `namespace`, or of every namespace.
    pub fn injection_revisions(&self, namespace: Option<&str>) -> BTreeSet<String> {
        read(|| Topic::ControlPlanes);
        let known = self.revisions();
        let of = |e: &Arc<Entry>| namespace_injection(&e.object.labels).map(|l| known.resolve(l));
        match namespace {
            Some(ns) => self
                .objects
                .get(&ObjKey::new(Kind::Namespace, "", ns))
                .and_then(of)
                .into_iter()
                .collect(),
            None => self
                .declared_namespaces
                .iter()
                .filter_map(|ns| self.objects.get(&ObjKey::new(Kind::Namespace, "", ns)))
                .filter_map(of)
                .collect(),
        }
    }

    /// A revision label (`istio.io/rev`) as injection follows it: a revision tag
    /// that is not itself a control plane's revision names the tag's revision.
    pub fn resolve_revision_label(&self, label: &str) -> String {
        read(|| Topic::ControlPlanes);
        self.revisions().resolve(label.to_string())
    }

    fn revisions(&self) -> Revisions {
        Revisions {
            planes: self.control_planes(),
            tags: self.revision_tags(),
        }
    }

    /// What a proxy resolves to once injection is accounted for: its version and
    /// revision, or `None` when the workload gets no proxy (its namespace does not
    /// inject). An `istio.io/rev` value that names no control plane but a revision
    /// tag resolves to the tag's revision (injection follows tags).
    fn resolve_proxy(&self, namespace: &str, p: &Proxy, known: &Revisions) -> Option<ResolvedProxy> {
        let label = match p.injection {
            Injection::Injected | Injection::Requested => p.revision.clone(),
            Injection::IfNamespaceInjects => {
                let ns = self.objects.get(&ObjKey::new(Kind::Namespace, "", namespace))?;
                namespace_injection(&ns.object.labels)?
            }
        };
        let revision = known.resolve(label);
        let version = match (&self.assumed_proxy_version, p.injection) {
            (Some(a), _) if a.revision.as_ref().is_none_or(|r| *r == revision) => Some(a.version.clone()),
            (_, Injection::Injected) => p.version.clone(),
            _ => known
                .planes
                .get(&revision)
                .and_then(|vs| vs.iter().flatten().next().cloned()),
        };
        Some(ResolvedProxy {
            version,
            gateway: p.gateway,
            revision,
        })
    }

    /// One workload's proxy, injection resolved (`None`: it runs none, or its
    /// namespace does not inject).
    pub fn workload_proxy(&self, entry: &Entry) -> Option<ResolvedProxy> {
        let w = entry.workload.as_ref()?;
        let p = w.proxy.as_ref()?;
        read(|| Topic::Object(entry.object.key.clone()));
        let known = self.revisions();
        self.resolve_proxy(&w.namespace, p, &known)
    }

    /// The proxies in `namespace` (every namespace when `None`), narrowed to
    /// workloads matching `selector` when one is given. Without a selector this
    /// reads the per-namespace proxy classes, not the workloads.
    pub fn proxies(
        &self,
        namespace: Option<&str>,
        selector: Option<&BTreeMap<String, String>>,
    ) -> BTreeSet<ResolvedProxy> {
        let mut out = BTreeSet::new();
        // Resolved once: every proxy awaiting injection looks its revision up here.
        let known = self.revisions();
        match selector {
            Some(sel) => {
                for e in self.workloads_matching(namespace, sel) {
                    if let Some(w) = &e.workload {
                        if let Some(p) = &w.proxy {
                            out.extend(self.resolve_proxy(&w.namespace, p, &known));
                        }
                    }
                }
            }
            None => {
                read_workloads(namespace, None);
                for (ns, classes) in &self.idx.proxy_classes {
                    if namespace.is_none_or(|n| n == ns) {
                        for p in classes.keys() {
                            out.extend(self.resolve_proxy(ns, p, &known));
                        }
                    }
                }
            }
        }
        out
    }

    fn lookup<'a>(&'a self, keys: Option<&'a Keys>) -> impl Iterator<Item = &'a Arc<Entry>> + 'a {
        keys.into_iter().flatten().filter_map(|k| self.objects.get(k.as_ref()))
    }
}

#[cfg(test)]
mod tests;
