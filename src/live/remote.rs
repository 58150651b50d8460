//! Remote clusters of a multi-cluster mesh, live (product.md §4, issue #22):
//! meshgate's own remote secrets (istiod's format, in meshgate's namespace)
//! name the clusters; each is watched for its Services and Pods, and the
//! view holds them per cluster with its sync state. A remote cluster never
//! holds readiness back: while one is unreachable its last-known objects
//! stay, and findings that rest on an absence are warnings naming it. Its
//! objects leave the view only when its secret (or key) is deleted.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DynamicObject, ListParams};
use kube::discovery::ApiResource;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Client;
use tokio::task::JoinHandle;

use super::kinds::WatchSpec;
use crate::model::{Kind, ObjKey, Object};
use crate::multicluster::{self, RemoteCluster};
use crate::view::{RemoteSync, SharedView};

/// istiod's cluster id when none is configured.
pub const DEFAULT_CLUSTER_ID: &str = "Kubernetes";

/// What a remote cluster is read for: Services (hosts, ports) and Pods
/// (a subset's endpoints). Pods are trimmed as the local ones are.
pub fn specs() -> Vec<WatchSpec> {
    super::core_specs()
        .into_iter()
        .filter(|s| crate::view::is_remote_kind(s.kind))
        .collect()
}

/// A client for a remote cluster from a kubeconfig already sanitised.
pub async fn client(kc: kube::config::Kubeconfig) -> Result<Client, String> {
    let config = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    Client::try_from(config).map_err(|e| e.to_string())
}

/// The Services and Pods of a remote cluster (multi-cluster meshes), through
/// a kubeconfig already sanitised.
pub async fn list_objects(kc: kube::config::Kubeconfig) -> Result<Vec<Object>, String> {
    let client = client(kc).await?;
    let mut out = Vec::new();
    for spec in specs() {
        let values = super::list_all(&client, &spec)
            .await
            .map_err(|e| format!("listing {}: {e}", spec.ar.plural))?;
        out.extend(values.into_iter().filter_map(super::object));
    }
    Ok(out)
}

/// The remote clusters of a running server: clients for read-through, and
/// what the metrics publish. Shared between the secret controller, the
/// cluster watches and the server.
#[derive(Default)]
pub struct Remotes {
    clients: Mutex<BTreeMap<String, Client>>,
    last_sync: Mutex<BTreeMap<String, SystemTime>>,
    /// Remote secret keys rejected (unsafe or unreadable kubeconfigs).
    rejected: AtomicU64,
}

impl Remotes {
    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The clusters with a client, for read-through.
    pub fn clients(&self) -> Vec<(String, Client)> {
        Self::lock(&self.clients)
            .iter()
            .map(|(id, c)| (id.clone(), c.clone()))
            .collect()
    }

    /// When each cluster's objects were last known current.
    pub fn last_sync(&self) -> BTreeMap<String, SystemTime> {
        Self::lock(&self.last_sync).clone()
    }

    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    fn synced_now(&self, id: &str) {
        Self::lock(&self.last_sync).insert(id.to_string(), SystemTime::now());
    }

    fn forget(&self, id: &str) {
        Self::lock(&self.clients).remove(id);
        Self::lock(&self.last_sync).remove(id);
    }
}

/// The local cluster's id: istiod's `CLUSTER_ID` from its Deployment
/// (label `app=istiod`), else istiod's default.
pub async fn local_cluster_id(client: &Client) -> String {
    let api: Api<Deployment> = Api::all(client.clone());
    let listed = tokio::time::timeout(
        Duration::from_secs(5),
        api.list(&ListParams::default().labels("app=istiod")),
    )
    .await;
    let id = match listed {
        Ok(Ok(list)) => list.items.iter().find_map(|d| {
            d.spec
                .as_ref()?
                .template
                .spec
                .as_ref()?
                .containers
                .iter()
                .find_map(|c| {
                    c.env
                        .as_ref()?
                        .iter()
                        .find(|e| e.name == "CLUSTER_ID")
                        .and_then(|e| e.value.clone())
                })
        }),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot read istiod's Deployment for its CLUSTER_ID");
            None
        }
        Err(_) => None,
    };
    id.filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_CLUSTER_ID.to_string())
}

