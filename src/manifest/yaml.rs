//! YAML (and JSON, which is YAML) to `serde_json::Value`, keeping the source line of
//! every node so a finding's JSON pointer maps back to `file:line`.
//!
//! Built on libyaml-safer, a safe Rust port of libyaml: the reader kubectl uses
//! (go-yaml) is a port of libyaml too, so what one accepts the other does (flow
//! collections at any indentation, BOM, CRLF, anchors, merge keys, duplicate keys
//! where the last wins). An explicit stack, a depth limit and a node budget per
//! document (aliases included) keep hostile input from exhausting stack or memory.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::BuildHasher;

use libyaml_safer::{EventData, Mark, Parser, ScalarStyle};

mod block;
use serde_json::{Map, Number, Value};

const MAX_DEPTH: usize = 256;
/// Per document: a stream of many documents (`helm template` output) is bounded
/// document by document, not as a whole.
const MAX_NODES: usize = 4_000_000;

/// One YAML document: its value, the line it starts on, and the line of each node.
#[derive(Clone, Debug)]
pub struct YamlDocument {
    pub value: Value,
    pub start_line: usize,
    /// JSON pointer (as text) → 1-based line.
    pub lines: LineMap,
}

/// JSON pointer → line, kept compact: a hash of the pointer text and the line,
/// sorted by hash (12 bytes a node instead of a pointer string). A collision of
/// two pointers of one document (64-bit hashes) would only misplace a line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineMap {
    entries: Vec<(u64, u32)>,
}

fn pointer_hash(pointer: &str) -> u64 {
    foldhash::fast::FixedState::with_seed(0x6d65_7368_6761_7465).hash_one(pointer)
}

impl LineMap {
    /// The line of the node at `pointer` (`""` is the document).
    pub fn get(&self, pointer: &str) -> Option<usize> {
        let h = pointer_hash(pointer);
        self.entries
            .binary_search_by_key(&h, |e| e.0)
            .ok()
            .map(|i| self.entries[i].1 as usize)
    }

    fn record(&mut self, pointer: &str, line: usize) {
        self.entries
            .push((pointer_hash(pointer), u32::try_from(line).unwrap_or(u32::MAX)));
    }

    /// Sorts for lookup; of a key written twice, the last one counts.
    fn finish(&mut self) {
        self.entries.reverse();
        self.entries.sort_by_key(|e| e.0);
        self.entries.dedup_by_key(|e| e.0);
        self.entries.shrink_to_fit();
    }
}

/// A position in the text (0-based), from libyaml's marks or the fast reader.
#[derive(Clone, Copy, Debug, Default)]
struct Pos {
    line: u64,
    column: u64,
}

