//! The object model: Kubernetes and Istio objects as JSON values plus small lenient
//! views of the fields checks read. Unknown fields and enum values never fail parsing.

pub mod destination_rule;
pub mod envoy_filter;
pub mod fields;
pub mod gateway;
pub mod gateway_api;
pub mod labels;
pub mod mesh_config;
pub mod object;
pub mod proxy;
pub mod route_match;
pub mod security;
pub mod service;
pub mod service_entry;
pub mod sidecar;
pub mod virtual_service;
pub mod workload;

pub use object::{Object, ObjectError};

use std::fmt;

/// The kinds meshgate understands. Anything else is `Other` and only contributes
/// its namespace to the view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Gateway,
    VirtualService,
    DestinationRule,
    ServiceEntry,
    Sidecar,
    EnvoyFilter,
    WorkloadEntry,
    PeerAuthentication,
    RequestAuthentication,
    AuthorizationPolicy,
    Service,
    Namespace,
    Pod,
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    ServiceAccount,
    Secret,
    ConfigMap,
    Node,
    /// Only Istio revision tags (`istio.io/tag` label) matter, as metadata.
    MutatingWebhookConfiguration,
    /// Kubernetes Gateway API (`gateway.networking.k8s.io`).
    GatewayClass,
    /// A Gateway API Gateway (`Kind::Gateway` is Istio's).
    K8sGateway,
    HTTPRoute,
    GRPCRoute,
    TLSRoute,
    TCPRoute,
    ReferenceGrant,
    ListenerSet,
    BackendTLSPolicy,
    Other,
}

impl Kind {
    /// Resolves a kind from its apiVersion group and kind name. Group matters:
    /// `gateway.networking.k8s.io/Gateway` is not an Istio Gateway.
    pub fn from_type(api_version: &str, kind: &str) -> Kind {
        let group = match api_version.rsplit_once('/') {
            Some((g, _)) => g,
            None => "",
        };
        match (group, kind) {
            ("networking.istio.io", "Gateway") => Kind::Gateway,
            ("networking.istio.io", "VirtualService") => Kind::VirtualService,
            ("networking.istio.io", "DestinationRule") => Kind::DestinationRule,
            ("networking.istio.io", "ServiceEntry") => Kind::ServiceEntry,
            ("networking.istio.io", "Sidecar") => Kind::Sidecar,
            ("networking.istio.io", "EnvoyFilter") => Kind::EnvoyFilter,
            ("networking.istio.io", "WorkloadEntry") => Kind::WorkloadEntry,
            ("security.istio.io", "PeerAuthentication") => Kind::PeerAuthentication,
            ("security.istio.io", "RequestAuthentication") => Kind::RequestAuthentication,
            ("security.istio.io", "AuthorizationPolicy") => Kind::AuthorizationPolicy,
            ("", "Service") => Kind::Service,
            ("", "Namespace") => Kind::Namespace,
            ("", "Pod") => Kind::Pod,
            ("", "ServiceAccount") => Kind::ServiceAccount,
            ("", "Secret") => Kind::Secret,
            ("", "ConfigMap") => Kind::ConfigMap,
            ("", "Node") => Kind::Node,
            ("admissionregistration.k8s.io", "MutatingWebhookConfiguration") => Kind::MutatingWebhookConfiguration,
            ("apps", "Deployment") => Kind::Deployment,
            ("apps", "StatefulSet") => Kind::StatefulSet,
            ("apps", "DaemonSet") => Kind::DaemonSet,
            ("apps", "ReplicaSet") => Kind::ReplicaSet,
            (gateway_api::GROUP, "GatewayClass") => Kind::GatewayClass,
            (gateway_api::GROUP, "Gateway") => Kind::K8sGateway,
            (gateway_api::GROUP, "HTTPRoute") => Kind::HTTPRoute,
            (gateway_api::GROUP, "GRPCRoute") => Kind::GRPCRoute,
            (gateway_api::GROUP, "TLSRoute") => Kind::TLSRoute,
            (gateway_api::GROUP, "TCPRoute") => Kind::TCPRoute,
            (gateway_api::GROUP, "ReferenceGrant") => Kind::ReferenceGrant,
            (gateway_api::GROUP, "ListenerSet") => Kind::ListenerSet,
            (gateway_api::GROUP, "BackendTLSPolicy") => Kind::BackendTLSPolicy,
            _ => Kind::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Gateway => "Gateway",
            Kind::VirtualService => "VirtualService",
            Kind::DestinationRule => "DestinationRule",
            Kind::ServiceEntry => "ServiceEntry",
            Kind::Sidecar => "Sidecar",
            Kind::EnvoyFilter => "EnvoyFilter",
            Kind::WorkloadEntry => "WorkloadEntry",
            Kind::PeerAuthentication => "PeerAuthentication",
            Kind::RequestAuthentication => "RequestAuthentication",
            Kind::AuthorizationPolicy => "AuthorizationPolicy",
            Kind::Service => "Service",
            Kind::Namespace => "Namespace",
            Kind::Pod => "Pod",
            Kind::Deployment => "Deployment",
            Kind::StatefulSet => "StatefulSet",
            Kind::DaemonSet => "DaemonSet",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::ServiceAccount => "ServiceAccount",
            Kind::Secret => "Secret",
            Kind::ConfigMap => "ConfigMap",
            Kind::Node => "Node",
            Kind::MutatingWebhookConfiguration => "MutatingWebhookConfiguration",
            Kind::GatewayClass => "GatewayClass",
            Kind::K8sGateway => "Gateway",
            Kind::HTTPRoute => "HTTPRoute",
            Kind::GRPCRoute => "GRPCRoute",
            Kind::TLSRoute => "TLSRoute",
            Kind::TCPRoute => "TCPRoute",
            Kind::ReferenceGrant => "ReferenceGrant",
            Kind::ListenerSet => "ListenerSet",
            Kind::BackendTLSPolicy => "BackendTLSPolicy",
            Kind::Other => "Other",
        }
    }

