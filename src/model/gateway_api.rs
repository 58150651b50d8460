//! Kubernetes Gateway API objects (`gateway.networking.k8s.io`) as istiod reads
//! them (`pilot/pkg/config/kube/gateway`): GatewayClass, Gateway, the route
//! kinds and ReferenceGrant, with the pointer of every field a check reports on.

use std::collections::BTreeMap;

use jsonptr::PointerBuf;
use serde_json::{Map, Value};

use super::fields::{self, child, index, Problems};
use super::Object;

/// The API group of the Gateway API.
pub const GROUP: &str = "gateway.networking.k8s.io";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GatewayClassSpec {
    pub controller: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct K8sGatewaySpec {
    pub class: String,
    pub listeners: Vec<Listener>,
    /// `spec.tls.frontend`: the client-certificate validation of terminating
    /// listeners, `default` (port `None`) and `perPort`, each with its
    /// `validation.caCertificateRefs`.
    pub frontend: Vec<(Option<u32>, Vec<ObjectRef>)>,
    /// `spec.addresses` of type Hostname: a Service (FQDN) whose proxies serve
    /// the Gateway instead of its own deployment's.
    pub address_hostnames: Vec<String>,
    /// `status.addresses` is set: its deployment runs (istiod binds a waypoint
    /// only then).
    pub has_status_address: bool,
    /// `allowedListeners.namespaces`: which namespaces' ListenerSets it takes
    /// (`None` written or the field absent: none).
    pub allowed_listeners: Option<AllowedNamespaces>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListenerSetSpec {
    pub parent: Option<ParentRef>,
    pub listeners: Vec<Listener>,
    /// `metadata.creationTimestamp` (RFC 3339, UTC); `None` before creation.
    pub created: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub port: Option<u32>,
    pub protocol: String,
    pub hostname: Option<String>,
    /// `tls.mode` (a TLS listener that terminates also takes TCPRoutes).
    pub tls_mode: Option<String>,
    /// Whether the listener has a `tls` block at all.
    pub has_tls: bool,
    /// `tls.certificateRefs`.
    pub certificate_refs: Vec<ObjectRef>,
    /// `tls.options`.
    pub tls_options: BTreeMap<String, String>,
    pub namespaces: AllowedNamespaces,
    /// `allowedRoutes.kinds` as (group, kind); empty: the protocol's kinds.
    pub kinds: Vec<(String, String)>,
    pub pointer: PointerBuf,
}

/// A reference to an object by group, kind, name and optional namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    pub group: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    pub pointer: PointerBuf,
}

/// What a route rule has, for MG0917.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSummary {
    pub backends: usize,
    /// `matches` (what `meshgate explain` follows).
    pub matches: Vec<HttpMatch>,
    /// The rule's backends: indexes into `RouteSpec::backends`.
    pub backend_indexes: Vec<usize>,
    /// Backends with a weight of 0.
    pub zero_weight: usize,
    /// A filter that answers without a backend (RequestRedirect): its
    /// `statusCode` (the CRD's default, 302, when it names none).
    pub redirect: Option<u32>,
    pub pointer: PointerBuf,
}

/// One entry of an HTTPRoute rule's `matches`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpMatch {
    /// `path`: (type, value); the type defaults to PathPrefix.
    pub path: Option<(String, String)>,
    /// `headers`: (type, name, value); the type defaults to Exact.
    pub headers: Vec<(String, String, String)>,
    pub method: Option<String>,
    /// `queryParams`: (type, name, value); the type defaults to Exact.
    pub query_params: Vec<(String, String, String)>,
    /// A GRPCRoute's `method`: (type, service, method); the type defaults to Exact.
    pub grpc_method: Option<(String, Option<String>, Option<String>)>,
}

/// `allowedRoutes.namespaces.from`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AllowedNamespaces {
    #[default]
    Same,
    All,
    Selector(LabelSelector),
    /// `allowedListeners` only.
    None,
}