impl From<Mark> for Pos {
    fn from(m: Mark) -> Pos {
        Pos {
            line: m.line,
            column: m.column,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl YamlError {
    fn at(mark: Pos, message: impl Into<String>) -> Self {
        YamlError {
            line: usize::try_from(mark.line).unwrap_or(usize::MAX).saturating_add(1),
            column: usize::try_from(mark.column).unwrap_or(usize::MAX).saturating_add(1),
            message: message.into(),
        }
    }
}

/// Every document of a YAML stream.
pub fn parse_documents(text: &str) -> Result<Vec<YamlDocument>, YamlError> {
    let mut docs = Vec::new();
    for_each_document(text, |d| docs.push(d))?;
    Ok(docs)
}

/// Hands each document to `f` as soon as it is complete, so a long stream never
/// sits in memory as values all at once. On an error, the documents before it
/// have been handed over (as kubectl applies the documents it could read).
pub fn for_each_document(text: &str, f: impl FnMut(YamlDocument)) -> Result<(), YamlError> {
    parse_with_budget(text, MAX_NODES, f)
}

/// `for_each_document` on a part of a larger stream that starts on line
/// `first_line` (1-based): lines, in documents and errors, are the stream's.
pub fn for_each_document_at(text: &str, first_line: usize, f: impl FnMut(YamlDocument)) -> Result<(), YamlError> {
    for_each_document_lines_for(text, first_line, |_, _| true, f)
}

/// `for_each_document_at`, keeping the line of every node only for documents
/// whose `apiVersion` and `kind` `lines_for` accepts (the others keep the line
/// of the document): most objects of a cluster are never pointed into.
pub fn for_each_document_lines_for(
    text: &str,
    first_line: usize,
    lines_for: fn(&str, &str) -> bool,
    f: impl FnMut(YamlDocument),
) -> Result<(), YamlError> {
    let offset = first_line.saturating_sub(1);
    parse_at(text, MAX_NODES, offset, lines_for, f).map_err(|mut e| {
        e.line += offset;
        e
    })
}

fn parse_with_budget(text: &str, max_nodes: usize, f: impl FnMut(YamlDocument)) -> Result<(), YamlError> {
    parse_at(text, max_nodes, 0, |_, _| true, f)
}

fn parse_at(
    text: &str,
    max_nodes: usize,
    line_offset: usize,
    lines_for: fn(&str, &str) -> bool,
    f: impl FnMut(YamlDocument),
) -> Result<(), YamlError> {
    let mut builder = Builder::new(line_offset, max_nodes, f);
    // Directives belong to the documents after them: such a stream is libyaml's, whole.
    if text.starts_with('%') || text.contains("\n%") {
        return read_with_libyaml(&mut builder, text);
    }
    // Document by document: the common block subset by the fast reader, any
    // other document by libyaml. Lines (and errors) stay the text's.
    for (range, first) in documents(text) {
        let doc = &text[range];
        builder.line_offset = line_offset + first;
        let result = match block::events(doc).filter(|e| node_count(e) <= max_nodes) {
            Some(events) => {
                builder.node_lines = match (root_scalar(&events, "apiVersion"), root_scalar(&events, "kind")) {
                    (Some(api_version), Some(kind)) => lines_for(api_version, kind),
                    _ => true,
                };
                let result = builder.feed(events);
                builder.node_lines = true;
                result
            }
            None => read_with_libyaml(&mut builder, doc),
        };
        if result.is_err() {
            // libyaml's error as it reads the stream: from this document on (a
            // construct left open at the document's end fails at the next `---`).
            builder.reset();
            return read_with_libyaml(&mut builder, &text[range_start(text, doc)..]).map_err(|mut e| {
                e.line += first;
                e
            });
        }
    }
    Ok(())
}

/// `text.split('\n')` by byte search (a `char` pattern compares each match
/// with memcmp).
pub(crate) fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let r = rest?;
        match memchr::memchr(b'\n', r.as_bytes()) {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// `text.split_inclusive('\n')` by byte search.
fn lines_inclusive(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = memchr::memchr(b'\n', rest.as_bytes()).map_or(rest.len(), |i| i + 1);
        let (line, tail) = rest.split_at(end);
        rest = tail;
        Some(line)
    })
}

/// The documents of a stream: byte ranges cut before each line that starts a
/// document (`---` followed by a space or the line's end), with the 0-based
/// line each starts on.
fn documents(text: &str) -> Vec<(std::ops::Range<usize>, usize)> {
    let mut out = Vec::new();
    let (mut start, mut start_line, mut at) = (0, 0, 0);
    for (number, line) in lines_inclusive(text).enumerate() {
        let is_start = line
            .strip_prefix("---")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']));
        if is_start && at > start {
            out.push((start..at, start_line));
            start = at;
            start_line = number;
        }
        at += line.len();
    }
    out.push((start..text.len(), start_line));
    out
}

/// The plain or quoted scalar value of a key of the document's root mapping.
fn root_scalar<'a>(events: &'a [block::Event], key: &str) -> Option<&'a str> {
    if !matches!(events.first(), Some(block::Event::MappingStart(_))) {
        return None;
    }
    let mut depth = 0usize;
    let mut expect_key = false;
    let mut matched = false;
    for e in events {
        match e {
            block::Event::MappingStart(_) | block::Event::SequenceStart(_) => {
                if depth == 1 {
                    matched = false;
                }
                depth += 1;
                expect_key = depth == 1;
            }
            block::Event::MappingEnd | block::Event::SequenceEnd => {
                depth = depth.saturating_sub(1);
                expect_key = depth == 1;
            }
            block::Event::Scalar { value, .. } if depth == 1 => {
                if expect_key {
                    matched = value == key;
                } else if matched {
                    return Some(value);
                }
                expect_key = !expect_key;
            }
            block::Event::Scalar { .. } => {}
        }
    }
    None
}

