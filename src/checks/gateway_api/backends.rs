//! Route backends as istiod's `buildDestination` resolves them, and the
//! ReferenceGrants that permit them.

use super::*;

/// Whether a ReferenceGrant in `to_ns` lets a route of `route_kind` in
/// `from_ns` refer to (`group`, `kind`, `name`) (`BackendAllowed`).
pub(super) fn grant_allows(
    view: &ClusterView,
    route_kind: Kind,
    from_ns: &str,
    to_ns: &str,
    group: &str,
    kind: &str,
    name: &str,
) -> bool {
    view.reference_grants_in(to_ns).any(|g| {
        let Parsed::ReferenceGrant(spec) = &g.parsed else {
            return false;
        };
        spec.from
            .iter()
            .any(|(fg, fk, fns)| fg == GROUP && fk == route_kind.as_str() && fns == from_ns)
            && spec
                .to
                .iter()
                .any(|(tg, tk, tn)| tg == group && tk == kind && tn.as_deref().is_none_or(|n| n == name))
    })
}

pub(super) fn check_backend(
    entry: &Entry,
    b: &BackendRef,
    enforce_grants: bool,
    view: &ClusterView,
    out: &mut Vec<Finding>,
) {
    let key = &entry.object.key;
    let route_ns = key.namespace.as_str();
    let ns = b.namespace.as_deref().unwrap_or(route_ns);
    let consequence = if b.mirror {
        "the mirror is dropped".to_string()
    } else {
        backend_consequence(key.kind).to_string()
    };
    // A broken mirror drops the mirror only (MG0916, a warning).
    let push = |out: &mut Vec<Finding>, f: Finding| {
        if b.mirror {
            let mut m = Finding::new(&catalog::MG0916, key, b.pointer.clone(), f.message);
            m.referent = f.referent;
            out.push(m);
        } else {
            out.push(f);
        }
    };
    let (group, kind) = (b.group.as_str(), b.kind.as_str());
    enum Target {
        Service,
        Hostname,
        ServiceImport,
    }
    let target = match (group, kind) {
        ("" | "core", "Service") => Target::Service,
        ("networking.istio.io", "Hostname") => Target::Hostname,
        ("multicluster.x-k8s.io", "ServiceImport") => Target::ServiceImport,
        ("inference.networking.k8s.io" | "inference.networking.x-k8s.io", "InferencePool") => return,
        _ => {
            push(
                out,
                Finding::new(
                    &catalog::MG0914,
                    key,
                    child(&b.pointer, "kind"),
                    format!(
                        "backend kind {:?} (group {:?}) is not one istiod supports (istiod: InvalidKind): {consequence}",
                        kind, group
                    ),
                ),
            );
            return;
        }
    };
    if enforce_grants && ns != route_ns {
        let grant_group = if group == "core" { "" } else { group };
        if !grant_allows(view, key.kind, route_ns, ns, grant_group, kind, &b.name) {
            push(
                out,
                Finding::new(
                    &catalog::MG0913,
                    key,
                    child(&b.pointer, "namespace"),
                    format!(
                        "backend {kind} {ns}/{} is in another namespace and no ReferenceGrant in {ns} lets {} in {route_ns} refer to it \
                         (istiod: RefNotPermitted): {consequence}",
                        b.name, key.kind
                    ),
                )
                .with_referents_of(Kind::ReferenceGrant, vec![ns.to_string()]),
            );
            return;
        }
    }
    // Invalid beyond resolution: istiod drops the whole route.
    let dropped = |why: String| {
        Finding::new(
            &catalog::MG0915,
            key,
            b.pointer.clone(),
            format!("{why}: istiod converts none of this route's rules (404 at its gateways, not applied in the mesh)"),
        )
    };
    match target {
        Target::Service | Target::ServiceImport => {
            if matches!(target, Target::Service) && b.name.contains('.') {
                out.push(dropped(format!(
                    "backend Service name {:?} has a dot: it must be the Service's name, not a hostname",
                    b.name
                )));
                return;
            }
            let svc_key = ObjKey::new(Kind::Service, ns, b.name.clone());
            let Some(svc) = view.get(&svc_key) else {
                let fqdn = host::service_fqdn(&b.name, ns, view.cluster_domain());
                // istiod resolves the backend in the config cluster only, but
                // still routes to its host, which the merged registry builds
                // when a remote cluster serves it (proven in the oracle).
                let remote = view.remote_clusters_serving(&fqdn);
                if !remote.is_empty() {
                    let mut f = Finding::new(
                        &catalog::MG0911,
                        key,
                        child(&b.pointer, "name"),
                        format!(
                            "backend Service {ns}/{} is not in this cluster, so istiod's status says BackendNotFound (ResolvedRefs False), \
                             yet remote cluster{} {} serve{} {fqdn} and traffic goes there",
                            b.name,
                            if remote.len() == 1 { "" } else { "s" },
                            join(&remote),
                            if remote.len() == 1 { "s" } else { "" },
                        ),
                    );
                    f.severity = crate::finding::Severity::Warning;
                    push(out, f);
                    return;
                }
                push(
                    out,
                    Finding::new(
                        &catalog::MG0911,
                        key,
                        child(&b.pointer, "name"),
                        format!("backend Service {ns}/{} not found (istiod: BackendNotFound, backend({fqdn}) not found): {consequence}", b.name),
                    )
                    .with_referent(svc_key),
                );
                return;
            };
            let Some(port) = b.port else {
                out.push(dropped(format!("backend Service {ns}/{} has no port", b.name)));
                return;
            };
            let ports = svc.ports();
            if !ports.contains(&port) {
                let fqdn = host::service_fqdn(&b.name, ns, view.cluster_domain());
                push(
                    out,
                    Finding::new(
                        &catalog::MG0912,
                        key,
                        child(&b.pointer, "port"),
                        format!(
                            "port {port} is not a port of Service {ns}/{} (ports: {}): cluster outbound|{port}||{fqdn} does not exist, \
                             so {consequence}, while istiod reports ResolvedRefs True",
                            b.name,
                            if ports.is_empty() { "none".to_string() } else { join(ports.iter().map(u32::to_string)) }
                        ),
                    )
                    .with_referent(svc_key),
                );
            }
        }
        Target::Hostname => {
            if b.namespace.is_some() {
                out.push(dropped(format!("Hostname backend {:?} sets a namespace", b.name)));
                return;
            }
            let visible = view.registry(&b.name).any(|e| view.export_to(e).visible_to(route_ns));
            if !visible {
                push(
                    out,
                    Finding::new(
                        &catalog::MG0911,
                        key,
                        child(&b.pointer, "name"),
                        format!(
                            "backend host {} is declared by no ServiceEntry or Service visible to namespace {route_ns} (istiod: BackendNotFound): {consequence}",
                            b.name
                        ),
                    )
                    .with_referents_of(Kind::ServiceEntry, Vec::new()),
                );
                return;
            }
            if b.port.is_none() {
                out.push(dropped(format!("Hostname backend {:?} has no port", b.name)));
            }
        }
    }
}

