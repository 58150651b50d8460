use std::collections::BTreeMap;

use serde_json::Value;

use super::{Kind, ObjKey};

/// A Kubernetes object as the view keeps it: identity, labels and annotations
/// pulled out, the rest as JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    pub key: ObjKey,
    pub api_version: String,
    /// The kind name as written, kept for `Other` kinds.
    pub kind_name: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub value: Value,
}

/// Why a JSON value is not a Kubernetes object at all. (A Kubernetes object whose
/// spec is malformed is an object with MG0001 findings, not an error.)
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ObjectError {
    #[error("not a Kubernetes object: expected a mapping, found {0}")]
    NotAMapping(&'static str),
    #[error("not a Kubernetes object: `{0}` is missing or not a string")]
    MissingField(&'static str),
}

pub fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Cluster-scoped kinds meshgate does not model, which take no namespace (so
/// `-n` does not put them, or make a namespace exist, anywhere).
const CLUSTER_SCOPED_KINDS: &[&str] = &[
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "APIService",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "RuntimeClass",
    "CSIDriver",
    "GatewayClass",
    "ClusterIssuer",
    "ClusterSecretStore",
    "ClusterPolicy",
    "ClusterPolicyReport",
];

impl Object {
    /// Identity as the API server sees it: (API group, kind, namespace, name).
    /// `key` folds kinds meshgate does not model into one; this does not.
    pub fn identity(&self) -> (&str, &str, &str, &str) {
        let group = self.api_version.rsplit_once('/').map_or("", |(g, _)| g);
        (group, &self.kind_name, &self.key.namespace, &self.key.name)
    }

    /// Reads identity from `apiVersion`, `kind` and `metadata`. `default_namespace`
    /// fills in a missing namespace on namespaced kinds, as kubectl's `-n` does.
    pub fn from_value(mut value: Value, default_namespace: &str) -> Result<Object, ObjectError> {
        let map = match &value {
            Value::Object(m) => m,
            other => return Err(ObjectError::NotAMapping(json_type_name(other))),
        };
        let api_version = map
            .get("apiVersion")
            .and_then(Value::as_str)
            .ok_or(ObjectError::MissingField("apiVersion"))?
            .to_string();
        let kind_name = map
            .get("kind")
            .and_then(Value::as_str)
            .ok_or(ObjectError::MissingField("kind"))?
            .to_string();
        let meta = map.get("metadata");
        let name = meta
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .ok_or(ObjectError::MissingField("metadata.name"))?
            .to_string();
        let kind = Kind::from_type(&api_version, &kind_name);
        let namespace = if kind.is_cluster_scoped()
            || (kind == Kind::Other && CLUSTER_SCOPED_KINDS.contains(&kind_name.as_str()))
        {
            String::new()
        } else {
            meta.and_then(|m| m.get("namespace"))
                .and_then(Value::as_str)
                .filter(|ns| !ns.is_empty())
                .unwrap_or(default_namespace)
                .to_string()
        };
        let labels = string_map(meta.and_then(|m| m.get("labels")));
        let annotations = string_map(meta.and_then(|m| m.get("annotations")));
        trim(&mut value);
        Ok(Object {
            key: ObjKey::new(kind, namespace, name),
            api_version,
            kind_name,
            labels,
            annotations,
            value,
        })
    }

    pub fn spec(&self) -> Option<&Value> {
        self.value.get("spec")
    }
}

/// Drops what the view never reads and what must never be kept (Secret data).
fn trim(value: &mut Value) {
    let Some(map) = value.as_object_mut() else {
        return;
    };
    if map.get("kind").and_then(Value::as_str) == Some("Secret") {
        map.remove("data");
        map.remove("stringData");
    }
    if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            ann.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
}

/// Label and annotation maps; non-string values (a YAML `true` someone forgot to
/// quote) are kept as their JSON text rather than dropped.
fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    let Some(Value::Object(m)) = v else {
        return BTreeMap::new();
    };
    m.iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), s)
        })
        .collect()
}
