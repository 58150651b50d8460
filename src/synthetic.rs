//! A deterministic synthetic cluster of any size, consistent (its Istio objects
//! have no error findings), for benchmarks and scale tests (product.md §6).

use serde_json::{json, Value};

#[derive(Clone, Copy, Debug)]
pub struct Scale {
    pub namespaces: usize,
    pub virtual_services: usize,
    pub destination_rules: usize,
    pub service_entries: usize,
    pub gateways: usize,
    pub services: usize,
    pub pods: usize,
    /// Kubernetes Gateway API Gateways and HTTPRoutes (0 at `PRODUCT`).
    pub k8s_gateways: usize,
    pub http_routes: usize,
}

impl Scale {
    /// The view size product.md §6 sets the performance bars at.
    pub const PRODUCT: Scale = Scale {
        namespaces: 100,
        virtual_services: 10_000,
        destination_rules: 5_000,
        service_entries: 2_000,
        gateways: 1_000,
        services: 20_000,
        pods: 50_000,
        k8s_gateways: 0,
        http_routes: 0,
    };

    /// `PRODUCT` plus 500 Gateway API Gateways and 5,000 HTTPRoutes (issue #20).
    pub const PRODUCT_GATEWAY_API: Scale = Scale {
        k8s_gateways: 500,
        http_routes: 5_000,
        ..Scale::PRODUCT
    };

    /// The same proportions with every count divided by `d` (at least 1 each).
    pub fn divided(self, d: usize) -> Scale {
        let f = |n: usize| (n / d).max(1);
        Scale {
            namespaces: f(self.namespaces),
            virtual_services: f(self.virtual_services),
            destination_rules: f(self.destination_rules),
            service_entries: f(self.service_entries),
            gateways: f(self.gateways),
            services: f(self.services).max(f(self.virtual_services)),
            pods: f(self.pods),
            k8s_gateways: if self.k8s_gateways == 0 {
                0
            } else {
                f(self.k8s_gateways)
            },
            http_routes: if self.http_routes == 0 { 0 } else { f(self.http_routes) },
        }
    }

    pub fn total(&self) -> usize {
        self.virtual_services
            + self.destination_rules
            + self.service_entries
            + self.gateways
            + self.services
            + self.pods
            + self.k8s_gateways
            + self.http_routes
    }
}

fn ns(s: &Scale, i: usize) -> String {
    format!("ns-{}", i % s.namespaces)
}

pub fn service(s: &Scale, i: usize) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": format!("svc-{i}"), "namespace": ns(s, i)},
        "spec": {"selector": {"app": format!("svc-{i}")},
                 "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
}

/// Ingress gateway proxies: one per thousand pods (at least one).
fn ingress_pods(s: &Scale) -> usize {
    (s.pods / 1000).max(1).min(s.pods)
}

pub fn ingress_pod(g: usize) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("ingress-{g}"), "namespace": "istio-system",
                     "labels": {"istio": "ingressgateway"}},
        "spec": {"containers": [{"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.30.3", "args": ["proxy", "router"]}]}})
}

