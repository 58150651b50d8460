//! Output: an indented tree (`text`), JSON, and a Mermaid flowchart.

use super::Explanation;

pub fn json(e: &Explanation) -> String {
    serde_json::to_string_pretty(e).unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}")) + "\n"
}

pub fn text(e: &Explanation) -> String {
    let mut out = String::new();
    let mut line = |depth: usize, s: String| {
        out.push_str(&"  ".repeat(depth));
        out.push_str(&s);
        out.push('\n');
    };
    let c = &e.client;
    let version = c.version.as_deref().map(|v| format!(", proxy {v}")).unwrap_or_default();
    line(
        0,
        format!(
            "{} from {} {} (namespace {}{version})",
            e.request, c.kind, c.name, c.namespace
        ),
    );
    if let Some(s) = &e.sidecar {
        line(1, format!("scoped by {s}"));
    }
    for h in &e.hops {
        line(1, format!("{}: {}", h.at, h.detail));
        for p in &h.policies {
            line(2, p.clone());
        }
        line(2, h.verdict.clone());
    }
    for g in &e.gateways {
        line(1, format!("server {g}"));
    }
    let mut depth = 1;
    if let Some(l) = &e.listener {
        let fc = e
            .filter_chain
            .as_deref()
            .map(|f| format!(", filter chain {f}"))
            .unwrap_or_default();
        line(depth, format!("listener {l}{fc}"));
        depth += 1;
    }
    if let Some(r) = &e.route_config {
        line(depth, format!("route configuration {r}"));
        depth += 1;
    }
    if let Some(v) = &e.virtual_host {
        line(
            depth,
            format!("virtual host {} (domains: {})", v.name, v.domains.join(", ")),
        );
        depth += 1;
    }
    if let Some(r) = &e.route {
        let name = if r.name.is_empty() {
            "(unnamed)"
        } else {
            r.name.as_str()
        };
        let from = match (&r.source, &r.pointer) {
            (Some(s), Some(p)) => format!(" from {s} {p}"),
            _ => String::new(),
        };
        line(depth, format!("route {name}{from}"));
        if let Some(d) = &r.delegate {
            line(depth + 1, format!("delegated to {d}"));
        }
        if !r.conditions.is_empty() {
            line(depth + 1, format!("matched on {}", r.conditions.join(", ")));
        }
        depth += 1;
    }
    for cl in &e.clusters {
        let weight = cl.weight.map(|w| format!(" (weight {w})")).unwrap_or_default();
        let state = if cl.exists {
            String::new()
        } else {
            format!(" — MISSING: {}", cl.missing.as_deref().unwrap_or(""))
        };
        line(depth, format!("cluster {}{weight}{state}", cl.name));
        if let Some(dr) = &cl.destination_rule {
            let tp = if cl.traffic_policy.is_empty() {
                String::new()
            } else {
                format!(": {}", cl.traffic_policy.join(", "))
            };
            line(depth + 1, format!("DestinationRule {dr}{tp}"));
        }
        if let Some(why) = &cl.tls_mismatch {
            line(depth + 1, format!("TLS MISMATCH: {why}"));
        }
        match &cl.endpoints {
            Some(eps) if eps.is_empty() => line(depth + 1, "endpoints: none".to_string()),
            Some(eps) => {
                for ep in eps.iter().take(10) {
                    let addr = ep.address.as_deref().map(|a| format!(" {a}")).unwrap_or_default();
                    let cluster = ep
                        .cluster
                        .as_deref()
                        .map(|c| format!(" (remote cluster {c})"))
                        .unwrap_or_default();
                    line(depth + 1, format!("endpoint {}{addr}{cluster}", ep.workload));
                }
                if eps.len() > 10 {
                    line(depth + 1, format!("... and {} more endpoints", eps.len() - 10));
                }
            }
            None if cl.exists && cl.name.contains('|') => {
                line(depth + 1, "endpoints: not known from the view".to_string())
            }
            None => {}
        }
        for a in &cl.authorization {
            line(depth + 1, format!("AuthorizationPolicy {a}"));
        }
    }
    if !e.envoy_filters.is_empty() {
        line(1, "EnvoyFilters on this proxy:".to_string());
        for f in &e.envoy_filters {
            let what = f.apply_to.as_deref().unwrap_or("?");
            match &f.reason {
                None => line(2, format!("{} {} ({what}): applied", f.envoy_filter, f.pointer)),
                Some(r) => line(
                    2,
                    format!("{} {} ({what}): NOT applied: {r}", f.envoy_filter, f.pointer),
                ),
            }
        }
    }
    line(0, format!("=> {}: {}", e.outcome.status, e.outcome.detail));
    for f in &e.findings {
        line(
            1,
            format!(
                "{} {} {}/{}/{} {}: {}",
                f.code, f.severity, f.kind, f.namespace, f.name, f.pointer, f.message
            ),
        );
    }
    for n in &e.notes {
        line(1, format!("note: {n}"));
    }
    out
}

