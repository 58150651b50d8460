//! The fields of PeerAuthentication, RequestAuthentication and AuthorizationPolicy
//! that checks read.

use std::collections::BTreeMap;

use jsonptr::PointerBuf;

use super::fields::{self, child, index, Located, Problems};
use super::Object;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecuritySpec {
    /// `spec.selector.matchLabels`; `None` when there is no selector.
    pub selector: Option<BTreeMap<String, String>>,
    pub has_target_refs: bool,
    /// AuthorizationPolicy `rules[].from[].source.{namespaces,notNamespaces}`.
    pub source_namespaces: Vec<Located<String>>,
    /// AuthorizationPolicy `rules[].from[].source.{principals,notPrincipals}`.
    pub source_principals: Vec<Located<String>>,
    /// AuthorizationPolicy `rules[].to[].operation.{hosts,notHosts}`.
    pub operation_hosts: Vec<Located<String>>,
    /// PeerAuthentication `mtls.mode` (STRICT, PERMISSIVE, DISABLE, UNSET).
    pub mtls_mode: Option<String>,
    /// PeerAuthentication `portLevelMtls`: workload (target) port → mode.
    pub port_level_mtls: BTreeMap<u32, String>,
    /// AuthorizationPolicy `action` (ALLOW when unset).
    pub action: Option<String>,
    /// AuthorizationPolicy `rules`: `None` when absent; the count of rules and
    /// whether one of them is empty (`{}` matches every request).
    pub rules: Option<(usize, bool)>,
    /// Each AuthorizationPolicy rule's HTTP attributes, which ztunnel cannot
    /// see (istiod's `handleRule`): `to.operation` hosts, methods, paths (and
    /// their `not` forms), `from.source` remoteIpBlocks and requestPrincipals
    /// (and `not`), `when` keys other than the L4 ones.
    pub rule_l7: Vec<(PointerBuf, Vec<String>)>,
    /// `targetRefs` (or the older single `targetRef`).
    pub target_refs: Vec<TargetRef>,
    /// Each AuthorizationPolicy rule's `from` entries as (principals,
    /// namespaces) — empty lists constrain nothing; `None` for a rule without
    /// `from` (any source).
    pub rule_from: Vec<RuleSources>,
    /// Each AuthorizationPolicy rule whole, for `meshgate explain` to evaluate.
    pub rules_full: Vec<AuthzRule>,
}

/// One AuthorizationPolicy rule: `from[].source` and `to[].operation` as field
/// → values (`None`: no `from` / `to`), and `when` as (key, values, notValues).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthzRule {
    pub from: Option<Vec<BTreeMap<String, Vec<String>>>>,
    pub to: Option<Vec<BTreeMap<String, Vec<String>>>>,
    pub when: Vec<(String, Vec<String>, Vec<String>)>,
}

/// One rule's `from` entries as (principals, namespaces); `None` without `from`.
pub type RuleSources = Option<Vec<(Vec<String>, Vec<String>)>>;

/// One `targetRefs` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetRef {
    pub group: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    pub pointer: PointerBuf,
}

/// `when` keys ztunnel evaluates (istiod's `l4WhenAttributes`).
const L4_WHEN: [&str; 5] = [
    "source.ip",
    "source.namespace",
    "source.principal",
    "destination.ip",
    "destination.port",
];

impl SecuritySpec {
    /// Applies to the whole namespace (or the mesh, in the root namespace).
    pub fn is_namespace_wide(&self) -> bool {
        self.selector.as_ref().is_none_or(BTreeMap::is_empty) && !self.has_target_refs
    }
}

fn string_lists(m: Option<&serde_json::Value>) -> BTreeMap<String, Vec<String>> {
    m.and_then(serde_json::Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    let list: Vec<String> = v
                        .as_array()?
                        .iter()
                        .filter_map(serde_json::Value::as_str)
                        .map(str::to_string)
                        .collect();
                    Some((k.clone(), list))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn authz_rule(rule: &serde_json::Map<String, serde_json::Value>) -> AuthzRule {
    use serde_json::Value;
    let entries = |key: &str, inner: &str| {
        rule.get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|e| string_lists(e.get(inner))).collect())
    };
    AuthzRule {
        from: entries("from", "source"),
        to: entries("to", "operation"),
        when: rule
            .get("when")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|w| {
                let l = string_lists(Some(w));
                (
                    w.get("key").and_then(Value::as_str).unwrap_or_default().to_string(),
                    l.get("values").cloned().unwrap_or_default(),
                    l.get("notValues").cloned().unwrap_or_default(),
                )
            })
            .collect(),
    }
}

/// The HTTP attributes of one AuthorizationPolicy rule, by name, sorted.
fn l7_attributes(rule: &serde_json::Map<String, serde_json::Value>) -> Vec<String> {
    use serde_json::Value;
    let non_empty = |m: Option<&Value>, k: &str| {
        m.and_then(|m| m.get(k))
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    };
    let mut found = std::collections::BTreeSet::new();
    for to in rule.get("to").and_then(Value::as_array).into_iter().flatten() {
        let op = to.get("operation");
        for k in ["hosts", "notHosts", "methods", "notMethods", "paths", "notPaths"] {
            if non_empty(op, k) {
                found.insert(k.to_string());
            }
        }
    }
    for from in rule.get("from").and_then(Value::as_array).into_iter().flatten() {
        let src = from.get("source");
        for k in [
            "remoteIpBlocks",
            "notRemoteIpBlocks",
            "requestPrincipals",
            "notRequestPrincipals",
        ] {
            if non_empty(src, k) {
                found.insert(k.to_string());
            }
        }
    }
    for when in rule.get("when").and_then(Value::as_array).into_iter().flatten() {
        if let Some(k) = when.get("key").and_then(Value::as_str) {
            if !L4_WHEN.contains(&k) {
                found.insert(k.to_string());
            }
        }
    }
    found.into_iter().collect()
}

