//! PolicyReports (`wgpolicyk8s.io/v1alpha2`, the format Policy Reporter and
//! Kyverno's tooling read): the audit's findings, one PolicyReport named
//! `meshgate` per namespace that has any. Opt-in (`serve --policy-reports`).
//!
//! Written by server-side apply under one field manager, only when a
//! namespace's results change; a namespace whose findings are all gone has its
//! report deleted. Only the holder of a `coordination.k8s.io` Lease writes, so
//! two replicas never fight over the same reports. Every audited kind is
//! namespaced, so there is nothing to put in a ClusterPolicyReport.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};

use crate::audit::{AuditReport, AuditResults};
use crate::checks::catalog;
use crate::finding::{Finding, Severity};
use crate::policy::Policy;

/// Every report meshgate writes has this name (one per namespace).
pub const REPORT_NAME: &str = "meshgate";
/// The server-side apply field manager.
pub const FIELD_MANAGER: &str = "meshgate";
/// The label that marks meshgate's reports (listed to find stale ones).
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "meshgate");
/// The Lease whose holder writes.
pub const LEASE_NAME: &str = "meshgate-policy-reports";
const LEASE_SECONDS: i32 = 15;
/// Results per report at most (errors first): an object stays far below etcd's
/// size limit however many findings a namespace has; the summary counts all.
pub const MAX_RESULTS: usize = 1000;
const TICK: Duration = Duration::from_secs(2);

fn report_resource() -> ApiResource {
    ApiResource {
        group: "wgpolicyk8s.io".into(),
        version: "v1alpha2".into(),
        api_version: "wgpolicyk8s.io/v1alpha2".into(),
        kind: "PolicyReport".into(),
        plural: "policyreports".into(),
    }
}

/// The API group and version of a finding's subject, for the result's
/// resource reference.
fn api_version_of(kind: &str) -> &'static str {
    match kind {
        "Service" => "v1",
        "PeerAuthentication" | "RequestAuthentication" | "AuthorizationPolicy" => "security.istio.io/v1",
        "EnvoyFilter" => "networking.istio.io/v1alpha3",
        _ => "networking.istio.io/v1",
    }
}

fn result_of(f: &Finding) -> Value {
    let (result, severity) = match f.severity {
        Severity::Error => ("fail", "high"),
        Severity::Warning => ("warn", "medium"),
        Severity::Info => ("warn", "info"),
    };
    let check = catalog::lookup(f.code);
    let mut properties = serde_json::Map::new();
    properties.insert("pointer".into(), json!(f.pointer.to_string()));
    if let Some(c) = check.filter(|c| c.consequence != "—") {
        properties.insert("consequence".into(), json!(c.consequence));
    }
    json!({
        "source": "meshgate",
        "policy": f.code,
        "rule": check.map_or("", |c| c.condition),
        "category": "Istio",
        "severity": severity,
        "result": result,
        "scored": f.severity == Severity::Error,
        "message": f.message,
        "resources": [{
            "apiVersion": api_version_of(&f.kind),
            "kind": f.kind,
            "namespace": f.namespace,
            "name": f.name,
        }],
        "properties": properties,
    })
}

/// The reports the findings make: namespace → PolicyReport, without timestamps
/// (so that equal results compare equal across passes).
pub fn reports(findings: &[Finding]) -> BTreeMap<String, Value> {
    let mut by_ns: BTreeMap<String, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        by_ns.entry(f.namespace.clone()).or_default().push(f);
    }
    by_ns
        .into_iter()
        .map(|(ns, mut found)| {
            let count = |s: Severity| found.iter().filter(|f| f.severity == s).count();
            let fail = count(Severity::Error);
            let total = found.len();
            // Stable: errors first, each severity in object order.
            found.sort_by_key(|f| std::cmp::Reverse(f.severity));
            found.truncate(MAX_RESULTS);
            let doc = json!({
                "apiVersion": "wgpolicyk8s.io/v1alpha2",
                "kind": "PolicyReport",
                "metadata": {"name": REPORT_NAME, "namespace": ns, "labels": {MANAGED_BY.0: MANAGED_BY.1}},
                "summary": {"pass": 0, "fail": fail, "warn": total - fail, "error": 0, "skip": 0},
                "results": found.iter().map(|f| result_of(f)).collect::<Vec<_>>(),
            });
            (ns, doc)
        })
        .collect()
}

/// Stamps each result with the time of writing.
fn stamped(mut doc: Value, now: SystemTime) -> Value {
    let seconds = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    if let Some(results) = doc.get_mut("results").and_then(Value::as_array_mut) {
        for r in results {
            r["timestamp"] = json!({"seconds": seconds, "nanos": 0});
        }
    }
    doc
}

