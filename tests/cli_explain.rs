//! `meshgate explain` as a user runs it: real files (Istio's bookinfo sample and
//! the seed's EnvoyFilter), real process, exit codes (0 served, 1 broken, 2 bad
//! input). Its names are proven against istiod's own output in tests/oracle.rs.

mod common;

use common::*;

fn bookinfo(file: &str) -> String {
    shared(&format!("istio/samples/bookinfo/{file}")).display().to_string()
}

fn fixture(name: &str) -> String {
    repo(&format!("tests/fixtures/explain/{name}")).display().to_string()
}

#[test]
fn bookinfo_with_its_destination_rules_reaches_reviews_v1() {
    let o = run(&[
        "explain",
        &bookinfo("platform/kube/bookinfo.yaml"),
        &bookinfo("networking/virtual-service-all-v1.yaml"),
        &bookinfo("networking/destination-rule-all.yaml"),
        "--from",
        "default/productpage-v1",
        "-o",
        "json",
        "http://reviews:9080/reviews/0",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["listener"], "0.0.0.0_9080");
    assert_eq!(v["route_config"], "9080");
    assert_eq!(v["virtual_host"]["name"], "reviews.default.svc.cluster.local:9080");
    assert_eq!(v["route"]["source"], "VirtualService/default/reviews");
    assert_eq!(v["route"]["pointer"], "/spec/http/0");
    let c = &v["clusters"][0];
    assert_eq!(c["name"], "outbound|9080|v1|reviews.default.svc.cluster.local");
    assert_eq!(c["exists"], true);
    assert_eq!(c["destination_rule"], "DestinationRule/default/reviews");
    assert_eq!(c["endpoints"][0]["workload"], "Deployment/default/reviews-v1");
    assert_eq!(c["endpoints"].as_array().unwrap().len(), 1);
    assert_eq!(v["outcome"]["status"], "OK");
}

#[test]
fn bookinfo_without_destination_rules_breaks_with_503_nc() {
    let args = [
        "explain",
        &bookinfo("platform/kube/bookinfo.yaml"),
        &bookinfo("networking/virtual-service-all-v1.yaml"),
        "--from",
        "default/productpage-v1",
        "http://reviews:9080/reviews/0",
    ];
    let o = run(&args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("cluster outbound|9080|v1|reviews.default.svc.cluster.local — MISSING: no DestinationRule"),
        "{text}"
    );
    assert!(
        text.contains("=> 503 NC: no cluster: outbound|9080|v1|reviews.default.svc.cluster.local"),
        "{text}"
    );
    assert!(
        text.contains("MG0103 error VirtualService/default/reviews /spec/http/0/route/0/destination/subset"),
        "{text}"
    );
    let mut mermaid = args.to_vec();
    mermaid.extend(["-o", "mermaid"]);
    let o = run(&mermaid);
    let m = stdout(&o);
    assert!(m.starts_with("flowchart LR\n"), "{m}");
    assert!(
        m.contains("c0[\"cluster outbound|9080|v1|reviews.default.svc.cluster.local\"]"),
        "{m}"
    );
    assert!(m.contains("class c0 broken"), "{m}");
    assert!(m.contains("outcome((\"503 NC\"))"), "{m}");
}

#[test]
fn gateway_request_for_a_host_no_virtual_service_serves_is_404_nr() {
    let files = [
        bookinfo("platform/kube/bookinfo.yaml"),
        fixture("ingress.yaml"),
        fixture("shop-gateway.yaml"),
    ];
    let explain = |url: &str| {
        let mut args = vec!["explain"];
        args.extend(files.iter().map(String::as_str));
        args.extend(["--gateway", "istio-system/public", "-o", "json", url]);
        run(&args)
    };
    let o = explain("http://blog.example.com/");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    // The Service's port 80 arrives on the container's 8080.
    assert_eq!(v["listener"], "0.0.0.0_8080");
    assert_eq!(v["route_config"], "http.8080");
    assert!(v["virtual_host"].is_null());
    assert_eq!(v["outcome"]["status"], "404 NR");
    let o = explain("http://shop.example.com/");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["virtual_host"]["name"], "shop.example.com:8080");
    assert_eq!(
        v["clusters"][0]["name"],
        "outbound|9080||productpage.default.svc.cluster.local"
    );
}

