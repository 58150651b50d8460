//! Route attachment to Gateway and ListenerSet listeners (istiod's
//! `referenceAllowed`, `createRouteStatus` ranking, `hostnameAllowedByIsolation`,
//! `ListenerSetCollection`) and mesh (GAMMA) parents.

use super::*;

/// Why one listener does not take a parentRef (istiod's `ParentError` reasons,
/// ranked as `createRouteStatus` ranks them: NotAllowed first).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Denied {
    NotAllowed(String),
    NoHostname(String),
    NotAccepted(String),
}

/// istiod's `referenceAllowed` for one listener of a Gateway parent.
pub(super) fn reference_allowed(
    view: &ClusterView,
    l: &Listener,
    gw_ns: &str,
    r: &ParentRef,
    route_kind: Kind,
    hostnames: &[String],
    route_ns: &str,
) -> Option<Denied> {
    if let Some(p) = r.port {
        if Some(p) != l.port {
            return Some(Denied::NotAccepted(format!("port {p} not found")));
        }
    }
    if let Some(s) = &r.section_name {
        if *s != l.name {
            return Some(Denied::NotAccepted(format!("sectionName {s:?} not found")));
        }
    }
    let listener_host = l.hostname.as_deref().unwrap_or("*");
    let host_matched = if hostnames.is_empty() {
        true
    } else {
        hostnames.iter().any(|h| hostnames_overlap(listener_host, h))
    };
    let namespace_allowed = match &l.namespaces {
        AllowedNamespaces::Same => route_ns == gw_ns,
        AllowedNamespaces::All => true,
        AllowedNamespaces::Selector(sel) => sel.matches(&view.namespace_labels(route_ns)),
        AllowedNamespaces::None => false,
    };
    if !(host_matched && namespace_allowed) {
        return Some(if host_matched {
            Denied::NotAllowed(format!(
                "listener {:?} does not admit namespace {route_ns} ({})",
                l.name,
                match &l.namespaces {
                    AllowedNamespaces::Same => format!("allowedRoutes.namespaces.from: Same, the Gateway's {gw_ns}"),
                    AllowedNamespaces::All => "All".to_string(),
                    AllowedNamespaces::Selector(_) => "its namespace selector does not match".to_string(),
                    AllowedNamespaces::None => "it admits none".to_string(),
                }
            ))
        } else {
            Denied::NoHostname(format!(
                "no hostname matches listener {:?} hostname {listener_host:?}",
                l.name
            ))
        });
    }
    let kinds = listener_kinds(l);
    if !kinds.iter().any(|(g, k)| g == GROUP && k == route_kind.as_str()) {
        return Some(Denied::NotAllowed(format!(
            "listener {:?} ({}) does not take {} (it takes {})",
            l.name,
            l.protocol,
            route_kind,
            if kinds.is_empty() {
                "no route kind".to_string()
            } else {
                join(kinds.iter().map(|(_, k)| k.as_str()))
            }
        )));
    }
    None
}

pub(super) fn check_gateway_parent(
    entry: &Entry,
    route: &RouteSpec,
    r: &ParentRef,
    view: &ClusterView,
    parents: &mut Parents,
    out: &mut Vec<Finding>,
) {
    let key = &entry.object.key;
    let gw_ns = r.namespace_or(&key.namespace);
    let gw_key = ObjKey::new(Kind::K8sGateway, gw_ns, r.name.clone());
    let Some(gw) = view.get(&gw_key) else {
        parents.gateway = true;
        out.push(
            Finding::new(
                &catalog::MG0901,
                key,
                child(&r.pointer, "name"),
                format!(
                    "parent Gateway {gw_ns}/{} not found: the route is attached to nothing there and istiod writes no status for it; \
                     requests for {} at that gateway get 404",
                    r.name,
                    hosts_text(&route.hostnames)
                ),
            )
            .with_referent(gw_key),
        );
        return;
    };
    let Parsed::K8sGateway(spec) = &gw.parsed else { return };
    if class_controller(view, &spec.class) != Controller::Routes {
        return;
    }
    parents.gateway = true;
    judge_listeners(entry, route, r, view, gw, &spec.listeners, ("Gateway", gw_key), out);
}