/// Where `doc`, a slice of `text`, starts in it.
fn range_start(text: &str, doc: &str) -> usize {
    doc.as_ptr() as usize - text.as_ptr() as usize
}

fn node_count(events: &[block::Event]) -> usize {
    events
        .iter()
        .filter(|e| !matches!(e, block::Event::MappingEnd | block::Event::SequenceEnd))
        .count()
}

fn read_with_libyaml<F: FnMut(YamlDocument)>(builder: &mut Builder<F>, text: &str) -> Result<(), YamlError> {
    let mut bytes = text.as_bytes();
    let mut parser = Parser::new();
    parser.set_input_string(&mut bytes);
    let mut last = Pos::default();
    loop {
        // libyaml-safer 0.3 panics on a tag followed by `,` in a flow collection
        // (`[!t, x]`, a `todo` in its scanner): hostile input must be an error.
        let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse()));
        let Ok(parsed) = parsed else {
            return Err(YamlError::at(
                last,
                "unsupported YAML: a tag followed by ',' in a flow collection",
            ));
        };
        let event = match parsed {
            Ok(e) => e,
            Err(e) => {
                let mark = Pos::from(e.problem_mark().unwrap_or_default());
                let message = match e.context() {
                    Some(c) if !c.is_empty() => format!("{} {c}", e.problem()),
                    _ => e.problem().to_string(),
                };
                return Err(YamlError::at(mark, message));
            }
        };
        if matches!(event.data, EventData::StreamEnd) {
            break;
        }
        last = Pos::from(event.start_mark);
        builder.on_event(event.data, last)?;
    }
    Ok(())
}

enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: Option<String>,
        /// Length of the builder's path for this node.
        path_len: usize,
        nodes: usize,
    },
    Map {
        map: Map<String, Value>,
        key: Option<String>,
        /// Mappings merged in with `<<`: their keys fill in what the mapping lacks.
        merged: Vec<Value>,
        anchor: Option<String>,
        path_len: usize,
        nodes: usize,
    },
}

struct Builder<F> {
    emit: F,
    /// Whether the line of every node is kept (else the document's only).
    node_lines: bool,
    stack: Vec<Frame>,
    root: Option<Value>,
    start_line: usize,
    lines: LineMap,
    /// The JSON pointer of the node being built, one buffer for the document.
    path: String,
    anchors: HashMap<String, (Value, usize)>,
    /// Nodes of the current document, alias expansions included.
    nodes: usize,
    max_nodes: usize,
    /// Lines before this text in its stream.
    line_offset: usize,
}

impl<F> Builder<F> {
    /// A builder that keeps every node's line and hands each document to `emit`.
    fn new(line_offset: usize, max_nodes: usize, emit: F) -> Builder<F> {
        Builder {
            emit,
            node_lines: true,
            stack: Vec::new(),
            root: None,
            start_line: 0,
            lines: LineMap::default(),
            path: String::new(),
            anchors: HashMap::new(),
            nodes: 0,
            max_nodes,
            line_offset,
        }
    }
}

/// Appends a pointer token, escaped (`~` → `~0`, `/` → `~1`).
fn push_token(path: &mut String, token: &str) {
    path.push('/');
    if token.contains(['~', '/']) {
        for c in token.chars() {
            match c {
                '~' => path.push_str("~0"),
                '/' => path.push_str("~1"),
                c => path.push(c),
            }
        }
    } else {
        path.push_str(token);
    }
}

fn line_of(mark: Pos) -> usize {
    usize::try_from(mark.line).unwrap_or(usize::MAX).saturating_add(1)
}

