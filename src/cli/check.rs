//! `meshgate check`: the engine over manifest files (product.md §1.2).

/// Hashed with foldhash: SipHash showed in the profile of a large check.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

use clap::{Args, ValueEnum};

use crate::checks;
use crate::finding::{Finding, Severity};
use crate::manifest;
use crate::model::{ObjKey, Object};
use crate::report::{self as output, Report, Unreadable};
use crate::view::{ClusterView, Entry, ViewSettings};
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files or directories (recursive); `-` reads standard input. None with
    /// `--cluster`: every object of the live cluster is checked (an audit).
    #[arg(required_unless_present = "cluster", value_name = "PATH")]
    pub paths: Vec<String>,
    /// Namespace for objects that name none (default `default`); with `--cluster`
    /// and no files, check only this namespace's objects.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
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
    /// ones of the same kind, namespace and name); only the files' objects are
    /// checked, or, without files, every live object.
    #[arg(long)]
    pub cluster: bool,
    /// Judge EnvoyFilters as if the proxies ran this version (an upgrade, asked
    /// ahead): MG0501 for patches that would stop applying, MG0507 (info) for
    /// those that would start.
    #[arg(long, value_name = "VERSION")]
    pub proxy_version: Option<String>,
    /// With `--proxy-version`: only the proxies of this control-plane revision.
    #[arg(long, value_name = "REVISION", requires = "proxy_version")]
    pub revision: Option<String>,
    /// The kubeconfig for `--cluster` (default: in-cluster configuration or $KUBECONFIG).
    #[arg(long, value_name = "FILE", requires = "cluster")]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// With `--cluster`, a remote cluster of a multi-cluster mesh, `ID=FILE`
    /// (repeatable): its Services count wherever a host is resolved. The
    /// kubeconfig is sanitised as istiod sanitises remote secrets.
    #[arg(long = "remote-kubeconfig", value_name = "ID=FILE", requires = "cluster")]
    pub remote_kubeconfig: Vec<String>,
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

/// Checks manifests against a view built from a live snapshot (possibly empty)
/// and the manifests themselves, which shadow live objects of the same key. Each
/// manifest's object moves into the view as it is added (the view keeps only its
/// parsed form); what stays is its identity and source, for shadowing and
/// `file:line`. So a large input never sits in memory as JSON all at once.
pub struct Checker {
    view: ClusterView,
    /// Every definition by position: (API group and kind as an index into
    /// `group_kinds`, key).
    defined: Vec<(u32, Arc<ObjKey>)>,
    /// Defined twice: the same API group, kind, namespace and name (a Role and a
    /// RoleBinding of one name are two objects). (group and kind, key) → the
    /// position of its last definition. Made at the first definition whose key
    /// the view already held: most inputs define each object once.
    last: Option<HashMap<(u32, Arc<ObjKey>), u32>>,
    /// API group → kind → its index.
    group_kinds: HashMap<String, HashMap<String, u32>>,
    /// Each definition's source by position (`None`: a live object, no file).
    sources: Vec<Option<crate::manifest::Source>>,
    duplicates: Vec<(ObjKey, String, String)>,
}

impl Checker {
    /// Judges EnvoyFilters as if the proxies ran another version (`--proxy-version`).
    pub fn assume_proxy_version(&mut self, assumed: crate::view::AssumedProxyVersion) {
        self.view = self.view.with_assumed_proxy_version(Some(assumed));
    }

    pub fn new(live: Vec<Object>, settings: ViewSettings) -> Checker {
        // Built once, read by the checks, never shared: plain maps.
        let mut view = ClusterView::with_storage(settings, crate::view::Storage::Plain);
        for o in live {
            view.apply(o);
        }
        Checker {
            view,
            defined: Vec::new(),
            last: None,
            group_kinds: HashMap::default(),
            sources: Vec::new(),
            duplicates: Vec::new(),
        }
    }

