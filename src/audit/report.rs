//! The audit's findings as the admin listener and PolicyReports show them: the
//! policy's exemptions applied (namespaces, opt-out label, `meshgate.io/ignore`,
//! codes turned off), then the caller's filters.

use crate::finding::{Finding, Severity};
use crate::policy::{Action, Policy};
use crate::report::Report;

use super::Snapshot;

/// `GET /report?namespace=&code=&severity=`: each `None` matches everything;
/// `severity` is a floor (`warning` keeps warnings and errors).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportFilter {
    pub namespace: Option<String>,
    pub code: Option<String>,
    pub severity: Option<Severity>,
}

impl ReportFilter {
    fn keeps(&self, f: &Finding) -> bool {
        self.namespace.as_ref().is_none_or(|ns| *ns == f.namespace)
            && self.code.as_ref().is_none_or(|c| c == f.code)
            && self.severity.is_none_or(|s| f.severity >= s)
    }
}

/// The audit's findings under a policy.
pub struct AuditReport {
    pub findings: Vec<Finding>,
    /// Objects audited (before exemptions).
    pub objects: usize,
}

impl AuditReport {
    pub fn new(audit: &Snapshot, policy: &Policy) -> AuditReport {
        let mut findings = Vec::new();
        for (key, found) in &audit.findings {
            if policy.exempt_namespaces.contains(&key.namespace) {
                continue;
            }
            let object = audit.view.get(key).map(|e| &e.object);
            if object.is_some_and(|o| o.labels.get(&policy.opt_out_label).is_some_and(|v| v == "true")) {
                continue;
            }
            findings.extend(
                found
                    .iter()
                    .filter(|f| policy.action(f) != Action::Off)
                    .filter(|f| !object.is_some_and(|o| crate::policy::ignores(o, f.code)))
                    .cloned(),
            );
        }
        if policy.require_egress_gateway {
            crate::checks::require_egress_gateway(&mut findings);
        }
        AuditReport {
            findings,
            objects: audit.findings.len(),
        }
    }

    /// The findings a filter keeps, as a report in `meshgate check`'s shape.
    pub fn filtered(&self, filter: &ReportFilter) -> Report {
        Report {
            findings: self.findings.iter().filter(|f| filter.keeps(f)).cloned().collect(),
            objects: self.objects,
            duplicates: Vec::new(),
            skipped: Vec::new(),
            unreadable: Vec::new(),
        }
    }
}