/// A Kubernetes label selector (`matchLabels` and `matchExpressions`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    pub match_labels: BTreeMap<String, String>,
    /// (key, operator, values).
    pub match_expressions: Vec<(String, String, Vec<String>)>,
}

impl LabelSelector {
    /// Kubernetes' selector semantics over `labels`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|(k, op, values)| {
                let got = labels.get(k);
                match op.as_str() {
                    "In" => got.is_some_and(|g| values.contains(g)),
                    "NotIn" => got.is_none_or(|g| !values.contains(g)),
                    "Exists" => got.is_some(),
                    "DoesNotExist" => got.is_none(),
                    _ => false,
                }
            })
    }
}

/// HTTPRoute, GRPCRoute, TLSRoute or TCPRoute: what attachment and backends need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteSpec {
    pub parent_refs: Vec<ParentRef>,
    pub hostnames: Vec<String>,
    pub backends: Vec<BackendRef>,
    pub rules: Vec<RuleSummary>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentRef {
    pub group: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub section_name: Option<String>,
    pub port: Option<u32>,
    pub pointer: PointerBuf,
}

impl ParentRef {
    pub fn namespace_or<'a>(&'a self, local: &'a str) -> &'a str {
        self.namespace.as_deref().unwrap_or(local)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendRef {
    pub group: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub port: Option<u32>,
    /// `weight` (default 1).
    pub weight: Option<u32>,
    /// A RequestMirror filter's backend (dropped alone when broken), not a rule's.
    pub mirror: bool,
    pub pointer: PointerBuf,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReferenceGrantSpec {
    /// (group, kind, namespace) allowed to refer.
    pub from: Vec<(String, String, String)>,
    /// (group, kind, name) that may be referred to; no name: all of the kind.
    pub to: Vec<(String, String, Option<String>)>,
}

fn str_of(m: &Map<String, Value>, key: &str, at: &jsonptr::Pointer, p: &mut Problems) -> Option<String> {
    fields::str_field(m, key, at, p).map(str::to_string)
}

pub fn parse_gateway_class(obj: &Object, p: &mut Problems) -> GatewayClassSpec {
    let root = PointerBuf::parse("/spec").unwrap_or_default();
    let Some(m) = fields::spec(&obj.value, p) else {
        return GatewayClassSpec::default();
    };
    GatewayClassSpec {
        controller: str_of(m, "controllerName", &root, p).unwrap_or_default(),
    }
}

fn parse_selector(m: &Map<String, Value>, at: &jsonptr::Pointer, p: &mut Problems) -> LabelSelector {
    let mut sel = LabelSelector {
        match_labels: fields::string_map(m, "matchLabels", at, p),
        ..LabelSelector::default()
    };
    let ex_at = child(at, "matchExpressions");
    for (i, e) in fields::list(m.get("matchExpressions"), &ex_at, p).iter().enumerate() {
        let here = index(&ex_at, i);
        if let Some(e) = fields::mapping(Some(e), &here, p) {
            let key = str_of(e, "key", &here, p).unwrap_or_default();
            let op = str_of(e, "operator", &here, p).unwrap_or_default();
            let values = fields::string_list(e, "values", &here, p)
                .into_iter()
                .map(|v| v.value)
                .collect();
            sel.match_expressions.push((key, op, values));
        }
    }
    sel
}

/// `from` of a namespace policy (`allowedRoutes.namespaces`, `allowedListeners.namespaces`).
fn parse_namespaces(
    ns: &Map<String, Value>,
    ns_at: &jsonptr::Pointer,
    absent: AllowedNamespaces,
    p: &mut Problems,
) -> AllowedNamespaces {
    match str_of(ns, "from", ns_at, p).as_deref() {
        Some("All") => AllowedNamespaces::All,
        Some("Same") => AllowedNamespaces::Same,
        Some("None") => AllowedNamespaces::None,
        Some("Selector") => {
            let sel_at = child(ns_at, "selector");
            match fields::mapping(ns.get("selector"), &sel_at, p) {
                Some(sel) => AllowedNamespaces::Selector(parse_selector(sel, &sel_at, p)),
                None => absent,
            }
        }
        _ => absent,
    }
}

pub fn parse_gateway(obj: &Object, p: &mut Problems) -> K8sGatewaySpec {
    let root = PointerBuf::parse("/spec").unwrap_or_default();
    let Some(m) = fields::spec(&obj.value, p) else {
        return K8sGatewaySpec::default();
    };
    let al_at = child(&root, "allowedListeners");
    let allowed_listeners = fields::mapping(m.get("allowedListeners"), &al_at, p).and_then(|al| {
        let ns_at = child(&al_at, "namespaces");
        fields::mapping(al.get("namespaces"), &ns_at, p)
            // No `from` (the API defaults it to None) or a Selector without a
            // selector: istiod admits none.
            .map(|ns| parse_namespaces(ns, &ns_at, AllowedNamespaces::None, p))
    });
    K8sGatewaySpec {
        class: str_of(m, "gatewayClassName", &root, p).unwrap_or_default(),
        listeners: parse_listeners(m, &root, p),
        allowed_listeners,
        frontend: parse_frontend(m, &root, p),
        has_status_address: obj
            .value
            .pointer("/status/addresses")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty()),
        address_hostnames: {
            let at = child(&root, "addresses");
            fields::list(m.get("addresses"), &at, p)
                .iter()
                .enumerate()
                .filter_map(|(i, a)| {
                    let here = index(&at, i);
                    let a = fields::mapping(Some(a), &here, p)?;
                    let kind = str_of(a, "type", &here, p).unwrap_or_else(|| "IPAddress".to_string());
                    (kind == "Hostname").then(|| str_of(a, "value", &here, p)).flatten()
                })
                .collect()
        },
    }
}

/// `spec.tls.frontend`: (port, CA references) for `default` (no port) and
/// each `perPort` entry.
fn parse_frontend(
    m: &Map<String, Value>,
    root: &jsonptr::Pointer,
    p: &mut Problems,
) -> Vec<(Option<u32>, Vec<ObjectRef>)> {
    let tls_at = child(root, "tls");
    let front_at = child(&tls_at, "frontend");
    let Some(front) =
        fields::mapping(m.get("tls"), &tls_at, p).and_then(|t| fields::mapping(t.get("frontend"), &front_at, p))
    else {
        return Vec::new();
    };
    let ca_refs = |tls: &Map<String, Value>, at: &jsonptr::Pointer, p: &mut Problems| {
        let v_at = child(at, "validation");
        let Some(v) = fields::mapping(tls.get("validation"), &v_at, p) else {
            return Vec::new();
        };
        let refs_at = child(&v_at, "caCertificateRefs");
        fields::list(v.get("caCertificateRefs"), &refs_at, p)
            .iter()
            .enumerate()
            .filter_map(|(j, c)| {
                let ch = index(&refs_at, j);
                let c = fields::mapping(Some(c), &ch, p)?;
                Some(ObjectRef {
                    group: str_of(c, "group", &ch, p).unwrap_or_default(),
                    kind: str_of(c, "kind", &ch, p).unwrap_or_default(),
                    name: str_of(c, "name", &ch, p).unwrap_or_default(),
                    namespace: str_of(c, "namespace", &ch, p),
                    pointer: ch,
                })
            })
            .collect::<Vec<_>>()
    };
    let mut out = Vec::new();
    let d_at = child(&front_at, "default");
    if let Some(d) = fields::mapping(front.get("default"), &d_at, p) {
        out.push((None, ca_refs(d, &d_at, p)));
    }
    let pp_at = child(&front_at, "perPort");
    for (i, pp) in fields::list(front.get("perPort"), &pp_at, p).iter().enumerate() {
        let here = index(&pp_at, i);
        let Some(pp) = fields::mapping(Some(pp), &here, p) else {
            continue;
        };
        let Some(port) = fields::port_field(pp, "port", &here, p) else {
            continue;
        };
        let t_at = child(&here, "tls");
        let refs = fields::mapping(pp.get("tls"), &t_at, p)
            .map(|t| ca_refs(t, &t_at, p))
            .unwrap_or_default();
        out.push((Some(port), refs));
    }
    out
}

impl K8sGatewaySpec {
    /// istiod's `resolveGatewayTLS`: the frontend validation CA references a
    /// listener on `port` gets (its `perPort` entry, else `default`).
    pub fn frontend_ca_refs(&self, port: Option<u32>) -> &[ObjectRef] {
        self.frontend
            .iter()
            .find(|(p, _)| p.is_some() && *p == port)
            .or_else(|| self.frontend.iter().find(|(p, _)| p.is_none()))
            .map_or(&[], |(_, refs)| refs.as_slice())
    }
}

/// ListenerSet (`gateway.networking.k8s.io`, read by istiod from 1.30).
pub fn parse_listener_set(obj: &Object, p: &mut Problems) -> ListenerSetSpec {
    let root = PointerBuf::parse("/spec").unwrap_or_default();
    let Some(m) = fields::spec(&obj.value, p) else {
        return ListenerSetSpec::default();
    };
    let pr_at = child(&root, "parentRef");
    let parent = fields::mapping(m.get("parentRef"), &pr_at, p).map(|r| ParentRef {
        group: str_of(r, "group", &pr_at, p).unwrap_or_else(|| GROUP.to_string()),
        kind: str_of(r, "kind", &pr_at, p).unwrap_or_else(|| "Gateway".to_string()),
        namespace: str_of(r, "namespace", &pr_at, p),
        name: str_of(r, "name", &pr_at, p).unwrap_or_default(),
        section_name: None,
        port: None,
        pointer: pr_at.clone(),
    });
    ListenerSetSpec {
        parent,
        listeners: parse_listeners(m, &root, p),
        created: obj
            .value
            .pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str)
            .map(str::to_string),
    }
}

fn parse_listeners(m: &Map<String, Value>, root: &jsonptr::Pointer, p: &mut Problems) -> Vec<Listener> {
    let mut listeners = Vec::new();
    let at = child(root, "listeners");
    for (i, l) in fields::list(m.get("listeners"), &at, p).iter().enumerate() {
        let here = index(&at, i);
        let Some(l) = fields::mapping(Some(l), &here, p) else {
            continue;
        };
        let tls_at = child(&here, "tls");
        let tls = fields::mapping(l.get("tls"), &tls_at, p);
        let tls_mode = tls.and_then(|t| str_of(t, "mode", &tls_at, p));
        let mut certificate_refs = Vec::new();
        let mut tls_options = BTreeMap::new();
        if let Some(t) = tls {
            let refs_at = child(&tls_at, "certificateRefs");
            for (j, c) in fields::list(t.get("certificateRefs"), &refs_at, p).iter().enumerate() {
                let ch = index(&refs_at, j);
                if let Some(c) = fields::mapping(Some(c), &ch, p) {
                    certificate_refs.push(ObjectRef {
                        group: str_of(c, "group", &ch, p).unwrap_or_default(),
                        kind: str_of(c, "kind", &ch, p).unwrap_or_else(|| "Secret".to_string()),
                        name: str_of(c, "name", &ch, p).unwrap_or_default(),
                        namespace: str_of(c, "namespace", &ch, p),
                        pointer: ch,
                    });
                }
            }
            tls_options = fields::string_map(t, "options", &tls_at, p);
        }
        let ar_at = child(&here, "allowedRoutes");
        let mut namespaces = AllowedNamespaces::Same;
        let mut kinds = Vec::new();
        if let Some(ar) = fields::mapping(l.get("allowedRoutes"), &ar_at, p) {
            let ns_at = child(&ar_at, "namespaces");
            if let Some(ns) = fields::mapping(ar.get("namespaces"), &ns_at, p) {
                namespaces = match parse_namespaces(ns, &ns_at, AllowedNamespaces::Same, p) {
                    // istiod: a Selector without selector "should never happen,
                    // invalid config": all.
                    AllowedNamespaces::Same if ns.get("from").and_then(Value::as_str) == Some("Selector") => {
                        AllowedNamespaces::All
                    }
                    // Routes: istiod knows no `None` here; it reads as Same.
                    AllowedNamespaces::None => AllowedNamespaces::Same,
                    other => other,
                };
            }
            let k_at = child(&ar_at, "kinds");
            for (j, k) in fields::list(ar.get("kinds"), &k_at, p).iter().enumerate() {
                let kh = index(&k_at, j);
                if let Some(k) = fields::mapping(Some(k), &kh, p) {
                    let group = str_of(k, "group", &kh, p).unwrap_or_else(|| GROUP.to_string());
                    let kind = str_of(k, "kind", &kh, p).unwrap_or_default();
                    kinds.push((group, kind));
                }
            }
        }
        listeners.push(Listener {
            name: str_of(l, "name", &here, p).unwrap_or_default(),
            port: fields::port_field(l, "port", &here, p),
            protocol: str_of(l, "protocol", &here, p).unwrap_or_default(),
            hostname: str_of(l, "hostname", &here, p),
            tls_mode,
            has_tls: tls.is_some(),
            certificate_refs,
            tls_options,
            namespaces,
            kinds,
            pointer: here,
        });
    }
    listeners
}

fn parse_backend(b: &Map<String, Value>, here: PointerBuf, mirror: bool, p: &mut Problems) -> BackendRef {
    BackendRef {
        group: str_of(b, "group", &here, p).unwrap_or_default(),
        kind: str_of(b, "kind", &here, p).unwrap_or_else(|| "Service".to_string()),
        namespace: str_of(b, "namespace", &here, p),
        name: str_of(b, "name", &here, p).unwrap_or_default(),
        port: fields::port_field(b, "port", &here, p),
        weight: b
            .get("weight")
            .and_then(Value::as_u64)
            .map(|w| w.min(u64::from(u32::MAX)) as u32),
        mirror,
        pointer: here,
    }
}

pub fn parse_route(obj: &Object, p: &mut Problems) -> RouteSpec {
    let root = PointerBuf::parse("/spec").unwrap_or_default();
    let Some(m) = fields::spec(&obj.value, p) else {
        return RouteSpec::default();
    };
    let mut spec = RouteSpec {
        hostnames: fields::string_list(m, "hostnames", &root, p)
            .into_iter()
            .map(|h| h.value)
            .collect(),
        ..RouteSpec::default()
    };
    let at = child(&root, "parentRefs");
    for (i, r) in fields::list(m.get("parentRefs"), &at, p).iter().enumerate() {
        let here = index(&at, i);
        let Some(r) = fields::mapping(Some(r), &here, p) else {
            continue;
        };
        spec.parent_refs.push(ParentRef {
            group: str_of(r, "group", &here, p).unwrap_or_else(|| GROUP.to_string()),
            kind: str_of(r, "kind", &here, p).unwrap_or_else(|| "Gateway".to_string()),
            namespace: str_of(r, "namespace", &here, p),
            name: str_of(r, "name", &here, p).unwrap_or_default(),
            section_name: str_of(r, "sectionName", &here, p),
            port: fields::port_field(r, "port", &here, p),
            pointer: here,
        });
    }
    let rules_at = child(&root, "rules");
    for (i, rule) in fields::list(m.get("rules"), &rules_at, p).iter().enumerate() {
        let rule_at = index(&rules_at, i);
        let Some(rule) = fields::mapping(Some(rule), &rule_at, p) else {
            continue;
        };
        let b_at = child(&rule_at, "backendRefs");
        let mut summary = RuleSummary {
            backends: 0,
            matches: Vec::new(),
            backend_indexes: Vec::new(),
            zero_weight: 0,
            redirect: None,
            pointer: rule_at.clone(),
        };
        // HTTPRoute and GRPCRoute matches (a TLSRoute or TCPRoute has
        // none): what explain follows.
        let m_at = child(&rule_at, "matches");
        let grpc = obj.key.kind == super::Kind::GRPCRoute;
        let matches = if matches!(obj.key.kind, super::Kind::HTTPRoute | super::Kind::GRPCRoute) {
            fields::list(rule.get("matches"), &m_at, p)
        } else {
            &[]
        };
        for (j, mt) in matches.iter().enumerate() {
            let here = index(&m_at, j);
            let Some(mt) = fields::mapping(Some(mt), &here, p) else {
                continue;
            };
            let path_at = child(&here, "path");
            let path = (!grpc)
                .then(|| fields::mapping(mt.get("path"), &path_at, p))
                .flatten()
                .map(|pm| {
                    (
                        str_of(pm, "type", &path_at, p).unwrap_or_else(|| "PathPrefix".to_string()),
                        str_of(pm, "value", &path_at, p).unwrap_or_else(|| "/".to_string()),
                    )
                });
            let typed_values = |key: &str, p: &mut Problems| {
                let at = child(&here, key);
                fields::list(mt.get(key), &at, p)
                    .iter()
                    .enumerate()
                    .filter_map(|(k, h)| {
                        let hh = index(&at, k);
                        let h = fields::mapping(Some(h), &hh, p)?;
                        Some((
                            str_of(h, "type", &hh, p).unwrap_or_else(|| "Exact".to_string()),
                            str_of(h, "name", &hh, p).unwrap_or_default(),
                            str_of(h, "value", &hh, p).unwrap_or_default(),
                        ))
                    })
                    .collect::<Vec<_>>()
            };
            let headers = typed_values("headers", p);
            let (method, query_params, grpc_method) = if grpc {
                let at = child(&here, "method");
                let gm = fields::mapping(mt.get("method"), &at, p).map(|gm| {
                    (
                        str_of(gm, "type", &at, p).unwrap_or_else(|| "Exact".to_string()),
                        str_of(gm, "service", &at, p),
                        str_of(gm, "method", &at, p),
                    )
                });
                (None, Vec::new(), gm)
            } else {
                (str_of(mt, "method", &here, p), typed_values("queryParams", p), None)
            };
            summary.matches.push(HttpMatch {
                path,
                headers,
                method,
                query_params,
                grpc_method,
            });
        }
        for (j, b) in fields::list(rule.get("backendRefs"), &b_at, p).iter().enumerate() {
            let here = index(&b_at, j);
            if let Some(b) = fields::mapping(Some(b), &here, p) {
                summary.backends += 1;
                if b.get("weight").and_then(Value::as_u64) == Some(0) {
                    summary.zero_weight += 1;
                }
                summary.backend_indexes.push(spec.backends.len());
                spec.backends.push(parse_backend(b, here, false, p));
            }
        }
        let f_at = child(&rule_at, "filters");
        for (j, f) in fields::list(rule.get("filters"), &f_at, p).iter().enumerate() {
            let here = index(&f_at, j);
            let Some(f) = fields::mapping(Some(f), &here, p) else {
                continue;
            };
            if f.get("type").and_then(Value::as_str) == Some("RequestRedirect") || f.contains_key("requestRedirect") {
                let r_at = child(&here, "requestRedirect");
                let code = fields::mapping(f.get("requestRedirect"), &r_at, p)
                    .and_then(|r| r.get("statusCode"))
                    .and_then(Value::as_u64)
                    .and_then(|c| u32::try_from(c).ok());
                summary.redirect = Some(code.unwrap_or(302));
            }
            let mirror_at = child(&here, "requestMirror");
            if let Some(mirror) = fields::mapping(f.get("requestMirror"), &mirror_at, p) {
                let br_at = child(&mirror_at, "backendRef");
                if let Some(b) = fields::mapping(mirror.get("backendRef"), &br_at, p) {
                    spec.backends.push(parse_backend(b, br_at, true, p));
                }
            }
        }
        spec.rules.push(summary);
    }
    spec
}

pub fn parse_reference_grant(obj: &Object, p: &mut Problems) -> ReferenceGrantSpec {
    let root = PointerBuf::parse("/spec").unwrap_or_default();
    let Some(m) = fields::spec(&obj.value, p) else {
        return ReferenceGrantSpec::default();
    };
    let mut spec = ReferenceGrantSpec::default();
    let from_at = child(&root, "from");
    for (i, f) in fields::list(m.get("from"), &from_at, p).iter().enumerate() {
        let here = index(&from_at, i);
        if let Some(f) = fields::mapping(Some(f), &here, p) {
            spec.from.push((
                str_of(f, "group", &here, p).unwrap_or_default(),
                str_of(f, "kind", &here, p).unwrap_or_default(),
                str_of(f, "namespace", &here, p).unwrap_or_default(),
            ));
        }
    }
    let to_at = child(&root, "to");
    for (i, t) in fields::list(m.get("to"), &to_at, p).iter().enumerate() {
        let here = index(&to_at, i);
        if let Some(t) = fields::mapping(Some(t), &here, p) {
            spec.to.push((
                str_of(t, "group", &here, p).unwrap_or_default(),
                str_of(t, "kind", &here, p).unwrap_or_default(),
                str_of(t, "name", &here, p).filter(|n| !n.is_empty()),
            ));
        }
    }
    spec
}

/// BackendTLSPolicy: TLS from the proxies to a Service or ServiceEntry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackendTlsPolicySpec {
    /// `targetRefs`: group, kind, name, sectionName.
    pub targets: Vec<PolicyTarget>,
    /// `validation.caCertificateRefs` (istiod uses the first).
    pub ca_refs: Vec<ObjectRef>,
    /// `validation.wellKnownCACertificates`.
    pub well_known: Option<String>,
    /// `metadata.creationTimestamp` (RFC 3339, UTC: sortable as text); `None`
    /// for an object not created yet (admission of a CREATE): the newest.
    pub created: Option<String>,
    /// Annotated `istio.io/ignore-policy-attachment: "true"`: istiod ignores it.
    pub ignored: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyTarget {
    pub group: String,
    pub kind: String,
    pub name: String,
    pub section_name: Option<String>,
    pub pointer: PointerBuf,
}

pub fn parse_backend_tls_policy(obj: &Object, p: &mut Problems) -> BackendTlsPolicySpec {
    let root = PointerBuf::parse("/spec").unwrap_or_default();
    let mut spec = BackendTlsPolicySpec {
        created: obj
            .value
            .pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str)
            .map(str::to_string),
        ignored: obj
            .annotations
            .get("istio.io/ignore-policy-attachment")
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        ..BackendTlsPolicySpec::default()
    };
    let Some(m) = fields::spec(&obj.value, p) else {
        return spec;
    };
    let t_at = child(&root, "targetRefs");
    for (i, t) in fields::list(m.get("targetRefs"), &t_at, p).iter().enumerate() {
        let here = index(&t_at, i);
        if let Some(t) = fields::mapping(Some(t), &here, p) {
            spec.targets.push(PolicyTarget {
                group: str_of(t, "group", &here, p).unwrap_or_default(),
                kind: str_of(t, "kind", &here, p).unwrap_or_default(),
                name: str_of(t, "name", &here, p).unwrap_or_default(),
                section_name: str_of(t, "sectionName", &here, p),
                pointer: here,
            });
        }
    }
    let v_at = child(&root, "validation");
    if let Some(v) = fields::mapping(m.get("validation"), &v_at, p) {
        spec.well_known = str_of(v, "wellKnownCACertificates", &v_at, p);
        let c_at = child(&v_at, "caCertificateRefs");
        for (i, c) in fields::list(v.get("caCertificateRefs"), &c_at, p).iter().enumerate() {
            let here = index(&c_at, i);
            if let Some(c) = fields::mapping(Some(c), &here, p) {
                spec.ca_refs.push(ObjectRef {
                    group: str_of(c, "group", &here, p).unwrap_or_default(),
                    kind: str_of(c, "kind", &here, p).unwrap_or_default(),
                    name: str_of(c, "name", &here, p).unwrap_or_default(),
                    namespace: None,
                    pointer: here,
                });
            }
        }
    }
    spec
}
