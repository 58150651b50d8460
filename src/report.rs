//! A set of findings and its formats: `meshgate check`'s output and the audit's
//! `GET /report`. The JSON shape is a stable contract (product.md §1.2).

use serde_json::{json, Value};

use crate::checks::catalog;
use crate::finding::{Finding, Severity};
use crate::manifest;
use crate::model::ObjKey;

/// The result of checking a set of manifests, before formatting.
pub struct Report {
    pub findings: Vec<Finding>,
    pub objects: usize,
    /// Objects defined more than once: (key, where it was shadowed, where the winner is).
    pub duplicates: Vec<(ObjKey, String, String)>,
    /// Documents that are not Kubernetes objects.
    pub skipped: Vec<manifest::Skipped>,
    /// Files that could not be read or parsed: `file:line: message`.
    pub unreadable: Vec<Unreadable>,
}

/// A file left out because it could not be read or is not valid YAML.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Unreadable {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
}

impl From<&manifest::LoadError> for Unreadable {
    fn from(e: &manifest::LoadError) -> Self {
        match e {
            manifest::LoadError::Io { path, source } => Unreadable {
                file: path.clone(),
                line: None,
                message: source.to_string(),
            },
            manifest::LoadError::Yaml { file, error } => Unreadable {
                file: file.clone(),
                line: Some(error.line),
                message: format!("not valid YAML: {} (column {})", error.message, error.column),
            },
            manifest::LoadError::NotAnObject { file, line, reason } => Unreadable {
                file: file.clone(),
                line: Some(*line),
                message: reason.clone(),
            },
        }
    }
}

fn summary(report: &Report) -> Value {
    let count = |s| report.findings.iter().filter(|f| f.severity == s).count();
    json!({
        "errors": count(Severity::Error),
        "warnings": count(Severity::Warning),
        "infos": count(Severity::Info),
    })
}

#[derive(serde::Serialize)]
struct Summary {
    errors: usize,
    warnings: usize,
    infos: usize,
}

/// The JSON document, as typed structs so its fields keep the documented order.
#[derive(serde::Serialize)]
struct JsonReport<'a> {
    findings: &'a [crate::finding::Finding],
    summary: Summary,
    /// Documents that are not Kubernetes objects (kustomization.yaml, Chart.yaml, ...).
    skipped: &'a [crate::manifest::Skipped],
    /// Files not checked: unreadable or not valid YAML (the exit status is 2).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    unreadable: &'a [Unreadable],
}

/// `{"findings":[...], "summary":{"errors":N,"warnings":N,"infos":N}}`.
pub fn json(report: &Report) -> String {
    let count = |s| report.findings.iter().filter(|f| f.severity == s).count();
    let doc = JsonReport {
        findings: &report.findings,
        summary: Summary {
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            infos: count(Severity::Info),
        },
        skipped: &report.skipped,
        unreadable: &report.unreadable,
    };
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// One finding a line, `file:line: severity CODE Kind ns/name pointer: message`.
pub fn text(report: &Report) -> String {
    let mut s = String::new();
    for f in &report.findings {
        let place = match (&f.file, f.line) {
            (Some(file), Some(line)) => format!("{file}:{line}: "),
            (Some(file), None) => format!("{file}: "),
            _ => String::new(),
        };
        s.push_str(&format!(
            "{place}{} {} {} {}/{} {}: {}\n",
            f.severity, f.code, f.kind, f.namespace, f.name, f.pointer, f.message
        ));
    }
    let sum = summary(report);
    s.push_str(&format!(
        "{} objects checked: {} errors, {} warnings, {} infos",
        report.objects, sum["errors"], sum["warnings"], sum["infos"]
    ));
    if !report.skipped.is_empty() {
        s.push_str(&format!(
            "; {} documents skipped (not Kubernetes objects)",
            report.skipped.len()
        ));
    }
    if !report.unreadable.is_empty() {
        s.push_str(&format!(
            "; {} files not checked (unreadable or not valid YAML)",
            report.unreadable.len()
        ));
    }
    s.push('\n');
    s
}

/// SARIF 2.1.0 for code-scanning UIs.
pub fn sarif(report: &Report) -> String {
    let level = |s: Severity| match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    };
    let rules: Vec<Value> = catalog::CATALOG
        .iter()
        .map(|c| {
            json!({
                "id": c.code,
                "shortDescription": { "text": c.condition },
                "defaultConfiguration": { "level": level(c.severity) },
                "properties": { "kind": c.kind },
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut r = json!({
                "ruleId": f.code,
                "level": level(f.severity),
                "message": { "text": format!("{} {}/{} {}: {}", f.kind, f.namespace, f.name, f.pointer, f.message) },
            });
            if let Some(file) = &f.file {
                let mut loc = json!({ "artifactLocation": { "uri": file } });
                if let Some(line) = f.line {
                    loc["region"] = json!({ "startLine": line });
                }
                r["locations"] = json!([{ "physicalLocation": loc }]);
            }
            r
        })
        .collect();
    let v = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": { "name": "meshgate", "version": env!("CARGO_PKG_VERSION"), "rules": rules } },
            "results": results,
        }],
    });
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}