    /// A name unique among the kinds the view knows, for metric labels and
    /// logs: the Gateway API's Gateway is `Gateway.gateway.networking.k8s.io`
    /// (kubectl's resource.group form), every other kind its plain name.
    pub fn unique_name(self) -> &'static str {
        match self {
            Kind::K8sGateway => "Gateway.gateway.networking.k8s.io",
            other => other.as_str(),
        }
    }

    /// The API group (empty for the core group).
    pub fn group(self) -> &'static str {
        match self {
            Kind::Gateway
            | Kind::VirtualService
            | Kind::DestinationRule
            | Kind::ServiceEntry
            | Kind::Sidecar
            | Kind::EnvoyFilter
            | Kind::WorkloadEntry => "networking.istio.io",
            Kind::PeerAuthentication | Kind::RequestAuthentication | Kind::AuthorizationPolicy => "security.istio.io",
            Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet | Kind::ReplicaSet => "apps",
            Kind::MutatingWebhookConfiguration => "admissionregistration.k8s.io",
            Kind::GatewayClass
            | Kind::K8sGateway
            | Kind::HTTPRoute
            | Kind::GRPCRoute
            | Kind::TLSRoute
            | Kind::TCPRoute
            | Kind::ReferenceGrant
            | Kind::ListenerSet
            | Kind::BackendTLSPolicy => gateway_api::GROUP,
            _ => "",
        }
    }

    /// Kubernetes Gateway API kinds.
    pub fn is_gateway_api(self) -> bool {
        self.group() == gateway_api::GROUP
    }

    pub fn is_istio(self) -> bool {
        matches!(self.group(), "networking.istio.io" | "security.istio.io")
    }

    pub fn is_cluster_scoped(self) -> bool {
        matches!(
            self,
            Kind::Namespace | Kind::Node | Kind::MutatingWebhookConfiguration | Kind::GatewayClass
        )
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identity of an object in the view. `Other` kinds keep their own kind name
/// out of the key: they are never looked up by key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjKey {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

impl ObjKey {
    pub fn new(kind: Kind, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjKey {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// `ns/name`, or `name` for cluster-scoped objects.
    pub fn qualified_name(&self) -> String {
        if self.namespace.is_empty() {
            self.name.clone()
        } else {
            format!("{}/{}", self.namespace, self.name)
        }
    }
}

impl fmt::Display for ObjKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.qualified_name())
    }
}
