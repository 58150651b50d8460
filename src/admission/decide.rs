//! The admission decision for one review.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use super::apply_order;
use super::impact::{self, Change as ImpactChange};
use super::pending::{Change as PendingChange, Pending};
use super::review::{Operation, ReviewRequest};
use crate::checks;
use crate::finding::{Finding, Referent};
use crate::model::{Kind, Object};
use crate::policy::{Action, Policy};
use crate::view::{ClusterView, Entry};

/// How many referrers a denial names before it only counts them.
const MAX_NAMED_REFERRERS: usize = 10;

#[derive(Debug, Default)]
pub struct Decision {
    pub allowed: bool,
    pub message: Option<String>,
    pub warnings: Vec<String>,
    /// Every finding with the action taken, for metrics and audit logs.
    pub findings: Vec<(Finding, Action)>,
    /// The kind reviewed, for metrics.
    pub kind: &'static str,
    /// Skipped by an exemption (namespace or opt-out label).
    pub exempt: bool,
    /// The referrers an impact denial names: what a live read-through checks
    /// are still there (and still broken) before the denial stands.
    pub impact_referrers: Vec<crate::model::ObjKey>,
    /// Services a denial finds absent, which a remote cluster of a
    /// multi-cluster mesh may serve: read there (one GET per remote) before
    /// the denial stands.
    pub remote_lookups: Vec<crate::model::ObjKey>,
}

impl Decision {
    fn allow(kind: &'static str) -> Decision {
        Decision {
            allowed: true,
            kind,
            ..Decision::default()
        }
    }
}

/// A review meshgate cannot judge at all: answered with HTTP 400.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecideError {
    #[error("meshgate does not review kind {group}/{kind}: check the webhook's rules")]
    UnknownKind { group: String, kind: String },
}