/// Mermaid node text: quotes and brackets would end the label.
fn label(s: &str) -> String {
    s.replace('"', "'").replace(['[', ']'], "")
}

pub fn mermaid(e: &Explanation) -> String {
    let mut nodes: Vec<(String, String)> = Vec::new();
    nodes.push(("client".into(), format!("{} {}", e.client.kind, e.client.name)));
    for (i, h) in e.hops.iter().enumerate() {
        nodes.push((format!("hop{i}"), format!("{}: {}", h.at, h.verdict)));
    }
    if let Some(l) = &e.listener {
        nodes.push(("listener".into(), format!("listener {l}")));
    }
    if let Some(r) = &e.route_config {
        nodes.push(("rc".into(), format!("route config {r}")));
    }
    if let Some(v) = &e.virtual_host {
        nodes.push(("vh".into(), format!("virtual host {}", v.name)));
    }
    if let Some(r) = &e.route {
        let src = r.source.as_deref().map(|s| format!("<br/>{s}")).unwrap_or_default();
        let name = if r.name.is_empty() {
            "(unnamed)"
        } else {
            r.name.as_str()
        };
        nodes.push(("route".into(), format!("route {name}{src}")));
    }
    let mut out = String::from("flowchart LR\n");
    for (id, text) in &nodes {
        out.push_str(&format!("  {id}[\"{}\"]\n", label(text)));
    }
    for pair in nodes.windows(2) {
        out.push_str(&format!("  {} --> {}\n", pair[0].0, pair[1].0));
    }
    let last = nodes.last().map_or("client".to_string(), |n| n.0.clone());
    for (i, c) in e.clusters.iter().enumerate() {
        let id = format!("c{i}");
        let eps = c
            .endpoints
            .as_ref()
            .map(|v| format!("<br/>{} endpoint(s)", v.len()))
            .unwrap_or_default();
        out.push_str(&format!("  {id}[\"cluster {}{eps}\"]\n", label(&c.name)));
        let edge = c
            .weight
            .map(|w| format!(" -- {w}% --> "))
            .unwrap_or(" --> ".to_string());
        out.push_str(&format!("  {last}{edge}{id}\n"));
        if !c.exists || c.tls_mismatch.is_some() {
            out.push_str(&format!("  class {id} broken\n"));
        }
    }
    let ok = e.outcome.status == "OK";
    out.push_str(&format!("  outcome((\"{}\"))\n", label(&e.outcome.status)));
    let from = if e.clusters.is_empty() {
        vec![last]
    } else {
        (0..e.clusters.len()).map(|i| format!("c{i}")).collect()
    };
    for f in from {
        out.push_str(&format!("  {f} --> outcome\n"));
    }
    out.push_str(&format!("  class outcome {}\n", if ok { "ok" } else { "broken" }));
    out.push_str("  classDef broken fill:#fdd,stroke:#c00\n  classDef ok fill:#dfd,stroke:#080\n");
    out
}
