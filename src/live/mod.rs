//! The live cluster view: watches on the API server (kube-rs `watcher`) feed the same
//! `ClusterView` that files feed, one event at a time; a re-list swaps a kind's
//! objects atomically. Every object is read as JSON (`DynamicObject`), so one object
//! of an unexpected shape can never fail a whole list. Secrets, ServiceAccounts,
//! Namespaces, Nodes and revision-tag MutatingWebhookConfigurations are watched as
//! metadata only.

mod health;
mod kinds;
pub mod policy_reports;
pub mod remote;

pub use health::Health;
pub use kinds::{core_specs, discover_istio_specs, WatchSpec};

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, DynamicObject, PartialObjectMeta};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Client;
use serde_json::Value;

use crate::admission::Pending;
use crate::model::{Kind, ObjKey, Object};
use crate::view::SharedView;

/// How often the Istio API groups are rediscovered, to pick up CRDs installed later.
const REDISCOVER: Duration = Duration::from_secs(30);

/// Starts a watcher per kind and keeps discovering Istio kinds. Returns once the
/// watchers are spawned; they run for the life of the runtime.
pub async fn start(client: Client, view: Arc<SharedView>, pending: Arc<Pending>, health: Arc<Health>) {
    let core = core_specs();
    for spec in &core {
        health.expect(spec.key());
    }
    let istio = match discover_istio_specs(&client).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "Istio API discovery failed; retrying in the background");
            Vec::new()
        }
    };
    for spec in &istio {
        health.expect(spec.key());
    }
    let mut started: BTreeSet<Kind> = BTreeSet::new();
    for spec in core.into_iter().chain(istio) {
        started.insert(spec.kind);
        spawn_watch(client.clone(), spec, view.clone(), pending.clone(), health.clone());
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(REDISCOVER);
        tick.tick().await;
        loop {
            tick.tick().await;
            match discover_istio_specs(&client).await {
                Ok(specs) => {
                    for spec in specs {
                        if started.insert(spec.kind) {
                            tracing::info!(kind = spec.kind.as_str(), "new Istio kind installed; watching it");
                            health.expect(spec.key());
                            spawn_watch(client.clone(), spec, view.clone(), pending.clone(), health.clone());
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "Istio API rediscovery failed"),
            }
        }
    });
}

fn spawn_watch(client: Client, spec: WatchSpec, view: Arc<SharedView>, pending: Arc<Pending>, health: Arc<Health>) {
    tokio::spawn(async move {
        let mut cfg = watcher::Config::default();
        if let Some(f) = spec.fields {
            cfg = cfg.fields(f);
        }
        if let Some(l) = spec.labels {
            cfg = cfg.labels(l);
        }
        let ar = spec.ar.clone();
        let (api_version, kind_name) = (ar.api_version.clone(), ar.kind.clone());
        let stream = if spec.metadata_only {
            let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(client, &ar);
            watcher::watcher(api, cfg)
                .default_backoff()
                .map_ok(move |ev| to_values(ev, &api_version, &kind_name))
                .boxed()
        } else {
            let api: Api<DynamicObject> = Api::all_with(client, &ar);
            watcher::watcher(api, cfg)
                .default_backoff()
                .map_ok(move |ev| to_values(ev, &api_version, &kind_name))
                .boxed()
        };
        run_stream(&spec, stream, view, pending, health).await;
    });
}

/// An object as JSON with `apiVersion` and `kind` filled in (list items come
/// without them); Pods trimmed to what the view reads.
fn value_of<K: serde::Serialize>(o: K, api_version: &str, kind: &str) -> Value {
    let mut v = serde_json::to_value(&o).unwrap_or(Value::Null);
    if let Some(m) = v.as_object_mut() {
        m.insert("apiVersion".into(), Value::String(api_version.to_string()));
        m.insert("kind".into(), Value::String(kind.to_string()));
    }
    if kind == "Pod" {
        kinds::trim_pod(&mut v);
    }
    v
}

