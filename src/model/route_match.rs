//! The request conditions of a VirtualService rule (`http[].match[]`,
//! `tls[].match[]`, `tcp[].match[]`), read leniently for `meshgate explain`: a
//! malformed condition is left out here (the checks report it as MG0001).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// An Istio `StringMatch`, or (for headers) presence only (`{}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StringMatch {
    Exact(String),
    Prefix(String),
    Regex(String),
    Present,
}

/// Bound on a compiled regex from a VirtualService: hostile patterns cannot blow
/// up memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl StringMatch {
    fn read(v: &Value) -> Option<StringMatch> {
        let m = v.as_object()?;
        let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
        if let Some(s) = text("exact") {
            Some(StringMatch::Exact(s))
        } else if let Some(s) = text("prefix") {
            Some(StringMatch::Prefix(s))
        } else if let Some(s) = text("regex") {
            Some(StringMatch::Regex(s))
        } else {
            m.is_empty().then_some(StringMatch::Present)
        }
    }

    /// Envoy's semantics: regexes match the whole value (RE2, anchored).
    pub fn matches(&self, value: Option<&str>, ignore_case: bool) -> bool {
        let Some(value) = value else { return false };
        let fold = |s: &str| {
            if ignore_case {
                s.to_ascii_lowercase()
            } else {
                s.to_string()
            }
        };
        match self {
            StringMatch::Present => true,
            StringMatch::Exact(s) => fold(value) == fold(s),
            StringMatch::Prefix(s) => fold(value).starts_with(&fold(s)),
            StringMatch::Regex(r) => regex::RegexBuilder::new(&format!("^(?:{r})$"))
                .case_insensitive(ignore_case)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .is_ok_and(|re| re.is_match(value)),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            StringMatch::Exact(s) => format!("= {s:?}"),
            StringMatch::Prefix(s) => format!("prefix {s:?}"),
            StringMatch::Regex(s) => format!("regex {s:?}"),
            StringMatch::Present => "present".to_string(),
        }
    }
}

/// One `match` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestMatch {
    pub name: Option<String>,
    pub uri: Option<StringMatch>,
    pub ignore_uri_case: bool,
    pub scheme: Option<StringMatch>,
    pub method: Option<StringMatch>,
    pub authority: Option<StringMatch>,
    pub headers: Vec<(String, StringMatch)>,
    pub without_headers: Vec<(String, StringMatch)>,
    pub query_params: Vec<(String, StringMatch)>,
    pub port: Option<u32>,
    pub source_labels: BTreeMap<String, String>,
    pub source_namespace: Option<String>,
    pub gateways: Vec<String>,
    /// `tls[].match[].sniHosts`.
    pub sni_hosts: Vec<String>,
}

/// What a rule does with a request it matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleAction {
    Route,
    /// The status the redirect answers (`redirectCode`, 301 by default).
    Redirect(u32),
    DirectResponse(Option<u32>),
    Delegate {
        name: String,
        namespace: Option<String>,
    },
}

fn string_map(v: Option<&Value>) -> Vec<(String, StringMatch)> {
    match v {
        Some(Value::Object(m)) => m
            .iter()
            .filter_map(|(k, v)| StringMatch::read(v).map(|s| (k.to_ascii_lowercase(), s)))
            .collect(),
        _ => Vec::new(),
    }
}

fn string_list(m: &Map<String, Value>, key: &str) -> Vec<String> {
    match m.get(key) {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

impl RequestMatch {
    pub fn read(m: &Map<String, Value>) -> RequestMatch {
        let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
        let one = |k: &str| m.get(k).and_then(StringMatch::read);
        RequestMatch {
            name: text("name").filter(|n| !n.is_empty()),
            uri: one("uri"),
            ignore_uri_case: m.get("ignoreUriCase").and_then(Value::as_bool).unwrap_or(false),
            scheme: one("scheme"),
            method: one("method"),
            authority: one("authority"),
            headers: string_map(m.get("headers")),
            without_headers: string_map(m.get("withoutHeaders")),
            query_params: string_map(m.get("queryParams")),
            port: m
                .get("port")
                .and_then(Value::as_u64)
                .and_then(|p| u32::try_from(p).ok()),
            source_labels: match m.get("sourceLabels") {
                Some(Value::Object(l)) => l
                    .iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect(),
                _ => BTreeMap::new(),
            },
            source_namespace: text("sourceNamespace").filter(|n| !n.is_empty()),
            gateways: string_list(m, "gateways"),
            sni_hosts: string_list(m, "sniHosts"),
        }
    }
}

/// Reads a rule's `match` list (empty: the rule matches everything) and action.
pub fn read_rule(section: &str, rule: &Map<String, Value>) -> (Vec<RequestMatch>, RuleAction) {
    let matches = match rule.get("match") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_object).map(RequestMatch::read).collect(),
        _ => Vec::new(),
    };
    let action = if section != "http" {
        RuleAction::Route
    } else if let Some(d) = rule.get("delegate").and_then(Value::as_object) {
        RuleAction::Delegate {
            name: d.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
            namespace: d
                .get("namespace")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .map(str::to_string),
        }
    } else if let Some(r) = rule.get("redirect").and_then(Value::as_object) {
        RuleAction::Redirect(
            r.get("redirectCode")
                .and_then(Value::as_u64)
                .and_then(|c| u32::try_from(c).ok())
                .filter(|c| *c != 0)
                .unwrap_or(301),
        )
    } else if let Some(d) = rule.get("directResponse").and_then(Value::as_object) {
        RuleAction::DirectResponse(
            d.get("status")
                .and_then(Value::as_u64)
                .and_then(|s| u32::try_from(s).ok()),
        )
    } else {
        RuleAction::Route
    };
    (matches, action)
}