/// Holds (or tries to take) the Lease: true while this replica is the writer.
async fn hold_lease(leases: &Api<Lease>, identity: &str) -> Result<bool, kube::Error> {
    let now = chrono_now();
    let fresh = |resource_version: Option<String>, transitions: i32| -> Lease {
        serde_json::from_value(json!({
            "metadata": {"name": LEASE_NAME, "resourceVersion": resource_version},
            "spec": {"holderIdentity": identity, "leaseDurationSeconds": LEASE_SECONDS,
                     "acquireTime": now.0, "renewTime": now.0, "leaseTransitions": transitions},
        }))
        .expect("a Lease from literal JSON")
    };
    let Some(current) = leases.get_opt(LEASE_NAME).await? else {
        return match leases.create(&PostParams::default(), &fresh(None, 0)).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false), // another replica won
            Err(e) => Err(e),
        };
    };
    let spec = current.spec.clone().unwrap_or_default();
    let holder = spec.holder_identity.as_deref();
    let renewed = spec.renew_time.as_ref().map(|t| t.0);
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(LEASE_SECONDS));
    let expired = renewed.is_none_or(|t| now.0.duration_since(t).as_secs() > duration);
    if holder != Some(identity) && !expired {
        return Ok(false);
    }
    let transitions = spec.lease_transitions.unwrap_or(0) + i32::from(holder != Some(identity));
    let mut next = fresh(current.metadata.resource_version.clone(), transitions);
    if holder == Some(identity) {
        if let (Some(s), Some(acquired)) = (next.spec.as_mut(), spec.acquire_time) {
            s.acquire_time = Some(acquired);
        }
    }
    // The resourceVersion makes this a compare-and-swap: of two replicas taking
    // an expired Lease, one gets a conflict.
    match leases.replace(LEASE_NAME, &PostParams::default(), &next).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

fn chrono_now() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

/// What the writer last wrote (namespace → report without timestamps).
type Written = BTreeMap<String, Value>;

/// Writes the reports for the life of the runtime: on each tick, if this
/// replica holds the Lease and the audit has a pass, applies the namespaces
/// whose results changed and deletes the reports of namespaces without
/// findings.
pub async fn run(
    client: Client,
    results: Arc<AuditResults>,
    policy: impl Fn() -> Arc<Policy> + Send + 'static,
    lease_namespace: String,
    identity: String,
) {
    let leases: Api<Lease> = Api::namespaced(client.clone(), &lease_namespace);
    let all: Api<DynamicObject> = Api::all_with(client.clone(), &report_resource());
    let mut written: Option<Written> = None;
    let mut warned = false;
    loop {
        tokio::time::sleep(TICK).await;
        match hold_lease(&leases, &identity).await {
            Ok(true) => {}
            Ok(false) => {
                written = None; // another replica writes; re-list if we take over
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, lease = LEASE_NAME, "PolicyReports: cannot hold the Lease");
                written = None;
                continue;
            }
        }
        let Some(pass) = results.last() else { continue };
        let desired = reports(&AuditReport::new(&pass.results, &policy()).findings);
        match sync(&client, &all, &desired, written.take()).await {
            Ok((w, failed)) => {
                written = Some(w);
                for (ns, e) in &failed {
                    tracing::warn!(namespace = %ns, error = %e, "PolicyReports: cannot write this namespace's report; retrying");
                }
                warned = false;
            }
            Err(e) => {
                if !warned {
                    tracing::warn!(error = %e, "PolicyReports: cannot write (is the wgpolicyk8s.io CRD installed and RBAC from manifests/policy-reports applied?)");
                    warned = true;
                }
            }
        }
    }
}

