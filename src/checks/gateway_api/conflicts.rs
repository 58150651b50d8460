//! Listener conflicts as istiod 1.31 merges a Gateway's listeners with its
//! ListenerSets' (`gatewaycommon/listener_conflict.go`:
//! `ComputeGatewayListenerConflicts`, `listenersDistinct`): MG0923.

use super::*;

/// Whether every control plane reading the object is known to be 1.31 or later
/// (the first to detect listener conflicts).
fn detects_conflicts(view: &ClusterView, entry: &Entry) -> bool {
    let readers = readers(view, entry);
    !readers.is_empty() && readers.iter().all(|cp| cp.minor().is_some_and(|v| v >= (1, 31)))
}

fn hostname(l: &Listener) -> &str {
    l.hostname.as_deref().filter(|h| !h.is_empty()).unwrap_or("*")
}

fn l4(p: &str) -> bool {
    matches!(p, "TCP" | "UDP")
}

fn http_like_protocol(p: &str) -> bool {
    matches!(p, "HTTP" | "HTTPS" | "TLS")
}

/// `listenersDistinct`.
fn distinct(a: &Listener, b: &Listener) -> bool {
    if a.port != b.port {
        return true;
    }
    let (pa, pb) = (a.protocol.as_str(), b.protocol.as_str());
    if (l4(pa) && http_like_protocol(pb)) || (http_like_protocol(pa) && l4(pb)) || (l4(pa) && l4(pb)) {
        return false;
    }
    if http_like_protocol(pa) && http_like_protocol(pb) {
        return hostname(a) != hostname(b);
    }
    pa != pb
}

/// `listenerConflictReason`.
fn reason(a: &Listener, b: &Listener) -> &'static str {
    if (l4(&a.protocol) && l4(&b.protocol)) || a.protocol != b.protocol {
        "ProtocolConflict"
    } else {
        "HostnameConflict"
    }
}

/// MG0923 for the listener of `entry` (a Gateway or a ListenerSet) named
/// `listener`, when it loses to an earlier listener of the same Gateway: istiod
/// 1.31 does not program it, so it is also a reason routes there get nothing.
pub(super) fn listener_conflict(entry: &Entry, view: &ClusterView, listener: &str) -> Option<Finding> {
    let mut out = Vec::new();
    conflicts(entry, view, Some(listener), &mut out);
    out.pop()
}

fn conflicts(entry: &Entry, view: &ClusterView, only: Option<&str>, out: &mut Vec<Finding>) {
    if !detects_conflicts(view, entry) {
        return;
    }
    let key = &entry.object.key;
    // The Gateway whose listeners merge, and the ListenerSets it admits.
    let gw_key = match &entry.parsed {
        Parsed::K8sGateway(_) => key.clone(),
        Parsed::ListenerSet(set) => {
            let Some(p) = &set.parent else { return };
            ObjKey::new(Kind::K8sGateway, p.namespace_or(&key.namespace), p.name.clone())
        }
        _ => return,
    };
    let gw_entry: &Entry = if gw_key == *key {
        entry
    } else {
        match view.get(&gw_key) {
            Some(e) => e,
            None => return,
        }
    };
    let Parsed::K8sGateway(gw) = &gw_entry.parsed else {
        return;
    };
    // Owner, its creation time, the listener.
    let mut ordered: Vec<(ObjKey, &Listener)> = gw.listeners.iter().map(|l| (gw_key.clone(), l)).collect();
    let mut sets: Vec<(Option<String>, ObjKey, &ListenerSetSpec)> = view
        .gateway_listener_sets(&gw_key.namespace, &gw_key.name)
        .filter_map(|e| match &e.parsed {
            Parsed::ListenerSet(s) if e.object.key != *key => Some((s.created.clone(), e.object.key.clone(), &**s)),
            _ => None,
        })
        .collect();
    if let Parsed::ListenerSet(s) = &entry.parsed {
        sets.push((s.created.clone(), key.clone(), s));
    }
    sets.retain(|(_, k, s)| k == key || matches!(listener_set_state(view, &k.namespace, s), SetState::Accepted));
    if let Parsed::ListenerSet(s) = &entry.parsed {
        if !matches!(listener_set_state(view, &key.namespace, s), SetState::Accepted) {
            return;
        }
    }
    // Creation time (a set not created yet is the newest), then namespace/name.
    sets.sort_by(|a, b| match (&a.0, &b.0) {
        (Some(x), Some(y)) if x != y => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        _ => a.1.qualified_name().cmp(&b.1.qualified_name()),
    });
    for (_, k, s) in &sets {
        ordered.extend(s.listeners.iter().map(|l| (k.clone(), l)));
    }
    let mut accepted: Vec<&(ObjKey, &Listener)> = Vec::new();
    for item in &ordered {
        let (owner, l) = item;
        if let Some((prior_owner, prior)) = accepted.iter().find(|(_, p)| !distinct(l, p)).map(|x| (&x.0, x.1)) {
            if owner == key && only.is_none_or(|n| n == l.name) {
                out.push(Finding::new(
                    &catalog::MG0923,
                    key,
                    l.pointer.clone(),
                    format!(
                        "listener {:?} conflicts with listener {:?} of {} {} on port {} ({}): istiod 1.31 does not program it; routes naming it get NoMatchingParent (404)",
                        l.name,
                        prior.name,
                        prior_owner.kind,
                        prior_owner.qualified_name(),
                        l.port.map_or("?".to_string(), |p| p.to_string()),
                        reason(l, prior)
                    ),
                ));
            }
            continue;
        }
        accepted.push(item);
    }
}