/// Application pod `j`: pods of Service `j % services`, alternating v1 and v2 over
/// the rounds so every Service gets both versions when there are enough pods.
pub fn pod(s: &Scale, j: usize) -> Value {
    let i = j % s.services;
    let version = (j / s.services) % 2 + 1;
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("svc-{i}-{j}"), "namespace": ns(s, i),
                     "labels": {"app": format!("svc-{i}"), "version": format!("v{version}")}},
        "spec": {"serviceAccountName": "default",
                 "containers": [{"name": "app", "image": "app:1"},
                                {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.30.3"}]}})
}

pub fn destination_rule(s: &Scale, k: usize) -> Value {
    json!({"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
        "metadata": {"name": format!("svc-{k}"), "namespace": ns(s, k)},
        "spec": {"host": format!("svc-{k}"),
                 "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                             {"name": "v2", "labels": {"version": "v2"}}]}})
}

/// Even indexes are mesh routes to their Service (with a subset where a rule
/// exists); odd ones are bound to an ingress Gateway.
pub fn virtual_service(s: &Scale, m: usize) -> Value {
    let mut dest = json!({"host": format!("svc-{m}"), "port": {"number": 80}});
    if m < s.destination_rules {
        dest["subset"] = json!("v1");
    }
    let mut spec = json!({"http": [{"match": [{"uri": {"prefix": "/"}}], "route": [{"destination": dest}]}]});
    if m % 2 == 0 {
        spec["hosts"] = json!([format!("svc-{m}")]);
    } else {
        spec["hosts"] = json!([format!("svc-{m}.gw-{}.example.com", m % s.gateways)]);
        spec["gateways"] = json!([format!("istio-system/gw-{}", m % s.gateways)]);
    }
    json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": format!("svc-{m}"), "namespace": ns(s, m)}, "spec": spec})
}

pub fn gateway(_s: &Scale, g: usize) -> Value {
    json!({"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
        "metadata": {"name": format!("gw-{g}"), "namespace": "istio-system"},
        "spec": {"selector": {"istio": "ingressgateway"},
                 "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": [format!("*/*.gw-{g}.example.com")]}]}})
}

pub fn service_entry(s: &Scale, e: usize) -> Value {
    json!({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
        "metadata": {"name": format!("ext-{e}"), "namespace": ns(s, e)},
        "spec": {"hosts": [format!("ext-{e}.example.org")], "location": "MESH_EXTERNAL", "resolution": "DNS",
                 "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}]}})
}

/// Gateway API Gateway `g`: class `istio`, one HTTP listener for its own
/// wildcard domain, in namespace `ns(g)`.
pub fn k8s_gateway(s: &Scale, g: usize) -> Value {
    json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": format!("kgw-{g}"), "namespace": ns(s, g)},
        "spec": {"gatewayClassName": "istio",
                 "listeners": [{"name": "http", "port": 80, "protocol": "HTTP", "hostname": format!("*.kgw-{g}.example.com")}]}})
}

/// HTTPRoute `r`: attached to Gateway `r % k8s_gateways` (same namespace), one
/// hostname under its domain, to a Service of that namespace.
pub fn http_route(s: &Scale, r: usize) -> Value {
    let g = r % s.k8s_gateways.max(1);
    let n = g % s.namespaces;
    let svc = (n + s.namespaces * (r / s.k8s_gateways.max(1))) % s.services;
    json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": format!("route-{r}"), "namespace": ns(s, g)},
        "spec": {"parentRefs": [{"name": format!("kgw-{g}")}],
                 "hostnames": [format!("r{r}.kgw-{g}.example.com")],
                 "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                            "backendRefs": [{"name": format!("svc-{svc}"), "port": 80}]}]}})
}

/// The Service in front of the ingress gateway proxies (exposes the Gateways' port 80).
pub fn ingress_service() -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "istio-ingressgateway", "namespace": "istio-system"},
        "spec": {"selector": {"istio": "ingressgateway"},
                 "ports": [{"name": "http2", "port": 80, "targetPort": 8080}]}})
}

/// Every object of the synthetic cluster, referents before referrers.
pub fn objects(s: &Scale) -> Vec<Value> {
    let mut out = Vec::with_capacity(s.total() + 1);
    out.push(ingress_service());
    out.extend((0..s.services).map(|i| service(s, i)));
    out.extend((0..ingress_pods(s)).map(ingress_pod));
    out.extend((0..s.pods - ingress_pods(s)).map(|j| pod(s, j)));
    out.extend((0..s.service_entries).map(|e| service_entry(s, e)));
    out.extend((0..s.gateways).map(|g| gateway(s, g)));
    out.extend((0..s.destination_rules).map(|k| destination_rule(s, k)));
    out.extend((0..s.virtual_services).map(|m| virtual_service(s, m)));
    out.extend((0..s.k8s_gateways).map(|g| k8s_gateway(s, g)));
    out.extend((0..s.http_routes).map(|r| http_route(s, r)));
    out
}

/// Block-style YAML for a JSON value (strings always quoted, so nothing is
/// re-typed on the way back).
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    emit(v, 0, &mut out);
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Object(m) if m.is_empty() => "{}".into(),
        other => other.to_string(),
    }
}

fn is_block(v: &Value) -> bool {
    matches!(v, Value::Array(a) if !a.is_empty()) || matches!(v, Value::Object(m) if !m.is_empty())
}

fn emit(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, val) in m {
                let plain = !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
                let key = if plain {
                    k.clone()
                } else {
                    serde_json::to_string(k).unwrap_or_default()
                };
                if is_block(val) {
                    out.push_str(&format!("{pad}{key}:\n"));
                    emit(val, indent + 2, out);
                } else {
                    out.push_str(&format!("{pad}{key}: {}\n", scalar(val)));
                }
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for item in a {
                if is_block(item) {
                    let mut inner = String::new();
                    emit(item, indent + 2, &mut inner);
                    // Put the first line of the item after the dash.
                    out.push_str(&format!("{pad}- {}", &inner[indent + 2..]));
                } else {
                    out.push_str(&format!("{pad}- {}\n", scalar(item)));
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_round_trips() {
        let s = Scale::PRODUCT.divided(1000);
        for v in objects(&s).iter().take(200) {
            let text = to_yaml(v);
            let back = crate::manifest::yaml::parse_documents(&text).unwrap();
            assert_eq!(&back[0].value, v, "{text}");
        }
    }
}