/// One running remote cluster: the kubeconfig it was started with (to tell a
/// rotation from a resync), its watch task, and whether it may still write.
struct Running {
    fingerprint: String,
    task: JoinHandle<()>,
    alive: Arc<AtomicBool>,
}

impl Running {
    /// Stops the task. Its writes check `alive` under the view's write lock,
    /// so none lands after this (a write racing on another thread either came
    /// before, and a later drop removes it, or sees it dead).
    fn stop(self) {
        self.alive.store(false, Ordering::SeqCst);
        self.task.abort();
    }
}

/// What a cluster's watch task writes through: the view and the client map,
/// only while its cluster is still wanted.
struct ClusterWriter {
    id: String,
    view: Arc<SharedView>,
    remotes: Arc<Remotes>,
    alive: Arc<AtomicBool>,
}

impl ClusterWriter {
    fn write(&self, f: impl FnOnce(&mut crate::view::ClusterView) -> Vec<crate::view::reads::Topic>) {
        let alive = &self.alive;
        self.view
            .update_remote(|v| if alive.load(Ordering::SeqCst) { f(v) } else { Vec::new() });
    }

    fn set_sync(&self, sync: RemoteSync) {
        self.write(|v| {
            v.set_remote_sync(&self.id, sync);
            Vec::new()
        });
    }

    fn add_client(&self, client: Client) {
        let mut clients = Remotes::lock(&self.remotes.clients);
        if self.alive.load(Ordering::SeqCst) {
            clients.insert(self.id.clone(), client);
        }
    }
}

/// Watches meshgate's remote secrets in `namespace` and keeps one watch task
/// per remote cluster they name. Runs for the life of the runtime.
pub async fn run_secrets(
    client: Client,
    namespace: String,
    local_id: String,
    view: Arc<SharedView>,
    remotes: Arc<Remotes>,
) {
    let api: Api<DynamicObject> = Api::namespaced_with(
        client,
        &namespace,
        &ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&()),
    );
    let cfg = watcher::Config::default().labels(&multicluster::remote_secret::selector());
    let mut stream = watcher::watcher(api, cfg).default_backoff().boxed();
    let mut controller = SecretController {
        local_id,
        view,
        remotes,
        by_secret: BTreeMap::new(),
    };
    let mut listed: Vec<(String, serde_json::Value)> = Vec::new();
    while let Some(ev) = stream.next().await {
        match ev {
            Err(e) => tracing::warn!(namespace = %namespace, error = %e, "remote secret watch failed; retrying"),
            Ok(Event::Init) => listed.clear(),
            Ok(Event::InitApply(o)) => listed.push((name_of(&o), secret_json(o))),
            Ok(Event::InitDone) => {
                let names: Vec<String> = listed.iter().map(|(n, _)| n.clone()).collect();
                let gone: Vec<String> = controller
                    .by_secret
                    .keys()
                    .filter(|k| !names.contains(k))
                    .cloned()
                    .collect();
                for name in gone {
                    controller.reconcile(&name, None);
                }
                for (name, secret) in std::mem::take(&mut listed) {
                    controller.reconcile(&name, Some(&secret));
                }
            }
            Ok(Event::Apply(o)) => {
                let name = name_of(&o);
                controller.reconcile(&name, Some(&secret_json(o)));
            }
            Ok(Event::Delete(o)) => controller.reconcile(&name_of(&o), None),
        }
    }
}

fn name_of(o: &DynamicObject) -> String {
    o.metadata.name.clone().unwrap_or_default()
}

fn secret_json(o: DynamicObject) -> serde_json::Value {
    serde_json::to_value(o).unwrap_or(serde_json::Value::Null)
}

struct SecretController {
    local_id: String,
    view: Arc<SharedView>,
    remotes: Arc<Remotes>,
    /// Secret name → cluster id → its running watch.
    by_secret: BTreeMap<String, BTreeMap<String, Running>>,
}

