//! Listener validity as istiod's `buildListener` (`listenerProtocolToIstio`,
//! `buildTLS`, `buildSecretReference`) and the Gateways it generates per listener.

use super::*;

/// Why istiod does not program a listener.
pub(super) struct ListenerProblem {
    pub(super) finding: Finding,
    /// Only a warning: a certificate Secret that does not exist (yet), or a
    /// conflict the istiod oracle cannot show (MG0923).
    pub(super) warns_only: bool,
}

/// istiod's `buildListener` for an ingress-class Gateway: the protocol
/// (`listenerProtocolToIstio`) and, for a terminating TLS listener, its
/// certificates (`buildTLS`, `buildSecretReference`, ReferenceGrants).
pub(super) fn listener_problems(view: &ClusterView, entry: &Entry, l: &Listener) -> Vec<ListenerProblem> {
    let key = &entry.object.key;
    let mut out = Vec::new();
    let protocol_at = child(&l.pointer, "protocol");
    let not_programmed = "not programmed: routes attached to it get no Envoy listener (connections refused, or 404 on a port other listeners share)";
    match l.protocol.as_str() {
        "HTTP" | "HTTPS" => {}
        "TCP" | "TLS" => {
            let check = if l.protocol == "TCP" { reads_tcp } else { reads_tls };
            if let Some(Err(who)) = istiod_support(view, entry, check) {
                out.push(ListenerProblem {
                    finding: Finding::new(
                        &catalog::MG0922,
                        key,
                        protocol_at.clone(),
                        format!(
                            "listener {:?}: {who} programs {} listeners only with {ALPHA_FLAG}=true (istiod: UnsupportedProtocol): {not_programmed}",
                            l.name, l.protocol
                        ),
                    ),
                    warns_only: false,
                });
            }
        }
        other => {
            let upper = other.to_ascii_uppercase();
            let hint = if ["HTTP", "HTTPS", "TLS", "TCP"].contains(&upper.as_str()) {
                format!("; protocol names are case-sensitive: {upper}")
            } else if other == "HBONE" {
                "; HBONE is only for waypoint and east-west classes".to_string()
            } else {
                String::new()
            };
            out.push(ListenerProblem {
                finding: Finding::new(
                    &catalog::MG0922,
                    key,
                    protocol_at,
                    format!(
                        "listener {:?}: protocol {other:?} is not one istiod programs on an ingress Gateway (HTTP, HTTPS, TLS, TCP{hint}; istiod: UnsupportedProtocol): {not_programmed}",
                        l.name
                    ),
                ),
                warns_only: false,
            });
        }
    }
    if let Some(finding) = listener_conflict(entry, view, &l.name) {
        out.push(ListenerProblem {
            finding,
            warns_only: true,
        });
    }
    let terminates = l.has_tls && l.tls_mode.as_deref().is_none_or(|m| m == "Terminate");
    let istio_certs = matches!(
        l.tls_options
            .get("gateway.istio.io/tls-terminate-mode")
            .map(String::as_str),
        Some("ISTIO_SIMPLE" | "ISTIO_MUTUAL")
    );
    if terminates && !istio_certs && !l.certificate_refs.is_empty() {
        let refs_at = child(&child(&l.pointer, "tls"), "certificateRefs");
        if l.certificate_refs.len() > 2 {
            out.push(ListenerProblem {
                finding: Finding::new(
                    &catalog::MG0921,
                    key,
                    refs_at,
                    format!("listener {:?} has {} certificateRefs; istiod takes at most 2 (istiod: InvalidCertificateRef): {not_programmed}", l.name, l.certificate_refs.len()),
                ),
                warns_only: false,
            });
            return out;
        }
        let gw_ns = key.namespace.as_str();
        let mut reasons = Vec::new();
        let mut missing_only = true;
        let mut usable = 0;
        let mut grant_namespaces = Vec::new();
        for c in &l.certificate_refs {
            let ns = c.namespace.as_deref().unwrap_or(gw_ns);
            if !(matches!(c.group.as_str(), "" | "core") && c.kind == "Secret") {
                reasons.push(format!("{} {}/{} is not a Secret", c.kind, ns, c.name));
                missing_only = false;
                continue;
            }
            if view.get(&ObjKey::new(Kind::Secret, ns, c.name.clone())).is_none() {
                reasons.push(format!("Secret {ns}/{} does not exist", c.name));
                continue;
            }
            if ns != gw_ns && !grant_allows(view, key.kind, gw_ns, ns, "", "Secret", &c.name) {
                reasons.push(format!(
                    "Secret {ns}/{} is in another namespace and no ReferenceGrant there lets {}s in {gw_ns} use it",
                    c.name, key.kind
                ));
                missing_only = false;
                grant_namespaces.push(ns.to_string());
                continue;
            }
            usable += 1;
        }
        if usable == 0 {
            let first = l.certificate_refs[0].pointer.clone();
            let finding = Finding::new(
                &catalog::MG0921,
                key,
                first,
                format!(
                    "listener {:?} has no usable certificate: {} (istiod: InvalidCertificateRef): {not_programmed}",
                    l.name,
                    join(&reasons)
                ),
            );
            // A missing grant may come in the same batch (after the Gateway).
            let finding = if grant_namespaces.is_empty() {
                finding
            } else {
                finding.with_referents_of(Kind::ReferenceGrant, grant_namespaces)
            };
            out.push(ListenerProblem {
                finding: if missing_only {
                    finding.with_severity(crate::finding::Severity::Warning)
                } else {
                    finding
                },
                warns_only: missing_only,
            });
        } else if let Parsed::K8sGateway(gw) = &entry.parsed {
            if let Some(problem) = frontend_problem(view, entry, gw, l, not_programmed) {
                out.push(problem);
            }
        }
    }
    out
}