/// Brings the cluster's reports to `desired`: returns what is written and the
/// namespaces that failed (left out of what is written, so they are tried
/// again next time; one namespace's failure does not hold up the others).
async fn sync(
    client: &Client,
    all: &Api<DynamicObject>,
    desired: &Written,
    written: Option<Written>,
) -> Result<(Written, Vec<(String, kube::Error)>), kube::Error> {
    // After a (re)start or a change of writer: what exists is what was written by
    // whoever wrote last; compare against nothing, so everything is applied once.
    let mut written = match written {
        Some(w) => w,
        None => {
            let lp = ListParams::default().labels(&format!("{}={}", MANAGED_BY.0, MANAGED_BY.1));
            all.list(&lp)
                .await?
                .items
                .into_iter()
                .filter_map(|o| o.metadata.namespace)
                .map(|ns| (ns, Value::Null))
                .collect()
        }
    };
    let now = SystemTime::now();
    let mut failed = Vec::new();
    for (ns, doc) in desired {
        if written.get(ns) == Some(doc) {
            continue;
        }
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &report_resource());
        let params = PatchParams::apply(FIELD_MANAGER).force();
        if let Err(e) = api
            .patch(REPORT_NAME, &params, &Patch::Apply(stamped(doc.clone(), now)))
            .await
        {
            written.remove(ns);
            failed.push((ns.clone(), e));
            continue;
        }
        tracing::info!(namespace = %ns, results = doc["results"].as_array().map_or(0, Vec::len), "PolicyReport written");
        written.insert(ns.clone(), doc.clone());
    }
    let gone: Vec<String> = written
        .keys()
        .filter(|ns| !desired.contains_key(*ns))
        .cloned()
        .collect();
    for ns in gone {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &report_resource());
        match api.delete(REPORT_NAME, &DeleteParams::default()).await {
            Ok(_) => tracing::info!(namespace = %ns, "PolicyReport deleted: no findings left"),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => {
                failed.push((ns, e));
                continue;
            }
        }
        written.remove(&ns);
    }
    Ok((written, failed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::pointer;
    use crate::model::{Kind, ObjKey};

    #[test]
    fn one_report_per_namespace_with_results_and_summary() {
        let vs = ObjKey::new(Kind::VirtualService, "shop", "reviews");
        let ef = ObjKey::new(Kind::EnvoyFilter, "istio-system", "stats");
        let findings = vec![
            Finding::new(
                &catalog::MG0101,
                &vs,
                pointer("/spec/gateways/0"),
                "gateway missing".into(),
            ),
            Finding::new(
                &catalog::MG0501,
                &ef,
                pointer("/spec/configPatches/0"),
                "no proxy".into(),
            ),
            Finding::new(&catalog::MG0402, &vs, pointer("/spec/hosts/0"), "direct".into())
                .with_severity(Severity::Info),
        ];
        let r = reports(&findings);
        assert_eq!(r.keys().collect::<Vec<_>>(), ["istio-system", "shop"]);
        let shop = &r["shop"];
        assert_eq!(shop["metadata"]["name"], "meshgate");
        assert_eq!(shop["metadata"]["labels"]["app.kubernetes.io/managed-by"], "meshgate");
        assert_eq!(
            shop["summary"],
            json!({"pass": 0, "fail": 1, "warn": 1, "error": 0, "skip": 0})
        );
        let first = &shop["results"][0];
        assert_eq!(first["policy"], "MG0101");
        assert_eq!(first["result"], "fail");
        assert_eq!(first["severity"], "high");
        assert_eq!(first["scored"], true);
        assert_eq!(
            first["resources"][0],
            json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "namespace": "shop", "name": "reviews"})
        );
        assert_eq!(first["properties"]["pointer"], "/spec/gateways/0");
        assert_eq!(first["properties"]["consequence"], catalog::MG0101.consequence);
        assert_eq!(shop["results"][1]["severity"], "info");
        assert_eq!(shop["results"][1]["result"], "warn");
        let ef = &r["istio-system"]["results"][0];
        assert_eq!(ef["resources"][0]["apiVersion"], "networking.istio.io/v1alpha3");
        // Errors first; past MAX_RESULTS the results stop, the summary counts all.
        let many: Vec<Finding> = (0..MAX_RESULTS + 5)
            .map(|i| {
                let f = Finding::new(&catalog::MG0402, &vs, pointer("/spec/hosts/0"), format!("w{i}"));
                if i == MAX_RESULTS + 4 {
                    Finding::new(&catalog::MG0101, &vs, pointer("/spec/gateways/0"), "late error".into())
                } else {
                    f
                }
            })
            .collect();
        let big = &reports(&many)["shop"];
        assert_eq!(big["results"].as_array().unwrap().len(), MAX_RESULTS);
        assert_eq!(big["results"][0]["message"], "late error");
        assert_eq!(big["summary"]["fail"], 1);
        assert_eq!(big["summary"]["warn"], MAX_RESULTS + 4);
        // No timestamps until written: equal findings make equal reports.
        assert_eq!(reports(&findings), r);
        let s = stamped(shop.clone(), UNIX_EPOCH + Duration::from_secs(42));
        assert_eq!(s["results"][0]["timestamp"], json!({"seconds": 42, "nanos": 0}));
    }
}
