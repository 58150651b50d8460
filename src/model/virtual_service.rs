//! The fields of a VirtualService that checks and indexes read.

use jsonptr::{Pointer, PointerBuf};
use serde_json::{Map, Value};

use super::fields::{self, child, index, Located, Problems};
use super::route_match::{self, RequestMatch, RuleAction};
use super::Object;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VirtualServiceSpec {
    pub hosts: Vec<Located<String>>,
    /// `spec.gateways`; empty means `mesh`.
    pub gateways: Vec<Located<String>>,
    /// `{http,tls,tcp}[].match[].gateways[]`.
    pub match_gateways: Vec<Located<String>>,
    pub destinations: Vec<Destination>,
    pub delegates: Vec<Delegate>,
    pub export_to: Vec<String>,
    /// `http[]`, `tls[]` and `tcp[]` rules, each list in order.
    pub rules: Vec<RouteRule>,
    /// `http[].match[].{headers,withoutHeaders}` keys on JWT claims
    /// (`@request.auth.claims.*`): only a RequestAuthentication fills them.
    pub claim_matches: Vec<ClaimMatch>,
}

/// A header match on a JWT claim, with the gateways its rule is limited to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimMatch {
    pub claim: String,
    pub gateways: Option<Vec<String>>,
    pub pointer: PointerBuf,
}

/// One `http[]`, `tls[]` or `tcp[]` rule, as far as reachability needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteRule {
    /// `http`, `tls` or `tcp`: rules shadow only rules of their own list.
    pub section: &'static str,
    /// Matches every request: no `match` (all lists), or (http) an empty match
    /// entry or one that is only `uri.prefix: /`.
    pub catch_all: bool,
    /// Each `match` entry as canonical JSON (without `name`), to spot repeats.
    pub match_keys: Vec<String>,
    /// `name` (istiod names the Envoy route after it).
    pub name: Option<String>,
    /// The `match` entries, read for `meshgate explain`.
    pub matches: Vec<RequestMatch>,
    pub action: RuleAction,
    pub pointer: PointerBuf,
}

/// A route or mirror destination. `pointer` is the destination object itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    pub role: Role,
    pub host: String,
    pub subset: Option<String>,
    pub port: Option<u32>,
    /// The route entry's `weight` (routes only).
    pub weight: Option<i64>,
    /// The gateways its rule is limited to when every `match` entry names
    /// `gateways` (they replace the VirtualService's); `None`: the VirtualService's.
    pub gateways: Option<Vec<String>>,
    pub pointer: PointerBuf,
}

impl Destination {
    /// `/spec/http/0/route`: the list this destination's route entry belongs to.
    pub fn route_list(&self) -> Option<&jsonptr::Pointer> {
        self.pointer.parent()?.parent()
    }
    pub fn weight_pointer(&self) -> Option<PointerBuf> {
        self.pointer.parent().map(|p| child(p, "weight"))
    }
    pub fn host_pointer(&self) -> PointerBuf {
        child(&self.pointer, "host")
    }
    pub fn subset_pointer(&self) -> PointerBuf {
        child(&self.pointer, "subset")
    }
    pub fn port_pointer(&self) -> PointerBuf {
        child(&child(&self.pointer, "port"), "number")
    }
}

/// Where a destination sits: port selection rules differ between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    HttpRoute,
    HttpMirror,
    TlsRoute,
    TcpRoute,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delegate {
    pub name: String,
    pub namespace: Option<String>,
    pub pointer: PointerBuf,
}

impl VirtualServiceSpec {
    /// Whether sidecars use it: no `gateways` (defaults to `mesh`) or `mesh` listed.
    pub fn is_mesh_bound(&self) -> bool {
        self.gateways.is_empty() || self.gateways.iter().any(|g| g.value == "mesh")
    }

    /// The gateway names (as written) a rule limited to `rule_gateways` applies to.
    pub fn applies_to<'a>(&'a self, rule_gateways: Option<&'a [String]>) -> Vec<&'a str> {
        match rule_gateways {
            Some(g) => g.iter().map(String::as_str).collect(),
            None if self.gateways.is_empty() => vec!["mesh"],
            None => self.gateways.iter().map(|g| g.value.as_str()).collect(),
        }
    }
}

pub fn parse(obj: &Object, p: &mut Problems) -> VirtualServiceSpec {
    let mut spec = VirtualServiceSpec::default();
    let root = PointerBuf::parse("/spec").unwrap_or_default();
    let Some(m) = fields::spec(&obj.value, p) else {
        return spec;
    };
    spec.hosts = fields::string_list(m, "hosts", &root, p);
    spec.gateways = fields::string_list(m, "gateways", &root, p);
    spec.export_to = fields::string_list(m, "exportTo", &root, p)
        .into_iter()
        .map(|l| l.value)
        .collect();
    for section in ["http", "tls", "tcp"] {
        let at = child(&root, section);
        for (i, rule) in fields::list(m.get(section), &at, p).iter().enumerate() {
            let rule_at = index(&at, i);
            let Some(rule) = fields::mapping(Some(rule), &rule_at, p) else {
                continue;
            };
            read_rule(section, rule, &rule_at, &mut spec, p);
        }
    }
    spec
}

