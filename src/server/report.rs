//! The admin listener's `GET /report`: the audit's findings under the running
//! policy, in `meshgate check`'s JSON shape (or SARIF, or text), filtered by
//! `?namespace=`, `?code=` and `?severity=` (a floor); and the audit gauges
//! `/metrics` exposes.

use std::collections::BTreeMap;
use std::time::UNIX_EPOCH;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::metrics::AuditLabels;
use super::{error, AppState};
use crate::audit::{AuditReport, ReportFilter};
use crate::checks::catalog;
use crate::finding::Severity;

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    namespace: Option<String>,
    code: Option<String>,
    severity: Option<String>,
    format: Option<String>,
}

pub async fn report(State(st): State<AppState>, Query(q): Query<ReportQuery>) -> Response {
    let severity = match q.severity.as_deref().map(str::parse::<Severity>).transpose() {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("severity: {e}")),
    };
    if let Some(code) = &q.code {
        if catalog::lookup(code).is_none() {
            return error(StatusCode::BAD_REQUEST, format!("code: unknown check code {code:?}"));
        }
    }
    let format = q.format.as_deref().unwrap_or("json");
    if !matches!(format, "json" | "sarif" | "text") {
        return error(
            StatusCode::BAD_REQUEST,
            format!("format: {format:?} is not one of json, sarif, text"),
        );
    }
    let Some(pass) = st.audit.last() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no audit pass yet: the cluster view is not ready or the first pass is running".to_string(),
        );
    };
    let filter = ReportFilter {
        namespace: q.namespace.filter(|n| !n.is_empty()),
        code: q.code,
        severity,
    };
    let report = AuditReport::new(&pass.results, &st.policy()).filtered(&filter);
    let (body, content_type) = match format {
        "sarif" => (crate::report::sarif(&report), "application/sarif+json"),
        "text" => (crate::report::text(&report), "text/plain; charset=utf-8"),
        _ => (crate::report::json(&report), "application/json"),
    };
    let finished = pass.finished.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::HeaderName::from_static("x-meshgate-audit-time"),
                finished.to_string(),
            ),
        ],
        body,
    )
        .into_response()
}

/// Sets the audit gauges from the last pass under the running policy.
pub fn refresh_audit_metrics(st: &AppState) {
    let Some(pass) = st.audit.last() else { return };
    let report = AuditReport::new(&pass.results, &st.policy());
    let mut counts: BTreeMap<AuditLabels, i64> = BTreeMap::new();
    for f in &report.findings {
        *counts
            .entry(AuditLabels {
                code: f.code.to_string(),
                severity: f.severity.as_str().to_string(),
                namespace: f.namespace.clone(),
            })
            .or_insert(0) += 1;
    }
    let m = &st.metrics;
    // Label sets that no longer have findings go, not linger at their last value.
    m.audit_findings.clear();
    for (labels, n) in counts {
        m.audit_findings.get_or_create(&labels).set(n);
    }
    m.audit_objects.set(report.objects as i64);
    let finished = pass
        .finished
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    m.audit_last_pass.set(finished);
    m.audit_last_pass_seconds.set(pass.duration.as_secs_f64());
    m.audit_last_pass_rechecked.set(pass.stats.rechecked as i64);
    m.audit_passes.set(pass.number as i64);
}