/// Decides one review against `base` (the cluster view) plus the pending overlay.
/// `ready` is false while the view's initial lists are incomplete or stale: then
/// only findings that need no cluster view (MG0001) may deny.
pub fn decide(
    req: &mut ReviewRequest,
    base: &Arc<ClusterView>,
    ready: bool,
    policy: &Policy,
    pending: &Pending,
    now: Instant,
) -> Result<Decision, DecideError> {
    let api_version = if req.kind.group.is_empty() {
        req.kind.version.clone()
    } else {
        format!("{}/{}", req.kind.group, req.kind.version)
    };
    let kind = Kind::from_type(&api_version, &req.kind.kind);
    if kind == Kind::Other {
        return Err(DecideError::UnknownKind {
            group: req.kind.group.chars().take(100).collect(),
            kind: req.kind.kind.chars().take(100).collect(),
        });
    }
    // For metrics: unique among kinds (two kinds are called Gateway).
    let kind_name = kind.unique_name();
    if policy.exempt_namespaces.contains(&req.namespace) {
        return Ok(Decision {
            exempt: true,
            ..Decision::allow(kind_name)
        });
    }
    // Taken, not cloned: the request's copy is not needed after this.
    let subject_value = match req.operation {
        Operation::Delete => req.old_object.take(),
        _ => req.object.take(),
    };
    let Some(subject_value) = subject_value else {
        // DELETE without oldObject (very old API servers) or CONNECT: nothing to judge.
        return Ok(Decision::allow(kind_name));
    };
    let subject = match Object::from_value(subject_value, &req.namespace) {
        Ok(o) => o,
        Err(e) => {
            return Ok(Decision {
                allowed: false,
                message: Some(format!("MG0001 /: {e}")),
                kind: kind_name,
                ..Decision::default()
            })
        }
    };
    if subject.labels.get(&policy.opt_out_label).is_some_and(|v| v == "true") {
        return Ok(Decision {
            exempt: true,
            ..Decision::allow(kind_name)
        });
    }

    // A dry run is judged on the API server's state (plus this replica's recent
    // real admissions), never on other dry runs, unless the policy asks for the
    // old per-replica behaviour (`enforceOnDryRun`).
    let dry_overlay = req.dry_run && policy.enforce_on_dry_run;
    let overlay = pending.overlay(base, dry_overlay, now);
    let rooted = policy
        .root_namespace
        .as_deref()
        .filter(|r| *r != base.mesh().root_namespace)
        .map(|r| overlay.with_root_namespace(r));
    let view: &ClusterView = rooted.as_ref().unwrap_or(&overlay);
    if moves_workloads(kind) {
        return Ok(decide_move(req, subject, view, ready, policy, kind_name));
    }
    let entry = Arc::new(Entry::new(subject, view.settings()));
    let mut decision = Decision::allow(kind_name);
    let mut denials: Vec<String> = Vec::new();

    if req.operation != Operation::Delete {
        let mut findings = checks::check(&entry, view);
        if policy.require_egress_gateway {
            checks::require_egress_gateway(&mut findings);
        }
        ignore_annotated(&entry.object, &mut findings);
        let existing = existing_findings(req, view, policy);
        for f in findings {
            let mut action = policy.action(&f);
            let mut line = f.headline();
            if action == Action::Deny && existing.contains(&(f.code, f.message.clone())) {
                action = Action::Warn;
                line.push_str(" (already present before this update)");
            }
            if action == Action::Deny {
                if let Some(note) = batch_note(f.referent.as_ref(), &entry.object.key, req.dry_run, policy) {
                    action = Action::Warn;
                    line.push_str(&note);
                }
            }
            if action == Action::Deny && crate::multicluster::rests_on_registry(&f) {
                if let Some(note) = crate::multicluster::unsynced_note(view) {
                    action = Action::Warn;
                    line.push_str(&note);
                } else if let Some(Referent::Object(k)) = &f.referent {
                    if k.kind == Kind::Service && !decision.remote_lookups.contains(k) {
                        decision.remote_lookups.push(k.clone());
                    }
                }
            }
            if !ready && action == Action::Deny && f.code != "MG0001" {
                action = Action::Warn;
            }
            match action {
                Action::Deny => denials.push(line),
                Action::Warn => decision.warnings.push(line),
                Action::Audit | Action::Off => {}
            }
            decision.findings.push((f, action));
        }
    }

    if matches!(req.operation, Operation::Delete | Operation::Update) && impact::is_referent(kind) {
        let change = match req.operation {
            Operation::Delete => ImpactChange::Delete(entry.object.key.clone()),
            _ => ImpactChange::Update(entry.clone()),
        };
        let verb = if req.operation == Operation::Delete {
            "deleting"
        } else {
            "this change to"
        };
        let (deny, warn, referrers) = impact_lines(view, &change, policy, ready);
        decision.impact_referrers = referrers;
        if !deny.is_empty() && kind == Kind::Service {
            // A remote cluster serving the same Service keeps its host.
            decision.remote_lookups.push(entry.object.key.clone());
        }
        if !deny.is_empty() {
            denials.push(format!(
                "{verb} {} {} breaks {} object(s) that refer to it: {}",
                kind_name,
                entry.object.key.qualified_name(),
                deny.len(),
                summarize(&deny)
            ));
        }
        decision.warnings.extend(warn);
    }

    if !ready {
        decision.warnings.push(
            "meshgate: the cluster view is not ready (initial list incomplete or watch stale); references were not enforced"
                .to_string(),
        );
    }
    if !denials.is_empty() {
        decision.allowed = false;
        decision.message = Some(denials.join("; "));
    }
    if decision.allowed && (!req.dry_run || dry_overlay) {
        let change = match req.operation {
            Operation::Delete => PendingChange::Tombstone,
            _ => PendingChange::Upsert(entry.clone()),
        };
        pending.record(entry.object.key.clone(), change, req.dry_run, policy.pending_ttl, now);
    }
    Ok(decision)
}

/// Why an error about a referent (`referent`) does not deny this review, if it
/// does not (product.md §3 "Batches and replicas"): the referent may still come
/// in the same batch. Flux applies a referent sorted after its referrer later,
/// so it is never denied on; in a dry run no referent is (the batch's other dry
/// runs may come in any order and reach any replica) unless `enforceOnDryRun`.
fn batch_note(
    referent: Option<&Referent>,
    subject: &crate::model::ObjKey,
    dry_run: bool,
    policy: &Policy,
) -> Option<String> {
    let referent = referent?;
    if !apply_order::precedes(referent, subject) {
        return Some(format!(
            " (not denied: Flux applies {referent} after this {}, so the same batch may still create it)",
            subject.kind
        ));
    }
    (dry_run && !policy.enforce_on_dry_run).then(|| {
        format!(
            " (dry run: not denied, as another object of the batch may create or change {referent}; \
             the real apply is denied unless that happens first)"
        )
    })
}

/// Kinds whose UPDATE can move workloads to another control plane or version
/// (MG0508). Reviewed by a webhook entry with `failurePolicy: Ignore`.
fn moves_workloads(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Namespace | Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet | Kind::MutatingWebhookConfiguration
    )
}

