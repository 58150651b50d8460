//! Lenient field readers. Each reader returns what it can and records a
//! `Problem` (pointer + reason) for a field of the wrong shape, so one bad field
//! yields one MG0001 finding and the rest of the object is still checked.

use std::collections::BTreeMap;

use jsonptr::{Pointer, PointerBuf};
use serde_json::{Map, Value};

use super::object::json_type_name;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub pointer: PointerBuf,
    pub reason: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn wrong_type(&mut self, at: &Pointer, expected: &str, found: &Value) {
        self.0.push(Problem {
            pointer: at.to_buf(),
            reason: format!("expected {expected}, found {}", json_type_name(found)),
        });
    }

    pub fn invalid(&mut self, at: &Pointer, reason: impl Into<String>) {
        self.0.push(Problem {
            pointer: at.to_buf(),
            reason: reason.into(),
        });
    }
}

/// A value read from the object together with where it was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub pointer: PointerBuf,
}

pub fn child(at: &Pointer, token: &str) -> PointerBuf {
    at.with_trailing_token(token)
}

pub fn index(at: &Pointer, i: usize) -> PointerBuf {
    at.with_trailing_token(i)
}

/// The mapping at `at`, or `None` when absent or null; a non-mapping is a problem.
pub fn mapping<'v>(v: Option<&'v Value>, at: &Pointer, p: &mut Problems) -> Option<&'v Map<String, Value>> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m),
        Some(other) => {
            p.wrong_type(at, "a mapping", other);
            None
        }
    }
}

/// The list at `at`; absent or null is empty; a non-list is a problem.
pub fn list<'v>(v: Option<&'v Value>, at: &Pointer, p: &mut Problems) -> &'v [Value] {
    match v {
        None | Some(Value::Null) => &[],
        Some(Value::Array(a)) => a,
        Some(other) => {
            p.wrong_type(at, "a list", other);
            &[]
        }
    }
}

pub fn string<'v>(v: Option<&'v Value>, at: &Pointer, p: &mut Problems) -> Option<&'v str> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            p.wrong_type(at, "a string", other);
            None
        }
    }
}

/// A field of `m` that must be a string.
pub fn str_field<'v>(m: &'v Map<String, Value>, key: &str, at: &Pointer, p: &mut Problems) -> Option<&'v str> {
    match m.get(key) {
        None | Some(Value::Null) => None,
        Some(v) => string(Some(v), &child(at, key), p),
    }
}

/// A list of strings, each with its pointer; non-strings are problems and skipped.
pub fn string_list(m: &Map<String, Value>, key: &str, at: &Pointer, p: &mut Problems) -> Vec<Located<String>> {
    let at = child(at, key);
    list(m.get(key), &at, p)
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let here = index(&at, i);
            string(Some(v), &here, p).map(|s| Located {
                value: s.to_string(),
                pointer: here,
            })
        })
        .collect()
}

/// A port-like number: an integer in 0..=65535 (a string of digits is accepted,
/// as the API server's int-or-string fields allow).
pub fn port_field(m: &Map<String, Value>, key: &str, at: &Pointer, p: &mut Problems) -> Option<u32> {
    let v = m.get(key)?;
    let here = child(at, key);
    match v {
        Value::Null => None,
        Value::Number(n) => match n.as_u64() {
            Some(n) if n <= 65535 => Some(n as u32),
            _ => {
                p.invalid(&here, format!("port {n} is not in 0..65535"));
                None
            }
        },
        other => {
            p.wrong_type(&here, "a port number", other);
            None
        }
    }
}

/// A `map<string,string>` such as labels or a selector.
pub fn string_map(m: &Map<String, Value>, key: &str, at: &Pointer, p: &mut Problems) -> BTreeMap<String, String> {
    let here = child(at, key);
    let Some(map) = mapping(m.get(key), &here, p) else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for (k, v) in map {
        match v {
            Value::String(s) => {
                out.insert(k.clone(), s.clone());
            }
            other => p.wrong_type(&child(&here, k), "a string", other),
        }
    }
    out
}

/// A label selector nested one level down, such as `workloadSelector.labels` or
/// `selector.matchLabels`: `None` when the outer field is absent.
pub fn selector(
    m: &Map<String, Value>,
    outer: &str,
    inner: &str,
    at: &Pointer,
    p: &mut Problems,
) -> Option<BTreeMap<String, String>> {
    let here = child(at, outer);
    mapping(m.get(outer), &here, p).map(|sel| string_map(sel, inner, &here, p))
}

/// Whether a policy targets resources by `targetRefs` (or the older `targetRef`).
pub fn has_target_refs(m: &Map<String, Value>) -> bool {
    m.get("targetRefs")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
        || m.get("targetRef").is_some_and(|v| !v.is_null())
}

/// The object's `spec` as a mapping; `None` (with a problem if it has the wrong
/// shape) otherwise. An absent spec is legal for some kinds and an empty map here.
pub fn spec<'v>(value: &'v Value, p: &mut Problems) -> Option<&'v Map<String, Value>> {
    let at = PointerBuf::parse("/spec").unwrap_or_default();
    mapping(value.get("spec"), &at, p)
}
