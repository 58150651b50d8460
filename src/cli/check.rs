//! `meshgate check`: the engine over manifest files (product.md §1.2).

use std::collections::HashMap;

use clap::{Args, ValueEnum};

use super::output;
use crate::checks;
use crate::finding::{Finding, Severity};
use crate::manifest::{self, Manifest};
use crate::model::{ObjKey, Object};
use crate::view::{ClusterView, ViewSettings};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files or directories (recursive); `-` reads standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
    /// Namespace for objects that name none.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
    /// The cluster's DNS domain, for short-name expansion.
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,
    /// Every external host must leave through an egress gateway: MG0402 is an error.
    #[arg(long)]
    pub require_egress_gateway: bool,
    /// Merge a live snapshot of the cluster into the view (file objects shadow live
    /// ones of the same kind, namespace and name); only the files' objects are checked.
    #[arg(long)]
    pub cluster: bool,
    /// The kubeconfig for `--cluster` (default: in-cluster configuration or $KUBECONFIG).
    #[arg(long, value_name = "FILE", requires = "cluster")]
    pub kubeconfig: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Info,
    /// Never fail on findings (exit 2 still reports unreadable input).
    Never,
}

impl FailOn {
    fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Error => Some(Severity::Error),
            FailOn::Warning => Some(Severity::Warning),
            FailOn::Info => Some(Severity::Info),
            FailOn::Never => None,
        }
    }
}

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

/// Builds the view from `live` objects (a cluster snapshot, possibly empty) and
/// every manifest, which shadow live objects of the same key, and checks each
/// manifest's Istio object against it.
pub fn check_manifests(manifests: &[Manifest], live: Vec<Object>, settings: ViewSettings) -> Report {
    let mut view = ClusterView::new(settings);
    for o in live {
        view.apply(o);
    }
    // Defined twice: the same API group, kind, namespace and name (a Role and a
    // RoleBinding of one name are two objects).
    let mut last: HashMap<(&str, &str, &str, &str), usize> = HashMap::new();
    let mut duplicates = Vec::new();
    for (i, m) in manifests.iter().enumerate() {
        if let Some(prev) = last.insert(m.object.identity(), i) {
            let p = &manifests[prev].source;
            duplicates.push((
                m.object.key.clone(),
                format!("{}:{}", p.file, p.line),
                format!("{}:{}", m.source.file, m.source.line),
            ));
        }
        view.apply(m.object.clone());
    }
    let mut findings = Vec::new();
    for (i, m) in manifests.iter().enumerate() {
        if last.get(&m.object.identity()) != Some(&i) {
            continue; // shadowed by a later definition
        }
        let Some(entry) = view.get(&m.object.key) else {
            continue;
        };
        for mut f in checks::check(entry, &view) {
            f.file = Some(m.source.file.to_string());
            f.line = Some(m.source.line_of(&f.pointer));
            findings.push(f);
        }
    }
    Report {
        findings,
        objects: manifests.len(),
        duplicates,
        skipped: Vec::new(),
        unreadable: Vec::new(),
    }
}

pub fn run(args: &CheckArgs) -> i32 {
    // Every readable file is checked; unreadable ones are reported and make the
    // exit status 2 once the rest has been checked.
    let mut manifests = Vec::new();
    let outcome = manifest::visit_paths(&args.paths, &args.namespace, |m| manifests.push(m));
    for e in &outcome.errors {
        eprintln!("meshgate: error: {e}");
    }
    for s in &outcome.skipped {
        eprintln!("meshgate: note: {}:{}: skipped: {}", s.file, s.line, s.reason);
    }
    let settings = ViewSettings {
        cluster_domain: args.cluster_domain.clone(),
        file_mode: true,
    };
    let live = if args.cluster {
        match snapshot(args.kubeconfig.as_deref()) {
            Ok(objects) => objects,
            Err(e) => {
                eprintln!("meshgate: error: --cluster: {e}");
                return 2;
            }
        }
    } else {
        Vec::new()
    };
    let mut report = check_manifests(&manifests, live, settings);
    report.skipped = outcome.skipped;
    report.unreadable = outcome.errors.iter().map(Unreadable::from).collect();
    if args.require_egress_gateway {
        checks::require_egress_gateway(&mut report.findings);
    }
    for (key, shadowed, winner) in &report.duplicates {
        eprintln!("meshgate: note: {key} is defined at {shadowed} and again at {winner}; the later one is checked");
    }
    let text = match args.output {
        Format::Text => output::text(&report),
        Format::Json => output::json(&report),
        Format::Sarif => output::sarif(&report),
    };
    print!("{text}");
    let failed = args
        .fail_on
        .threshold()
        .is_some_and(|t| report.findings.iter().any(|f| f.severity >= t));
    if !report.unreadable.is_empty() {
        return 2;
    }
    i32::from(failed)
}

/// A one-time list of the cluster's objects for `--cluster`.
fn snapshot(kubeconfig: Option<&std::path::Path>) -> Result<Vec<Object>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async {
        let client = crate::live::client(kubeconfig).await?;
        let (objects, skipped) = crate::live::snapshot(&client).await?;
        for s in skipped {
            eprintln!("meshgate: warning: --cluster: not listed, the view lacks them: {s}");
        }
        Ok(objects)
    })
}
