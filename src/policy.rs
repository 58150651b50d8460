//! Policy configuration (`--config meshgate.yaml`, product.md §1.3): what each
//! finding does at admission, who is exempt, and the settings the engine needs.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Deserialize;

use crate::checks::catalog;
use crate::finding::{Finding, Severity};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Deny,
    Warn,
    /// Metric and log only.
    Audit,
    Off,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Deny => "deny",
            Action::Warn => "warn",
            Action::Audit => "audit",
            Action::Off => "off",
        }
    }
}

/// The label an object carries to opt out of meshgate (value `"true"`).
pub const DEFAULT_OPT_OUT_LABEL: &str = "meshgate.io/skip";
/// Per-object list of codes to ignore, `*` for all.
pub const IGNORE_ANNOTATION: &str = "meshgate.io/ignore";

/// Whether an object's `meshgate.io/ignore` annotation (codes, `*` for all)
/// silences `code`.
pub fn ignores(object: &crate::model::Object, code: &str) -> bool {
    object
        .annotations
        .get(IGNORE_ANNOTATION)
        .is_some_and(|list| list.split(',').map(str::trim).any(|c| c == "*" || c == code))
}

#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    severity_actions: BTreeMap<Severity, Action>,
    code_actions: BTreeMap<String, Action>,
    pub exempt_namespaces: BTreeSet<String>,
    pub opt_out_label: String,
    /// Overrides `--cluster-domain` when set; read at start-up (the view is built with it).
    pub cluster_domain: Option<String>,
    /// Overrides MeshConfig's root namespace when set.
    pub root_namespace: Option<String>,
    pub require_egress_gateway: bool,
    pub pending_ttl: Duration,
    pub read_through: bool,
    pub enforce_existing: bool,
    /// Dry runs decided as real applies, on the dry-run overlay: missing
    /// referents deny (product.md §3). Off by default: a GitOps batch's
    /// concurrent dry runs, spread over replicas, would be denied by their order.
    pub enforce_on_dry_run: bool,
}

impl Policy {
    /// Defaults: error → deny, warning → warn, info → audit; exempt `own_namespace`
    /// (the webhook's) and kube-system.
    pub fn with_defaults(own_namespace: &str) -> Policy {
        Policy {
            severity_actions: [
                (Severity::Error, Action::Deny),
                (Severity::Warning, Action::Warn),
                (Severity::Info, Action::Audit),
            ]
            .into_iter()
            .collect(),
            code_actions: BTreeMap::new(),
            exempt_namespaces: [own_namespace.to_string(), "kube-system".to_string()]
                .into_iter()
                .collect(),
            opt_out_label: DEFAULT_OPT_OUT_LABEL.to_string(),
            cluster_domain: None,
            root_namespace: None,
            require_egress_gateway: false,
            pending_ttl: Duration::from_secs(60),
            read_through: true,
            enforce_existing: false,
            enforce_on_dry_run: false,
        }
    }

    /// What a finding does: a per-code action beats the per-severity one.
    pub fn action(&self, f: &Finding) -> Action {
        self.code_actions
            .get(f.code)
            .or_else(|| self.severity_actions.get(&f.severity))
            .copied()
            .unwrap_or(Action::Warn)
    }

