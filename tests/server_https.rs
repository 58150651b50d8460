//! The real server on loopback ports, real certificates, a real HTTPS client.

mod common;

use std::time::Duration;

use common::server::*;
use serde_json::{json, Value};

const SVC: &str =
    "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec:\n  ports: [{port: 80, name: http}]\n";
const GW: &str = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: public, namespace: istio-system}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*/shop.example.com\"]\n";
const V1: &str = "admission.k8s.io/v1";
const VS_KIND: (&str, &str) = ("networking.istio.io", "VirtualService");
const GW_KIND: (&str, &str) = ("networking.istio.io", "Gateway");

fn vs(name: &str, gateway: &str) -> Value {
    json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
           "metadata": {"name": name, "namespace": "shop"},
           "spec": {"hosts": ["shop.example.com"], "gateways": [gateway],
                    "http": [{"route": [{"destination": {"host": "web"}}]}]}})
}

fn gw_value() -> Value {
    meshgate::manifest::parse_text("gw", GW, "x").unwrap()[0]
        .object
        .value
        .clone()
}

async fn server_with(docs: &[&str]) -> TestServer {
    TestServer::start(Setup {
        view: view_from(docs),
        ..Setup::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_and_deny_with_code_and_pointer() {
    let s = server_with(&[SVC]).await;
    let (status, body) = s
        .post(review(
            V1,
            "CREATE",
            VS_KIND,
            Some(vs("a", "istio-system/public")),
            None,
            false,
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["apiVersion"], V1);
    assert_eq!(body["response"]["uid"], "uid-a");
    assert_eq!(body["response"]["allowed"], false);
    assert_eq!(
        body["response"]["status"]["message"],
        "MG0101 /spec/gateways/0: gateway \"istio-system/public\" not found: its routes are not served at that gateway (404 NR: no gateway route configuration gets a virtual host for shop.example.com)"
    );
    let (_, body) = s
        .post(review(V1, "CREATE", VS_KIND, Some(vs("b", "mesh")), None, false))
        .await;
    assert_eq!(body["response"]["allowed"], true, "{body}");
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warnings_and_v1beta1() {
    let gw_other = GW.replace("*/shop.example.com", "*/other.example.com");
    let s = server_with(&[SVC, &gw_other]).await;
    let (_, body) = s
        .post(review(
            "admission.k8s.io/v1beta1",
            "CREATE",
            VS_KIND,
            Some(vs("a", "istio-system/public")),
            None,
            false,
        ))
        .await;
    assert_eq!(body["apiVersion"], "admission.k8s.io/v1beta1");
    assert_eq!(body["response"]["allowed"], true);
    let w = body["response"]["warnings"].as_array().unwrap();
    assert_eq!(w.len(), 1);
    assert!(
        w[0].as_str()
            .unwrap()
            .starts_with("MG0106 /spec/gateways/0: gateway \"istio-system/public\" serves none"),
        "{w:?}"
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_runs_are_not_recorded_and_real_admissions_are() {
    let s = server_with(&[SVC]).await;
    // A Gateway admitted in a dry run is not recorded: the VirtualService's dry
    // run still misses it (a warning), and its real apply is denied.
    let (_, b) = s
        .post(review(V1, "CREATE", GW_KIND, Some(gw_value()), None, true))
        .await;
    assert_eq!(b["response"]["allowed"], true);
    let (_, b) = s
        .post(review(
            V1,
            "CREATE",
            VS_KIND,
            Some(vs("a", "istio-system/public")),
            None,
            true,
        ))
        .await;
    assert_eq!(b["response"]["allowed"], true, "{b}");
    let w = b["response"]["warnings"][0].as_str().unwrap();
    assert!(
        w.starts_with("MG0101 /spec/gateways/0: gateway \"istio-system/public\" not found")
            && w.ends_with("(dry run: not denied, as another object of the batch may create or change Gateway istio-system/public; the real apply is denied unless that happens first)"),
        "{w}"
    );
    let (_, b) = s
        .post(review(
            V1,
            "CREATE",
            VS_KIND,
            Some(vs("a", "istio-system/public")),
            None,
            false,
        ))
        .await;
    assert_eq!(
        b["response"]["allowed"], false,
        "a real apply is not satisfied by a dry run"
    );
    // A real Gateway admission satisfies real lookups until the watch shows it.
    s.post(review(V1, "CREATE", GW_KIND, Some(gw_value()), None, false))
        .await;
    let (_, b) = s
        .post(review(
            V1,
            "CREATE",
            VS_KIND,
            Some(vs("a", "istio-system/public")),
            None,
            false,
        ))
        .await;
    assert_eq!(b["response"]["allowed"], true, "{b}");
    s.stop().await.unwrap();
}

/// Stands in for the API server after changes made through another replica:
/// VirtualService shop/bound is gone, DestinationRule shop/web (subset v1) exists.
struct AnotherReplicasChanges;

const DR_V1: &str = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: web, namespace: shop}\nspec:\n  host: web\n  subsets:\n  - name: v1\n    labels: {version: v1}\n";

impl meshgate::server::Fetch for AnotherReplicasChanges {
    fn fetch(&self, _key: meshgate::model::ObjKey) -> meshgate::server::FetchFuture {
        Box::pin(async move { Ok(None) })
    }
    fn list(&self, kind: meshgate::model::Kind, namespace: Option<String>) -> meshgate::server::ListFuture {
        Box::pin(async move {
            if kind == meshgate::model::Kind::DestinationRule && namespace.as_deref() == Some("shop") {
                let v = meshgate::manifest::parse_text("dr", DR_V1, "shop").unwrap()[0]
                    .object
                    .value
                    .clone();
                Ok(vec![meshgate::model::Object::from_value(v, "shop").unwrap()])
            } else {
                Ok(Vec::new())
            }
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_through_lists_possible_referents_and_checks_impact_referrers() {
    let bound = meshgate::synthetic::to_yaml(&vs("bound", "istio-system/public"));
    let s = TestServer::start(Setup {
        view: view_from(&[SVC, GW, &bound]),
        fetcher: Some(std::sync::Arc::new(AnotherReplicasChanges)),
        ..Setup::default()
    })
    .await;
    // The view still holds shop/bound, but the API server no longer does: the
    // Gateway's deletion breaks nothing.
    let (_, b) = s
        .post(review(V1, "DELETE", GW_KIND, None, Some(gw_value()), false))
        .await;
    assert_eq!(b["response"]["allowed"], true, "{b}");
    // A subset the view has no rule for, but a LIST of the lookup's namespaces finds.
    let subset = |name: &str, subset: &str| {
        json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
               "metadata": {"name": name, "namespace": "shop"},
               "spec": {"hosts": ["web"], "http": [{"route": [{"destination": {"host": "web", "subset": subset}}]}]}})
    };
    let (_, b) = s
        .post(review(V1, "CREATE", VS_KIND, Some(subset("to-v1", "v1")), None, false))
        .await;
    assert_eq!(b["response"]["allowed"], true, "{b}");
    let (_, b) = s
        .post(review(V1, "CREATE", VS_KIND, Some(subset("to-v9", "v9")), None, false))
        .await;
    assert_eq!(b["response"]["allowed"], false, "{b}");
    assert!(b["response"]["status"]["message"].as_str().unwrap().starts_with(
        "MG0103 /spec/http/0/route/0/destination/subset: subset \"v9\" is not defined by DestinationRule shop/web"
    ));
    // GET shop/bound (absent); for each subset, LISTs in istio-system (absent)
    // and shop (found): the denial of v9 is confirmed against the live rules.
    let (_, m) = s.admin_get("/metrics").await;
    assert!(m.contains("meshgate_read_through_total{outcome=\"found\"} 2"), "{m}");
    assert!(m.contains("meshgate_read_through_total{outcome=\"absent\"} 3"), "{m}");
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_with_pre_existing_findings_is_a_warning() {
    let s = server_with(&[SVC]).await;
    let old = vs("a", "istio-system/public");
    let mut new = old.clone();
    new["metadata"]["labels"] = json!({"edited": "yes"});
    let (_, b) = s.post(review(V1, "UPDATE", VS_KIND, Some(new), Some(old), false)).await;
    assert_eq!(b["response"]["allowed"], true, "{b}");
    assert!(b["response"]["warnings"][0]
        .as_str()
        .unwrap()
        .ends_with("(already present before this update)"));
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_impact_names_referrers() {
    let bound = meshgate::synthetic::to_yaml(&vs("bound", "istio-system/public"));
    let s = server_with(&[SVC, GW, &bound]).await;
    let (_, b) = s
        .post(review(V1, "DELETE", GW_KIND, None, Some(gw_value()), false))
        .await;
    assert_eq!(b["response"]["allowed"], false);
    assert_eq!(
        b["response"]["status"]["message"],
        "deleting Gateway istio-system/public breaks 1 object(s) that refer to it: VirtualService shop/bound (MG0101 /spec/gateways/0: gateway \"istio-system/public\" not found: its routes are not served at that gateway (404 NR: no gateway route configuration gets a virtual host for shop.example.com))"
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exemptions_and_ignore_annotation() {
    let s = server_with(&[SVC]).await;
    let mut v = vs("a", "istio-system/public");
    v["metadata"]["namespace"] = json!("kube-system");
    let (_, b) = s.post(review(V1, "CREATE", VS_KIND, Some(v), None, false)).await;
    assert_eq!(b["response"]["allowed"], true);
    let mut v = vs("b", "istio-system/public");
    v["metadata"]["annotations"] = json!({"meshgate.io/ignore": "MG0101"});
    let (_, b) = s.post(review(V1, "CREATE", VS_KIND, Some(v), None, false)).await;
    assert_eq!(b["response"]["allowed"], true);
    let mut v = vs("c", "istio-system/public");
    v["metadata"]["labels"] = json!({"meshgate.io/skip": "true"});
    let (_, b) = s.post(review(V1, "CREATE", VS_KIND, Some(v), None, false)).await;
    assert_eq!(b["response"]["allowed"], true);
    let (_, metrics) = s.admin_get("/metrics").await;
    assert!(
        metrics.contains("meshgate_reviews_total{kind=\"VirtualService\",operation=\"CREATE\",decision=\"exempt\"} 2"),
        "{metrics}"
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_reload_and_bad_policy_keeps_the_running_one() {
    let s = TestServer::start(Setup {
        view: view_from(&[SVC]),
        policy_file: Some("codes:\n  MG0101: deny\n".into()),
        ..Setup::default()
    })
    .await;
    let body = || review(V1, "CREATE", VS_KIND, Some(vs("a", "istio-system/public")), None, false);
    assert_eq!(s.post(body()).await.1["response"]["allowed"], false);
    std::fs::write(s.path("meshgate.yaml"), "codes:\n  MG0101: warn\n").unwrap();
    let mut allowed = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if s.post(body()).await.1["response"]["allowed"] == true {
            allowed = true;
            break;
        }
    }
    assert!(allowed, "policy change picked up without restart");
    std::fs::write(s.path("meshgate.yaml"), "codes:\n  MG0101: maybe\n").unwrap();
    let mut failures = String::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        failures = s.admin_get("/metrics").await.1;
        if failures.contains("meshgate_config_reload_failures_total 1") {
            break;
        }
    }
    assert!(
        failures.contains("meshgate_config_reload_failures_total 1"),
        "{failures}"
    );
    assert_eq!(
        s.post(body()).await.1["response"]["allowed"],
        true,
        "the running policy stays"
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_endpoints() {
    // Two kinds are called Gateway: the metrics tell them apart.
    let k8s_gw = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: public, namespace: istio-system}\nspec:\n  gatewayClassName: istio\n  listeners: [{name: http, port: 80, protocol: HTTP}]\n";
    let s = server_with(&[SVC, GW, k8s_gw]).await;
    assert_eq!(s.admin_get("/livez").await.0, 200);
    assert_eq!(s.admin_get("/readyz").await, (200, "ok\n".to_string()));
    s.state.view.set_ready(false);
    assert_eq!(s.admin_get("/readyz").await.0, 503);
    s.state.view.set_ready(true);
    let (status, m) = s.admin_get("/metrics").await;
    assert_eq!(status, 200);
    for needle in [
        "meshgate_cache_objects{kind=\"Gateway\"} 1",
        "meshgate_cache_objects{kind=\"Gateway.gateway.networking.k8s.io\"} 1",
        "meshgate_cache_objects{kind=\"Service\"} 1",
        "meshgate_cache_ready 1",
        "meshgate_certificate_expiry_timestamp_seconds ",
        "meshgate_review_duration_seconds_bucket",
    ] {
        assert!(m.contains(needle), "{needle} missing from\n{m}");
    }
    s.stop().await.unwrap();
}

/// Stands in for the API server's GET: this test is about what the server does
/// with a read-through answer (the real GET runs in the end-to-end suite).
struct OneGateway;

impl meshgate::server::Fetch for OneGateway {
    fn fetch(&self, key: meshgate::model::ObjKey) -> meshgate::server::FetchFuture {
        Box::pin(async move {
            if key.kind == meshgate::model::Kind::Gateway && key.namespace == "istio-system" && key.name == "public" {
                Ok(Some(meshgate::model::Object::from_value(gw_value(), "x").unwrap()))
            } else {
                Ok(None)
            }
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_through_before_a_denial() {
    let s = TestServer::start(Setup {
        view: view_from(&[SVC]),
        fetcher: Some(std::sync::Arc::new(OneGateway)),
        ..Setup::default()
    })
    .await;
    // The view lacks the Gateway; the live GET finds it, so no false denial.
    let (_, b) = s
        .post(review(
            V1,
            "CREATE",
            VS_KIND,
            Some(vs("a", "istio-system/public")),
            None,
            false,
        ))
        .await;
    assert_eq!(b["response"]["allowed"], true, "{b}");
    // A Gateway the cluster does not have either is still denied.
    let (_, b) = s
        .post(review(
            V1,
            "CREATE",
            VS_KIND,
            Some(vs("b", "istio-system/other")),
            None,
            false,
        ))
        .await;
    assert_eq!(b["response"]["allowed"], false, "{b}");
    let (_, m) = s.admin_get("/metrics").await;
    assert!(m.contains("meshgate_read_through_total{outcome=\"found\"} 1"), "{m}");
    assert!(m.contains("meshgate_read_through_total{outcome=\"absent\"} 1"), "{m}");
    // What was found is in the view now: no second GET.
    let (_, b) = s
        .post(review(
            V1,
            "CREATE",
            VS_KIND,
            Some(vs("c", "istio-system/public")),
            None,
            false,
        ))
        .await;
    assert_eq!(b["response"]["allowed"], true);
    let (_, m) = s.admin_get("/metrics").await;
    assert!(m.contains("meshgate_read_through_total{outcome=\"found\"} 1"), "{m}");
    s.stop().await.unwrap();
}

/// Polls `/report` until `done` holds (the audit runs a pass after a debounce).
async fn report_until(s: &TestServer, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        let (status, body) = s.admin_get(path).await;
        if status == 200 {
            last = serde_json::from_str(&body).unwrap();
            if done(&last) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{path} never reached the expected state; last: {last:#}");
}

fn codes(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {}/{}",
                f["code"].as_str().unwrap(),
                f["kind"].as_str().unwrap(),
                f["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_report_follows_the_view() {
    let bound = serde_json::to_string(&vs("bound", "missing")).unwrap();
    let s = server_with(&[SVC, GW, &bound]).await;
    // An existing object bound to a Gateway that does not exist.
    let all = report_until(&s, "/report", |r| r["summary"]["errors"] == 1).await;
    // Every audited object's findings, in kind, namespace and name order (the
    // Gateway selects no workload in this view).
    assert_eq!(
        codes(&all),
        [
            "MG0301 Gateway/public",
            "MG0305 Gateway/public",
            "MG0101 VirtualService/bound"
        ]
    );
    let r = report_until(&s, "/report?severity=error", |_| true).await;
    assert_eq!(codes(&r), ["MG0101 VirtualService/bound"]);
    let f = &r["findings"][0];
    assert_eq!(f["pointer"], "/spec/gateways/0");
    assert_eq!(f["namespace"], "shop");
    assert!(f.get("file").is_none(), "live objects have no file: {f}");
    // Filters.
    let none = report_until(&s, "/report?namespace=other", |_| true).await;
    assert_eq!(none["findings"], json!([]));
    let by_code = report_until(&s, "/report?code=MG0101&severity=error", |_| true).await;
    assert_eq!(codes(&by_code), ["MG0101 VirtualService/bound"]);
    let (status, sarif) = s.admin_get("/report?format=sarif&severity=error").await;
    assert_eq!(status, 200);
    let sarif: Value = serde_json::from_str(&sarif).unwrap();
    assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "MG0101");
    for (bad, why) in [
        ("/report?severity=fatal", "severity"),
        ("/report?code=MG9999", "unknown check code"),
        ("/report?format=xml", "format"),
        ("/report?colour=red", "unknown field"),
    ] {
        let (status, body) = s.admin_get(bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body.contains(why), "{bad}: {body}");
    }
    let (_, m) = s.admin_get("/metrics").await;
    assert!(
        m.contains("meshgate_audit_findings{code=\"MG0101\",severity=\"error\",namespace=\"shop\"} 1"),
        "{m}"
    );
    assert!(m.contains("meshgate_audit_last_pass_timestamp_seconds "), "{m}");

    // The Gateway appears (a watch event): the finding goes, with no review.
    let gw = meshgate::manifest::parse_text(
        "gw",
        "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: missing, namespace: shop}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"shop.example.com\"]\n",
        "x",
    )
    .unwrap()
    .remove(0)
    .object;
    let gw_key = gw.key.clone();
    s.state.view.update_objects([gw_key.clone()], |v| {
        v.apply(gw);
    });
    let r = report_until(&s, "/report?severity=error", |r| r["summary"]["errors"] == 0).await;
    assert_eq!(r["findings"], json!([]));
    // The Service goes: the route's destination is missing now.
    let svc_key = meshgate::model::ObjKey::new(meshgate::model::Kind::Service, "shop", "web");
    s.state.view.update_objects([svc_key.clone()], |v| {
        v.delete(&svc_key);
    });
    let r = report_until(&s, "/report?severity=error", |r| r["summary"]["errors"] == 1).await;
    assert_eq!(codes(&r)[0], "MG0102 VirtualService/bound");
    let (_, m) = s.admin_get("/metrics").await;
    assert!(
        !m.contains("code=\"MG0101\""),
        "a code without findings leaves the gauges: {m}"
    );
    s.stop().await.unwrap();
}
