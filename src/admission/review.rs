//! AdmissionReview wire format, `admission.k8s.io/v1` and `v1beta1`: the request is
//! read strictly enough to answer correctly and leniently enough never to panic.

use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewVersion {
    V1,
    V1Beta1,
}

impl ReviewVersion {
    pub fn api_version(self) -> &'static str {
        match self {
            ReviewVersion::V1 => "admission.k8s.io/v1",
            ReviewVersion::V1Beta1 => "admission.k8s.io/v1beta1",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Operation {
    Create,
    Update,
    Delete,
    Connect,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct GroupVersionKind {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
}

/// The parts of `request` meshgate uses.
#[derive(Clone, Debug)]
pub struct ReviewRequest {
    pub version: ReviewVersion,
    pub uid: String,
    pub kind: GroupVersionKind,
    pub namespace: String,
    pub name: String,
    pub operation: Operation,
    pub object: Option<Value>,
    pub old_object: Option<Value>,
    pub dry_run: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRequest {
    uid: Option<String>,
    kind: Option<GroupVersionKind>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    name: Option<String>,
    operation: Option<Operation>,
    #[serde(default)]
    object: Option<Value>,
    #[serde(default)]
    old_object: Option<Value>,
    #[serde(default)]
    dry_run: Option<bool>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReviewError {
    #[error("request body is not JSON: {0}")]
    NotJson(String),
    #[error("expected an AdmissionReview of apiVersion admission.k8s.io/v1 or v1beta1, got apiVersion {api_version:?} kind {kind:?}")]
    NotAReview { api_version: String, kind: String },
    #[error("AdmissionReview has no `request`")]
    MissingRequest,
    #[error("AdmissionReview `request` is malformed: {0}")]
    BadRequest(String),
    #[error("AdmissionReview `request.{0}` is missing")]
    MissingField(&'static str),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    #[serde(default)]
    api_version: Value,
    #[serde(default)]
    kind: Value,
    #[serde(default)]
    request: Value,
}

pub fn parse(body: &[u8]) -> Result<ReviewRequest, ReviewError> {
    let env: Envelope = match serde_json::from_slice(body) {
        Ok(e) => e,
        Err(e) if e.is_data() => {
            // Valid JSON of the wrong shape (a list, a string): not a review.
            let v: Value = serde_json::from_slice(body).map_err(|e| ReviewError::NotJson(e.to_string()))?;
            return Err(ReviewError::NotAReview {
                api_version: String::new(),
                kind: crate::model::object::json_type_name(&v).to_string(),
            });
        }
        Err(e) => return Err(ReviewError::NotJson(e.to_string())),
    };
    let api_version = env.api_version.as_str().unwrap_or_default();
    let kind = env.kind.as_str().unwrap_or_default();
    let version = match (api_version, kind) {
        ("admission.k8s.io/v1", "AdmissionReview") => ReviewVersion::V1,
        ("admission.k8s.io/v1beta1", "AdmissionReview") => ReviewVersion::V1Beta1,
        _ => {
            return Err(ReviewError::NotAReview {
                api_version: api_version.chars().take(100).collect(),
                kind: kind.chars().take(100).collect(),
            })
        }
    };
    if env.request.is_null() {
        return Err(ReviewError::MissingRequest);
    }
    let raw: RawRequest = serde_json::from_value(env.request).map_err(|e| ReviewError::BadRequest(e.to_string()))?;
    let uid = raw
        .uid
        .filter(|u| !u.is_empty())
        .ok_or(ReviewError::MissingField("uid"))?;
    let kind = raw.kind.ok_or(ReviewError::MissingField("kind"))?;
    let operation = raw.operation.ok_or(ReviewError::MissingField("operation"))?;
    // A Secret's review carries its data: dropped here, before anything else
    // sees the request (meshgate needs only its key, as the view holds
    // Secrets as metadata).
    let secret = kind.group.is_empty() && kind.kind == "Secret";
    let keep = |o: Option<Value>| {
        o.filter(|o| !o.is_null()).map(|mut o| {
            if secret {
                if let Some(m) = o.as_object_mut() {
                    m.remove("data");
                    m.remove("stringData");
                    // `kubectl apply` keeps the whole Secret, data too, here.
                    if let Some(a) = m
                        .get_mut("metadata")
                        .and_then(|md| md.get_mut("annotations"))
                        .and_then(Value::as_object_mut)
                    {
                        a.remove("kubectl.kubernetes.io/last-applied-configuration");
                    }
                }
            }
            o
        })
    };
    Ok(ReviewRequest {
        version,
        uid,
        kind,
        namespace: raw.namespace.unwrap_or_default(),
        name: raw.name.unwrap_or_default(),
        operation,
        object: keep(raw.object),
        old_object: keep(raw.old_object),
        dry_run: raw.dry_run.unwrap_or(false),
    })
}

/// The answer, in the version asked, echoing the uid.
pub fn response(version: ReviewVersion, uid: &str, allowed: bool, message: Option<&str>, warnings: &[String]) -> Value {
    let mut resp = json!({ "uid": uid, "allowed": allowed });
    if let Some(m) = message {
        resp["status"] = json!({
            "code": if allowed { 200 } else { 403 },
            "message": m,
            "reason": if allowed { "" } else { "Forbidden" },
        });
    }
    if !warnings.is_empty() {
        resp["warnings"] = json!(warnings);
    }
    json!({ "apiVersion": version.api_version(), "kind": "AdmissionReview", "response": resp })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(api: &str, request: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({"apiVersion": api, "kind": "AdmissionReview", "request": request})).unwrap()
    }

    #[test]
    fn reads_v1_and_v1beta1() {
        let req = json!({"uid": "u1", "kind": {"group": "networking.istio.io", "version": "v1", "kind": "Gateway"},
                         "namespace": "ns", "name": "n", "operation": "CREATE", "object": {"a": 1}, "dryRun": true});
        let r = parse(&review("admission.k8s.io/v1", req.clone())).unwrap();
        assert_eq!(r.version, ReviewVersion::V1);
        assert_eq!(r.uid, "u1");
        assert_eq!(r.operation, Operation::Create);
        assert!(r.dry_run);
        let r = parse(&review("admission.k8s.io/v1beta1", req)).unwrap();
        assert_eq!(r.version, ReviewVersion::V1Beta1);
        let out = response(r.version, "u1", false, Some("no"), &["w".into()]);
        assert_eq!(out["apiVersion"], "admission.k8s.io/v1beta1");
        assert_eq!(out["response"]["uid"], "u1");
        assert_eq!(out["response"]["status"]["code"], 403);
        assert_eq!(out["response"]["warnings"][0], "w");
    }

    #[test]
    fn a_secrets_data_is_dropped_on_reading() {
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "cert", "namespace": "shop",
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"tls.key\":\"c2VjcmV0\"}}", "keep": "me"}},
            "type": "kubernetes.io/tls", "data": {"tls.key": "c2VjcmV0"}, "stringData": {"x": "secret"}});
        let req = json!({"uid": "u1", "kind": {"group": "", "version": "v1", "kind": "Secret"},
                         "namespace": "shop", "name": "cert", "operation": "DELETE", "oldObject": secret});
        let r = parse(&review("admission.k8s.io/v1", req)).unwrap();
        let old = r.old_object.unwrap();
        let text = old.to_string();
        assert!(!text.contains("c2VjcmV0") && !text.contains("secret\""), "{text}");
        assert_eq!(old["type"], "kubernetes.io/tls");
        assert_eq!(old["metadata"]["annotations"], json!({"keep": "me"}));
        // Other kinds keep their fields.
        let cm = json!({"uid": "u2", "kind": {"group": "", "version": "v1", "kind": "ConfigMap"},
                        "operation": "CREATE", "object": {"data": {"a": "b"}}});
        assert_eq!(
            parse(&review("admission.k8s.io/v1", cm)).unwrap().object.unwrap()["data"]["a"],
            "b"
        );
    }

    #[test]
    fn malformed_reviews_are_errors() {
        assert!(matches!(parse(b"not json"), Err(ReviewError::NotJson(_))));
        assert!(matches!(parse(b"[]"), Err(ReviewError::NotAReview { .. })));
        assert!(matches!(
            parse(br#"{"apiVersion":"admission.k8s.io/v2","kind":"AdmissionReview"}"#),
            Err(ReviewError::NotAReview { .. })
        ));
        assert_eq!(
            parse(&review("admission.k8s.io/v1", Value::Null)).unwrap_err(),
            ReviewError::MissingRequest
        );
        assert_eq!(
            parse(&review(
                "admission.k8s.io/v1",
                json!({"kind": {}, "operation": "CREATE"})
            ))
            .unwrap_err(),
            ReviewError::MissingField("uid")
        );
        assert!(matches!(
            parse(&review("admission.k8s.io/v1", json!({"uid": "x", "operation": "FROB"}))),
            Err(ReviewError::BadRequest(_))
        ));
        assert!(matches!(
            parse(&review("admission.k8s.io/v1", json!({"uid": 5}))),
            Err(ReviewError::BadRequest(_))
        ));
    }
}