impl SecretController {
    /// Brings the clusters of secret `name` in line with its content (`None`:
    /// deleted): new clusters start, rotated kubeconfigs restart, clusters no
    /// longer named stop and leave the view.
    fn reconcile(&mut self, name: &str, secret: Option<&serde_json::Value>) {
        let parsed = secret.map(|s| multicluster::read(s, &self.local_id));
        if let Some(p) = &parsed {
            for e in &p.rejected {
                self.remotes.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(secret = %name, error = %e, "remote secret rejected; nothing of it is used");
            }
            for id in &p.ignored_local {
                tracing::info!(secret = %name, cluster = %id, "remote secret key names the local cluster; ignored");
            }
        }
        let wanted: BTreeMap<String, RemoteCluster> = parsed
            .map(|p| p.clusters.into_iter().map(|c| (c.id.clone(), c)).collect())
            .unwrap_or_default();
        let mut running = self.by_secret.remove(name).unwrap_or_default();
        for id in running.keys().cloned().collect::<Vec<_>>() {
            if !wanted.contains_key(&id) {
                if let Some(r) = running.remove(&id) {
                    r.stop();
                }
                self.remotes.forget(&id);
                self.view.update_remote(|v| v.drop_remote_cluster(&id));
                tracing::info!(secret = %name, cluster = %id, "remote cluster removed; its objects left the view");
            }
        }
        for (id, cluster) in wanted {
            let owner = self
                .by_secret
                .iter()
                .find(|(_, clusters)| clusters.contains_key(&id))
                .map(|(s, _)| s.clone());
            if let Some(other) = owner {
                tracing::warn!(secret = %name, cluster = %id, other = %other, "cluster already named by another remote secret; ignored here");
                continue;
            }
            let fingerprint = serde_json::to_string(&cluster.kubeconfig).unwrap_or_default();
            if running.get(&id).is_some_and(|r| r.fingerprint == fingerprint) {
                continue;
            }
            if let Some(old) = running.remove(&id) {
                old.stop();
                tracing::info!(secret = %name, cluster = %id, "remote secret rotated; reconnecting");
            } else {
                tracing::info!(secret = %name, cluster = %id, "remote cluster added");
            }
            let alive = Arc::new(AtomicBool::new(true));
            let writer = ClusterWriter {
                id: id.clone(),
                view: self.view.clone(),
                remotes: self.remotes.clone(),
                alive: alive.clone(),
            };
            let task = tokio::spawn(watch_cluster(Arc::new(writer), cluster.kubeconfig));
            running.insert(
                id,
                Running {
                    fingerprint,
                    task,
                    alive,
                },
            );
        }
        if !running.is_empty() {
            self.by_secret.insert(name.to_string(), running);
        }
    }
}

/// Watches one remote cluster's Services and Pods into the view.
async fn watch_cluster(w: Arc<ClusterWriter>, kubeconfig: kube::config::Kubeconfig) {
    w.set_sync(RemoteSync::Syncing {
        why: "syncing: first list not in yet".to_string(),
    });
    let client = match client(kubeconfig).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(cluster = %w.id, error = %e, "cannot build a client for the remote cluster");
            w.set_sync(RemoteSync::Unreachable {
                why: format!("cannot connect: {e}"),
            });
            return;
        }
    };
    w.add_client(client.clone());
    let state = Arc::new(Mutex::new(ClusterState::default()));
    let watches = specs()
        .into_iter()
        .map(|spec| watch_kind(w.clone(), client.clone(), spec, state.clone()));
    futures::future::join_all(watches).await;
}

/// Which of a cluster's watches have listed, and since when one fails.
#[derive(Debug, Default)]
struct ClusterState {
    listed: BTreeMap<Kind, bool>,
    failing_since: Option<SystemTime>,
    synced: bool,
}

