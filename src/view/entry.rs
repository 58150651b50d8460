//! An object as the view stores it: the object, its parsed spec (parsed once, at
//! apply time, by the same parsers the checks use) and any parse problems.

use crate::model::destination_rule::{self, DestinationRuleSpec};
use crate::model::envoy_filter::{self, EnvoyFilterSpec};
use crate::model::fields::Problems;
use crate::model::gateway::{self, GatewaySpec};
use crate::model::gateway_api::{
    self, BackendTlsPolicySpec, GatewayClassSpec, K8sGatewaySpec, ListenerSetSpec, ReferenceGrantSpec, RouteSpec,
};
use crate::model::mesh_config::MeshConfig;
use crate::model::proxy::ControlPlane;
use crate::model::security::{self, SecuritySpec};
use crate::model::service::{self, ServiceSpec};
use crate::model::service_entry::{self, ServiceEntrySpec};
use crate::model::sidecar::{self, SidecarSpec};
use crate::model::virtual_service::{self, VirtualServiceSpec};
use crate::model::workload::{self, Workload};
use crate::model::{Kind, Object};
use crate::semantics::host;

#[derive(Clone, Debug, PartialEq, Eq)]
/// Specs are boxed: most objects of a view (Pods) have none, and an inline enum
/// would give each of them the size of the largest spec.
pub enum Parsed {
    VirtualService(Box<VirtualServiceSpec>),
    DestinationRule(Box<DestinationRuleSpec>),
    Gateway(Box<GatewaySpec>),
    ServiceEntry(Box<ServiceEntrySpec>),
    Service(Box<ServiceSpec>),
    EnvoyFilter(Box<EnvoyFilterSpec>),
    /// PeerAuthentication, RequestAuthentication, AuthorizationPolicy.
    Security(Box<SecuritySpec>),
    Sidecar(Box<SidecarSpec>),
    /// The `istio` ConfigMap's `mesh` key.
    MeshConfig(Box<MeshConfig>),
    GatewayClass(Box<GatewayClassSpec>),
    K8sGateway(Box<K8sGatewaySpec>),
    /// HTTPRoute, GRPCRoute, TLSRoute, TCPRoute.
    Route(Box<RouteSpec>),
    ReferenceGrant(Box<ReferenceGrantSpec>),
    ListenerSet(Box<ListenerSetSpec>),
    BackendTlsPolicy(Box<BackendTlsPolicySpec>),
    None,
}

/// The ConfigMap holding MeshConfig.
pub const MESH_CONFIGMAP: &str = "istio";

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub object: Object,
    pub parsed: Parsed,
    pub problems: Problems,
    pub workload: Option<Box<Workload>>,
    /// Set on istiod Deployments and Pods.
    pub control_plane: Option<Box<ControlPlane>>,
}

/// Settings fixed for the life of a view.
#[derive(Clone, Debug)]
pub struct ViewSettings {
    pub cluster_domain: String,
    /// File mode: controllers' pod templates count as workloads and every object's
    /// namespace counts as existing. Live mode: Pods and Namespace objects only.
    pub file_mode: bool,
}

impl Default for ViewSettings {
    fn default() -> Self {
        ViewSettings {
            cluster_domain: "cluster.local".to_string(),
            file_mode: true,
        }
    }
}

/// A registry port as istiod's sidecars treat it.
#[derive(Clone, Debug)]
pub struct RegistryPort {
    pub number: u32,
    /// HTTP routes apply (HTTP, HTTP2, gRPC, or a protocol istiod sniffs).
    pub http: bool,
    /// Connections are matched by SNI (TLS, HTTPS).
    pub sni: bool,
}

