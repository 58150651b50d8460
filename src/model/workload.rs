//! Workloads: Pods, WorkloadEntries and (in file mode) pod templates of controllers.

use std::collections::BTreeMap;

use serde_json::Value;

use super::labels::{LabelLookup, Labels};
use super::proxy::{self, ControlPlane, Proxy};
use super::{Kind, Object};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    pub namespace: String,
    pub labels: Labels,
    pub service_account: Option<String>,
    pub proxy: Option<Proxy>,
    /// The Node a Pod runs on (`spec.nodeName`): subsets may select by its labels.
    pub node: Option<String>,
    /// A Pod's `status.podIP`, a WorkloadEntry's `spec.address`.
    pub ip: Option<String>,
    /// Annotated `ambient.istio.io/redirection: enabled`: istio-cni captured
    /// it for ztunnel (what istiod reads to send it HBONE).
    pub redirected: bool,
}

/// Whether `labels` carry every pair of `selector` (an empty selector selects all).
pub fn labels_match(selector: &BTreeMap<String, String>, labels: &(impl LabelLookup + ?Sized)) -> bool {
    selector.iter().all(|(k, v)| labels.label(k) == Some(v.as_str()))
}

/// The control plane an object stands for: an istiod Deployment (any mode) or Pod.
pub fn control_plane_of(obj: &Object) -> Option<ControlPlane> {
    match obj.key.kind {
        Kind::Pod => proxy::control_plane(&obj.labels, obj.value.get("spec")),
        Kind::Deployment => proxy::control_plane(
            &labels_at(obj.value.pointer("/spec/template/metadata/labels")),
            obj.value.pointer("/spec/template/spec"),
        )
        .or_else(|| proxy::control_plane(&obj.labels, obj.value.pointer("/spec/template/spec"))),
        _ => None,
    }
}

/// The workload an object stands for, if any. Controllers count only when
/// `from_templates` (file mode: CI manifests rarely hold Pods). A Pod's labels
/// and annotations move into the workload (the view keeps neither on the Pod:
/// Pods are most of a view).
pub fn from_object(obj: &mut Object, from_templates: bool) -> Option<Workload> {
    let (labels, annotations) = match obj.key.kind {
        Kind::Pod => (std::mem::take(&mut obj.labels), std::mem::take(&mut obj.annotations)),
        Kind::WorkloadEntry => (labels_at(obj.value.pointer("/spec/labels")), BTreeMap::new()),
        Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet | Kind::ReplicaSet if from_templates => (
            labels_at(obj.value.pointer("/spec/template/metadata/labels")),
            labels_at(obj.value.pointer("/spec/template/metadata/annotations")),
        ),
        _ => return None,
    };
    let obj = &*obj;
    let pod_spec = match obj.key.kind {
        Kind::Pod => obj.value.get("spec"),
        Kind::WorkloadEntry => None,
        _ => obj.value.pointer("/spec/template/spec"),
    };
    // A running Pod is the truth: no proxy container, no proxy.
    let sidecar = proxy::from_pod(&labels, &annotations, pod_spec)
        .filter(|p| obj.key.kind != Kind::Pod || p.injection == proxy::Injection::Injected);
    let service_account = match obj.key.kind {
        Kind::WorkloadEntry => obj.value.pointer("/spec/serviceAccount"),
        _ => pod_spec.and_then(|s| s.get("serviceAccountName")),
    }
    .and_then(Value::as_str)
    .map(str::to_string);
    let node = match obj.key.kind {
        Kind::Pod => pod_spec
            .and_then(|s| s.get("nodeName"))
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    };
    let redirected = annotations.get("ambient.istio.io/redirection").map(String::as_str) == Some("enabled");
    Some(Workload {
        redirected,
        namespace: obj.key.namespace.clone(),
        labels: Labels::from(labels),
        service_account,
        proxy: sidecar,
        node,
        ip: match obj.key.kind {
            Kind::Pod => obj.value.pointer("/status/podIP"),
            Kind::WorkloadEntry => obj.value.pointer("/spec/address"),
            _ => None,
        }
        .and_then(Value::as_str)
        .map(str::to_string),
    })
}

fn labels_at(v: Option<&Value>) -> BTreeMap<String, String> {
    match v {
        Some(Value::Object(m)) => m
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect(),
        _ => BTreeMap::new(),
    }
}