/// HTTPS at the gateway: the server terminating TLS for the SNI, its own route
/// configuration; an SNI no server has, or TLS no server passes through, is reset.
#[test]
fn gateway_https_is_routed_by_the_server_for_its_sni() {
    let files = [
        bookinfo("platform/kube/bookinfo.yaml"),
        fixture("ingress.yaml"),
        fixture("shop-gateway.yaml"),
    ];
    let explain = |url: &str, format: &str| {
        let mut args = vec!["explain"];
        args.extend(files.iter().map(String::as_str));
        args.extend(["--gateway", "istio-system/public", "-o", format, url]);
        run(&args)
    };
    let o = explain("https://shop.example.com/productpage", "json");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["listener"], "0.0.0.0_8443");
    assert_eq!(v["route_config"], "https.443.https.public.istio-system");
    assert_eq!(v["virtual_host"]["name"], "shop.example.com:443");
    assert_eq!(
        v["clusters"][0]["name"],
        "outbound|9080||productpage.default.svc.cluster.local"
    );
    for url in ["https://blog.example.com/", "tls://shop.example.com:443"] {
        let o = explain(url, "json");
        assert_eq!(o.status.code(), Some(1), "{url}: {}", stderr(&o));
        let v = json(&o);
        assert_eq!(v["listener"], "0.0.0.0_8443", "{url}");
        assert_eq!(v["outcome"]["status"], "connection reset", "{url}");
    }
    let text = String::from_utf8(explain("https://shop.example.com/", "text").stdout).unwrap();
    assert!(
        text.contains("route configuration https.443.https.public.istio-system"),
        "{text}"
    );
}