    /// The index of an API group and kind.
    fn group_kind(&mut self, group: &str, kind: &str) -> u32 {
        match self.group_kinds.get(group).and_then(|kinds| kinds.get(kind)) {
            Some(id) => *id,
            None => {
                let next_id = self.group_kinds.values().map(HashMap::len).sum::<usize>();
                let id = u32::try_from(next_id).unwrap_or(u32::MAX);
                self.group_kinds
                    .entry(group.to_string())
                    .or_default()
                    .insert(kind.to_string(), id);
                id
            }
        }
    }

    /// Records a definition of `key` (of group and kind `gk`) at the next
    /// position; the previous one's position if it was defined before, which
    /// can only be when the view held `key` already (`in_view`).
    fn define(
        &mut self,
        gk: u32,
        key: Arc<ObjKey>,
        source: Option<crate::manifest::Source>,
        in_view: bool,
    ) -> Option<u32> {
        let position = self.defined.len();
        self.sources.push(source);
        self.defined.push((gk, key.clone()));
        if self.last.is_none() {
            if !in_view {
                return None;
            }
            let earlier = self.defined[..position]
                .iter()
                .enumerate()
                .map(|(at, (gk, key))| ((*gk, key.clone()), u32::try_from(at).unwrap_or(u32::MAX)));
            self.last = Some(earlier.collect());
        }
        let at = u32::try_from(position).unwrap_or(u32::MAX);
        self.last.as_mut()?.insert((gk, key), at)
    }

    /// How a manifest's object becomes the view's entry; run where the object
    /// was parsed (the parsing threads), so parsing and entry building share the
    /// cores and the object's JSON is freed by the thread that made it.
    pub fn prepare(&self) -> impl Fn(Object) -> Arc<Entry> + Sync + use<> {
        let settings = self.view.settings().clone();
        move |object| Arc::new(Entry::new(object, &settings))
    }

    pub fn add_entry(&mut self, entry: Arc<Entry>, source: crate::manifest::Source) {
        let (group, kind, _, _) = entry.object.identity();
        let gk = self.group_kind(group, kind);
        let key = Arc::new(entry.object.key.clone());
        let (file, line) = (source.file.clone(), source.line);
        let in_view = self.view.apply_keyed(key.clone(), entry).is_some();
        if let Some(prev) = self.define(gk, key.clone(), Some(source), in_view) {
            if let Some(p) = &self.sources[prev as usize] {
                let shadowed = format!("{}:{}", p.file, p.line);
                self.duplicates
                    .push(((*key).clone(), shadowed, format!("{file}:{line}")));
            }
        }
    }

    /// Checks the live objects themselves (no files were given): those of
    /// `namespace`, or all, in kind, namespace and name order.
    pub fn check_live(&mut self, namespace: Option<&str>) {
        let mut keys: Vec<ObjKey> = self
            .view
            .entries()
            .map(|e| &e.object.key)
            .filter(|k| crate::audit::is_audited(k.kind))
            .filter(|k| namespace.is_none_or(|ns| k.namespace == ns))
            .cloned()
            .collect();
        keys.sort();
        for key in keys {
            let gk = self.group_kind(key.kind.group(), key.kind.as_str());
            self.define(gk, Arc::new(key), None, true);
        }
    }