/// The Gateway's client-certificate validation (`spec.tls.frontend`) for a
/// listener whose certificates are usable, as istiod's `buildTLS` reads it:
/// one CA reference, a ConfigMap or a Secret, that exists, across namespaces
/// only with a ReferenceGrant; otherwise the listener is not programmed.
fn frontend_problem(
    view: &ClusterView,
    entry: &Entry,
    gw: &K8sGatewaySpec,
    l: &Listener,
    not_programmed: &str,
) -> Option<ListenerProblem> {
    let key = &entry.object.key;
    let refs = gw.frontend_ca_refs(l.port);
    let ca = refs.first()?;
    let port = l.port.map_or("?".to_string(), |p| p.to_string());
    let problem = |pointer: jsonptr::PointerBuf, why: String, warns_only: bool| {
        let f = Finding::new(
            &catalog::MG0921,
            key,
            pointer,
            format!("listener {:?} (port {port}): {why}: {not_programmed}", l.name),
        );
        Some(ListenerProblem {
            finding: if warns_only {
                f.with_severity(crate::finding::Severity::Warning)
            } else {
                f
            },
            warns_only,
        })
    };
    if refs.len() > 1 {
        return problem(
            refs[1].pointer.clone(),
            format!(
                "spec.tls.frontend names {} caCertificateRefs for it; istiod supports one (istiod: InvalidTLS, \"only one caCertificateRef is supported\")",
                refs.len()
            ),
            false,
        );
    }
    let kind = match (ca.group.as_str(), ca.kind.as_str()) {
        ("" | "core", "ConfigMap") => Kind::ConfigMap,
        ("" | "core", "Secret") => Kind::Secret,
        _ => {
            return problem(
                ca.pointer.clone(),
                format!(
                    "the client CA {} {} of spec.tls.frontend is neither a ConfigMap nor a Secret (istiod: InvalidTLS)",
                    ca.kind, ca.name
                ),
                false,
            )
        }
    };
    let ns = ca.namespace.as_deref().unwrap_or(&key.namespace);
    let target = ObjKey::new(kind, ns, ca.name.clone());
    if view.get(&target).is_none() {
        // Like a missing certificate Secret: it may come after the Gateway.
        return problem(
            ca.pointer.clone(),
            format!(
                "the client CA {} {ns}/{} of spec.tls.frontend does not exist (istiod: InvalidTLS)",
                ca.kind, ca.name
            ),
            true,
        );
    }
    if ns != key.namespace && !grant_allows(view, key.kind, &key.namespace, ns, "", kind.as_str(), &ca.name) {
        // istiod checks the grant as for a Secret; not shown by the oracle yet.
        return problem(
            ca.pointer.clone(),
            format!(
                "the client CA {} {ns}/{} of spec.tls.frontend is in another namespace and no ReferenceGrant there lets Gateways in {} use it (istiod: RefNotPermitted)",
                ca.kind, ca.name, key.namespace
            ),
            true,
        );
    }
    None
}

