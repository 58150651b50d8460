//! Which kinds are watched, and how.

use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod, Secret, Service, ServiceAccount};
use kube::core::discovery::verbs;
use kube::discovery::{ApiResource, Discovery};
use kube::Client;
use serde_json::{Map, Value};

use crate::model::Kind;

#[derive(Clone, Debug)]
pub struct WatchSpec {
    pub kind: Kind,
    pub ar: ApiResource,
    pub metadata_only: bool,
    pub fields: Option<&'static str>,
    pub labels: Option<&'static str>,
    /// Which part of the kind this watch covers, when two watches share it
    /// (`""`: all of it), and which of the kind's objects that part holds (a
    /// re-list replaces only those).
    pub part: &'static str,
    pub covers: fn(&str) -> bool,
}

impl WatchSpec {
    pub fn key(&self) -> super::health::WatchKey {
        (self.kind, self.part)
    }
}

fn any_name(_: &str) -> bool {
    true
}

fn spec(kind: Kind, ar: ApiResource, metadata_only: bool) -> WatchSpec {
    WatchSpec {
        kind,
        ar,
        metadata_only,
        fields: None,
        labels: None,
        part: "",
        covers: any_name,
    }
}

/// The Kubernetes kinds of product.md §2.
pub fn core_specs() -> Vec<WatchSpec> {
    vec![
        spec(Kind::Service, ApiResource::erase::<Service>(&()), false),
        spec(Kind::Pod, ApiResource::erase::<Pod>(&()), false),
        spec(Kind::Namespace, ApiResource::erase::<Namespace>(&()), true),
        spec(Kind::ServiceAccount, ApiResource::erase::<ServiceAccount>(&()), true),
        spec(Kind::Secret, ApiResource::erase::<Secret>(&()), true),
        spec(Kind::Node, ApiResource::erase::<Node>(&()), true),
        // The mesh configuration whole; every other ConfigMap as metadata
        // (a CA bundle a BackendTLSPolicy or a Gateway names need only exist).
        WatchSpec {
            fields: Some("metadata.name=istio"),
            covers: |name| name == "istio",
            ..spec(Kind::ConfigMap, ApiResource::erase::<ConfigMap>(&()), false)
        },
        WatchSpec {
            fields: Some("metadata.name!=istio"),
            part: "metadata",
            covers: |name| name != "istio",
            ..spec(Kind::ConfigMap, ApiResource::erase::<ConfigMap>(&()), true)
        },
        WatchSpec {
            labels: Some("app=istiod"),
            ..spec(Kind::Deployment, ApiResource::erase::<Deployment>(&()), false)
        },
        // Revision tags: only their labels matter.
        WatchSpec {
            labels: Some("istio.io/tag"),
            ..spec(
                Kind::MutatingWebhookConfiguration,
                ApiResource::erase::<MutatingWebhookConfiguration>(&()),
                true,
            )
        },
    ]
}

/// The Istio kinds the API server serves now (each at its preferred version);
/// kinds that are not installed are simply absent (and logged).
pub async fn discover_istio_specs(client: &Client) -> Result<Vec<WatchSpec>, kube::Error> {
    let discovery = Discovery::new(client.clone())
        .filter(&[
            "networking.istio.io",
            "security.istio.io",
            crate::model::gateway_api::GROUP,
        ])
        .run()
        .await?;
    let mut out = Vec::new();
    for group in discovery.groups() {
        // Each kind at its most stable version: EnvoyFilter is served only as
        // v1alpha3 in a group whose preferred version is v1.
        for (ar, caps) in group.resources_by_stability() {
            let kind = Kind::from_type(&ar.api_version, &ar.kind);
            if kind != Kind::Other && caps.supports_operation(verbs::WATCH) {
                out.push(spec(kind, ar, false));
            }
        }
    }
    let found: Vec<&str> = out.iter().map(|s| s.kind.as_str()).collect();
    tracing::info!(kinds = ?found, "Istio kinds discovered");
    Ok(out)
}

/// The API resource to GET a kind by name (read-through).
pub fn api_resource(kind: Kind) -> Option<ApiResource> {
    let istio = |group: &str, kind: &str, plural: &str| ApiResource {
        group: group.into(),
        version: "v1".into(),
        api_version: format!("{group}/v1"),
        kind: kind.into(),
        plural: plural.into(),
    };
    Some(match kind {
        Kind::Service => ApiResource::erase::<Service>(&()),
        Kind::Namespace => ApiResource::erase::<Namespace>(&()),
        Kind::Gateway => istio("networking.istio.io", "Gateway", "gateways"),
        Kind::VirtualService => istio("networking.istio.io", "VirtualService", "virtualservices"),
        Kind::DestinationRule => istio("networking.istio.io", "DestinationRule", "destinationrules"),
        Kind::ServiceEntry => istio("networking.istio.io", "ServiceEntry", "serviceentries"),
        Kind::K8sGateway => istio(crate::model::gateway_api::GROUP, "Gateway", "gateways"),
        // v1beta1: served by every Gateway API release with ReferenceGrant.
        Kind::ReferenceGrant => ApiResource {
            group: crate::model::gateway_api::GROUP.into(),
            version: "v1beta1".into(),
            api_version: format!("{}/v1beta1", crate::model::gateway_api::GROUP),
            kind: "ReferenceGrant".into(),
            plural: "referencegrants".into(),
        },
        _ => return None,
    })
}

/// Pods reduced to what checks read: labels, service account, node, and the names
/// and images of containers and init containers.
pub fn trim_pod(v: &mut Value) {
    let Some(m) = v.as_object_mut() else { return };
    m.remove("status");
    let Some(spec) = m.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let mut kept = Map::new();
    for key in ["serviceAccountName", "nodeName"] {
        if let Some(x) = spec.remove(key) {
            kept.insert(key.into(), x);
        }
    }
    for key in ["containers", "initContainers"] {
        if let Some(Value::Array(cs)) = spec.remove(key) {
            let slim: Vec<Value> = cs
                .into_iter()
                .map(|c| {
                    let mut s = Map::new();
                    for f in ["name", "image", "restartPolicy", "args"] {
                        if let Some(x) = c.get(f) {
                            s.insert(f.into(), x.clone());
                        }
                    }
                    // istiod's flags (ControlPlane::flags): its own container only.
                    if c.get("name").and_then(Value::as_str) == Some("discovery") {
                        if let Some(env) = c.get("env") {
                            s.insert("env".into(), env.clone());
                        }
                    }
                    Value::Object(s)
                })
                .collect();
            kept.insert(key.into(), Value::Array(slim));
        }
    }
    *spec = kept;
}
