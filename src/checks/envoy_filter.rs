//! EnvoyFilter checks: MG0501–MG0506. The seed's classic failure: a filter pinned
//! to `proxyVersion: ^1\.17.*` silently stops applying once proxies run another version.

use std::collections::BTreeSet;

use super::{catalog, join};
use crate::finding::{pointer, Finding, Severity};
use crate::model::envoy_filter::EnvoyFilterSpec;
use crate::model::proxy::REV_LABEL;
use crate::view::{ClusterView, Entry, ResolvedProxy};

/// Bound on a compiled proxyVersion regex: hostile patterns cannot blow up memory.
pub(super) const REGEX_SIZE_LIMIT: usize = 1 << 20;

pub(super) fn in_context(p: &ResolvedProxy, context: &str) -> bool {
    match context {
        "GATEWAY" => p.gateway,
        c if c.starts_with("SIDECAR_") => !p.gateway,
        _ => true,
    }
}

pub fn check(entry: &Entry, ef: &EnvoyFilterSpec, view: &ClusterView, out: &mut Vec<Finding>) {
    let key = &entry.object.key;
    let root = view.mesh().root_namespace.as_str();
    // In the root namespace a filter applies mesh-wide (and its selector matches
    // workloads of every namespace).
    let scope = (key.namespace != root).then_some(key.namespace.as_str());
    let selector = ef.workload_selector.as_ref().filter(|s| !s.is_empty());
    if let Some(sel) = selector {
        if view.workloads_matching(scope, sel).next().is_none() {
            out.push(Finding::new(
                &catalog::MG0503,
                key,
                pointer("/spec/workloadSelector"),
                format!(
                    "workloadSelector {} selects no workload: this filter applies to nothing",
                    super::selector_text(sel)
                ),
            ));
        }
    }
    let filter_rev = entry.object.labels.get(REV_LABEL);
    let proxies: Vec<ResolvedProxy> = view
        .proxies(scope, selector)
        .into_iter()
        .filter(|p| filter_rev.is_none_or(|r| &p.revision == r))
        .collect();
    let control_plane_versions = staging_versions(view, &proxies, filter_rev, scope);
    for patch in &ef.patches {
        let context = patch.context.as_deref().unwrap_or("ANY");
        let in_scope: Vec<&ResolvedProxy> = proxies.iter().filter(|p| in_context(p, context)).collect();
        if (context == "GATEWAY" || context.starts_with("SIDECAR_")) && in_scope.is_empty() {
            let what = if context == "GATEWAY" {
                "gateway proxy"
            } else {
                "sidecar"
            };
            out.push(Finding::new(
                &catalog::MG0506,
                key,
                patch.context_pointer(),
                format!("match.context {context}, but no {what} is in this filter's scope"),
            ));
        }
        if let Some(pv) = &patch.proxy_version {
            match regex::RegexBuilder::new(pv).size_limit(REGEX_SIZE_LIMIT).build() {
                Err(e) => out.push(Finding::new(
                    &catalog::MG0502,
                    key,
                    patch.proxy_version_pointer(),
                    // The regex error spans lines (pattern, caret, reason): keep the reason.
                    format!(
                        "proxyVersion {pv:?} is not a valid RE2 regular expression ({}): Istio's validation rejects it, so the patch is not applied",
                        e.to_string().lines().last().unwrap_or("").trim_start_matches("error: ")
                    ),
                )),
                Ok(re) => {
                    let running: BTreeSet<&str> = in_scope.iter().filter_map(|p| p.version.as_deref()).collect();
                    let matches =
                        running.iter().any(|v| re.is_match(v)) || control_plane_versions.versions.iter().any(|v| re.is_match(v));
                    if !matches {
                        let planes = if control_plane_versions.installed.is_empty() {
                            "no control plane known".to_string()
                        } else {
                            format!("control planes run {}", join(&control_plane_versions.installed))
                        };
                        let planes = match control_plane_versions.left_over.is_empty() {
                            true => planes,
                            false => format!(
                                "{planes}; {} serves none of them",
                                join(&control_plane_versions.left_over)
                            ),
                        };
                        let f = if running.is_empty() {
                            Finding::new(
                                &catalog::MG0501,
                                key,
                                patch.proxy_version_pointer(),
                                format!(
                                    "proxyVersion {pv:?} matches no installed control plane ({planes}) and no proxy in scope has a known version: this patch may never apply"
                                ),
                            )
                            .with_severity(Severity::Warning)
                        } else {
                            Finding::new(
                                &catalog::MG0501,
                                key,
                                patch.proxy_version_pointer(),
                                match view.assumed_proxy_version() {
                                    Some(a) if running.contains(a.version.as_str()) => format!(
                                        "once the proxies this patch applies to run {} (--proxy-version), proxyVersion {pv:?} matches none of them: the patch would stop applying, its filter not applied",
                                        a.version
                                    ),
                                    _ => format!(
                                        "proxyVersion {pv:?} matches none of the proxies this patch applies to (they run {}) and no installed control plane ({planes}): the patch is dead, its filter is not applied",
                                        join(&running)
                                    ),
                                },
                            )
                        };
                        out.push(f);
                    }
                }
            }
        }
        let op = patch.operation.as_deref().unwrap_or("");
        let apply_to = patch.apply_to.as_deref().unwrap_or("");
        // MG0505 first: a patch istiod ignores has no order to worry about.
        if let Some(honoured) = honoured_operations(apply_to) {
            if !op.is_empty() && !honoured.contains(&op) {
                out.push(Finding::new(
                    &catalog::MG0505,
                    key,
                    patch.operation_pointer(),
                    format!(
                        "operation {op} is not one istiod applies to {apply_to} (it applies {}): the patch is ignored, filter not applied",
                        super::join(honoured.iter())
                    ),
                ));
                continue;
            }
        }
        if ef.priority == 0 && matches!(op, "INSERT_BEFORE" | "INSERT_AFTER" | "REPLACE" | "REMOVE") {
            out.push(Finding::new(
                &catalog::MG0504,
                key,
                patch.operation_pointer(),
                format!("{op} is relative to other filters, but this EnvoyFilter has priority 0: set spec.priority so the order is defined"),
            ));
        }
    }
}