/// Route kinds a listener takes (`generateSupportedKinds`).
pub(super) fn listener_kinds(l: &Listener) -> Vec<(String, String)> {
    let supported: &[&str] = match l.protocol.as_str() {
        "HTTP" | "HTTPS" => &["HTTPRoute", "GRPCRoute"],
        "TCP" => &["TCPRoute"],
        "TLS" if l.tls_mode.as_deref() == Some("Terminate") => &["TLSRoute", "TCPRoute"],
        "TLS" => &["TLSRoute"],
        _ => &[],
    };
    supported
        .iter()
        .map(|k| (GROUP.to_string(), k.to_string()))
        .filter(|sk| l.kinds.is_empty() || l.kinds.contains(sk))
        .collect()
}

/// The listeners of an admitted ListenerSet that istiod programs, with the
/// Gateway that admits it (whose proxies serve them); none when refused.
pub(crate) fn listener_set_programmed<'v>(
    view: &'v ClusterView,
    set: &'v Entry,
) -> Option<(&'v Arc<Entry>, Vec<&'v Listener>)> {
    let Parsed::ListenerSet(spec) = &set.parsed else {
        return None;
    };
    let ns = &set.object.key.namespace;
    if !matches!(
        super::attachment::listener_set_state(view, ns, spec),
        super::attachment::SetState::Accepted
    ) {
        return None;
    }
    let p = spec.parent.as_ref()?;
    let gw = view.get(&ObjKey::new(Kind::K8sGateway, p.namespace_or(ns), p.name.clone()))?;
    Some((
        gw,
        spec.listeners
            .iter()
            .filter(|l| listener_problems(view, set, l).is_empty())
            .collect(),
    ))
}

/// The separator of the Istio Gateways istiod generates per Gateway API listener:
/// `<gateway>~istio-autogenerated-k8s-gateway~<listener>` (istiod 1.28+).
pub(super) const GENERATED_GATEWAY: &str = "~istio-autogenerated-k8s-gateway~";

/// For the name of a Gateway istiod generates from a Gateway API listener
/// (an Istio VirtualService may bind it): whether that listener exists and is
/// programmed. `None` for any other name.
pub(crate) fn generated_gateway_programmed(view: &ClusterView, namespace: &str, name: &str) -> Option<bool> {
    let (gateway, listener) = name.split_once(GENERATED_GATEWAY)?;
    let Some(e) = view.get(&ObjKey::new(Kind::K8sGateway, namespace, gateway)) else {
        return Some(false);
    };
    let Parsed::K8sGateway(spec) = &e.parsed else {
        return Some(false);
    };
    if class_controller(view, &spec.class) != Controller::Routes {
        return Some(false);
    }
    Some(
        spec.listeners
            .iter()
            .any(|l| l.name == listener && listener_problems(view, e, l).is_empty()),
    )
}