/// A parentRef to a ListenerSet: its listeners, once its Gateway accepts it.
pub(super) fn check_listener_set_parent(
    entry: &Entry,
    route: &RouteSpec,
    r: &ParentRef,
    view: &ClusterView,
    parents: &mut Parents,
    out: &mut Vec<Finding>,
) {
    let key = &entry.object.key;
    let ns = r.namespace_or(&key.namespace);
    let set_key = ObjKey::new(Kind::ListenerSet, ns, r.name.clone());
    let (why, referent) = match view.get(&set_key) {
        None => ("not found".to_string(), set_key.clone()),
        Some(set) => {
            let Parsed::ListenerSet(spec) = &set.parsed else { return };
            match listener_set_state(view, ns, spec) {
                SetState::NotJudged => return,
                SetState::Refused(why, gw) => (format!("refused by its Gateway: {why} (MG0909)"), gw),
                SetState::Accepted => {
                    parents.gateway = true;
                    judge_listeners(
                        entry,
                        route,
                        r,
                        view,
                        set,
                        &spec.listeners,
                        ("ListenerSet", set_key),
                        out,
                    );
                    return;
                }
            }
        }
    };
    parents.gateway = true;
    out.push(
        Finding::new(
            &catalog::MG0901,
            key,
            child(&r.pointer, "name"),
            format!(
                "parent ListenerSet {ns}/{} {why}: the route is attached to nothing there and istiod writes no status for it; \
                 requests for {} there get 404",
                r.name,
                hosts_text(&route.hostnames)
            ),
        )
        .with_referent(referent),
    );
}

/// Whether a ListenerSet's parent Gateway takes it (istiod's
/// `ListenerSetCollection`: an Istio class that supports ListenerSets, and
/// `allowedListeners` admitting its namespace).
pub(super) enum SetState {
    /// Not a Gateway of Istio's (or no Gateway parent kind): not judged.
    NotJudged,
    /// Refused: why, and the object that could fix it.
    Refused(String, ObjKey),
    Accepted,
}

pub(super) fn listener_set_state(view: &ClusterView, ns: &str, spec: &ListenerSetSpec) -> SetState {
    let Some(parent) = &spec.parent else {
        return SetState::NotJudged;
    };
    if !(parent.group == GROUP && parent.kind == "Gateway") {
        return SetState::NotJudged;
    }
    let pns = parent.namespace_or(ns);
    let gw_key = ObjKey::new(Kind::K8sGateway, pns, parent.name.clone());
    let Some(gw) = view.get(&gw_key) else {
        return SetState::Refused(
            format!("its parent Gateway {pns}/{} does not exist", parent.name),
            gw_key,
        );
    };
    let Parsed::K8sGateway(gspec) = &gw.parsed else {
        return SetState::NotJudged;
    };
    match class_controller(view, &gspec.class) {
        Controller::Routes => {}
        Controller::NoRoutes => {
            return SetState::Refused(
                format!(
                    "Gateway {pns}/{} is of class {}, which takes no ListenerSets",
                    parent.name, gspec.class
                ),
                gw_key,
            )
        }
        _ => return SetState::NotJudged,
    }
    let admitted = match &gspec.allowed_listeners {
        None | Some(AllowedNamespaces::None) => false,
        Some(AllowedNamespaces::All) => true,
        Some(AllowedNamespaces::Same) => ns == pns,
        Some(AllowedNamespaces::Selector(sel)) => sel.matches(&view.namespace_labels(ns)),
    };
    if !admitted {
        return SetState::Refused(
            format!(
                "Gateway {pns}/{}'s spec.allowedListeners does not admit namespace {ns}",
                parent.name
            ),
            gw_key,
        );
    }
    SetState::Accepted
}