/// Plaintext toward workloads that accept only mTLS: the TLS mismatch MG0204
/// reports, as the outcome; a port-level setting that restores mTLS clears it.
#[test]
fn tls_disable_toward_strict_workloads_is_a_tls_mismatch() {
    let file = fixture("tls-disable-strict.yaml");
    let o = run(&[
        "explain",
        &file,
        "--from",
        "shop/productpage-v1",
        "-o",
        "json",
        "http://reviews:9080/",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["outcome"]["status"], "TLS mismatch");
    assert_eq!(
        v["clusters"][0]["tls_mismatch"],
        "DestinationRule/shop/reviews sets TLS DISABLE (/spec/trafficPolicy/tls) but Deployment/shop/reviews-v1:9080 accept only mTLS (STRICT PeerAuthentication)"
    );
    assert!(
        v["findings"].as_array().unwrap().iter().any(|f| f["code"] == "MG0204"),
        "{v}"
    );
    let text = String::from_utf8(
        run(&[
            "explain",
            &file,
            "--from",
            "shop/productpage-v1",
            "http://reviews:9080/",
        ])
        .stdout,
    )
    .unwrap();
    assert!(text.contains("TLS MISMATCH: DestinationRule/shop/reviews"), "{text}");
    // A port-level ISTIO_MUTUAL for 9080 overrides the top-level DISABLE.
    let dir = tempfile::tempdir().unwrap();
    let fixed = dir.path().join("fixed.yaml");
    let body = std::fs::read_to_string(&file).unwrap().replace(
        "    tls: {mode: DISABLE}\n",
        "    tls: {mode: DISABLE}\n    portLevelSettings:\n    - port: {number: 9080}\n      tls: {mode: ISTIO_MUTUAL}\n",
    );
    std::fs::write(&fixed, body).unwrap();
    let o = run(&[
        "explain",
        fixed.to_str().unwrap(),
        "--from",
        "shop/productpage-v1",
        "-o",
        "json",
        "http://reviews:9080/",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["outcome"]["status"], "OK");
}

#[test]
fn the_seeds_envoy_filter_pinned_to_1_17_is_not_applied_to_1_30_proxies() {
    let o = run(&[
        "explain",
        &bookinfo("platform/kube/bookinfo.yaml"),
        &fixture("seed-envoyfilter.yaml"),
        "--from",
        "default/productpage-v1-abc",
        "-o",
        "json",
        "http://reviews:9080/",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["client"]["version"], "1.30.3");
    let filters = v["envoy_filters"].as_array().unwrap();
    assert_eq!(filters.len(), 2, "{v}");
    for f in filters {
        assert_eq!(f["envoy_filter"], "EnvoyFilter/istio-system/stats-filter-1.17-1-17-5");
        assert_eq!(f["applied"], false);
        assert!(
            f["reason"]
                .as_str()
                .unwrap()
                .contains("proxyVersion \"^1\\\\.17.*\" does not match this proxy's 1.30.3"),
            "{f}"
        );
    }
}

#[test]
fn headers_pick_the_route_and_bad_input_exits_2() {
    let base = [
        bookinfo("platform/kube/bookinfo.yaml"),
        bookinfo("networking/virtual-service-reviews-jason-v2-v3.yaml"),
        bookinfo("networking/destination-rule-all.yaml"),
    ];
    let explain = |extra: &[&str]| {
        let mut args = vec!["explain"];
        args.extend(base.iter().map(String::as_str));
        args.extend(["--from", "default/productpage-v1", "-o", "json"]);
        args.extend(extra);
        run(&args)
    };
    let v = json(&explain(&["-H", "end-user: jason", "http://reviews:9080/"]));
    assert_eq!(
        v["clusters"][0]["name"],
        "outbound|9080|v2|reviews.default.svc.cluster.local"
    );
    assert_eq!(v["route"]["pointer"], "/spec/http/0/match/0");
    let v = json(&explain(&["http://reviews:9080/"]));
    assert_eq!(
        v["clusters"][0]["name"],
        "outbound|9080|v3|reviews.default.svc.cluster.local"
    );
    for (extra, message) in [
        (&["ftp://reviews/"][..], "scheme \"ftp\" is not http, https, tcp or tls"),
        (&["-H", "no colon", "http://reviews/"][..], "is not `name: value`"),
        (&["http://reviews:99999/"][..], "the port is out of range"),
    ] {
        let o = explain(extra);
        assert_eq!(o.status.code(), Some(2), "{extra:?}");
        assert!(stderr(&o).contains(message), "{extra:?}: {}", stderr(&o));
    }
    let o = run(&["explain", &base[0], "--from", "default/nope", "http://reviews/"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("default/nope"), "{}", stderr(&o));
}

/// Istio's Gateway API bookinfo sample: the request enters through the
/// Gateway API Gateway (named as users type it: the Gateway, or its
/// `<name>-istio` Service), along the route istiod generates from the HTTPRoute.
#[test]
fn bookinfo_through_its_gateway_api_gateway() {
    for gateway in ["default/bookinfo-gateway", "default/bookinfo-gateway-istio"] {
        let o = run(&[
            "explain",
            &bookinfo("platform/kube/bookinfo.yaml"),
            &bookinfo("gateway-api/bookinfo-gateway.yaml"),
            "--gateway",
            gateway,
            "-o",
            "json",
            "http://bookinfo.example.com/productpage",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let v = json(&o);
        assert_eq!(v["client"]["name"], "bookinfo-gateway-istio");
        assert_eq!(v["listener"], "0.0.0.0_80");
        assert_eq!(v["route_config"], "http.80");
        assert_eq!(v["route"]["name"], "default.bookinfo.0");
        assert_eq!(
            v["clusters"][0]["name"],
            "outbound|9080||productpage.default.svc.cluster.local"
        );
        assert_eq!(v["clusters"][0]["exists"], true);
        assert_eq!(v["outcome"]["status"], "OK");
    }
    // A path no rule matches gets 404; a backend port the Service lacks, 500.
    let o = run(&[
        "explain",
        &bookinfo("platform/kube/bookinfo.yaml"),
        &bookinfo("gateway-api/bookinfo-gateway.yaml"),
        "--gateway",
        "default/bookinfo-gateway",
        "http://bookinfo.example.com/admin",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("404 NR"), "{}", stdout(&o));
    let dir = tempfile::tempdir().unwrap();
    let broken = std::fs::read_to_string(bookinfo("gateway-api/bookinfo-gateway.yaml"))
        .unwrap()
        .replace("port: 9080", "port: 8080");
    std::fs::write(dir.path().join("gw.yaml"), broken).unwrap();
    let o = run(&[
        "explain",
        &bookinfo("platform/kube/bookinfo.yaml"),
        &dir.path().join("gw.yaml").display().to_string(),
        "--gateway",
        "default/bookinfo-gateway",
        "-o",
        "json",
        "http://bookinfo.example.com/productpage",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v = json(&o);
    assert_eq!(v["outcome"]["status"], "500", "{v}");
    assert_eq!(
        v["clusters"][0]["name"],
        "outbound|8080||productpage.default.svc.cluster.local"
    );
}

/// A client ztunnel captures: its path is ztunnel's — straight to the pods,
/// or through the Service's waypoint (L7 policies there: 403), then the
/// destination's ztunnel (L4 policies as istiod sends them: a reset).
#[test]
fn an_ambient_client_follows_ztunnel_and_the_waypoint() {
    let dir = tempfile::tempdir().unwrap();
    let base = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {istio.io/dataplane-mode: ambient}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {serviceAccountName: web, containers: [{name: web, image: web:1}]}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: shop}\nspec:\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec: {serviceAccountName: api, containers: [{name: api, image: api:1}]}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: waypoint, namespace: shop}\nspec:\n  gatewayClassName: istio-waypoint\n  listeners: [{name: mesh, port: 15008, protocol: HBONE}]\n";
    let svc = |labels: &str| {
        format!("apiVersion: v1\nkind: Service\nmetadata: {{name: api, namespace: shop, labels: {{{labels}}}}}\nspec:\n  selector: {{app: api}}\n  ports: [{{name: http, port: 80}}]\n")
    };
    let explain = |docs: &[String], url: &str, extra: &[&str]| {
        let file = dir.path().join(format!("case-{}.yaml", docs.len()));
        std::fs::write(&file, docs.join("---\n")).unwrap();
        let mut args = vec![
            "explain".to_string(),
            file.display().to_string(),
            "--from".into(),
            "shop/web".into(),
            "-o".into(),
            "json".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(url.to_string());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run(&args);
        (o.status.code(), json(&o))
    };
    // No waypoint: straight to the pod, no policy: OK.
    let (code, e) = explain(&[base.to_string(), svc("")], "http://api/orders", &[]);
    assert_eq!(code, Some(0), "{e}");
    assert_eq!(e["client"]["kind"], "ambient");
    assert_eq!(
        e["hops"][0]["detail"],
        "Service/shop/api has no waypoint: sent straight to its pods over HBONE"
    );
    assert_eq!(e["hops"][1]["at"], "ztunnel (destination node)");
    assert_eq!(e["outcome"]["status"], "OK");
    // An L7-only ALLOW at ztunnel: istiod sends it with no rule, the connection is reset.
    let l7 = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: api-get, namespace: shop}\nspec:\n  selector: {matchLabels: {app: api}}\n  rules:\n  - to: [{operation: {methods: [GET]}}]\n".to_string();
    let (code, e) = explain(&[base.to_string(), svc(""), l7.clone()], "http://api/orders", &[]);
    assert_eq!(code, Some(1), "{e}");
    assert_eq!(e["outcome"]["status"], "connection reset", "{e}");
    assert!(
        e["outcome"]["detail"]
            .as_str()
            .unwrap()
            .contains("no rule of the ALLOW policies (AuthorizationPolicy/shop/api-get (ALLOW)) matches"),
        "{e}"
    );
    // Through the waypoint: the same rule as a targetRefs policy there decides on
    // the method (403 for POST), and the destination's ztunnel sees the waypoint.
    let at_waypoint = l7.replace(
        "  selector: {matchLabels: {app: api}}\n",
        "  targetRefs: [{group: \"\", kind: Service, name: api}]\n",
    );
    let bound = svc("istio.io/use-waypoint: waypoint");
    let (code, e) = explain(
        &[base.to_string(), bound.clone(), at_waypoint.clone()],
        "http://api/orders",
        &[],
    );
    assert_eq!(code, Some(0), "{e}");
    assert_eq!(e["hops"][1]["at"], "waypoint shop/waypoint");
    assert_eq!(e["hops"][1]["verdict"], "allowed");
    assert!(
        e["hops"][2]["detail"]
            .as_str()
            .unwrap()
            .ends_with("as cluster.local/ns/shop/sa/waypoint"),
        "{e}"
    );
    let (code, e) = explain(
        &[base.to_string(), bound.clone(), at_waypoint.clone()],
        "http://api/orders",
        &["-H", ":method: POST"],
    );
    assert_eq!(code, Some(1), "{e}");
    assert_eq!(e["outcome"]["status"], "403");
    // An L4 ALLOW at the destination that admits only the client, not the waypoint (MG1007).
    let client_only = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: from-web, namespace: shop}\nspec:\n  selector: {matchLabels: {app: api}}\n  rules:\n  - from: [{source: {principals: [cluster.local/ns/shop/sa/web]}}]\n".to_string();
    let (code, e) = explain(
        &[base.to_string(), svc(""), client_only.clone()],
        "http://api/orders",
        &[],
    );
    assert_eq!(code, Some(0), "{e}");
    let (code, e) = explain(&[base.to_string(), bound, client_only], "http://api/orders", &[]);
    assert_eq!(code, Some(1), "{e}");
    assert_eq!(e["outcome"]["status"], "connection reset", "{e}");
}

/// ztunnel judges the port the destination pod listens on: the Service
/// port's targetPort.
#[test]
fn ztunnel_policies_see_the_target_port() {
    let dir = tempfile::tempdir().unwrap();
    let doc = |policy_port: &str| {
        format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: shop, labels: {{istio.io/dataplane-mode: ambient}}}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: shop, labels: {{app: web}}}}\nspec: {{containers: [{{name: web, image: web:1}}]}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: api, namespace: shop, labels: {{app: api}}}}\nspec: {{containers: [{{name: api, image: api:1}}]}}\n---\napiVersion: v1\nkind: Service\nmetadata: {{name: api, namespace: shop}}\nspec:\n  selector: {{app: api}}\n  ports: [{{name: http, port: 80, targetPort: 8080}}]\n---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: port-only, namespace: shop}}\nspec:\n  selector: {{matchLabels: {{app: api}}}}\n  rules:\n  - to: [{{operation: {{ports: [\"{policy_port}\"]}}}}]\n")
    };
    for (port, status) in [("8080", "OK"), ("80", "connection reset")] {
        let file = dir.path().join(format!("{port}.yaml"));
        std::fs::write(&file, doc(port)).unwrap();
        let o = run(&[
            "explain",
            &file.display().to_string(),
            "--from",
            "shop/web",
            "-o",
            "json",
            "http://api/",
        ]);
        assert_eq!(json(&o)["outcome"]["status"], status, "policy port {port}");
    }
}
