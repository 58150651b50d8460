//! Manifest files → objects with their source positions (`meshgate check` and
//! `serve --cluster-from`). Files, directories (recursive), `-` for stdin;
//! multi-document YAML, JSON, `kind: List`.

pub mod yaml;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jsonptr::Pointer;
use serde_json::Value;

use crate::model::Object;
use yaml::YamlError;

/// Where an object came from: file, the line its document starts on, and the
/// line of each of its fields.
#[derive(Clone, Debug)]
pub struct Source {
    pub file: Arc<str>,
    pub line: usize,
    lines: Arc<yaml::LineMap>,
    /// `/items/N` for an item of a `kind: List`, empty otherwise.
    prefix: String,
}

impl Source {
    /// The line of the field at `pointer`, or of its nearest ancestor that has one.
    pub fn line_of(&self, pointer: &Pointer) -> usize {
        let mut p: &Pointer = pointer;
        loop {
            let key = format!("{}{}", self.prefix, p);
            if let Some(l) = self.lines.get(&key) {
                return l;
            }
            match p.parent() {
                Some(parent) => p = parent,
                None => return self.line,
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct Manifest {
    pub object: Object,
    pub source: Source,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{}: not valid YAML: {} (column {})", error.line, error.message, error.column)]
    Yaml { file: String, error: YamlError },
    #[error("{file}:{line}: {reason}")]
    NotAnObject { file: String, line: usize, reason: String },
}

/// A document that is not a Kubernetes object (a `kustomization.yaml`, a Helm
/// `Chart.yaml` or `values.yaml`, a patch list, an object without a name):
/// skipped with a note, never fatal.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

/// What loading left aside: skipped documents, and files that could not be read
/// or parsed (the other files are still loaded).
#[derive(Debug, Default)]
pub struct LoadOutcome {
    pub skipped: Vec<Skipped>,
    pub errors: Vec<LoadError>,
}

/// Loads every path; `-` reads standard input once. Strict: the first unreadable
/// file is an error; documents that are not objects are left out.
pub fn load_paths(paths: &[String], default_namespace: &str) -> Result<Vec<Manifest>, LoadError> {
    let mut out = Vec::new();
    let outcome = visit_paths(paths, default_namespace, |m| out.push(m));
    match outcome.errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Hands each object to `f` in input order (files in order, documents in order),
/// parsing files — and parts of large files — on every core meanwhile. A file
/// that cannot be read or parsed is recorded and the walk goes on; the documents
/// of a file before its YAML error are kept, as kubectl applies them.
pub fn visit_paths(paths: &[String], default_namespace: &str, mut f: impl FnMut(Manifest)) -> LoadOutcome {
    let mut outcome = LoadOutcome::default();
    let mut files = Vec::new();
    for p in paths {
        if p == "-" {
            files.push(PathBuf::from("-"));
        } else if let Err(e) = collect(Path::new(p), true, &mut files) {
            outcome.errors.push(e);
        }
    }
    let mut units = Vec::new();
    let mut batch: (Vec<PathBuf>, u64) = (Vec::new(), 0);
    for file in files {
        match plan(&file) {
            // Small files go in batches: one hand-over between threads per batch.
            Ok(Plan::Small(path, size)) => {
                batch.0.push(path);
                batch.1 += size;
                if batch.0.len() >= 256 || batch.1 >= PART_BYTES as u64 {
                    units.push(Unit::Paths(std::mem::take(&mut batch.0)));
                    batch.1 = 0;
                }
            }
            Ok(Plan::Parts(mut parts)) => {
                if !batch.0.is_empty() {
                    units.push(Unit::Paths(std::mem::take(&mut batch.0)));
                    batch.1 = 0;
                }
                units.append(&mut parts);
            }
            Err(e) => outcome.errors.push(e),
        }
    }
    if !batch.0.is_empty() {
        units.push(Unit::Paths(batch.0));
    }
    // A file's parts after its first YAML error are not read (the stream stops there).
    let mut failed: Option<Arc<str>> = None;
    let mut deliver = |r: ParsedUnit, outcome: &mut LoadOutcome| {
        if r.part_of.is_some() && failed == r.part_of {
            return;
        }
        r.manifests.into_iter().for_each(&mut f);
        outcome.skipped.extend(r.skipped);
        if r.part_of.is_some() && r.errors.iter().any(|e| matches!(e, LoadError::Yaml { .. })) {
            failed = r.part_of.clone();
        }
        outcome.errors.extend(r.errors);
    };
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(units.len());
    if workers <= 1 {
        for u in &units {
            deliver(parse_unit(u, default_namespace), &mut outcome);
        }
        return outcome;
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, ParsedUnit)>(workers);
        for _ in 0..workers {
            let tx = tx.clone();
            let (units, next) = (&units, &next);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(u) = units.get(i) else { break };
                if tx.send((i, parse_unit(u, default_namespace))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        // Results arrive out of order; they are handed on in order.
        let mut waiting = std::collections::BTreeMap::new();
        let mut want = 0;
        for (i, r) in rx {
            waiting.insert(i, r);
            while let Some(r) = waiting.remove(&want) {
                deliver(r, &mut outcome);
                want += 1;
            }
        }
    });
    outcome
}

/// A piece of input parsed on its own: a file, or a run of whole documents of a
/// large file (split where a line starts a document, `---`).
enum Unit {
    /// Small files, parsed one after the other (one hand-over for many files).
    Paths(Vec<PathBuf>),
    Text {
        file: Arc<str>,
        text: Arc<str>,
        range: std::ops::Range<usize>,
        first_line: usize,
    },
}

/// What one unit gave.
struct ParsedUnit {
    /// The file a part of a split file belongs to (its later parts are dropped
    /// after a YAML error); `None` for whole files.
    part_of: Option<Arc<str>>,
    manifests: Vec<Manifest>,
    skipped: Vec<Skipped>,
    errors: Vec<LoadError>,
}

/// Files above this size are split into parts of about this size.
const PART_BYTES: usize = 1 << 20;

/// How a file is read: a small one whole, later; a large one (or standard
/// input) read now and split into parts.
enum Plan {
    Small(PathBuf, u64),
    Parts(Vec<Unit>),
}

fn plan(file: &Path) -> Result<Plan, LoadError> {
    let (name, text) = if file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(|e| LoadError::Io {
            path: "<stdin>".into(),
            source: e,
        })?;
        ("<stdin>".to_string(), s)
    } else {
        let name = file.display().to_string();
        let size = std::fs::metadata(file).map_or(0, |m| m.len());
        if size <= PART_BYTES as u64 * 2 {
            return Ok(Plan::Small(file.to_path_buf(), size));
        }
        let text = std::fs::read_to_string(file).map_err(|e| LoadError::Io {
            path: name.clone(),
            source: e,
        })?;
        (name, text)
    };
    let file: Arc<str> = Arc::from(name);
    let text: Arc<str> = Arc::from(text);
    Ok(Plan::Parts(
        split_documents(&text, PART_BYTES)
            .into_iter()
            .map(|(range, first_line)| Unit::Text {
                file: file.clone(),
                text: text.clone(),
                range,
                first_line,
            })
            .collect(),
    ))
}

/// Splits a YAML stream into runs of whole documents of about `part` bytes, at
/// lines that start a document (`---` followed by a space or the line's end: no
/// scalar may contain such a line). A stream with directives (`%YAML`) stays whole.
fn split_documents(text: &str, part: usize) -> Vec<(std::ops::Range<usize>, usize)> {
    let whole = vec![(0..text.len(), 1)];
    if text.len() <= part || text.starts_with('%') || text.contains("\n%") {
        return whole;
    }
    let mut out = Vec::new();
    let (mut start, mut start_line, mut line) = (0, 1, 1);
    let mut at = 0;
    for l in text.split_inclusive('\n') {
        let is_marker = l
            .strip_prefix("---")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']));
        if is_marker && at - start >= part {
            out.push((start..at, start_line));
            start = at;
            start_line = line;
        }
        at += l.len();
        line += 1;
    }
    out.push((start..text.len(), start_line));
    out
}

fn parse_unit(u: &Unit, default_namespace: &str) -> ParsedUnit {
    let mut out = ParsedUnit {
        part_of: None,
        manifests: Vec::new(),
        skipped: Vec::new(),
        errors: Vec::new(),
    };
    match u {
        Unit::Paths(paths) => {
            for path in paths {
                let name = path.display().to_string();
                match std::fs::read_to_string(path) {
                    Ok(text) => {
                        let manifests = &mut out.manifests;
                        let (s, e) = stream_file(&name, &text, default_namespace, &mut |m| manifests.push(m));
                        out.skipped.extend(s);
                        out.errors.extend(e);
                    }
                    Err(e) => out.errors.push(LoadError::Io { path: name, source: e }),
                }
            }
        }
        Unit::Text {
            file,
            text,
            range,
            first_line,
        } => {
            let manifests = &mut out.manifests;
            let (s, e) = stream_part(file, &text[range.clone()], *first_line, default_namespace, &mut |m| {
                manifests.push(m)
            });
            out.part_of = Some(file.clone());
            out.skipped.extend(s);
            out.errors.extend(e);
        }
    }
    out
}

/// Directories are walked in name order, keeping `.yaml`, `.yml` and `.json` files
/// and skipping hidden entries; a path named explicitly is read whatever its name.
fn collect(path: &Path, explicit: bool, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let io = |e| LoadError::Io {
        path: path.display().to_string(),
        source: e,
    };
    let meta = if explicit {
        std::fs::metadata(path)
    } else {
        std::fs::symlink_metadata(path)
    }
    .map_err(io)?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
            .collect();
        entries.sort();
        for e in entries {
            collect(&e, false, out)?;
        }
    } else if explicit
        || path
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
    {
        out.push(path.to_path_buf());
    }
    Ok(())
}

/// One file's objects, and the documents in it that are not objects.
#[derive(Debug, Default)]
pub struct ParsedFile {
    pub manifests: Vec<Manifest>,
    pub skipped: Vec<Skipped>,
    /// Where the YAML stopped parsing; the documents before it are in `manifests`
    /// (kubectl, too, applies the documents it could read before the error).
    pub error: Option<LoadError>,
}

/// Parses one file's text into objects; `kind: List` is flattened into its items.
/// Strict: a document that is not an object is an error (tests and fixtures).
pub fn parse_text(file: &str, text: &str, default_namespace: &str) -> Result<Vec<Manifest>, LoadError> {
    let parsed = parse_file(file, text, default_namespace);
    if let Some(e) = parsed.error {
        return Err(e);
    }
    match parsed.skipped.into_iter().next() {
        Some(s) => Err(LoadError::NotAnObject {
            file: s.file,
            line: s.line,
            reason: s.reason,
        }),
        None => Ok(parsed.manifests),
    }
}

/// Parses one file's text: the documents before a YAML error are kept and the
/// error recorded; a document that is not a Kubernetes object is skipped.
pub fn parse_file(file: &str, text: &str, default_namespace: &str) -> ParsedFile {
    let mut manifests = Vec::new();
    let (skipped, error) = stream_file(file, text, default_namespace, &mut |m| manifests.push(m));
    ParsedFile {
        manifests,
        skipped,
        error,
    }
}

/// Like `parse_file`, handing each object to `f` as soon as its document is read.
pub fn stream_file(
    file: &str,
    text: &str,
    default_namespace: &str,
    f: &mut dyn FnMut(Manifest),
) -> (Vec<Skipped>, Option<LoadError>) {
    stream_part(&Arc::from(file), text, 1, default_namespace, f)
}

/// `stream_file` on a run of documents of a file that starts on `first_line`.
fn stream_part(
    file: &Arc<str>,
    text: &str,
    first_line: usize,
    default_namespace: &str,
    f: &mut dyn FnMut(Manifest),
) -> (Vec<Skipped>, Option<LoadError>) {
    let mut skipped = Vec::new();
    let result = yaml::for_each_document_at(text, first_line, |doc| {
        add_document(file, doc, default_namespace, f, &mut skipped)
    });
    let error = result.err().map(|error| LoadError::Yaml {
        file: file.to_string(),
        error,
    });
    (skipped, error)
}

/// One document's objects (a `kind: List` is flattened into its items).
fn add_document(
    file: &Arc<str>,
    doc: yaml::YamlDocument,
    default_namespace: &str,
    f: &mut dyn FnMut(Manifest),
    skipped: &mut Vec<Skipped>,
) {
    let lines = Arc::new(doc.lines);
    let is_list = doc
        .value
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k == "List" || k.ends_with("List"))
        && doc.value.get("items").is_some_and(Value::is_array);
    let items: Vec<(String, Value)> = if is_list {
        match doc.value {
            Value::Object(mut m) => match m.remove("items") {
                Some(Value::Array(items)) => items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (format!("/items/{i}"), v))
                    .collect(),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    } else {
        vec![(String::new(), doc.value)]
    };
    for (prefix, value) in items {
        let line = lines.get(&prefix).unwrap_or(doc.start_line);
        match Object::from_value(value, default_namespace) {
            Ok(object) => {
                // Findings point into Istio objects and Services only: other
                // kinds (most of a cluster) need no line map.
                let reported = object.key.kind.is_istio() || object.key.kind == crate::model::Kind::Service;
                f(Manifest {
                    object,
                    source: Source {
                        file: file.clone(),
                        line,
                        lines: if reported { lines.clone() } else { Arc::default() },
                        prefix,
                    },
                })
            }
            Err(error) => skipped.push(Skipped {
                file: file.to_string(),
                line,
                reason: error.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_items_keep_their_lines() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata:\n    name: a\n- apiVersion: v1\n  kind: Service\n  metadata:\n    name: b\n";
        let m = parse_text("f.yaml", text, "default").unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].object.key.name, "b");
        assert_eq!(m[1].source.line, 8);
        let p = jsonptr::PointerBuf::parse("/metadata/name").unwrap();
        assert_eq!(m[1].source.line_of(&p), 11);
        assert_eq!(m[0].object.key.namespace, "default");
    }

    #[test]
    fn missing_kind_is_an_error_with_a_line() {
        let e = parse_text(
            "f.yaml",
            "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\nfoo: bar\n",
            "default",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.yaml:5: not a Kubernetes object: `apiVersion` is missing or not a string"
        );
    }

    /// As kubectl applies the documents it read before a YAML error, the objects
    /// before the error are kept; the error names its line.
    #[test]
    fn documents_before_a_yaml_error_are_kept() {
        let text = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: [b\n";
        let f = parse_file("f.yaml", text, "default");
        assert_eq!(f.manifests.len(), 1);
        assert_eq!(f.manifests[0].object.key.name, "a");
        let e = f.error.expect("the second document does not parse").to_string();
        assert!(e.starts_with("f.yaml:8: not valid YAML"), "{e}");
        assert!(parse_text("f.yaml", text, "default").is_err());
    }

    /// A large stream is split at document starts only; each part keeps the
    /// stream's line numbers, so lines and errors are those of the whole file.
    #[test]
    fn split_streams_keep_their_lines() {
        let doc = |i: usize| {
            format!("apiVersion: v1\nkind: Service\nmetadata:\n  name: s{i}\n  annotations:\n    a: |\n      --- not a marker (indented)\n")
        };
        let mut text = String::new();
        for i in 0..40 {
            if i > 0 {
                text.push_str(if i % 2 == 0 { "---\n" } else { "--- # next\n" });
            }
            text.push_str(&doc(i));
        }
        let parts = split_documents(&text, 300);
        assert!(parts.len() > 5, "{}", parts.len());
        let whole = parse_file("f.yaml", &text, "default");
        let mut pieces = Vec::new();
        for (range, first_line) in &parts {
            assert!(text[range.clone()].starts_with("apiVersion") || text[range.clone()].starts_with("---"));
            let (_, e) = stream_part(
                &Arc::from("f.yaml"),
                &text[range.clone()],
                *first_line,
                "default",
                &mut |m| pieces.push(m),
            );
            assert!(e.is_none(), "{e:?}");
        }
        assert_eq!(pieces.len(), 40);
        let at = jsonptr::PointerBuf::parse("/metadata/name").unwrap();
        for (a, b) in whole.manifests.iter().zip(&pieces) {
            assert_eq!(a.object.key, b.object.key);
            assert_eq!(
                (a.source.line, a.source.line_of(&at)),
                (b.source.line, b.source.line_of(&at))
            );
        }
        // An error in a later part names the whole file's line.
        let broken = format!("{text}---\nmetadata: {{name: [x\n");
        let whole_err = parse_file("f.yaml", &broken, "default").error.unwrap().to_string();
        let parts = split_documents(&broken, 300);
        let (range, first_line) = parts.last().unwrap();
        let (_, e) = stream_part(
            &Arc::from("f.yaml"),
            &broken[range.clone()],
            *first_line,
            "default",
            &mut |_| (),
        );
        assert_eq!(e.unwrap().to_string(), whole_err);
        // Directives keep a stream whole.
        assert_eq!(split_documents(&format!("%YAML 1.2\n---\n{text}"), 300).len(), 1);
    }

    #[test]
    fn nearest_ancestor_line() {
        let m = parse_text(
            "f.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\nspec:\n  ports: []\n",
            "x",
        )
        .unwrap();
        let p = jsonptr::PointerBuf::parse("/spec/ports/3/port").unwrap();
        assert_eq!(m[0].source.line_of(&p), 6);
    }
}