/// JSON for each object of an event.
fn to_values<K: serde::Serialize>(ev: Event<K>, api_version: &str, kind: &str) -> Event<Value> {
    let conv = |o: K| value_of(o, api_version, kind);
    match ev {
        Event::Apply(o) => Event::Apply(conv(o)),
        Event::Delete(o) => Event::Delete(conv(o)),
        Event::InitApply(o) => Event::InitApply(conv(o)),
        Event::Init => Event::Init,
        Event::InitDone => Event::InitDone,
    }
}

/// A client from a kubeconfig file, or the in-cluster configuration / `$KUBECONFIG`.
pub async fn client(kubeconfig: Option<&std::path::Path>) -> Result<Client, String> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path).map_err(|e| format!("{}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| format!("no cluster configuration: {e}"))?,
    };
    Client::try_from(config).map_err(|e| format!("cannot build a client: {e}"))
}

/// Page size of a snapshot's lists.
const PAGE: u32 = 500;

/// One list of every kind the live view watches (`meshgate check --cluster`).
/// A kind the credentials may not list is skipped and named in the second list
/// (the caller says so): the view then lacks it, as a file set would.
pub async fn snapshot(client: &Client) -> Result<(Vec<Object>, Vec<String>), String> {
    let mut specs = core_specs();
    specs.extend(
        discover_istio_specs(client)
            .await
            .map_err(|e| format!("API discovery failed: {e}"))?,
    );
    let mut objects = Vec::new();
    let mut skipped = Vec::new();
    for spec in specs {
        match list_all(client, &spec).await {
            Ok(values) => objects.extend(values.into_iter().filter_map(object)),
            Err(kube::Error::Api(e)) if e.code == 403 || e.code == 404 => {
                skipped.push(format!("{} ({})", spec.ar.plural, e.message));
            }
            Err(e) => return Err(format!("listing {}: {e}", spec.ar.plural)),
        }
    }
    Ok((objects, skipped))
}

async fn list_all(client: &Client, spec: &WatchSpec) -> Result<Vec<Value>, kube::Error> {
    let mut params = kube::api::ListParams::default().limit(PAGE);
    if let Some(f) = spec.fields {
        params = params.fields(f);
    }
    if let Some(l) = spec.labels {
        params = params.labels(l);
    }
    let (av, kind) = (spec.ar.api_version.as_str(), spec.ar.kind.as_str());
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &spec.ar);
    let mut out = Vec::new();
    loop {
        let next = if spec.metadata_only {
            let page = api.list_metadata(&params).await?;
            out.extend(page.items.into_iter().map(|o| value_of(o, av, kind)));
            page.metadata.continue_
        } else {
            let page = api.list(&params).await?;
            out.extend(page.items.into_iter().map(|o| value_of(o, av, kind)));
            page.metadata.continue_
        };
        match next.filter(|t| !t.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(out),
        }
    }
}

fn object(v: Value) -> Option<Object> {
    match Object::from_value(v, "") {
        Ok(o) => Some(o),
        Err(e) => {
            tracing::warn!(error = %e, "skipping an object the API server sent");
            None
        }
    }
}