pub fn parse(obj: &Object, p: &mut Problems) -> SecuritySpec {
    let mut spec = SecuritySpec::default();
    let root = PointerBuf::parse("/spec").unwrap_or_default();
    let Some(m) = fields::spec(&obj.value, p) else {
        return spec;
    };
    spec.selector = fields::selector(m, "selector", "matchLabels", &root, p);
    spec.action = m.get("action").and_then(serde_json::Value::as_str).map(str::to_string);
    spec.rules = match m.get("rules") {
        Some(serde_json::Value::Array(a)) => Some((
            a.len(),
            a.iter().any(|r| r.as_object().is_some_and(serde_json::Map::is_empty)),
        )),
        _ => None,
    };
    let mtls_at = child(&root, "mtls");
    spec.mtls_mode = fields::mapping(m.get("mtls"), &mtls_at, p)
        .and_then(|mt| fields::str_field(mt, "mode", &mtls_at, p))
        .map(str::to_string);
    let plm_at = child(&root, "portLevelMtls");
    if let Some(plm) = fields::mapping(m.get("portLevelMtls"), &plm_at, p) {
        for (port, setting) in plm {
            let at = child(&plm_at, port);
            let Ok(number) = port.parse::<u32>() else {
                p.invalid(&at, "a portLevelMtls key must be a port number");
                continue;
            };
            if let Some(mode) =
                fields::mapping(Some(setting), &at, p).and_then(|s| fields::str_field(s, "mode", &at, p))
            {
                spec.port_level_mtls.insert(number, mode.to_string());
            }
        }
    }
    spec.has_target_refs = fields::has_target_refs(m);
    let read_ref = |r: &serde_json::Map<String, serde_json::Value>, at: PointerBuf, p: &mut Problems| TargetRef {
        group: fields::str_field(r, "group", &at, p).unwrap_or_default().to_string(),
        kind: fields::str_field(r, "kind", &at, p).unwrap_or_default().to_string(),
        name: fields::str_field(r, "name", &at, p).unwrap_or_default().to_string(),
        namespace: fields::str_field(r, "namespace", &at, p).map(str::to_string),
        pointer: at,
    };
    let refs_at = child(&root, "targetRefs");
    for (i, r) in fields::list(m.get("targetRefs"), &refs_at, p).iter().enumerate() {
        let at = index(&refs_at, i);
        if let Some(r) = fields::mapping(Some(r), &at, p) {
            spec.target_refs.push(read_ref(r, at, p));
        }
    }
    let one_at = child(&root, "targetRef");
    if let Some(r) = fields::mapping(m.get("targetRef").filter(|v| !v.is_null()), &one_at, p) {
        spec.target_refs.push(read_ref(r, one_at, p));
    }
    let rules_at = child(&root, "rules");
    for (i, rule) in fields::list(m.get("rules"), &rules_at, p).iter().enumerate() {
        let rule_at = index(&rules_at, i);
        let Some(rule) = fields::mapping(Some(rule), &rule_at, p) else {
            continue;
        };
        spec.rule_l7.push((rule_at.clone(), l7_attributes(rule)));
        spec.rules_full.push(authz_rule(rule));
        spec.rule_from
            .push(rule.get("from").and_then(serde_json::Value::as_array).map(|froms| {
                let strings = |src: Option<&serde_json::Value>, k: &str| -> Vec<String> {
                    src.and_then(|s| s.get(k))
                        .and_then(serde_json::Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(serde_json::Value::as_str)
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default()
                };
                froms
                    .iter()
                    .map(|f| {
                        let src = f.get("source");
                        (strings(src, "principals"), strings(src, "namespaces"))
                    })
                    .collect()
            }));
        let from_at = child(&rule_at, "from");
        for (j, from) in fields::list(rule.get("from"), &from_at, p).iter().enumerate() {
            let here = index(&from_at, j);
            let src_at = child(&here, "source");
            let Some(src) = fields::mapping(from.get("source"), &src_at, p) else {
                continue;
            };
            for k in ["namespaces", "notNamespaces"] {
                spec.source_namespaces.extend(fields::string_list(src, k, &src_at, p));
            }
            for k in ["principals", "notPrincipals"] {
                spec.source_principals.extend(fields::string_list(src, k, &src_at, p));
            }
        }
        let to_at = child(&rule_at, "to");
        for (j, to) in fields::list(rule.get("to"), &to_at, p).iter().enumerate() {
            let here = index(&to_at, j);
            let op_at = child(&here, "operation");
            let Some(op) = fields::mapping(to.get("operation"), &op_at, p) else {
                continue;
            };
            for k in ["hosts", "notHosts"] {
                spec.operation_hosts.extend(fields::string_list(op, k, &op_at, p));
            }
        }
    }
    spec
}