/// The control-plane versions a patch may legitimately target ahead of the
/// proxies (upgrade staging), and the planes left over from an upgrade.
struct StagingVersions {
    versions: BTreeSet<String>,
    /// Every installed control plane's version (for messages).
    installed: BTreeSet<String>,
    /// `revision (version)` of installed control planes that serve none of the
    /// proxies in scope and are older than all of them: what remains of an
    /// upgrade, whose version a patch can no longer meet.
    left_over: BTreeSet<String>,
}

/// Under an assumed proxy version only the proxies count (the question is
/// "what happens once they run V?"). Otherwise a control plane's version
/// counts when it reads the filter (its revision label, if any) and it serves
/// (or its namespaces' labels send) proxies in scope, or it is newer than every
/// version running in scope (an upgrade staged ahead of the restart), or no
/// proxy in scope has a known version. So the seed's failure is seen: a
/// `^1\.17` patch after the workloads moved to 1.18, while the 1.17 control
/// plane is still installed, is dead.
fn staging_versions(
    view: &ClusterView,
    proxies: &[ResolvedProxy],
    filter_rev: Option<&String>,
    scope: Option<&str>,
) -> StagingVersions {
    let mut out = StagingVersions {
        versions: BTreeSet::new(),
        installed: BTreeSet::new(),
        left_over: BTreeSet::new(),
    };
    if view.assumed_proxy_version().is_some() {
        return out;
    }
    let running: Vec<Vec<u64>> = proxies
        .iter()
        .filter_map(|p| p.version.as_deref().and_then(numeric_version))
        .collect();
    let newest_running = running.iter().max();
    let mut serving: BTreeSet<String> = proxies.iter().map(|p| p.revision.clone()).collect();
    serving.extend(view.injection_revisions(scope));
    for (revision, versions) in view.control_planes() {
        out.installed.extend(versions.iter().flatten().cloned());
        if filter_rev.is_some_and(|r| *r != revision) {
            continue; // this istiod does not read the filter
        }
        for v in versions.into_iter().flatten() {
            let staged_ahead = match (numeric_version(&v), newest_running) {
                (Some(plane), Some(newest)) => plane > *newest,
                _ => true,
            };
            if newest_running.is_none() || serving.contains(&revision) || staged_ahead {
                out.versions.insert(v);
            } else {
                out.left_over.insert(format!("revision {revision} ({v})"));
            }
        }
    }
    out
}

/// `1.30.3` → [1, 30, 3]; `None` for anything else (a dev build, a digest).
fn numeric_version(v: &str) -> Option<Vec<u64>> {
    let core = v.split(['-', '+']).next().unwrap_or(v);
    core.split('.').map(|p| p.parse().ok()).collect()
}

/// The operations istiod's patchers (pilot `networking/core/envoyfilter`)
/// honour for each `applyTo`; any other is skipped without a word. `None`: not
/// judged (EXTENSION_CONFIG, BOOTSTRAP, waypoint kinds, unknown names).
fn honoured_operations(apply_to: &str) -> Option<&'static [&'static str]> {
    const FILTERS: &[&str] = &[
        "ADD",
        "INSERT_BEFORE",
        "INSERT_AFTER",
        "INSERT_FIRST",
        "REPLACE",
        "REMOVE",
        "MERGE",
    ];
    Some(match apply_to {
        "LISTENER" | "FILTER_CHAIN" | "CLUSTER" => &["ADD", "REMOVE", "MERGE"],
        "LISTENER_FILTER" | "NETWORK_FILTER" | "HTTP_FILTER" => FILTERS,
        "ROUTE_CONFIGURATION" => &["MERGE"],
        "VIRTUAL_HOST" => &["ADD", "REMOVE", "MERGE", "REPLACE"],
        "HTTP_ROUTE" => &[
            "ADD",
            "INSERT_BEFORE",
            "INSERT_AFTER",
            "INSERT_FIRST",
            "REMOVE",
            "MERGE",
        ],
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