fn route_rule(section: &'static str, rule: &Map<String, Value>, at: &Pointer) -> RouteRule {
    let matches: Vec<Value> = match rule.get("match") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|m| {
                let mut m = m.clone();
                if let Some(o) = m.as_object_mut() {
                    o.remove("name");
                }
                m
            })
            .collect(),
        _ => Vec::new(),
    };
    let everything = |m: &Value| match m.as_object() {
        Some(o) => o.is_empty() || (o.len() == 1 && o.get("uri") == Some(&serde_json::json!({"prefix": "/"}))),
        None => false,
    };
    let (parsed_matches, action) = route_match::read_rule(section, rule);
    RouteRule {
        section,
        catch_all: matches.is_empty() || (section == "http" && matches.iter().any(everything)),
        match_keys: matches.iter().map(Value::to_string).collect(),
        name: rule
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_string),
        matches: parsed_matches,
        action,
        pointer: at.to_buf(),
    }
}

fn read_rule(section: &str, rule: &Map<String, Value>, at: &Pointer, spec: &mut VirtualServiceSpec, p: &mut Problems) {
    let section: &'static str = match section {
        "http" => "http",
        "tls" => "tls",
        _ => "tcp",
    };
    spec.rules.push(route_rule(section, rule, at));
    let match_at = child(at, "match");
    let matches = fields::list(rule.get("match"), &match_at, p);
    // A rule is limited to its matches' gateways only when every match names some.
    let mut rule_gateways: Option<Vec<String>> = (!matches.is_empty()).then(Vec::new);
    let mut claims = Vec::new();
    for (j, m) in matches.iter().enumerate() {
        let here = index(&match_at, j);
        let Some(m) = fields::mapping(Some(m), &here, p) else {
            continue;
        };
        let named = fields::string_list(m, "gateways", &here, p);
        match (&mut rule_gateways, named.is_empty()) {
            (Some(g), false) => g.extend(named.iter().map(|l| l.value.clone())),
            _ => rule_gateways = None,
        }
        spec.match_gateways.extend(named);
        if section == "http" {
            for key in ["headers", "withoutHeaders"] {
                let headers_at = child(&here, key);
                if let Some(h) = fields::mapping(m.get(key), &headers_at, p) {
                    for name in h.keys().filter(|k| k.starts_with("@request.auth.claims")) {
                        claims.push((name.clone(), child(&headers_at, name)));
                    }
                }
            }
        }
    }
    spec.claim_matches
        .extend(claims.into_iter().map(|(claim, pointer)| ClaimMatch {
            claim,
            gateways: rule_gateways.clone(),
            pointer,
        }));
    let route_at = child(at, "route");
    for (j, r) in fields::list(rule.get("route"), &route_at, p).iter().enumerate() {
        let here = index(&route_at, j);
        if let Some(r) = fields::mapping(Some(r), &here, p) {
            let role = match section {
                "http" => Role::HttpRoute,
                "tls" => Role::TlsRoute,
                _ => Role::TcpRoute,
            };
            let weight = r.get("weight").and_then(Value::as_i64);
            read_destination(
                (role, weight, rule_gateways.as_deref()),
                r.get("destination"),
                &child(&here, "destination"),
                spec,
                p,
            );
        }
    }
    if section != "http" {
        return;
    }
    read_destination(
        (Role::HttpMirror, None, rule_gateways.as_deref()),
        rule.get("mirror"),
        &child(at, "mirror"),
        spec,
        p,
    );
    let mirrors_at = child(at, "mirrors");
    for (j, r) in fields::list(rule.get("mirrors"), &mirrors_at, p).iter().enumerate() {
        let here = index(&mirrors_at, j);
        if let Some(r) = fields::mapping(Some(r), &here, p) {
            read_destination(
                (Role::HttpMirror, None, rule_gateways.as_deref()),
                r.get("destination"),
                &child(&here, "destination"),
                spec,
                p,
            );
        }
    }
    let delegate_at = child(at, "delegate");
    if let Some(d) = fields::mapping(rule.get("delegate"), &delegate_at, p) {
        match fields::str_field(d, "name", &delegate_at, p) {
            Some(name) => spec.delegates.push(Delegate {
                name: name.to_string(),
                namespace: fields::str_field(d, "namespace", &delegate_at, p)
                    .filter(|ns| !ns.is_empty())
                    .map(str::to_string),
                pointer: delegate_at,
            }),
            None => p.invalid(&child(&delegate_at, "name"), "a delegate needs a name"),
        }
    }
}

fn read_destination(
    (role, weight, gateways): (Role, Option<i64>, Option<&[String]>),
    v: Option<&Value>,
    at: &Pointer,
    spec: &mut VirtualServiceSpec,
    p: &mut Problems,
) {
    let Some(d) = fields::mapping(v, at, p) else {
        return;
    };
    if d.get("host").is_none_or(Value::is_null) {
        p.invalid(&child(at, "host"), "a destination needs a host");
        return;
    }
    let Some(host) = fields::str_field(d, "host", at, p) else {
        return;
    };
    let port_at = child(at, "port");
    let port = fields::mapping(d.get("port"), &port_at, p).and_then(|pm| fields::port_field(pm, "number", &port_at, p));
    spec.destinations.push(Destination {
        role,
        host: host.to_string(),
        subset: fields::str_field(d, "subset", at, p)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        port,
        weight,
        gateways: gateways.map(<[String]>::to_vec),
        pointer: at.to_buf(),
    });
}