    /// Parses a policy file; every field is optional, unknown fields are errors.
    pub fn parse(text: &str, own_namespace: &str) -> Result<Policy, PolicyError> {
        let docs = crate::manifest::yaml::parse_documents(text).map_err(|e| PolicyError(format!("{e}")))?;
        let mut policy = Policy::with_defaults(own_namespace);
        let Some(doc) = docs.into_iter().next() else {
            return Ok(policy);
        };
        let file: PolicyFile = serde_path_to_error::deserialize(doc.value)
            .map_err(|e| PolicyError(format!("at {}: {}", e.path(), e.inner())))?;
        if let Some(a) = file.actions {
            for (sev, act) in [
                (Severity::Error, a.error),
                (Severity::Warning, a.warning),
                (Severity::Info, a.info),
            ] {
                if let Some(act) = act {
                    policy.severity_actions.insert(sev, act);
                }
            }
        }
        for (code, act) in file.codes {
            if catalog::lookup(&code).is_none() {
                return Err(PolicyError(format!("at codes.{code}: unknown check code {code:?}")));
            }
            policy.code_actions.insert(code, act);
        }
        if let Some(e) = file.exemptions {
            if let Some(ns) = e.namespaces {
                policy.exempt_namespaces = ns.into_iter().collect();
            }
            if let Some(l) = e.opt_out_label {
                policy.opt_out_label = l;
            }
        }
        if let Some(s) = file.settings {
            policy.cluster_domain = s.cluster_domain.filter(|d| !d.is_empty());
            policy.root_namespace = s.root_namespace.filter(|r| !r.is_empty());
            policy.require_egress_gateway = s.require_egress_gateway.unwrap_or(false);
            if let Some(t) = s.pending_ttl {
                policy.pending_ttl = parse_duration(&t).ok_or_else(|| {
                    PolicyError(format!(
                        "at settings.pendingTTL: {t:?} is not a duration like 60s or 2m"
                    ))
                })?;
            }
            policy.read_through = s.read_through.unwrap_or(true);
            policy.enforce_existing = s.enforce_existing.unwrap_or(false);
            policy.enforce_on_dry_run = s.enforce_on_dry_run.unwrap_or(false);
        }
        Ok(policy)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid policy: {0}")]
pub struct PolicyError(pub String);

fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = num.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n * 60)),
        _ => None,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PolicyFile {
    actions: Option<SeverityActions>,
    #[serde(default)]
    codes: BTreeMap<String, Action>,
    exemptions: Option<Exemptions>,
    settings: Option<Settings>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeverityActions {
    error: Option<Action>,
    warning: Option<Action>,
    info: Option<Action>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Exemptions {
    namespaces: Option<Vec<String>>,
    opt_out_label: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Settings {
    cluster_domain: Option<String>,
    root_namespace: Option<String>,
    require_egress_gateway: Option<bool>,
    #[serde(rename = "pendingTTL")]
    pending_ttl: Option<String>,
    read_through: Option<bool>,
    enforce_existing: Option<bool>,
    enforce_on_dry_run: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, ObjKey};

    fn finding(code: &'static str, severity: Severity) -> Finding {
        let check = catalog::lookup(code).unwrap();
        Finding::new(
            check,
            &ObjKey::new(Kind::Gateway, "a", "b"),
            Default::default(),
            String::new(),
        )
        .with_severity(severity)
    }

    #[test]
    fn defaults_follow_severity() {
        let p = Policy::with_defaults("meshgate");
        assert_eq!(p.action(&finding("MG0101", Severity::Error)), Action::Deny);
        assert_eq!(p.action(&finding("MG0106", Severity::Warning)), Action::Warn);
        assert_eq!(p.action(&finding("MG0305", Severity::Info)), Action::Audit);
        assert!(p.exempt_namespaces.contains("meshgate") && p.exempt_namespaces.contains("kube-system"));
        assert_eq!(p.pending_ttl, Duration::from_secs(60));
    }

    #[test]
    fn a_file_overrides_per_severity_and_per_code() {
        let p = Policy::parse(
            "actions:\n  warning: deny\ncodes:\n  MG0101: warn\n  MG0305: off\nexemptions:\n  namespaces: [ops]\nsettings:\n  pendingTTL: 2m\n  enforceExisting: true\n  enforceOnDryRun: true\n",
            "meshgate",
        )
        .unwrap();
        assert_eq!(p.action(&finding("MG0101", Severity::Error)), Action::Warn);
        assert_eq!(p.action(&finding("MG0106", Severity::Warning)), Action::Deny);
        assert_eq!(p.action(&finding("MG0305", Severity::Info)), Action::Off);
        assert_eq!(p.exempt_namespaces, ["ops".to_string()].into_iter().collect());
        assert_eq!(p.pending_ttl, Duration::from_secs(120));
        assert!(p.enforce_existing);
        assert!(p.enforce_on_dry_run);
        assert!(!Policy::with_defaults("m").enforce_on_dry_run);
    }

    #[test]
    fn errors_name_the_field() {
        let e = Policy::parse("actions:\n  error: block\n", "m").unwrap_err();
        assert!(e.0.starts_with("at actions.error: unknown variant `block`"), "{e}");
        let e = Policy::parse("settings:\n  pendingTtl: 5s\n", "m").unwrap_err();
        assert!(e.0.contains("unknown field `pendingTtl`"), "{e}");
        let e = Policy::parse("codes:\n  MG9999: deny\n", "m").unwrap_err();
        assert_eq!(e.0, "at codes.MG9999: unknown check code \"MG9999\"");
        let e = Policy::parse("settings:\n  pendingTTL: soon\n", "m").unwrap_err();
        assert!(e.0.contains("pendingTTL"), "{e}");
        assert!(Policy::parse("actions: [", "m").is_err());
    }
}
