//! Manifest files → objects with their source positions (`meshgate check` and
//! `serve --cluster-from`). Files, directories (recursive), `-` for stdin;
//! multi-document YAML, JSON, `kind: List`.

pub mod yaml;

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jsonptr::Pointer;
use serde_json::Value;

use crate::model::{Object, ObjectError};
use yaml::YamlError;

/// Where an object came from: file, the line its document starts on, and the
/// line of each of its fields.
#[derive(Clone, Debug)]
pub struct Source {
    pub file: Arc<str>,
    pub line: usize,
    lines: Arc<HashMap<String, usize>>,
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
                return *l;
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
    #[error("{file}:{}: {error}", error.line)]
    Yaml { file: String, error: YamlError },
    #[error("{file}:{line}: {error}")]
    NotAnObject {
        file: String,
        line: usize,
        error: ObjectError,
    },
}

/// Loads every path; `-` reads standard input once.
pub fn load_paths(paths: &[String], default_namespace: &str) -> Result<Vec<Manifest>, LoadError> {
    let mut out = Vec::new();
    visit_paths(paths, default_namespace, |m| out.push(m))?;
    Ok(out)
}

/// Like `load_paths`, but hands each object to `f` as its file is parsed, so a
/// large tree never sits in memory with all its line maps at once.
pub fn visit_paths(paths: &[String], default_namespace: &str, mut f: impl FnMut(Manifest)) -> Result<(), LoadError> {
    let mut files = Vec::new();
    for p in paths {
        if p == "-" {
            files.push(PathBuf::from("-"));
        } else {
            collect(Path::new(p), true, &mut files)?;
        }
    }
    for file in files {
        let (name, text) = if file.as_os_str() == "-" {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map_err(|e| LoadError::Io {
                path: "<stdin>".into(),
                source: e,
            })?;
            ("<stdin>".to_string(), s)
        } else {
            let name = file.display().to_string();
            let text = std::fs::read_to_string(&file).map_err(|e| LoadError::Io {
                path: name.clone(),
                source: e,
            })?;
            (name, text)
        };
        for m in parse_text(&name, &text, default_namespace)? {
            f(m);
        }
    }
    Ok(())
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

/// Parses one file's text into objects; `kind: List` is flattened into its items.
pub fn parse_text(file: &str, text: &str, default_namespace: &str) -> Result<Vec<Manifest>, LoadError> {
    let docs = yaml::parse_documents(text).map_err(|error| LoadError::Yaml {
        file: file.to_string(),
        error,
    })?;
    let file: Arc<str> = Arc::from(file);
    let mut out = Vec::new();
    for doc in docs {
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
            let line = lines.get(&prefix).copied().unwrap_or(doc.start_line);
            let object = Object::from_value(value, default_namespace).map_err(|error| LoadError::NotAnObject {
                file: file.to_string(),
                line,
                error,
            })?;
            out.push(Manifest {
                object,
                source: Source {
                    file: file.clone(),
                    line,
                    lines: lines.clone(),
                    prefix,
                },
            });
        }
    }
    Ok(out)
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