/// Attachment to the listeners of a Gateway or an accepted ListenerSet (the
/// parent istiod keys them by): MG0902-MG0906.
#[allow(clippy::too_many_arguments)]
pub(super) fn judge_listeners(
    entry: &Entry,
    route: &RouteSpec,
    r: &ParentRef,
    view: &ClusterView,
    parent: &Entry,
    listeners: &[Listener],
    (parent_kind, gw_key): (&str, ObjKey),
    out: &mut Vec<Finding>,
) {
    let key = &entry.object.key;
    let gw_ns = gw_key.namespace.as_str();
    let results: Vec<Option<Denied>> = listeners
        .iter()
        .map(|l| reference_allowed(view, l, gw_ns, r, key.kind, &route.hostnames, &key.namespace))
        .collect();
    if results.is_empty() {
        return;
    }
    if results.iter().any(Option::is_none) {
        let accepted: Vec<&Listener> = listeners
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.is_none())
            .map(|(l, _)| l)
            .collect();
        let problems: Vec<Vec<ListenerProblem>> = accepted.iter().map(|l| listener_problems(view, parent, l)).collect();
        if problems.iter().all(|p| !p.is_empty()) {
            let missing_only = problems.iter().flatten().all(|p| p.warns_only);
            let why: Vec<String> = problems.iter().flatten().map(|p| p.finding.message.clone()).collect();
            let f = Finding::new(
                &catalog::MG0906,
                key,
                r.pointer.clone(),
                format!(
                    "every listener of {parent_kind} {gw_ns}/{} that accepts this route is not programmed ({}): istiod reports the route Accepted, \
                     but requests for {} there get no listener (connection refused, or 404 on a shared port)",
                    r.name,
                    join(&why),
                    hosts_text(&route.hostnames)
                ),
            )
            .with_referent(gw_key.clone());
            out.push(if missing_only {
                f.with_severity(crate::finding::Severity::Warning)
            } else {
                f
            });
            return;
        }
        check_isolation(
            entry,
            route,
            &accepted,
            listeners,
            &format!("{parent_kind} {gw_ns}/{}", r.name),
            out,
        );
        return;
    }
    let denials: Vec<Denied> = results.into_iter().flatten().collect();
    let worst = denials.iter().min().cloned();
    let reasons = |pick: fn(&Denied) -> Option<&String>| join(denials.iter().filter_map(pick));
    let gw_name = format!("{parent_kind} {gw_ns}/{}", r.name);
    let hosts = hosts_text(&route.hostnames);
    let f = match worst {
        Some(Denied::NotAllowed(_)) => Finding::new(
            &catalog::MG0903,
            key,
            r.pointer.clone(),
            format!(
                "no listener of {gw_name} admits this route: {} (istiod: NotAllowedByListeners); not attached, so requests for {hosts} there get 404",
                reasons(|d| match d {
                    Denied::NotAllowed(m) => Some(m),
                    _ => None,
                })
            ),
        ),
        Some(Denied::NoHostname(_)) => Finding::new(
            &catalog::MG0904,
            key,
            crate::finding::pointer("/spec/hostnames"),
            format!(
                "hostnames {} match no listener of {gw_name}: {} (istiod: NoMatchingListenerHostname); not attached, so they get 404 there",
                join(&route.hostnames),
                reasons(|d| match d {
                    Denied::NoHostname(m) => Some(m),
                    _ => None,
                })
            ),
        ),
        _ => {
            let (pointer, what) = match (&r.section_name, r.port) {
                (Some(s), _) => (child(&r.pointer, "sectionName"), format!("sectionName {s:?}")),
                (None, Some(p)) => (child(&r.pointer, "port"), format!("port {p}")),
                (None, None) => (r.pointer.clone(), "this reference".to_string()),
            };
            let names: Vec<String> = listeners
                .iter()
                .map(|l| format!("{} (port {})", l.name, l.port.map_or("?".to_string(), |p| p.to_string())))
                .collect();
            Finding::new(
                &catalog::MG0902,
                key,
                pointer,
                format!(
                    "{what} names no listener of {gw_name} (listeners: {}; istiod: NoMatchingParent): not attached, so requests for {hosts} there get 404",
                    join(&names)
                ),
            )
        }
    };
    // The Gateway's listeners decide: a batch may change them too.
    out.push(f.with_referent(gw_key));
}

