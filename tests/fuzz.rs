//! Mutation fuzzing of the review decoder and the check engine (product.md §6: no
//! panic on any input). Seeds are the corpus objects and Istio's own samples; each
//! round replaces, deletes or retypes random nodes, then runs the object through
//! every check against the corpus view, and wraps it in an AdmissionReview for the
//! decoder and `decide` (CREATE, UPDATE against the seed, DELETE). A panic fails
//! the test and prints the input. Deterministic (seeded); `MESHGATE_FUZZ_ROUNDS`
//! runs longer (default 3,000 rounds, a few seconds).

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use common::{repo, shared};
use meshgate::admission::{decide, review, Pending};
use meshgate::checks;
use meshgate::manifest::load_paths;
use meshgate::model::Object;
use meshgate::policy::Policy;
use meshgate::view::{ClusterView, Entry, ViewSettings};
use serde_json::{json, Value};

/// xorshift64*: enough randomness for mutation, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Values that have broken parsers before: wrong types, extremes, odd strings.
fn hostile(rng: &mut Rng) -> Value {
    match rng.below(16) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(u64::MAX),
        4 => json!(1e308),
        5 => json!(0.5),
        6 => json!(""),
        7 => json!("*"),
        8 => json!("~1/../\u{0}\u{202e}ü"),
        9 => json!("^(((a+)+)+)$"),
        10 => json!("a".repeat(5000)),
        11 => json!([]),
        12 => json!({}),
        13 => json!([null, 1, "x", {"a": []}]),
        14 => json!({"mesh": {"gateways": [1]}, "@request.auth.claims.x": {}}),
        _ => {
            let mut v = json!("deep");
            for _ in 0..64 {
                v = json!([v]);
            }
            v
        }
    }
}

/// Every node of `v` by pointer (bounded).
fn paths(v: &Value, at: String, out: &mut Vec<String>) {
    if out.len() > 4000 {
        return;
    }
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                paths(x, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                paths(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn mutate(v: &mut Value, rng: &mut Rng) {
    let mut all = Vec::new();
    paths(v, String::new(), &mut all);
    // Keep apiVersion/kind most of the time so the object reaches its checks.
    let at = &all[rng.below(all.len())];
    if (at.is_empty() || at == "/apiVersion" || at == "/kind") && rng.below(8) != 0 {
        return;
    }
    let Some(node) = v.pointer_mut(at) else { return };
    match rng.below(4) {
        0 => *node = hostile(rng),
        1 => {
            // Retype: wrap in a list or an object.
            let old = node.take();
            *node = if rng.below(2) == 0 {
                json!([old])
            } else {
                json!({"x": old})
            };
        }
        2 => match node {
            Value::Object(m) if !m.is_empty() => {
                let k = m.keys().nth(rng.below(m.len())).cloned().unwrap_or_default();
                m.remove(&k);
            }
            Value::Array(a) if !a.is_empty() => {
                let i = rng.below(a.len());
                a.remove(i);
            }
            other => *other = hostile(rng),
        },
        _ => match node {
            // Duplicate an element: conflicts with itself inside one object.
            Value::Array(a) if !a.is_empty() => {
                let x = a[rng.below(a.len())].clone();
                a.push(x);
            }
            Value::Object(m) => {
                m.insert("extra".into(), hostile(rng));
            }
            other => *other = hostile(rng),
        },
    }
}

fn seeds() -> Vec<Value> {
    let mut paths = vec![
        repo("tests/corpus").display().to_string(),
        // Every real-world set: the Gateway API readers' fields (ListenerSets,
        // BackendTLSPolicies, GRPCRoute methods, frontend client CAs) among them.
        repo("tests/realworld").display().to_string(),
    ];
    for s in [
        "istio/samples/bookinfo/networking",
        "istio/samples/external",
        "istio/samples/httpbin",
        "istio/samples/bookinfo/gateway-api",
        "istio/samples/helloworld/gateway-api",
        "istio/samples/tcp-echo/gateway-api",
    ] {
        let p = shared(s);
        if p.exists() {
            paths.push(p.display().to_string());
        }
    }
    load_paths(&paths, "default")
        .expect("seed manifests load")
        .into_iter()
        .filter(|m| {
            let k = m.object.key.kind;
            k.is_istio() || k.is_gateway_api() || k == meshgate::model::Kind::Service
        })
        .map(|m| m.object.value)
        .filter(|v| !v.is_null())
        .collect()
}

fn review_body(kind: &Value, operation: &str, object: Option<&Value>, old: Option<&Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "fuzz", "kind": kind, "namespace": "shop", "name": "fuzzed",
                    "operation": operation, "object": object, "oldObject": old, "dryRun": true}}))
    .unwrap()
}