/// The YAML 1.2 core schema for a plain scalar: null, booleans, integers
/// (decimal, `0x`, `0o`) and floats; anything else is a string.
fn resolve_plain(text: String) -> Value {
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN"
        | ".NAN" => return Value::String(text), // JSON has no infinities
        _ => {}
    }
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (-1i128, rest),
        None => (1, text.strip_prefix('+').unwrap_or(&text)),
    };
    let radix_int = |prefix: &str, radix: u32| {
        digits
            .strip_prefix(prefix)
            .filter(|d| !d.is_empty() && !text.starts_with(['-', '+']))
            .and_then(|d| i64::from_str_radix(d, radix).ok())
    };
    if let Some(i) = radix_int("0x", 16).or_else(|| radix_int("0o", 8)) {
        return Value::Number(i.into());
    }
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Some(i) = digits.parse::<i128>().ok().map(|d| d * sign) {
            if let Ok(i) = i64::try_from(i) {
                return Value::Number(i.into());
            }
            if let Ok(u) = u64::try_from(i) {
                return Value::Number(u.into());
            }
        }
    }
    let float_like = digits.bytes().any(|b| b.is_ascii_digit())
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && digits.starts_with(|c: char| c.is_ascii_digit() || c == '.');
    if float_like {
        if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(text)
}

fn scalar_value(text: String, style: ScalarStyle, tag: Option<&str>) -> Value {
    if tag.is_some_and(|t| t.ends_with(":str") || t == "!") {
        return Value::String(text);
    }
    if style != ScalarStyle::Plain {
        return Value::String(text);
    }
    resolve_plain(text)
}

fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => Some(String::new()),
        Value::Bool(_) | Value::Number(_) => Some(v.to_string()),
        _ => None,
    }
}

impl<F: FnMut(YamlDocument)> Builder<F> {
    fn line(&self, mark: Pos) -> usize {
        line_of(mark) + self.line_offset
    }

    /// Points the path at a new node, recording its line. For a mapping key
    /// position this returns `false`: the node is a key, not a value.
    fn child_pointer(&mut self, line: usize) -> bool {
        match self.stack.last() {
            None => {
                self.start_line = line;
                self.path.clear();
                self.lines.record("", line);
                true
            }
            Some(Frame::Map { key: None, .. }) => false,
            Some(_) if !self.node_lines => true,
            Some(Frame::Seq { items, path_len, .. }) => {
                let index = items.len();
                self.path.truncate(*path_len);
                self.path.push('/');
                let _ = write!(self.path, "{index}");
                self.lines.record(&self.path, line);
                true
            }
            Some(Frame::Map {
                key: Some(k), path_len, ..
            }) => {
                self.path.truncate(*path_len);
                push_token(&mut self.path, k);
                true
            }
        }
    }

