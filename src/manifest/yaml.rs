//! YAML (and JSON, which is YAML) to `serde_json::Value`, keeping the source line of
//! every node so a finding's JSON pointer maps back to `file:line`.
//!
//! Built on yaml-rust2's event parser with an explicit stack: no recursion, a depth
//! limit and a node budget (aliases included), so hostile input cannot exhaust the
//! stack or memory.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::Yaml;

const MAX_DEPTH: usize = 256;
const MAX_NODES: usize = 4_000_000;

/// One YAML document: its value, the line it starts on, and the line of each node.
#[derive(Clone, Debug)]
pub struct YamlDocument {
    pub value: Value,
    pub start_line: usize,
    /// JSON pointer (as text) → 1-based line.
    pub lines: HashMap<String, usize>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

pub fn parse_documents(text: &str) -> Result<Vec<YamlDocument>, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, true) {
        return Err(YamlError {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_string(),
        });
    }
    if let Some(err) = builder.error {
        return Err(err);
    }
    Ok(builder.docs)
}

enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
        pointer: String,
        nodes: usize,
    },
    Map {
        map: Map<String, Value>,
        key: Option<String>,
        anchor: usize,
        pointer: String,
        nodes: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    docs: Vec<YamlDocument>,
    root: Option<Value>,
    start_line: usize,
    lines: HashMap<String, usize>,
    anchors: HashMap<usize, (Value, usize)>,
    nodes: usize,
    error: Option<YamlError>,
}

fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn scalar_value(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(tag) = tag {
        if tag.suffix == "str" {
            return Value::String(text);
        }
    }
    if style != TScalarStyle::Plain {
        return Value::String(text);
    }
    match Yaml::from_str(&text) {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Integer(i) => Value::Number(i.into()),
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::String(text)),
        _ => Value::String(text),
    }
}

fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => Some(String::new()),
        Value::Bool(_) | Value::Number(_) => Some(v.to_string()),
        _ => None,
    }
}

impl Builder {
    fn fail(&mut self, mark: Marker, message: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(YamlError {
                line: mark.line(),
                column: mark.col() + 1,
                message: message.into(),
            });
        }
    }

    /// The pointer a new node gets, recording its line. For a mapping key position
    /// this is `None`: the node is a key, not a value.
    fn child_pointer(&mut self, line: usize) -> Option<String> {
        match self.stack.last() {
            None => {
                self.start_line = line;
                self.lines.insert(String::new(), line);
                Some(String::new())
            }
            Some(Frame::Seq { items, pointer, .. }) => {
                let p = format!("{pointer}/{}", items.len());
                self.lines.insert(p.clone(), line);
                Some(p)
            }
            Some(Frame::Map {
                key: Some(k), pointer, ..
            }) => Some(format!("{pointer}/{}", escape(k))),
            Some(Frame::Map { key: None, .. }) => None,
        }
    }

    /// Attaches a finished node to its parent (or makes it the document root).
    fn attach(&mut self, value: Value, node_count: usize, anchor: usize, mark: Marker) {
        self.nodes += node_count;
        if self.nodes > MAX_NODES {
            self.fail(
                mark,
                format!("document too large: more than {MAX_NODES} nodes (alias expansion included)"),
            );
            return;
        }
        if anchor != 0 {
            self.anchors.insert(anchor, (value.clone(), node_count));
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
                pointer,
                nodes,
                ..
            }) => match key.take() {
                Some(k) => {
                    *nodes += node_count;
                    map.insert(k, value);
                }
                None => {
                    let Some(k) = key_text(&value) else {
                        self.fail(mark, "a mapping key must be a scalar");
                        return;
                    };
                    if map.contains_key(&k) {
                        self.fail(mark, format!("duplicate mapping key {k:?}"));
                        return;
                    }
                    let p = format!("{pointer}/{}", escape(&k));
                    self.lines.insert(p, mark.line());
                    *key = Some(k);
                }
            },
        }
    }

    fn open(&mut self, mark: Marker, anchor: usize, is_map: bool) {
        if self.stack.len() >= MAX_DEPTH {
            self.fail(mark, format!("nesting deeper than {MAX_DEPTH} levels"));
            return;
        }
        let Some(pointer) = self.child_pointer(mark.line()) else {
            self.fail(mark, "a mapping key must be a scalar");
            return;
        };
        self.stack.push(if is_map {
            Frame::Map {
                map: Map::new(),
                key: None,
                anchor,
                pointer,
                nodes: 1,
            }
        } else {
            Frame::Seq {
                items: Vec::new(),
                anchor,
                pointer,
                nodes: 1,
            }
        });
    }

    fn close(&mut self, mark: Marker) {
        match self.stack.pop() {
            Some(Frame::Seq {
                items, anchor, nodes, ..
            }) => self.attach(Value::Array(items), nodes, anchor, mark),
            Some(Frame::Map { map, anchor, nodes, .. }) => self.attach(Value::Object(map), nodes, anchor, mark),
            None => self.fail(mark, "unbalanced collection end"),
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::DocumentStart => {
                self.root = None;
                self.lines = HashMap::new();
                self.anchors.clear();
                self.start_line = mark.line();
            }
            Event::DocumentEnd => {
                if let Some(value) = self.root.take() {
                    if !value.is_null() {
                        self.docs.push(YamlDocument {
                            value,
                            start_line: self.start_line,
                            lines: std::mem::take(&mut self.lines),
                        });
                    }
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let _ = self.child_pointer(mark.line());
                let v = scalar_value(text, style, tag.as_ref());
                self.attach(v, 1, anchor, mark);
            }
            Event::Alias(id) => {
                let _ = self.child_pointer(mark.line());
                match self.anchors.get(&id) {
                    Some((v, n)) => {
                        let (v, n) = (v.clone(), *n);
                        self.attach(v, n, 0, mark);
                    }
                    None => self.fail(mark, "alias to an unknown anchor"),
                }
            }
            Event::SequenceStart(anchor, _) => self.open(mark, anchor, false),
            Event::MappingStart(anchor, _) => self.open(mark, anchor, true),
            Event::SequenceEnd | Event::MappingEnd => self.close(mark),
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn multi_document_with_lines() {
        let text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n---\n# comment\napiVersion: v1\nkind: List\nitems:\n- a: 1\n  b: [x, \"y\"]\n";
        let docs = parse_documents(text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].start_line, 1);
        assert_eq!(docs[0].lines["/metadata/name"], 4);
        assert_eq!(docs[1].start_line, 7);
        assert_eq!(docs[1].lines["/items/0"], 10);
        assert_eq!(docs[1].lines["/items/0/b"], 11);
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
        assert_eq!(docs[0].lines["/spec"], 2);
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
        let e = parse_documents("a: 1\na: 2\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("duplicate"));
    }

    #[test]
    fn hostile_input_is_an_error_not_a_crash() {
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

    #[test]
    fn pointer_tokens_are_escaped() {
        let docs = parse_documents("metadata:\n  annotations:\n    a/b~c: x\n").unwrap();
        assert_eq!(docs[0].lines["/metadata/annotations/a~1b~0c"], 3);
    }
}