fn exercise(v: &Value, seed: &Value, view: &Arc<ClusterView>, policy: &Policy, pending: &Pending) {
    if let Ok(o) = Object::from_value(v.clone(), "shop") {
        let entry = Entry::new(o, view.settings());
        let _ = checks::check(&entry, view);
    }
    let gvk = {
        let api = seed["apiVersion"].as_str().unwrap_or("v1");
        let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
        json!({"group": group, "version": version, "kind": seed["kind"]})
    };
    for (op, obj, old) in [
        ("CREATE", Some(v), None),
        ("UPDATE", Some(v), Some(seed)),
        ("DELETE", None, Some(v)),
    ] {
        if let Ok(mut req) = review::parse(&review_body(&gvk, op, obj, old)) {
            if let Ok(d) = decide(&mut req, view, true, policy, pending, Instant::now()) {
                let _ = review::response(req.version, &req.uid, d.allowed, d.message.as_deref(), &d.warnings);
            }
        }
    }
}

#[test]
fn mutated_objects_never_panic_the_decoder_or_the_checks() {
    let rounds: usize = std::env::var("MESHGATE_FUZZ_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let seeds = seeds();
    assert!(seeds.len() > 40, "seed objects: {}", seeds.len());
    let mut view = ClusterView::new(ViewSettings::default());
    for m in load_paths(&[repo("tests/corpus").display().to_string()], "default").unwrap() {
        view.apply(m.object);
    }
    let view = Arc::new(view);
    let policy = Policy::with_defaults("meshgate");
    let pending = Pending::default();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..rounds {
        let seed = &seeds[rng.below(seeds.len())];
        let mut v = seed.clone();
        for _ in 0..=rng.below(4) {
            mutate(&mut v, &mut rng);
        }
        // Now and then the envelope itself is what gets mutated.
        let mut envelope: Option<Vec<u8>> = None;
        if rng.below(4) == 0 {
            let mut r: Value = serde_json::from_slice(&review_body(
                &json!({"group": "networking.istio.io", "version": "v1", "kind": seed["kind"]}),
                "UPDATE",
                Some(&v),
                Some(seed),
            ))
            .unwrap();
            for _ in 0..=rng.below(3) {
                mutate(&mut r, &mut rng);
            }
            envelope = Some(serde_json::to_vec(&r).unwrap());
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            exercise(&v, seed, &view, &policy, &pending);
            if let Some(body) = &envelope {
                if let Ok(mut req) = review::parse(body) {
                    let _ = decide(&mut req, &view, true, &policy, &pending, Instant::now());
                }
            }
        }));
        assert!(
            outcome.is_ok(),
            "round {round} panicked on:\n{}",
            serde_json::to_string_pretty(&v).unwrap()
        );
    }
}

/// Text mutations that stress a YAML reader: indicators, indentation, anchors.
const YAML_BITS: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    ":",
    "- ",
    "? ",
    "&a ",
    "*a",
    "!!str ",
    "|",
    ">-",
    "'",
    "\"",
    "\t",
    "\n",
    "\n---\n",
    "\n...\n",
    "%YAML 1.2\n",
    "<<: *a\n",
    "#",
    "\u{feff}",
    "\r\n",
    "  ",
    "\\",
    "@",
    "`",
    "\u{0}",
    "ü",
    "\u{202e}",
];

/// Mutation fuzzing of the YAML reader (`meshgate check` reads files; `serve`
/// reads the MeshConfig `mesh` text and the policy file): byte-level edits of the
/// corpus and real-world manifests must give objects or a clean error, never a
/// panic; the MeshConfig reader is fed the same texts.
#[test]
fn mutated_yaml_never_panics_the_reader() {
    let rounds: usize = std::env::var("MESHGATE_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let mut texts = Vec::new();
    for dir in ["tests/corpus", "tests/realworld"] {
        let mut stack = vec![repo(dir)];
        while let Some(p) = stack.pop() {
            for e in std::fs::read_dir(&p).unwrap() {
                let path = e.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|x| x == "yaml") {
                    texts.push(std::fs::read_to_string(&path).unwrap());
                }
            }
        }
    }
    texts.sort();
    assert!(texts.len() > 30, "seed texts: {}", texts.len());
    let mut rng = Rng(0x5eed_7a31_u64);
    let started = Instant::now();
    for round in 0..rounds {
        let mut text = texts[rng.below(texts.len())].clone();
        for _ in 0..1 + rng.below(6) {
            let len = text.len();
            let mut at = rng.below(len + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            match rng.below(4) {
                0 => text.insert_str(at, YAML_BITS[rng.below(YAML_BITS.len())]),
                1 => {
                    let mut end = (at + 1 + rng.below(40)).min(len);
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    text.replace_range(at..end, "");
                }
                2 => {
                    let line: String = text[at..].lines().next().unwrap_or("").to_string();
                    text.insert_str(at, &format!("{line}\n"));
                }
                _ => text.insert_str(at, &" ".repeat(1 + rng.below(8))),
            }
        }
        let result = catch_unwind(AssertUnwindSafe(|| {
            let parsed = meshgate::manifest::parse_file("fuzz.yaml", &text, "default");
            for m in parsed.manifests {
                let _ = Entry::new(m.object, &ViewSettings::default());
            }
            let _ = meshgate::model::mesh_config::MeshConfig::from_mesh_text(&text);
        }));
        assert!(result.is_ok(), "round {round}: the YAML reader panicked on:\n{text}");
    }
    eprintln!("{rounds} YAML mutations in {:?}", started.elapsed());
}