impl Entry {
    pub fn new(object: Object, settings: &ViewSettings) -> Entry {
        let mut problems = Problems::default();
        let parsed = match object.key.kind {
            Kind::VirtualService => Parsed::VirtualService(Box::new(virtual_service::parse(&object, &mut problems))),
            Kind::DestinationRule => Parsed::DestinationRule(Box::new(destination_rule::parse(&object, &mut problems))),
            Kind::Gateway => Parsed::Gateway(Box::new(gateway::parse(&object, &mut problems))),
            Kind::ServiceEntry => Parsed::ServiceEntry(Box::new(service_entry::parse(&object, &mut problems))),
            Kind::Service => Parsed::Service(Box::new(service::parse(&object, &mut problems))),
            Kind::EnvoyFilter => Parsed::EnvoyFilter(Box::new(envoy_filter::parse(&object, &mut problems))),
            Kind::Sidecar => Parsed::Sidecar(Box::new(sidecar::parse(&object, &mut problems))),
            Kind::PeerAuthentication | Kind::RequestAuthentication | Kind::AuthorizationPolicy => {
                Parsed::Security(Box::new(security::parse(&object, &mut problems)))
            }
            Kind::GatewayClass => {
                Parsed::GatewayClass(Box::new(gateway_api::parse_gateway_class(&object, &mut problems)))
            }
            Kind::K8sGateway => Parsed::K8sGateway(Box::new(gateway_api::parse_gateway(&object, &mut problems))),
            Kind::HTTPRoute | Kind::GRPCRoute | Kind::TLSRoute | Kind::TCPRoute => {
                Parsed::Route(Box::new(gateway_api::parse_route(&object, &mut problems)))
            }
            Kind::ReferenceGrant => {
                Parsed::ReferenceGrant(Box::new(gateway_api::parse_reference_grant(&object, &mut problems)))
            }
            Kind::ListenerSet => Parsed::ListenerSet(Box::new(gateway_api::parse_listener_set(&object, &mut problems))),
            Kind::BackendTLSPolicy => {
                Parsed::BackendTlsPolicy(Box::new(gateway_api::parse_backend_tls_policy(&object, &mut problems)))
            }
            Kind::ConfigMap if object.key.name == MESH_CONFIGMAP => {
                let text = object
                    .value
                    .pointer("/data/mesh")
                    .and_then(|v| v.as_str())
                    .unwrap_or("");
                // A MeshConfig that does not parse leaves Istio's defaults: istiod
                // would refuse it too, and the checks must still run.
                Parsed::MeshConfig(Box::new(MeshConfig::from_mesh_text(text).unwrap_or_default()))
            }
            _ => Parsed::None,
        };
        let control_plane = workload::control_plane_of(&object).map(Box::new);
        let mut object = object;
        // A Pod's labels move to `workload`; nothing reads its annotations once
        // its proxy is known.
        let workload = workload::from_object(&mut object, settings.file_mode).map(Box::new);
        // Everything the checks read is in `parsed`, `problems` and `workload` now,
        // parsed once by the same code at admission and in the index; the JSON
        // would be most of the view's memory.
        object.value = serde_json::Value::Null;
        Entry {
            object,
            parsed,
            problems,
            workload,
            control_plane,
        }
    }

    /// The registry hosts this object provides: a Service's FQDN, a ServiceEntry's hosts.
    pub fn provided_hosts(&self, cluster_domain: &str) -> Vec<String> {
        match &self.parsed {
            Parsed::Service(_) => vec![host::service_fqdn(
                &self.object.key.name,
                &self.object.key.namespace,
                cluster_domain,
            )],
            Parsed::ServiceEntry(se) => se.hosts.iter().map(|h| h.value.clone()).collect(),
            _ => Vec::new(),
        }
    }

    /// The ports a registry host of this object exposes.
    pub fn ports(&self) -> Vec<u32> {
        match &self.parsed {
            Parsed::Service(s) => s.ports.iter().map(|p| p.port).collect(),
            Parsed::ServiceEntry(se) => se.ports.iter().map(|p| p.number).collect(),
            _ => Vec::new(),
        }
    }

    /// The ports sidecars get listeners for (a Service's UDP and SCTP ports
    /// left out), with how istiod treats each.
    pub fn registry_ports(&self) -> Vec<RegistryPort> {
        use crate::model::service::{http_capable, sni_matched};
        let port = |number, name: Option<&str>, protocol: Option<&str>| RegistryPort {
            number,
            http: http_capable(name, protocol),
            sni: sni_matched(name, protocol),
        };
        match &self.parsed {
            Parsed::Service(s) => s
                .ports
                .iter()
                .filter(|p| !p.protocol.as_deref().is_some_and(|k| k == "UDP" || k == "SCTP"))
                .map(|p| port(p.port, p.name.as_deref(), p.app_protocol.as_deref()))
                .collect(),
            Parsed::ServiceEntry(se) => se
                .ports
                .iter()
                .map(|p| port(p.number, p.name.as_deref(), p.protocol.as_deref()))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The ports whose connections sidecars route by HTTP (declared HTTP, or
    /// a protocol istiod sniffs): each has an outbound route configuration.
    pub fn http_ports(&self) -> Vec<u32> {
        self.registry_ports()
            .into_iter()
            .filter(|p| p.http)
            .map(|p| p.number)
            .collect()
    }

    /// `exportTo` as written (Service: annotation; others: spec).
    pub fn export_to_entries(&self) -> &[String] {
        match &self.parsed {
            Parsed::Service(s) => &s.export_to,
            Parsed::ServiceEntry(s) => &s.export_to,
            Parsed::VirtualService(s) => &s.export_to,
            Parsed::DestinationRule(s) => &s.export_to,
            _ => &[],
        }
    }
}