/// Warnings only, never a denial: a meshgate problem must not block a
/// Deployment or a Namespace. Nothing enters the pending overlay.
fn decide_move(
    req: &mut ReviewRequest,
    subject: Object,
    view: &ClusterView,
    ready: bool,
    policy: &Policy,
    kind_name: &'static str,
) -> Decision {
    let mut decision = Decision::allow(kind_name);
    if req.operation != Operation::Update || !ready {
        return decision;
    }
    let Some(old) = req
        .old_object
        .take()
        .and_then(|v| Object::from_value(v, &req.namespace).ok())
    else {
        return decision;
    };
    let mut findings = checks::upgrade::check(&old, &subject, view);
    ignore_annotated(&subject, &mut findings);
    // A Namespace entering (or leaving) ambient: what its policies become once
    // istio-cni captures its pods.
    if subject.key.kind == Kind::Namespace {
        let mode = |o: &Object| o.labels.get(crate::semantics::ambient::DATAPLANE_MODE).cloned();
        if mode(&old) != mode(&subject) {
            let before = view.with_predicted_ambient();
            let mut after = before.clone();
            after.apply(subject.clone());
            for (key, f) in checks::ambient::relabel_findings(&before, &after, &subject.key.name) {
                decision
                    .warnings
                    .push(format!("once istio-cni applies this label, {key}: {}", f.headline()));
                decision.findings.push((f, Action::Warn));
            }
        }
    }
    for f in findings {
        let action = match policy.action(&f) {
            Action::Deny => Action::Warn,
            other => other,
        };
        if action == Action::Warn {
            decision.warnings.push(f.headline());
        }
        decision.findings.push((f, action));
    }
    decision
}

/// Drops findings whose code the object's `meshgate.io/ignore` annotation lists.
fn ignore_annotated(object: &Object, findings: &mut Vec<Finding>) {
    findings.retain(|f| !crate::policy::ignores(object, f.code));
}

/// On UPDATE, the (code, message) pairs the old object already had: those are not
/// denied unless `enforceExisting`, so an unrelated edit to an already-broken
/// object is never blocked.
fn existing_findings(req: &ReviewRequest, view: &ClusterView, policy: &Policy) -> BTreeSet<(&'static str, String)> {
    if req.operation != Operation::Update || policy.enforce_existing {
        return BTreeSet::new();
    }
    let Some(old) = req
        .old_object
        .as_ref()
        .and_then(|o| Object::from_value(o.clone(), &req.namespace).ok())
    else {
        return BTreeSet::new();
    };
    let old = Entry::new(old, view.settings());
    checks::check(&old, view)
        .into_iter()
        .map(|f| (f.code, f.message))
        .collect()
}

/// One line per broken referrer (deny) and per warning, and the keys of the
/// referrers denied on.
fn impact_lines(
    view: &ClusterView,
    change: &ImpactChange,
    policy: &Policy,
    ready: bool,
) -> (Vec<String>, Vec<String>, Vec<crate::model::ObjKey>) {
    let mut deny = Vec::new();
    let mut warn = Vec::new();
    let mut referrers = Vec::new();
    let impact = impact::analyze(view, change);
    // What a certificate Secret's or a waypoint's deletion leaves behind that
    // the checks only warn about: warnings, never a denial.
    let after = match change {
        ImpactChange::Delete(k) => format!("without this {}", k.kind.as_str()),
        ImpactChange::Update(_) => "after this change".to_string(),
    };
    for (referrer, mut findings) in impact.warned {
        let key = &referrer.object.key;
        if policy.exempt_namespaces.contains(&key.namespace) {
            continue;
        }
        ignore_annotated(&referrer.object, &mut findings);
        for f in findings
            .iter()
            .filter(|f| matches!(policy.action(f), Action::Warn | Action::Deny))
        {
            warn.push(format!("{after}, {key}: {}", f.headline()));
        }
    }
    // While a remote cluster is not synced, it may still serve a host this
    // change takes away here.
    let unsynced = crate::multicluster::unsynced_note(view);
    for (referrer, mut findings) in impact.broken {
        let key = &referrer.object.key;
        if policy.exempt_namespaces.contains(&key.namespace) {
            continue;
        }
        ignore_annotated(&referrer.object, &mut findings);
        let mut lines: Vec<String> = Vec::new();
        for f in findings.iter().filter(|f| policy.action(f) == Action::Deny) {
            match &unsynced {
                Some(note) if crate::multicluster::rests_on_registry(f) => {
                    warn.push(format!("{after}, {key}: {}{note}", f.headline()))
                }
                _ => lines.push(f.headline()),
            }
        }
        if lines.is_empty() {
            continue;
        }
        let line = format!("{key} ({})", lines.join(", "));
        if ready {
            deny.push(line);
            referrers.push(key.clone());
        } else {
            warn.push(format!("would break {line}"));
        }
    }
    (deny, warn, referrers)
}

fn summarize(lines: &[String]) -> String {
    checks::join_at_most(lines, MAX_NAMED_REFERRERS)
}

#[cfg(test)]
mod tests;