    /// Checks every manifest that no later one shadows, in input order, on
    /// every core (the checks are pure functions of an entry and the view).
    pub fn finish(&self) -> Report {
        let winners: Vec<(u32, &ObjKey)> = match &self.last {
            // Nothing defined twice: every definition, in input order.
            None => (0..)
                .zip(&self.defined)
                .map(|(at, (_, key))| (at, key.as_ref()))
                .collect(),
            Some(last) => {
                let mut winners: Vec<(u32, &ObjKey)> = last.iter().map(|((_, key), at)| (*at, key.as_ref())).collect();
                winners.sort_unstable_by_key(|w| w.0);
                winners
            }
        };
        // Under an assumed proxy version, the view as it is today too (MG0507).
        let today = self
            .view
            .assumed_proxy_version()
            .map(|_| self.view.with_assumed_proxy_version(None));
        let check_one = |(at, key): &(u32, &ObjKey)| -> Vec<Finding> {
            let Some(entry) = self.view.get(key) else {
                return Vec::new();
            };
            let mut found = checks::check(entry, &self.view);
            if let (Some(today), crate::view::Parsed::EnvoyFilter(_)) = (&today, &entry.parsed) {
                found.extend(starts_applying(entry, &found, today));
            }
            if let Some(source) = &self.sources[*at as usize] {
                for f in &mut found {
                    f.file = Some(source.file.to_string());
                    f.line = Some(source.line_of(&f.pointer));
                }
            }
            found
        };
        let workers = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(winners.len() / CHECK_CHUNK + 1);
        let findings: Vec<Finding> = if workers <= 1 {
            winners.iter().flat_map(check_one).collect()
        } else {
            // Small chunks taken in turn: objects of one kind come together in a
            // file and cost very differently (a Pod's checks are nearly free), so
            // equal halves would leave one core idle.
            let next = std::sync::atomic::AtomicUsize::new(0);
            let chunks: Vec<&[(u32, &ObjKey)]> = winners.chunks(CHECK_CHUNK).collect();
            let mut done: Vec<(usize, Vec<Finding>)> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..workers)
                    .map(|_| {
                        scope.spawn(|| {
                            let mut mine = Vec::new();
                            loop {
                                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                let Some(part) = chunks.get(i) else { break };
                                mine.push((i, part.iter().flat_map(check_one).collect::<Vec<_>>()));
                            }
                            mine
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            });
            // In input order.
            done.sort_unstable_by_key(|(i, _)| *i);
            done.into_iter().flat_map(|(_, found)| found).collect()
        };
        Report {
            findings,
            objects: self.sources.len(),
            duplicates: self.duplicates.clone(),
            skipped: Vec::new(),
            unreadable: Vec::new(),
        }
    }
}

/// Objects per unit of check work handed to a thread.
const CHECK_CHUNK: usize = 256;

/// MG0507: patches dead today (MG0501 on the view as it is) that are alive under
/// the assumed version (no MG0501 in `assumed`).
fn starts_applying(entry: &crate::view::Entry, assumed: &[Finding], today: &ClusterView) -> Vec<Finding> {
    let dead_after: std::collections::HashSet<&jsonptr::Pointer> = assumed
        .iter()
        .filter(|f| f.code == checks::catalog::MG0501.code)
        .map(|f| f.pointer.as_ptr())
        .collect();
    checks::check(entry, today)
        .into_iter()
        .filter(|f| f.code == checks::catalog::MG0501.code && !dead_after.contains(f.pointer.as_ptr()))
        .map(|f| {
            Finding::new(
                &checks::catalog::MG0507,
                &entry.object.key,
                f.pointer.clone(),
                "proxyVersion matches none of the proxies today, but matches once they run the assumed version (--proxy-version): this patch starts applying after the upgrade".to_string(),
            )
        })
        .collect()
}

pub fn run(args: &CheckArgs) -> i32 {
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
    let remotes = match remote_snapshots(&args.remote_kubeconfig) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("meshgate: error: --remote-kubeconfig: {e}");
            return 2;
        }
    };
    // Every readable file is checked; unreadable ones are reported and make the
    // exit status 2 once the rest has been checked.
    let mut checker = Checker::new(live, settings);
    for (id, listed) in remotes {
        match listed {
            Ok(objects) => {
                for o in objects {
                    checker.view.apply_remote(&id, o);
                }
                checker.view.set_remote_sync(&id, crate::view::RemoteSync::Synced);
            }
            Err(e) => {
                eprintln!("meshgate: warning: remote cluster {id} could not be read ({e}): findings that rest on something being absent are warnings");
                let why = "could not be read".to_string();
                checker
                    .view
                    .set_remote_sync(&id, crate::view::RemoteSync::Unreachable { why });
            }
        }
    }
    if let Some(version) = &args.proxy_version {
        checker.assume_proxy_version(crate::view::AssumedProxyVersion {
            version: version.clone(),
            revision: args.revision.clone(),
        });
    }
    let default_namespace = args.namespace.as_deref().unwrap_or("default");
    let prepare = checker.prepare();
    let outcome = manifest::visit_paths_prepared(
        &args.paths,
        default_namespace,
        |m| (prepare(m.object), m.source),
        |(entry, source)| checker.add_entry(entry, source),
    );
    if args.paths.is_empty() {
        checker.check_live(args.namespace.as_deref());
    }
    for e in &outcome.errors {
        eprintln!("meshgate: error: {e}");
    }
    for s in &outcome.skipped {
        eprintln!("meshgate: note: {}:{}: skipped: {}", s.file, s.line, s.reason);
    }
    let unsynced = crate::multicluster::unsynced_note(&checker.view);
    let mut report = checker.finish();
    // The process ends after the report: freeing the view's objects one by one
    // would only cost time (a tenth of a second at 88,000 objects).
    std::mem::forget(checker);
    report.skipped = outcome.skipped;
    report.unreadable = outcome.errors.iter().map(Unreadable::from).collect();
    if args.require_egress_gateway {
        checks::require_egress_gateway(&mut report.findings);
    }
    // An unreachable remote may serve what looks absent: no error rests on it.
    if let Some(note) = unsynced {
        for f in report.findings.iter_mut() {
            if f.severity == crate::finding::Severity::Error && crate::multicluster::rests_on_registry(f) {
                f.severity = crate::finding::Severity::Warning;
                f.message.push_str(&note);
            }
        }
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

/// How long one remote cluster's lists may take before it counts as unreachable.
const REMOTE_LIST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Each `--remote-kubeconfig ID=FILE`: its Services, or why it could not be
/// read. A malformed argument or an unsafe kubeconfig is an error (nothing of
/// it is used); an unreachable cluster is not.
#[allow(clippy::type_complexity)]
fn remote_snapshots(args: &[String]) -> Result<Vec<(String, Result<Vec<Object>, String>)>, String> {
    let mut configs = Vec::new();
    for a in args {
        let Some((id, file)) = a.split_once('=').filter(|(id, f)| !id.is_empty() && !f.is_empty()) else {
            return Err(format!("{a:?} is not ID=FILE"));
        };
        let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
        let kc = kube::config::Kubeconfig::from_yaml(&text).map_err(|e| format!("{file}: {e}"))?;
        crate::multicluster::sanitize(id, &kc).map_err(|e| e.to_string())?;
        configs.push((id.to_string(), kc));
    }
    if configs.is_empty() {
        return Ok(Vec::new());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    Ok(runtime.block_on(async {
        let mut out = Vec::new();
        for (id, kc) in configs {
            let started = std::time::Instant::now();
            let listed = tokio::time::timeout(REMOTE_LIST_TIMEOUT, crate::live::remote::list_objects(kc))
                .await
                .unwrap_or_else(|_| Err(format!("timed out after {} s", REMOTE_LIST_TIMEOUT.as_secs())));
            if let Ok(objects) = &listed {
                eprintln!(
                    "meshgate: note: remote cluster {id}: {} Services and Pods listed in {:.2} s",
                    objects.len(),
                    started.elapsed().as_secs_f64()
                );
            }
            out.push((id, listed));
        }
        out
    }))
}

/// A one-time list of the cluster's objects for `--cluster`.
pub(super) fn snapshot(kubeconfig: Option<&std::path::Path>) -> Result<Vec<Object>, String> {
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