/// istiod's `hostnameAllowedByIsolation`: whether `route_host` survives at
/// listener `ours`, given the other listeners of the Gateway on its port and
/// protocol (the listener that owns a host more specifically takes it).
pub(super) fn isolated_by<'a>(route_host: &str, ours: &Listener, listeners: &'a [Listener]) -> Option<&'a Listener> {
    let our_host = ours.hostname.as_deref().unwrap_or("");
    if !our_host.is_empty() && !our_host.starts_with('*') {
        return None;
    }
    listeners
        .iter()
        .filter(|l| l.port == ours.port && l.protocol == ours.protocol && l.name != ours.name)
        .filter(|l| l.hostname.as_deref().unwrap_or("") != our_host)
        .find(|l| {
            let check = l.hostname.as_deref().unwrap_or("");
            our_host.len() <= check.len() && host_subset_of(route_host, check)
        })
}

/// Whether every host `a` names is named by `b` (`host.Name.SubsetOf`).
pub(super) fn host_subset_of(a: &str, b: &str) -> bool {
    if b.is_empty() {
        return false;
    }
    if b == "*" {
        return true;
    }
    match (a.strip_prefix('*'), b.strip_prefix('*')) {
        (_, None) => a.eq_ignore_ascii_case(b),
        (None, Some(sb)) => a.to_ascii_lowercase().ends_with(&sb.to_ascii_lowercase()),
        (Some(sa), Some(sb)) => sa.to_ascii_lowercase().ends_with(&sb.to_ascii_lowercase()),
    }
}

/// MG0905: hostnames dropped at every listener that accepts the route because a
/// more specific listener on the same port owns them.
pub(super) fn check_isolation(
    entry: &Entry,
    route: &RouteSpec,
    accepted: &[&Listener],
    listeners: &[Listener],
    gw_name: &str,
    out: &mut Vec<Finding>,
) {
    for (i, h) in route.hostnames.iter().enumerate() {
        // Where the route's listener takes this host at all.
        let taking: Vec<&&Listener> = accepted
            .iter()
            .filter(|l| hostnames_overlap(l.hostname.as_deref().unwrap_or("*"), h))
            .collect();
        if taking.is_empty() {
            continue;
        }
        let owners: Vec<(&Listener, &Listener)> = taking
            .iter()
            .filter_map(|l| Some((**l, isolated_by(h, l, listeners)?)))
            .collect();
        if owners.len() < taking.len() {
            continue;
        }
        let pairs: Vec<String> = owners
            .iter()
            .map(|(ours, other)| {
                format!(
                    "listener {:?} owns it at {:?}'s port {}",
                    other.name,
                    ours.name,
                    ours.port.map_or("?".to_string(), |p| p.to_string())
                )
            })
            .collect();
        out.push(Finding::new(
            &catalog::MG0905,
            &entry.object.key,
            crate::model::fields::index(&crate::finding::pointer("/spec/hostnames"), i),
            format!(
                "hostname {h} is dropped by listener isolation at {gw_name}: {} (hostname {}), so its requests go to that listener's routes, not this route's, while istiod reports Accepted",
                join(&pairs),
                join(owners.iter().map(|(_, o)| o.hostname.as_deref().unwrap_or("none")))
            ),
        ));
    }
}

