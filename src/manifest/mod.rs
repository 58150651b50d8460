//! Manifest files → objects with their source positions (`meshgate check` and
//! `serve --cluster-from`). Files, directories (recursive), `-` for stdin;
//! multi-document YAML, JSON, `kind: List`.

pub mod yaml;

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
pub fn visit_paths(paths: &[String], default_namespace: &str, f: impl FnMut(Manifest)) -> LoadOutcome {
    visit_paths_prepared(paths, default_namespace, |m| m, f)
}

/// `visit_paths` with `prepare` run on each object on the parsing threads (the
/// work that can be done in parallel, e.g. building the view's entry), and `f`
/// on the results, in input order.
pub fn visit_paths_prepared<T: Send>(
    paths: &[String],
    default_namespace: &str,
    prepare: impl Fn(Manifest) -> T + Sync,
    mut f: impl FnMut(T),
) -> LoadOutcome {
    let mut outcome = LoadOutcome::default();
    let mut files = Vec::new();
    for p in paths {
        if p == "-" {
            files.push((PathBuf::from("-"), None));
        } else if let Err(e) = collect(Path::new(p), true, &mut files) {
            outcome.errors.push(e);
        }
    }
    // A file's parts after its first YAML error are not handed on (the stream stops there).
    let mut failed: Option<Arc<str>> = None;
    let mut deliver = |r: ParsedUnit<T>, outcome: &mut LoadOutcome| {
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
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let mut units = Units::new(files);
    if workers <= 1 {
        while let Some(u) = units.next() {
            deliver(parse_unit(u, default_namespace, &prepare), &mut outcome);
        }
        return outcome;
    }
    // Workers take the next unit from one shared source (which reads large files
    // part by part, so a file never sits in memory whole) and parse it.
    let units = std::sync::Mutex::new((0usize, units));
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, ParsedUnit<T>)>(workers);
        for _ in 0..workers {
            let tx = tx.clone();
            let (units, prepare) = (&units, &prepare);
            scope.spawn(move || loop {
                let next = {
                    let Ok(mut guard) = units.lock() else { break };
                    let (count, source) = &mut *guard;
                    source.next().map(|u| {
                        *count += 1;
                        (*count - 1, u)
                    })
                };
                let Some((i, u)) = next else { break };
                if tx.send((i, parse_unit(u, default_namespace, prepare))).is_err() {
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

/// A piece of input parsed on its own: small files, or a run of whole documents
/// of a large file (split where a line starts a document, `---`).
enum Unit {
    /// Small files, parsed one after the other (one hand-over for many files).
    Paths(Vec<PathBuf>),
    Part {
        file: Arc<str>,
        text: String,
        first_line: usize,
    },
    /// A file that could not be opened or read.
    Failed(LoadError),
}

/// What one unit gave.
struct ParsedUnit<T> {
    /// The file a part of a split file belongs to (its later parts are dropped
    /// after a YAML error); `None` for whole files.
    part_of: Option<Arc<str>>,
    manifests: Vec<T>,
    skipped: Vec<Skipped>,
    errors: Vec<LoadError>,
}

/// Files above this size are read in parts of about this size.
const PART_BYTES: usize = 1 << 18;
/// Small files are batched up to this many.
const BATCH_FILES: usize = 256;

/// The units of a list of files, in order, made as they are asked for: small
/// files in batches, large files (and standard input) part by part.
struct Units {
    files: std::vec::IntoIter<(PathBuf, Option<u64>)>,
    /// The large file being read.
    reading: Option<PartReader>,
    /// A file met while filling a batch, to be handled next.
    held: Option<(PathBuf, Option<u64>)>,
}

impl Units {
    fn new(files: Vec<(PathBuf, Option<u64>)>) -> Units {
        Units {
            files: files.into_iter(),
            reading: None,
            held: None,
        }
    }

    fn next(&mut self) -> Option<Unit> {
        if let Some(r) = &mut self.reading {
            match r.next_part() {
                Some(u) => return Some(u),
                None => self.reading = None,
            }
        }
        let mut batch: Vec<PathBuf> = Vec::new();
        let mut bytes = 0u64;
        while let Some((file, known)) = self.held.take().or_else(|| self.files.next()) {
            let size = if file.as_os_str() == "-" {
                None
            } else {
                Some(known.unwrap_or_else(|| std::fs::metadata(&file).map_or(0, |m| m.len())))
            };
            match size {
                Some(size) if size <= PART_BYTES as u64 * 2 => {
                    batch.push(file);
                    bytes += size;
                    if batch.len() >= BATCH_FILES || bytes >= PART_BYTES as u64 {
                        break;
                    }
                }
                // A large file: the batch so far goes first.
                _ if !batch.is_empty() => {
                    self.held = Some((file, size));
                    break;
                }
                _ => match PartReader::open(&file) {
                    Ok(mut r) => {
                        let first = r.next_part();
                        self.reading = Some(r);
                        match first {
                            Some(u) => return Some(u),
                            None => self.reading = None,
                        }
                    }
                    Err(e) => return Some(Unit::Failed(e)),
                },
            }
        }
        (!batch.is_empty()).then_some(Unit::Paths(batch))
    }
}

/// Reads a YAML stream in runs of whole documents of about `PART_BYTES`, cut
/// before lines that start a document (`---` followed by a space or the line's
/// end: no scalar may contain such a line). Once a directive (`%YAML`, `%TAG`)
/// is seen the rest of the stream stays one part, as directives belong to the
/// document after them. Reads in blocks and searches them for the cut (one
/// worker reads while the others wait, so this must be cheap).
struct PartReader {
    file: Arc<str>,
    input: Box<dyn std::io::BufRead + Send>,
    /// Bytes read past the last part's end (they start a document).
    pending: Vec<u8>,
    next_line: usize,
    whole: bool,
    done: bool,
    part: usize,
}

impl PartReader {
    fn open(path: &Path) -> Result<PartReader, LoadError> {
        let (name, input): (String, Box<dyn std::io::BufRead + Send>) = if path.as_os_str() == "-" {
            (
                "<stdin>".to_string(),
                Box::new(std::io::BufReader::new(std::io::stdin())),
            )
        } else {
            let name = path.display().to_string();
            let file = std::fs::File::open(path).map_err(|e| LoadError::Io {
                path: name.clone(),
                source: e,
            })?;
            (name, Box::new(std::io::BufReader::with_capacity(1 << 16, file)))
        };
        Ok(PartReader::new(name, input, PART_BYTES))
    }

    fn new(name: String, input: Box<dyn std::io::BufRead + Send>, part: usize) -> PartReader {
        PartReader {
            file: Arc::from(name),
            input,
            pending: Vec::new(),
            next_line: 1,
            whole: false,
            done: false,
            part,
        }
    }

    fn failed(&mut self, source: std::io::Error) -> Option<Unit> {
        self.done = true;
        self.pending = Vec::new();
        Some(Unit::Failed(LoadError::Io {
            path: self.file.to_string(),
            source,
        }))
    }

    fn next_part(&mut self) -> Option<Unit> {
        if self.done && self.pending.is_empty() {
            return None;
        }
        let first_line = self.next_line;
        // One allocation for the part (growing by doubling would copy it and
        // touch fresh memory at every step).
        let mut text = Vec::with_capacity(self.part + self.part / 4);
        text.append(&mut self.pending);
        // Where the searches go on after the bytes already searched.
        let (mut directive_from, mut cut_from) = (0, self.part.max(1));
        loop {
            if !self.whole {
                let cut = match document_start(&text, cut_from, self.done) {
                    Ok(at) => Some(at),
                    Err(searched) => {
                        cut_from = searched;
                        None
                    }
                };
                if directive_line(&text, directive_from, cut.unwrap_or(text.len())) {
                    self.whole = true;
                } else if let Some(at) = cut {
                    self.pending = text.split_off(at);
                    break;
                }
                directive_from = text.len();
            }
            if self.done {
                break;
            }
            match self.input.fill_buf() {
                Ok([]) => self.done = true,
                Ok(block) => {
                    let n = block.len();
                    text.extend_from_slice(block);
                    self.input.consume(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return self.failed(e),
            }
        }
        if text.is_empty() && self.done {
            return None;
        }
        // Every part but the last ends with a line break.
        self.next_line += memchr::memchr_iter(b'\n', &text).count();
        let Ok(text) = String::from_utf8(text) else {
            let e = std::io::Error::new(std::io::ErrorKind::InvalidData, "stream did not contain valid UTF-8");
            return self.failed(e);
        };
        Some(Unit::Part {
            file: self.file.clone(),
            text,
            first_line,
        })
    }
}

/// The first line at or after byte `from` of `text` that starts a document;
/// `Err(from)`: none yet, search again from `from` once more is read (a line
/// at the end may be incomplete unless `at_end`).
fn document_start(text: &[u8], from: usize, at_end: bool) -> Result<usize, usize> {
    let mut search = from - 1;
    while let Some(i) = text.get(search..).and_then(|t| memchr::memmem::find(t, b"\n---")) {
        let at = search + i + 1;
        match text.get(at + 3) {
            None if at_end => return Ok(at),
            None => return Err(at),
            Some(b' ' | b'\t' | b'\r' | b'\n') => return Ok(at),
            Some(_) => search = at,
        }
    }
    Err(text.len().saturating_sub(3).max(from))
}

/// Whether a line starting with `%` (a directive) starts in `text[from..to]`.
fn directive_line(text: &[u8], from: usize, to: usize) -> bool {
    if from == 0 && text.first() == Some(&b'%') {
        return true;
    }
    let start = from.saturating_sub(1);
    let end = to.min(text.len());
    start < end && memchr::memmem::find(&text[start..end], b"\n%").is_some_and(|i| start + i + 1 < to)
}

fn parse_unit<T>(u: Unit, default_namespace: &str, prepare: &impl Fn(Manifest) -> T) -> ParsedUnit<T> {
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
                match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        let manifests = &mut out.manifests;
                        let (s, e) = stream_file(&name, &text, default_namespace, &mut |m| manifests.push(prepare(m)));
                        out.skipped.extend(s);
                        out.errors.extend(e);
                    }
                    Err(e) => out.errors.push(LoadError::Io { path: name, source: e }),
                }
            }
        }
        Unit::Part { file, text, first_line } => {
            let manifests = &mut out.manifests;
            let (s, e) = stream_part(&file, &text, first_line, default_namespace, &mut |m| {
                manifests.push(prepare(m))
            });
            out.part_of = Some(file);
            out.skipped.extend(s);
            out.errors.extend(e);
        }
        Unit::Failed(e) => out.errors.push(e),
    }
    out
}

/// Directories are walked in name order, keeping `.yaml`, `.yml` and `.json` files
/// and skipping hidden entries; a path named explicitly is read whatever its name.
/// Collects the files under `path` with their sizes when known (the walk's own
/// metadata: one `stat` per file, not two).
fn collect(path: &Path, explicit: bool, out: &mut Vec<(PathBuf, Option<u64>)>) -> Result<(), LoadError> {
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
        // One directory's entries differ in their names only: comparing those
        // gives `Path`'s order without its component-wise comparison.
        entries.sort_unstable_by(|a, b| a.file_name().cmp(&b.file_name()));
        for e in entries {
            collect(&e, false, out)?;
        }
    } else if explicit
        || path
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
    {
        // A symlink's own size is not its target's.
        let size = (meta.is_file() && !meta.file_type().is_symlink()).then_some(meta.len());
        out.push((path.to_path_buf(), size));
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
    let result = yaml::for_each_document_lines_for(text, first_line, is_reported, |doc| {
        add_document(file, doc, default_namespace, f, &mut skipped)
    });
    let error = result.err().map(|error| LoadError::Yaml {
        file: file.to_string(),
        error,
    });
    (skipped, error)
}

/// Whether findings may point into objects of this type: Istio objects and
/// Services, Gateway API objects (and the items of a list). Other kinds — most of a cluster — keep
/// no line map.
fn is_reported(api_version: &str, kind: &str) -> bool {
    let k = crate::model::Kind::from_type(api_version, kind);
    k.is_istio() || k.is_gateway_api() || k == crate::model::Kind::Service || kind.ends_with("List")
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
                let reported = is_reported(&object.api_version, &object.kind_name);
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

    /// The parts a `PartReader` of `part` bytes reads from `text`, in blocks of
    /// `block` bytes, with their first lines.
    fn read_parts(text: &str, part: usize, block: usize) -> Vec<(String, usize)> {
        let input = std::io::Cursor::new(text.to_string().into_bytes());
        let input = Box::new(std::io::BufReader::with_capacity(block, input));
        let mut r = PartReader::new("f.yaml".into(), input, part);
        let mut out = Vec::new();
        while let Some(u) = r.next_part() {
            match u {
                Unit::Part { text, first_line, .. } => out.push((text, first_line)),
                _ => panic!("only parts expected"),
            }
        }
        out
    }

    /// The parts a `PartReader` cuts `text` into, with their first lines.
    fn split_documents(text: &str, part: usize) -> Vec<(String, usize)> {
        let out = read_parts(text, part, 1 << 16);
        assert_eq!(
            out.iter().map(|p| p.0.as_str()).collect::<String>(),
            text,
            "the parts make the text"
        );
        out
    }

    /// The parts as the reader cut them line by line before it read in blocks:
    /// before the first document start line at or after `part` bytes, none
    /// after a directive line.
    fn reference_parts(text: &str, part: usize) -> Vec<(String, usize)> {
        let is_start = |l: &str| {
            l.strip_prefix("---")
                .is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t', '\r', '\n']))
        };
        let (mut out, mut cur, mut first, mut line_no, mut whole) = (Vec::new(), String::new(), 1, 1, false);
        for l in text.split_inclusive('\n') {
            whole |= l.starts_with('%');
            if !whole && cur.len() >= part && is_start(l) {
                out.push((std::mem::take(&mut cur), first));
                first = line_no;
            }
            cur.push_str(l);
            line_no += 1;
        }
        if !cur.is_empty() {
            out.push((cur, first));
        }
        out
    }

    /// Random streams of tricky lines, random part sizes and read block sizes
    /// (down to one byte): the block reader cuts exactly where the line reader did.
    #[test]
    fn block_reader_cuts_where_the_line_reader_did() {
        const LINES: &[&str] = &[
            "a: 1\n",
            "---\n",
            "--- # c\n",
            "---x\n",
            "--\n",
            "-\n",
            "%YAML 1.2\n",
            "---\r\n",
            "  --- x\n",
            "b: \"\u{e9}\"\n",
            "---\t\n",
            "- --- \n",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for case in 0..3000 {
            let mut text = String::new();
            for _ in 0..next(40) {
                // Directives are rare, as in real streams.
                let l = LINES[next(LINES.len())];
                if l.starts_with('%') && next(4) != 0 {
                    continue;
                }
                text.push_str(l);
            }
            if next(3) == 0 {
                text.push_str(["---", "--", "a: 2", "--- "][next(4)]);
            }
            let (part, block) = (1 + next(60), 1 + next(9));
            assert_eq!(
                read_parts(&text, part, block),
                reference_parts(&text, part),
                "case {case}, part {part}, block {block}: {text:?}"
            );
        }
    }

    /// Invalid UTF-8 is an I/O error naming the file, as before.
    #[test]
    fn invalid_utf8_is_an_io_error() {
        let input = Box::new(std::io::Cursor::new(b"a: 1\nb: \xff\n".to_vec()));
        let mut r = PartReader::new("f.yaml".into(), input, 100);
        match r.next_part() {
            Some(Unit::Failed(e)) => assert_eq!(e.to_string(), "f.yaml: stream did not contain valid UTF-8"),
            _ => panic!("an error expected"),
        }
        assert!(r.next_part().is_none());
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
        for (part, first_line) in &parts {
            assert!(part.starts_with("apiVersion") || part.starts_with("---"));
            let (_, e) = stream_part(&Arc::from("f.yaml"), part, *first_line, "default", &mut |m| {
                pieces.push(m)
            });
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
        let (part, first_line) = parts.last().unwrap();
        let (_, e) = stream_part(&Arc::from("f.yaml"), part, *first_line, "default", &mut |_| ());
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