    /// Counts `n` new nodes of the document against the budget.
    fn count(&mut self, n: usize, mark: Pos) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > self.max_nodes {
            return Err(YamlError::at(
                mark,
                format!(
                    "document too large: more than {} nodes (alias expansion included)",
                    self.max_nodes
                ),
            ));
        }
        Ok(())
    }

    fn attach(&mut self, value: Value, node_count: usize, anchor: Option<String>, mark: Pos) -> Result<(), YamlError> {
        let line = self.line(mark);
        if let Some(a) = anchor {
            self.anchors.insert(a, (value.clone(), node_count));
        }
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Seq { items, nodes, .. }) => {
                items.push(value);
                *nodes += node_count;
            }
            Some(Frame::Map {
                map,
                key,
                merged,
                path_len,
                nodes,
                ..
            }) => match key.take() {
                Some(k) if k == "<<" && matches!(value, Value::Object(_) | Value::Array(_)) => {
                    *nodes += node_count;
                    match value {
                        Value::Array(items) => merged.extend(items),
                        other => merged.push(other),
                    }
                }
                Some(k) => {
                    *nodes += node_count;
                    // A duplicate key: the last one wins, as in kubectl's reader.
                    map.insert(k, value);
                }
                None => {
                    let Some(k) = key_text(&value) else {
                        return Err(YamlError::at(mark, "a mapping key must be a scalar"));
                    };
                    if self.node_lines {
                        self.path.truncate(*path_len);
                        push_token(&mut self.path, &k);
                        self.lines.record(&self.path, line);
                    }
                    *key = Some(k);
                }
            },
        }
        Ok(())
    }

    fn open(&mut self, mark: Pos, anchor: Option<String>, is_map: bool) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError::at(mark, format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        self.count(1, mark)?;
        if !self.child_pointer(self.line(mark)) {
            return Err(YamlError::at(mark, "a mapping key must be a scalar"));
        }
        let path_len = self.path.len();
        self.stack.push(if is_map {
            Frame::Map {
                map: Map::new(),
                key: None,
                merged: Vec::new(),
                anchor,
                path_len,
                nodes: 1,
            }
        } else {
            Frame::Seq {
                items: Vec::new(),
                anchor,
                path_len,
                nodes: 1,
            }
        });
        Ok(())
    }

    fn close(&mut self, mark: Pos) -> Result<(), YamlError> {
        match self.stack.pop() {
            Some(Frame::Seq {
                items, anchor, nodes, ..
            }) => self.attach(Value::Array(items), nodes, anchor, mark),
            Some(Frame::Map {
                mut map,
                merged,
                anchor,
                nodes,
                ..
            }) => {
                // `<<: *base` (or a list of them, earlier ones first): keys the
                // mapping sets itself win.
                for m in merged {
                    if let Value::Object(m) = m {
                        for (k, v) in m {
                            map.entry(k).or_insert(v);
                        }
                    }
                }
                self.attach(Value::Object(map), nodes, anchor, mark)
            }
            None => Err(YamlError::at(mark, "unbalanced collection end")),
        }
    }

    /// Forgets a document read halfway.
    fn reset(&mut self) {
        self.stack.clear();
        self.path.clear();
        self.root = None;
    }

    /// One document's events from the fast reader, as libyaml would give them.
    fn feed(&mut self, events: Vec<block::Event>) -> Result<(), YamlError> {
        if events.is_empty() {
            return Ok(());
        }
        let at = |line: usize| Pos {
            line: line as u64,
            column: 0,
        };
        let start = EventData::DocumentStart {
            version_directive: None,
            tag_directives: Vec::new(),
            implicit: true,
        };
        self.on_event(start, at(0))?;
        for e in events {
            let (data, line) = match e {
                block::Event::MappingStart(line) => (
                    EventData::MappingStart {
                        anchor: None,
                        tag: None,
                        implicit: true,
                        style: libyaml_safer::MappingStyle::Block,
                    },
                    line,
                ),
                block::Event::SequenceStart(line) => (
                    EventData::SequenceStart {
                        anchor: None,
                        tag: None,
                        implicit: true,
                        style: libyaml_safer::SequenceStyle::Block,
                    },
                    line,
                ),
                block::Event::MappingEnd => (EventData::MappingEnd, 0),
                block::Event::SequenceEnd => (EventData::SequenceEnd, 0),
                block::Event::Scalar { line, value, style } => (
                    EventData::Scalar {
                        anchor: None,
                        tag: None,
                        value: value.into_owned(),
                        plain_implicit: style == block::Style::Plain,
                        quoted_implicit: style != block::Style::Plain,
                        style: match style {
                            block::Style::Plain => ScalarStyle::Plain,
                            block::Style::SingleQuoted => ScalarStyle::SingleQuoted,
                            block::Style::DoubleQuoted => ScalarStyle::DoubleQuoted,
                        },
                    },
                    line,
                ),
            };
            self.on_event(data, at(line))?;
        }
        self.on_event(EventData::DocumentEnd { implicit: true }, at(0))
    }

    fn on_event(&mut self, ev: EventData, mark: Pos) -> Result<(), YamlError> {
        match ev {
            EventData::DocumentStart { .. } => {
                self.root = None;
                self.lines = LineMap::default();
                self.anchors.clear();
                self.nodes = 0;
                self.start_line = self.line(mark);
            }
            EventData::DocumentEnd { .. } => {
                let mut lines = std::mem::take(&mut self.lines);
                if let Some(value) = self.root.take() {
                    if !value.is_null() {
                        lines.finish();
                        (self.emit)(YamlDocument {
                            value,
                            start_line: self.start_line,
                            lines,
                        });
                    }
                }
            }
            EventData::Scalar {
                value,
                style,
                anchor,
                tag,
                ..
            } => {
                self.count(1, mark)?;
                let _ = self.child_pointer(self.line(mark));
                let v = scalar_value(value, style, tag.as_deref());
                self.attach(v, 1, anchor, mark)?;
            }
            EventData::Alias { anchor } => {
                let _ = self.child_pointer(self.line(mark));
                match self.anchors.get(&anchor).map(|(v, n)| (*n, v.clone())) {
                    Some((n, v)) => {
                        self.count(n, mark)?;
                        self.attach(v, n, None, mark)?;
                    }
                    None => return Err(YamlError::at(mark, format!("alias *{anchor} names an unknown anchor"))),
                }
            }
            EventData::SequenceStart { anchor, .. } => self.open(mark, anchor, false)?,
            EventData::MappingStart { anchor, .. } => self.open(mark, anchor, true)?,
            EventData::SequenceEnd | EventData::MappingEnd => self.close(mark)?,
            EventData::StreamStart { .. } | EventData::StreamEnd => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn byte_line_splits_match_the_char_ones() {
        for text in ["", "\n", "a", "a\n", "a\nb", "a\n\nb\n", "\n\na", "---\nx: 1\n---"] {
            assert_eq!(
                lines(text).collect::<Vec<_>>(),
                text.split('\n').collect::<Vec<_>>(),
                "{text:?}"
            );
            assert_eq!(
                lines_inclusive(text).collect::<Vec<_>>(),
                text.split_inclusive('\n').collect::<Vec<_>>(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn multi_document_with_lines() {
        let text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n---\n# comment\napiVersion: v1\nkind: List\nitems:\n- a: 1\n  b: [x, \"y\"]\n";
        let docs = parse_documents(text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].start_line, 1);
        assert_eq!(docs[0].lines.get("/metadata/name").unwrap(), 4);
        assert_eq!(docs[1].start_line, 7);
        assert_eq!(docs[1].lines.get("/items/0").unwrap(), 10);
        assert_eq!(docs[1].lines.get("/items/0/b").unwrap(), 11);
        assert_eq!(docs[1].value["items"][0], json!({"a": 1, "b": ["x", "y"]}));
    }

    #[test]
    fn scalars_follow_the_core_schema_and_quotes_keep_strings() {
        let docs =
            parse_documents("a: 1\nb: \"1\"\nc: true\nd: null\ne: 1.5\nf: hello\ng: '080'\nh: ~\n80: x\n").unwrap();
        assert_eq!(
            docs[0].value,
            json!({"a": 1, "b": "1", "c": true, "d": null, "e": 1.5, "f": "hello", "g": "080", "h": null, "80": "x"})
        );
    }

    #[test]
    fn json_is_yaml() {
        let docs = parse_documents("{\"kind\": \"Service\",\n \"spec\": {\"ports\": [{\"port\": 80}]}}").unwrap();
        assert_eq!(docs[0].value["spec"]["ports"][0]["port"], 80);
        assert_eq!(docs[0].lines.get("/spec").unwrap(), 2);
    }

    #[test]
    fn empty_documents_are_skipped() {
        assert!(parse_documents("---\n---\n").unwrap().is_empty());
        assert!(parse_documents("").unwrap().is_empty());
    }

    #[test]
    fn errors_carry_lines() {
        let e = parse_documents("a: 1\nb: [1, 2\n").unwrap_err();
        assert!(e.line >= 2, "{e}");
    }

    /// kubectl's reader keeps the last of duplicate keys; so does this one.
    #[test]
    fn duplicate_keys_the_last_wins() {
        let docs = parse_documents("a: 1\na: 2\n").unwrap();
        assert_eq!(docs[0].value, json!({"a": 2}));
        assert_eq!(docs[0].lines.get("/a").unwrap(), 2);
    }

    #[test]
    fn merge_keys_fill_in_what_the_mapping_lacks() {
        let docs = parse_documents("base: &b {x: 1, y: 1}\nm:\n  <<: *b\n  y: 2\nl:\n  <<: [*b, {z: 3}]\n").unwrap();
        assert_eq!(docs[0].value["m"], json!({"x": 1, "y": 2}));
        assert_eq!(docs[0].value["l"], json!({"x": 1, "y": 1, "z": 3}));
    }

    #[test]
    fn node_budget_is_per_document() {
        // Documents of 603 nodes under a budget of 1000: each fits, the stream does not need to.
        let doc = format!("a: [{}]\n", "1,".repeat(600));
        let stream = format!("{doc}---\n{doc}---\n{doc}");
        assert_eq!(
            {
                let mut n = 0;
                parse_with_budget(&stream, 1000, |_| n += 1).unwrap();
                n
            },
            3
        );
        let big = format!("a: [{}]\n", "1,".repeat(1000));
        let e = parse_with_budget(&format!("{doc}---\n{big}"), 1000, |_| ()).unwrap_err();
        assert!(e.message.contains("more than 1000 nodes") && e.line == 3, "{e}");
    }

    #[test]
    fn core_schema_scalars() {
        let docs = parse_documents(
            "a: 0x1F\nb: 0o17\nc: -12\nd: 1e3\ne: 1.5.0\nf: 1_000\ng: +7\nh: 18446744073709551615\ni: .inf\nj: 012\n",
        )
        .unwrap();
        assert_eq!(
            docs[0].value,
            json!({"a": 31, "b": 15, "c": -12, "d": 1000.0, "e": "1.5.0", "f": "1_000", "g": 7, "h": 18446744073709551615u64, "i": ".inf", "j": 12})
        );
    }

    #[test]
    fn hostile_input_is_an_error_not_a_crash() {
        // A panic inside libyaml-safer's scanner, caught.
        let e = parse_documents("a: 1\nb: [!t, x]\n").unwrap_err();
        assert!(e.message.contains("unsupported YAML") && e.line == 2, "{e}");
        let deep = "[".repeat(10_000);
        assert!(parse_documents(&deep).is_err());
        let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        for i in 0..12 {
            let prev = if i == 0 { "a".to_string() } else { format!("l{}", i - 1) };
            bomb.push_str(&format!(
                "l{i}: &l{i} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
            ));
        }
        let e = parse_documents(&bomb).unwrap_err();
        assert!(e.message.contains("too large"), "{e}");
    }

    #[test]
    fn anchors_and_aliases_expand() {
        let docs = parse_documents("base: &b {x: 1}\ncopy: *b\n").unwrap();
        assert_eq!(docs[0].value["copy"], json!({"x": 1}));
    }

    /// Documents of kinds no finding points into keep the document's line only.
    #[test]
    fn node_lines_only_for_the_kinds_asked() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\n";
        let mut docs = Vec::new();
        for_each_document_lines_for(text, 1, |_, kind| kind != "Pod", |d| docs.push(d)).unwrap();
        assert_eq!(docs[0].lines.get(""), Some(1));
        assert_eq!(docs[0].lines.get("/metadata/name"), None);
        assert_eq!(docs[0].value["metadata"]["name"], "p");
        assert_eq!(docs[1].start_line, 6);
        assert_eq!(docs[1].lines.get("/metadata/name"), Some(9));
    }

    #[test]
    fn pointer_tokens_are_escaped() {
        let docs = parse_documents("metadata:\n  annotations:\n    a/b~c: x\n").unwrap();
        assert_eq!(docs[0].lines.get("/metadata/annotations/a~1b~0c").unwrap(), 3);
    }
}