/// Whether istiod replaces this backend of a gateway-attached route with its
/// stand-in `UnknownService` cluster (answered 500): a kind it does not
/// support, or (at gateways: `enforce_grants`) a cross-namespace backend no
/// ReferenceGrant permits.
pub(crate) fn backend_refused(view: &ClusterView, route: &Entry, b: &BackendRef, enforce_grants: bool) -> bool {
    let key = &route.object.key;
    let supported = matches!(
        (b.group.as_str(), b.kind.as_str()),
        ("" | "core", "Service") | ("networking.istio.io", "Hostname") | ("multicluster.x-k8s.io", "ServiceImport")
    );
    if !supported {
        return true;
    }
    let ns = b.namespace.as_deref().unwrap_or(&key.namespace);
    let group = if b.group == "core" { "" } else { b.group.as_str() };
    enforce_grants && ns != key.namespace && !grant_allows(view, key.kind, &key.namespace, ns, group, &b.kind, &b.name)
}

/// Whether istiod drops the route's rules whole (MG0915): a Service backend
/// named with a dot, a backend without a port, a Hostname backend with a namespace.
pub(crate) fn route_dropped(route: &RouteSpec) -> bool {
    route.backends.iter().filter(|b| !b.mirror).any(|b| {
        let service = matches!(b.group.as_str(), "" | "core") && b.kind == "Service";
        (service && b.name.contains('.')) || b.port.is_none() || (b.kind == "Hostname" && b.namespace.is_some())
    })
}