async fn run_stream(
    spec: &WatchSpec,
    mut stream: futures::stream::BoxStream<'static, Result<Event<Value>, watcher::Error>>,
    view: Arc<SharedView>,
    pending: Arc<Pending>,
    health: Arc<Health>,
) {
    let (kind, covers, watch) = (spec.kind, spec.covers, spec.key());
    // This watch's share of the kind (another watch may hold the rest).
    let mine = |k: &ObjKey| k.kind == kind && covers(&k.name);
    let mut buffer: Vec<Object> = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Err(e) => {
                health.error(watch);
                tracing::warn!(kind = kind.as_str(), error = %e, "watch failed; retrying with back-off");
            }
            Ok(ev) => {
                health.event(watch);
                match ev {
                    Event::Init => buffer.clear(),
                    Event::InitApply(v) => buffer.extend(object(v)),
                    Event::InitDone => {
                        let fresh = std::mem::take(&mut buffer);
                        let keys: Vec<ObjKey> = fresh.iter().map(|o| o.key.clone()).collect();
                        // What the swap may change: the kind's objects before and after.
                        let touched: Vec<ObjKey> = view
                            .snapshot()
                            .entries()
                            .filter(|e| mine(&e.object.key))
                            .map(|e| e.object.key.clone())
                            .chain(keys.iter().cloned())
                            .collect();
                        view.update_objects(touched, |v| {
                            let stale: Vec<ObjKey> = v
                                .entries()
                                .filter(|e| mine(&e.object.key))
                                .map(|e| e.object.key.clone())
                                .collect();
                            for k in stale {
                                v.delete(&k);
                            }
                            for o in fresh {
                                v.apply(o);
                            }
                        });
                        for k in &keys {
                            pending.forget_real(k);
                        }
                        health.init_done(watch);
                        tracing::info!(kind = kind.as_str(), objects = keys.len(), "initial list in");
                    }
                    Event::Apply(v) => {
                        if let Some(o) = object(v) {
                            let key = o.key.clone();
                            view.update_objects([key.clone()], |v| {
                                v.apply(o);
                            });
                            pending.forget_real(&key);
                        }
                    }
                    Event::Delete(v) => {
                        if let Some(o) = object(v) {
                            view.update_objects([o.key.clone()], |v| {
                                v.delete(&o.key);
                            });
                            pending.forget_real(&o.key);
                        }
                    }
                }
            }
        }
    }
}

/// One live GET for an object the view does not have: read-through before a denial.
/// A kind meshgate does not read live is an error, never "absent".
pub async fn fetch(client: &Client, key: &ObjKey, timeout: Duration) -> Result<Option<Object>, String> {
    let Some(ar) = kinds::api_resource(key.kind) else {
        return Err(format!("cannot read {} live", key.kind));
    };
    let api: Api<DynamicObject> = if key.kind.is_cluster_scoped() {
        Api::all_with(client.clone(), &ar)
    } else {
        Api::namespaced_with(client.clone(), &key.namespace, &ar)
    };
    let got = tokio::time::timeout(timeout, api.get_opt(&key.name))
        .await
        .map_err(|_| format!("GET {key} timed out after {timeout:?}"))?
        .map_err(|e| format!("GET {key}: {e}"))?;
    Ok(got.and_then(|o| {
        let ev = to_values(Event::Apply(o), &ar.api_version, &ar.kind);
        match ev {
            Event::Apply(v) => object(v),
            _ => None,
        }
    }))
}

/// One live LIST of a kind in a namespace (`None`: all namespaces): read-through
/// before a denial for a referent known only by kind (a DestinationRule that may
/// define a subset, a ServiceEntry that may declare a host).
pub async fn list(
    client: &Client,
    kind: Kind,
    namespace: Option<&str>,
    timeout: Duration,
) -> Result<Vec<Object>, String> {
    let ar = kinds::api_resource(kind).ok_or_else(|| format!("cannot read {kind} live"))?;
    let api: Api<DynamicObject> = match namespace {
        Some(ns) if !kind.is_cluster_scoped() => Api::namespaced_with(client.clone(), ns, &ar),
        _ => Api::all_with(client.clone(), &ar),
    };
    let where_ = namespace.unwrap_or("all namespaces");
    let got = tokio::time::timeout(timeout, api.list(&kube::api::ListParams::default()))
        .await
        .map_err(|_| format!("LIST {kind} in {where_} timed out after {timeout:?}"))?
        .map_err(|e| format!("LIST {kind} in {where_}: {e}"))?;
    Ok(got
        .items
        .into_iter()
        .filter_map(|o| match to_values(Event::Apply(o), &ar.api_version, &ar.kind) {
            Event::Apply(v) => object(v),
            _ => None,
        })
        .collect())
}