pub(super) fn check_mesh_parent(
    entry: &Entry,
    route: &RouteSpec,
    r: &ParentRef,
    kind: Kind,
    view: &ClusterView,
    parents: &mut Parents,
    out: &mut Vec<Finding>,
) {
    let key = &entry.object.key;
    parents.mesh = true;
    let pns = r.namespace_or(&key.namespace);
    let pkey = ObjKey::new(kind, pns, r.name.clone());
    let Some(parent) = view.get(&pkey) else {
        out.push(
            Finding::new(
                &catalog::MG0931,
                key,
                child(&r.pointer, "name"),
                format!(
                    "parent {kind} {pns}/{} not found: this route is not applied in the mesh, none of its rules apply (istiod: parent {} not found)",
                    r.name,
                    if kind == Kind::Service { "service" } else { "service entry" }
                ),
            )
            .with_referent(pkey),
        );
        return;
    };
    if let Some(p) = r.port {
        let ports = parent.ports();
        if !ports.is_empty() && !ports.contains(&p) {
            out.push(Finding::new(
                &catalog::MG0932,
                key,
                child(&r.pointer, "port"),
                format!(
                    "port {p} is not a port of {kind} {pns}/{} (ports: {}): istiod matches this route's rules on port {p}, which no request to it uses",
                    r.name,
                    join(ports.iter().map(u32::to_string))
                ),
            ));
        }
    }
    if http_like(key.kind) {
        if r.section_name.is_some() {
            out.push(Finding::new(
                &catalog::MG0933,
                key,
                child(&r.pointer, "sectionName"),
                format!(
                    "sectionName on a mesh parent ({kind} {pns}/{}) is ignored by istiod",
                    r.name
                ),
            ));
        }
        if !route.hostnames.is_empty() {
            out.push(Finding::new(
                &catalog::MG0933,
                key,
                crate::finding::pointer("/spec/hostnames"),
                format!(
                    "hostnames {} are ignored for the mesh parent {kind} {pns}/{}: istiod routes the parent's own host",
                    join(&route.hostnames),
                    r.name
                ),
            ));
        }
    }
}

/// Where istiod serves a route through a Gateway API Gateway: for a parentRef
/// to an Istio-class Gateway, each programmed listener that accepts the route,
/// with the route hostnames istiod keeps there (those the listener's hostname
/// takes, less what listener isolation gives to another listener; `*` for a
/// route without hostnames). What `meshgate explain` derives istiod's
/// generated VirtualServices from.
pub(crate) fn served_at<'v>(
    view: &'v ClusterView,
    route: &Entry,
    r: &ParentRef,
) -> Vec<(&'v Arc<Entry>, &'v Listener, Vec<String>)> {
    let Parsed::Route(spec) = &route.parsed else {
        return Vec::new();
    };
    let key = &route.object.key;
    let ns = r.namespace_or(&key.namespace);
    // The parent that owns the listeners: a Gateway of an Istio class, or a
    // ListenerSet such a Gateway admits (istiod generates its Gateways under
    // the ListenerSet's name).
    let (owner, listeners): (&Arc<Entry>, &[Listener]) = match (r.group.as_str(), r.kind.as_str()) {
        (GROUP, "Gateway") => {
            let Some(gw) = view.get(&ObjKey::new(Kind::K8sGateway, ns, r.name.clone())) else {
                return Vec::new();
            };
            let Parsed::K8sGateway(gspec) = &gw.parsed else {
                return Vec::new();
            };
            if class_controller(view, &gspec.class) != Controller::Routes {
                return Vec::new();
            }
            (gw, &gspec.listeners)
        }
        (GROUP, "ListenerSet") => {
            let Some(set) = view.get(&ObjKey::new(Kind::ListenerSet, ns, r.name.clone())) else {
                return Vec::new();
            };
            let Parsed::ListenerSet(sspec) = &set.parsed else {
                return Vec::new();
            };
            if !matches!(listener_set_state(view, ns, sspec), SetState::Accepted) {
                return Vec::new();
            }
            (set, &sspec.listeners)
        }
        _ => return Vec::new(),
    };
    let route_hosts: Vec<String> = if spec.hostnames.is_empty() {
        vec!["*".to_string()]
    } else {
        spec.hostnames.clone()
    };
    listeners
        .iter()
        .filter(|l| reference_allowed(view, l, ns, r, key.kind, &spec.hostnames, &key.namespace).is_none())
        .filter(|l| listener_problems(view, owner, l).is_empty())
        .map(|l| {
            let lhost = l.hostname.as_deref().unwrap_or("*");
            let hosts = route_hosts
                .iter()
                .filter(|h| hostnames_overlap(lhost, h) && isolated_by(h, l, listeners).is_none())
                .cloned()
                .collect();
            (owner, l, hosts)
        })
        .collect()
}