async fn watch_kind(w: Arc<ClusterWriter>, client: Client, spec: WatchSpec, state: Arc<Mutex<ClusterState>>) {
    let (id, view, remotes) = (&w.id, &w.view, &w.remotes);
    let kind = spec.kind;
    Remotes::lock(&state).listed.insert(kind, false);
    let api: Api<DynamicObject> = Api::all_with(client, &spec.ar);
    let (av, kn) = (spec.ar.api_version.clone(), spec.ar.kind.clone());
    let mut stream = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .map_ok(move |ev| super::to_values(ev, &av, &kn))
        .boxed();
    let mut buffer: Vec<Object> = Vec::new();
    // Publishes the cluster's sync state when it changes (a write clones the
    // view: never one per retry).
    let publish = |state: &mut ClusterState| {
        let synced = state.failing_since.is_none() && state.listed.values().all(|l| *l);
        if synced {
            remotes.synced_now(id);
        }
        let sync = match (synced, state.failing_since) {
            (true, _) => RemoteSync::Synced,
            (false, Some(since)) => RemoteSync::Unreachable {
                why: format!("unreachable since {}", rfc3339(since)),
            },
            (false, None) => RemoteSync::Syncing {
                why: "syncing: first list not in yet".to_string(),
            },
        };
        state.synced = synced;
        let current = view.snapshot().remote_clusters().get(id.as_str()).map(|s| (*s).clone());
        if current.as_ref() != Some(&sync) {
            tracing::info!(cluster = %id, state = ?sync, "remote cluster sync state");
            w.set_sync(sync);
        }
    };
    while let Some(item) = stream.next().await {
        match item {
            Err(e) => {
                let mut st = Remotes::lock(&state);
                if st.failing_since.is_none() {
                    tracing::warn!(cluster = %id, kind = kind.as_str(), error = %e, "remote cluster watch failed; keeping its last-known objects");
                    st.failing_since = Some(SystemTime::now());
                    publish(&mut st);
                }
            }
            Ok(ev) => {
                {
                    let mut st = Remotes::lock(&state);
                    if st.failing_since.take().is_some() {
                        publish(&mut st);
                    }
                }
                match ev {
                    Event::Init => buffer.clear(),
                    Event::InitApply(v) => buffer.extend(super::object(v)),
                    Event::InitDone => {
                        let fresh = std::mem::take(&mut buffer);
                        let n = fresh.len();
                        w.write(|v| v.replace_remote(id, kind, fresh));
                        tracing::info!(cluster = %id, kind = kind.as_str(), objects = n, "remote cluster list in");
                        let mut st = Remotes::lock(&state);
                        st.listed.insert(kind, true);
                        publish(&mut st);
                    }
                    Event::Apply(v) => {
                        if let Some(o) = super::object(v) {
                            w.write(|v| v.apply_remote(id, o));
                            remotes.synced_now(id);
                        }
                    }
                    Event::Delete(v) => {
                        if let Some(o) = super::object(v) {
                            w.write(|v| v.delete_remote(id, &o.key));
                            remotes.synced_now(id);
                        }
                    }
                }
            }
        }
    }
}

/// One GET of `key` in each remote cluster, bounded by `timeout`: before a
/// denial that rests on something being absent. Answers per cluster.
pub async fn fetch_everywhere(
    remotes: &Remotes,
    key: &ObjKey,
    timeout: Duration,
) -> Vec<(String, Result<Option<Object>, String>)> {
    let calls = remotes.clients().into_iter().map(|(id, client)| {
        let key = key.clone();
        async move {
            let got = super::fetch(&client, &key, timeout).await;
            (id, got)
        }
    });
    futures::future::join_all(calls).await
}

/// `2026-12-07T05:12:03Z`, to the second.
fn rfc3339(t: SystemTime) -> String {
    k8s_openapi::jiff::Timestamp::try_from(t)
        .map(|ts| ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| "an unknown time".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> Object {
        let v = serde_json::json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "pay", "namespace": "payments"}, "spec": {"ports": [{"port": 80}]}});
        Object::from_value(v, "payments").unwrap()
    }

    #[tokio::test]
    async fn a_stopped_clusters_late_writes_never_land() {
        let view = Arc::new(SharedView::default());
        let alive = Arc::new(AtomicBool::new(true));
        let w = ClusterWriter {
            id: "west".into(),
            view: view.clone(),
            remotes: Arc::default(),
            alive: alive.clone(),
        };
        w.write(|v| v.apply_remote("west", service()));
        assert_eq!(
            view.snapshot()
                .remote_clusters_serving("pay.payments.svc.cluster.local"),
            ["west"]
        );
        // The secret is deleted: the cluster stops, then leaves the view.
        alive.store(false, Ordering::SeqCst);
        view.update_remote(|v| v.drop_remote_cluster("west"));
        // A write the task had in flight comes after: it must not bring the
        // cluster back (it would stay unsynced, softening every denial).
        w.write(|v| v.apply_remote("west", service()));
        w.set_sync(RemoteSync::Synced);
        assert!(view.snapshot().remote_clusters().is_empty());
        w.add_client(Client::try_from(kube::Config::new("https://127.0.0.1:1".parse().unwrap())).unwrap());
        assert!(w.remotes.clients().is_empty());
    }
}
