//! `meshgate explain`: a request's path through the Envoy configuration istiod
//! would build for one proxy — listener, route configuration, virtual host,
//! route, cluster, endpoints — and where it breaks (product.md §1.4).
//!
//! A pure function of (request, cluster view), like the checks. It follows
//! istiod's generator (`pilot/pkg/networking/core`: `httproute.go`,
//! `route/route.go`, `gateway.go`) for the names it prints, and the istiod oracle
//! (tests/oracle.rs) compares them with istiod's own output. What it does not
//! model is said in its notes and in docs/explain.md.

mod ambient;
mod backend;
mod gateway;
mod gateway_api;
mod outbound;
mod registry;
mod render;
mod request;
mod routes;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::finding::Finding;
use crate::view::ClusterView;

pub use ambient::Hop;
pub use render::{json, mermaid, text};
pub use request::{parse_header, Protocol, Target};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExplainError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
}

/// Who sends the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum From {
    /// `NS/NAME` of a Pod or a workload controller (Deployment, ...), or `NS`: a
    /// sidecar in that namespace without labels.
    Workload(String),
    /// `NS/NAME` of a Gateway (traffic entering its workloads) or of a gateway workload.
    Gateway(String),
    /// A proxy given directly (the oracle's tests).
    Proxy {
        namespace: String,
        labels: BTreeMap<String, String>,
        gateway: bool,
    },
}

#[derive(Clone, Debug)]
pub struct Request {
    pub from: From,
    pub target: Target,
    /// Lower-cased names.
    pub headers: BTreeMap<String, String>,
}

/// The calling proxy as explain resolved it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Client {
    /// `sidecar` or `gateway`.
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The workload's revision (control plane), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct VirtualHost {
    pub name: String,
    /// The first domains (istiod adds short names and addresses).
    pub domains: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Route {
    /// The Envoy route name (`http[].name`, `.match[].name`), or `default` /
    /// `allow_any` / `block_all` for routes istiod makes itself.
    pub name: String,
    /// `kind/namespace/name` of the VirtualService, when one made the route.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `/spec/http/0/match/1` in that VirtualService.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// The delegate VirtualService and rule, when the route comes from one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delegate: Option<String>,
    /// What the matched conditions were.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Endpoint {
    pub workload: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The remote cluster it runs in (multi-cluster meshes); `None`: this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Cluster {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    pub exists: bool,
    /// Why istiod builds no such cluster for this proxy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_rule: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub traffic_policy: Vec<String>,
    /// `None`: not known from the view (no selector, DNS, external).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Vec<Endpoint>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorization: Vec<String>,
    /// An AuthorizationPolicy on the destination that denies every request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied_by: Option<String>,
    /// The cluster sends plaintext (DestinationRule TLS `DISABLE`) to endpoints
    /// that accept only mTLS there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_mismatch: Option<String>,
}

/// An EnvoyFilter patch that targets the proxy's configuration.
#[derive(Clone, Debug, Serialize)]
pub struct FilterPatch {
    pub envoy_filter: String,
    pub pointer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply_to: Option<String>,
    pub applied: bool,
    /// Why it does not apply (proxy version, context).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// `OK`, `404 NR`, `503 NC`, `503 UH`, `403`, `502`, `connection refused`...
    pub status: String,
    pub detail: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    pub client: Client,
    pub request: String,
    /// The Sidecar resource scoping the proxy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sidecar: Option<String>,
    /// The Gateway servers the listener serves (gateway mode).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listener: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_chain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route_config: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtual_host: Option<VirtualHost>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<Route>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<Cluster>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub envoy_filters: Vec<FilterPatch>,
    /// An ambient client's path: ztunnel, the waypoint, the destination's ztunnel.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hops: Vec<ambient::Hop>,
    pub outcome: Outcome,
    /// Findings of the objects on the path (their routing and policy codes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    /// What explain does not model for this request.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Explanation {
    fn new(client: Client, request: String) -> Explanation {
        Explanation {
            client,
            request,
            sidecar: None,
            gateways: Vec::new(),
            listener: None,
            filter_chain: None,
            route_config: None,
            virtual_host: None,
            route: None,
            clusters: Vec::new(),
            envoy_filters: Vec::new(),
            hops: Vec::new(),
            outcome: Outcome {
                status: "OK".to_string(),
                detail: String::new(),
            },
            findings: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn fail(&mut self, status: &str, detail: impl Into<String>) {
        self.outcome = Outcome {
            status: status.to_string(),
            detail: detail.into(),
        };
    }

    /// The single cluster the route sends to (none for a weighted route).
    pub fn cluster(&self) -> Option<&Cluster> {
        match self.clusters.as_slice() {
            [c] if c.weight.is_none() => Some(c),
            _ => None,
        }
    }
}

/// Explains one request against the view.
pub fn explain(view: &ClusterView, req: &Request) -> Result<Explanation, ExplainError> {
    // Gateway API Gateways and routes as the Istio objects istiod derives.
    let derived = gateway_api::derived(view);
    let view = derived.as_ref().unwrap_or(view);
    let client = request::resolve_client(view, &req.from)?;
    let mut out = Explanation::new(client.proxy.clone(), req.target.to_string());
    // A client ztunnel captures runs no sidecar: its path is ztunnel's.
    let captured = match &req.from {
        From::Workload(from) => from
            .split_once('/')
            .and_then(|(ns, name)| request::workload(view, ns, name))
            .filter(|e| crate::semantics::ambient::is_ambient(view, e)),
        _ => None,
    };
    if let Some(e) = captured {
        out.client.kind = "ambient";
        if ambient::follow(view, e, req, &mut out).is_some() {
            return Ok(out);
        }
        out.notes.push(format!(
            "{} is captured by ztunnel (ambient mode), not a sidecar, and the URL names no Service: the path below is what a sidecar would do",
            key(&e.object.key)
        ));
        out.client.kind = "sidecar";
    }
    // What the proxy sees, computed once: each is a scan of the view.
    let ns = client.proxy.namespace.as_str();
    let scope = (!client.gateway)
        .then(|| registry::sidecar_scope(view, ns, &client.proxy.labels))
        .flatten();
    out.sidecar = scope.as_ref().map(|s| s.name.clone());
    let reg = registry::visible(view, ns, scope.as_ref());
    if client.gateway {
        gateway::follow(view, &client, req, &reg, &mut out);
    } else {
        outbound::follow(view, &client, req, &reg, scope.as_ref(), &mut out);
    }
    backend::finish(view, &client, &reg, &mut out);
    Ok(out)
}

/// `Kind/namespace/name`: how explain names objects.
pub(crate) fn key(k: &crate::model::ObjKey) -> String {
    format!("{}/{}/{}", k.kind, k.namespace, k.name)
}
