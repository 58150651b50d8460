//! Istio proxies and control planes (product.md §4 "Proxy versions", "Revisions").

use std::collections::BTreeMap;

use serde_json::Value;

/// Label naming the control-plane revision of an object or proxy.
pub const REV_LABEL: &str = "istio.io/rev";
pub const DEFAULT_REVISION: &str = "default";
/// Label of the MutatingWebhookConfiguration that makes a revision tag.
pub const TAG_LABEL: &str = "istio.io/tag";
/// Annotation the injector writes on a pod: JSON with the injecting `revision`.
const SIDECAR_STATUS: &str = "sidecar.istio.io/status";

/// A revision tag (`istioctl tag set T --revision R`): a MutatingWebhookConfiguration
/// labelled `istio.io/tag: T`, `istio.io/rev: R`. Namespaces and pods labelled
/// `istio.io/rev: T` are injected by revision R.
pub fn revision_tag(labels: &BTreeMap<String, String>) -> Option<(String, String)> {
    let tag = labels.get(TAG_LABEL).filter(|t| !t.is_empty())?;
    let rev = labels
        .get(REV_LABEL)
        .cloned()
        .unwrap_or_else(|| DEFAULT_REVISION.to_string());
    Some((tag.clone(), rev))
}

/// The revision a namespace's labels ask injection for: `istio.io/rev`, or the
/// default revision for `istio-injection: enabled`; `None`: no injection.
pub fn namespace_injection(labels: &BTreeMap<String, String>) -> Option<String> {
    labels.get(REV_LABEL).cloned().or_else(|| {
        (labels.get("istio-injection").map(String::as_str) == Some("enabled")).then(|| DEFAULT_REVISION.to_string())
    })
}

/// The istio-proxy of a workload, as far as it can be told.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Proxy {
    /// `None`: a digest-only image, or a template not injected yet whose control
    /// plane is resolved later from the namespace (see `pending_injection`).
    pub version: Option<String>,
    pub gateway: bool,
    /// The control-plane revision that injected or will inject it (the pod's
    /// `istio.io/rev` label, else `default`).
    pub revision: String,
    pub injection: Injection,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Injection {
    /// The proxy container is there.
    Injected,
    /// Not injected yet but asked for by the pod (label): the version is that of
    /// the revision's control plane.
    Requested,
    /// A template with no proxy and no request of its own: it gets one when its
    /// namespace asks for injection (resolved against the namespace's labels).
    IfNamespaceInjects,
}

impl Proxy {
    pub fn pending(&self) -> bool {
        self.injection != Injection::Injected
    }
}

/// The version in an image reference: the tag, without `-distroless`/`-debug`;
/// `None` for a digest-only image or one without a tag.
pub fn image_version(image: &str) -> Option<String> {
    if image.contains('@')
        && !image
            .rsplit('/')
            .next()
            .unwrap_or("")
            .split('@')
            .next()
            .unwrap_or("")
            .contains(':')
    {
        return None;
    }
    let name = image.split('@').next().unwrap_or(image);
    let last = name.rsplit('/').next().unwrap_or(name);
    let (_, tag) = last.split_once(':')?;
    let tag = tag
        .strip_suffix("-distroless")
        .or_else(|| tag.strip_suffix("-debug"))
        .unwrap_or(tag);
    (!tag.is_empty()).then(|| tag.to_string())
}

fn containers<'a>(pod_spec: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    pod_spec.get(key).and_then(Value::as_array).into_iter().flatten()
}

/// The istio-proxy of a pod spec: a container, or a native-sidecar init container
/// (`restartPolicy: Always`). Gateways run it as their main container with the
/// `router` argument.
pub fn from_pod(
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
    pod_spec: Option<&Value>,
) -> Option<Proxy> {
    let spec = pod_spec?;
    let proxy = containers(spec, "containers")
        .find(|c| c.get("name").and_then(Value::as_str) == Some("istio-proxy"))
        .or_else(|| {
            containers(spec, "initContainers").find(|c| {
                c.get("name").and_then(Value::as_str) == Some("istio-proxy")
                    && c.get("restartPolicy").and_then(Value::as_str) == Some("Always")
            })
        });
    // The injector records the revision that injected the pod; the label may be a tag.
    let injected_by = annotations
        .get(SIDECAR_STATUS)
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .and_then(|v| v.get("revision").and_then(Value::as_str).map(str::to_string))
        .filter(|r| !r.is_empty());
    let revision = labels
        .get(REV_LABEL)
        .cloned()
        .unwrap_or_else(|| DEFAULT_REVISION.to_string());
    let gateway_template = annotations
        .get("inject.istio.io/templates")
        .is_some_and(|t| t.contains("gateway"));
    match proxy {
        Some(c) => {
            let router = c
                .get("args")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|x| x.as_str() == Some("router")));
            let image = c.get("image").and_then(Value::as_str).unwrap_or("");
            // `image: auto` is the gateway-injection placeholder: injected later.
            let pending = image == "auto";
            Some(Proxy {
                version: if pending { None } else { image_version(image) },
                gateway: router || gateway_template,
                revision: if pending {
                    revision
                } else {
                    injected_by.unwrap_or(revision)
                },
                injection: if pending {
                    Injection::Requested
                } else {
                    Injection::Injected
                },
            })
        }
        None => {
            // Not injected yet (a manifest's template).
            let inject = labels.get("sidecar.istio.io/inject").map(String::as_str);
            if inject == Some("false") {
                return None;
            }
            let asked = labels.contains_key(REV_LABEL) || inject == Some("true");
            Some(Proxy {
                version: None,
                gateway: gateway_template,
                revision,
                injection: if asked {
                    Injection::Requested
                } else {
                    Injection::IfNamespaceInjects
                },
            })
        }
    }
}

/// A control plane: an istiod Deployment or Pod (label `app=istiod`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlPlane {
    pub revision: String,
    pub version: Option<String>,
    /// The environment flags of istiod that change what it reads (product.md §2),
    /// as written on its `discovery` container; `None` when the object carries
    /// no container to read them from.
    pub flags: Option<BTreeMap<String, String>>,
}

/// The istiod flags meshgate reads.
pub const ISTIOD_FLAGS: [&str; 5] = [
    "PILOT_AUTO_ALLOW_WAYPOINT_POLICY",
    "PILOT_ENABLE_ALPHA_GATEWAY_API",
    "PILOT_ENABLE_AMBIENT",
    "ENABLE_GATEWAY_API_INFERENCE_EXTENSION",
    "AMBIENT_ENABLE_MULTI_NETWORK",
];

impl ControlPlane {
    /// A boolean flag as Go's `strconv.ParseBool` reads it; `None` when the
    /// flags are unknown, `Some(false)` when unset (istiod's default).
    pub fn flag(&self, name: &str) -> Option<bool> {
        let flags = self.flags.as_ref()?;
        Some(matches!(
            flags.get(name).map(String::as_str),
            Some("1" | "t" | "T" | "true" | "TRUE" | "True")
        ))
    }

    /// (major, minor) of the version.
    pub fn minor(&self) -> Option<(u32, u32)> {
        let v = self.version.as_deref()?;
        let mut parts = v.split('.');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    }
}

pub fn control_plane(labels: &BTreeMap<String, String>, pod_spec: Option<&Value>) -> Option<ControlPlane> {
    if labels.get("app").map(String::as_str) != Some("istiod") {
        return None;
    }
    let discovery = pod_spec.and_then(|s| {
        containers(s, "containers")
            .find(|c| c.get("name").and_then(Value::as_str) == Some("discovery"))
            .or_else(|| containers(s, "containers").next())
    });
    let image = discovery.and_then(|c| c.get("image").and_then(Value::as_str));
    // A container without `env` sets no flag (live Pods keep the discovery
    // container's env through trimming: live::kinds::trim_pod).
    let flags = discovery.map(|c| {
        c.get("env")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let name = e.get("name")?.as_str()?;
                let value = e.get("value")?.as_str()?;
                ISTIOD_FLAGS
                    .contains(&name)
                    .then(|| (name.to_string(), value.to_string()))
            })
            .collect()
    });
    Some(ControlPlane {
        revision: labels
            .get(REV_LABEL)
            .cloned()
            .unwrap_or_else(|| DEFAULT_REVISION.to_string()),
        version: image.and_then(image_version),
        flags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn versions_from_image_tags() {
        assert_eq!(
            image_version("docker.io/istio/proxyv2:1.22.3").as_deref(),
            Some("1.22.3")
        );
        assert_eq!(
            image_version("gcr.io/istio-release/proxyv2:1.30.3-distroless").as_deref(),
            Some("1.30.3")
        );
        assert_eq!(image_version("proxyv2:1.17.5-debug").as_deref(), Some("1.17.5"));
        assert_eq!(
            image_version("localhost:5000/istio/proxyv2:1.30.3").as_deref(),
            Some("1.30.3")
        );
        assert_eq!(image_version("docker.io/istio/proxyv2@sha256:abcdef"), None);
        assert_eq!(
            image_version("docker.io/istio/proxyv2:1.30.3@sha256:abcdef").as_deref(),
            Some("1.30.3")
        );
        assert_eq!(image_version("localhost:5000/istio/proxyv2"), None);
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn sidecar_container_native_sidecar_and_gateway() {
        let none = BTreeMap::new();
        let spec = json!({"containers": [{"name": "app"}, {"name": "istio-proxy", "image": "istio/proxyv2:1.30.3"}]});
        let p = from_pod(&none, &none, Some(&spec)).unwrap();
        assert_eq!(
            (p.version.as_deref(), p.gateway, p.revision.as_str()),
            (Some("1.30.3"), false, "default")
        );
        let native = json!({"initContainers": [{"name": "istio-proxy", "image": "istio/proxyv2:1.29.0", "restartPolicy": "Always"}], "containers": [{"name": "app"}]});
        let p = from_pod(&labels(&[("istio.io/rev", "1-29")]), &none, Some(&native)).unwrap();
        assert_eq!((p.version.as_deref(), p.revision.as_str()), (Some("1.29.0"), "1-29"));
        let gw = json!({"containers": [{"name": "istio-proxy", "image": "istio/proxyv2:1.30.3", "args": ["proxy", "router"]}]});
        assert!(from_pod(&none, &none, Some(&gw)).unwrap().gateway);
        let plain = json!({"containers": [{"name": "app"}]});
        assert_eq!(
            from_pod(&none, &none, Some(&plain)).unwrap().injection,
            Injection::IfNamespaceInjects
        );
        assert_eq!(
            from_pod(&labels(&[("sidecar.istio.io/inject", "false")]), &none, Some(&plain)),
            None
        );
        let pending = from_pod(&labels(&[("sidecar.istio.io/inject", "true")]), &none, Some(&plain)).unwrap();
        assert!(pending.injection == Injection::Requested && pending.version.is_none());
        let digest = json!({"containers": [{"name": "istio-proxy", "image": "istio/proxyv2@sha256:00"}]});
        assert_eq!(from_pod(&none, &none, Some(&digest)).unwrap().version, None);
    }

    #[test]
    fn injected_revision_from_sidecar_status_and_revision_tags() {
        let spec = json!({"containers": [{"name": "istio-proxy", "image": "istio/proxyv2:1.30.3"}]});
        let status = labels(&[(
            "sidecar.istio.io/status",
            r#"{"initContainers":null,"containers":["istio-proxy"],"revision":"1-30-3"}"#,
        )]);
        // Injected through tag `prod`: the injector recorded the real revision.
        let p = from_pod(&labels(&[("istio.io/rev", "prod")]), &status, Some(&spec)).unwrap();
        assert_eq!(p.revision, "1-30-3");
        let p = from_pod(&labels(&[("istio.io/rev", "prod")]), &BTreeMap::new(), Some(&spec)).unwrap();
        assert_eq!(p.revision, "prod");
        assert_eq!(
            revision_tag(&labels(&[("istio.io/tag", "prod"), ("istio.io/rev", "1-30-3")])),
            Some(("prod".into(), "1-30-3".into()))
        );
        assert_eq!(
            revision_tag(&labels(&[("istio.io/tag", "canary")])),
            Some(("canary".into(), "default".into()))
        );
        assert_eq!(revision_tag(&labels(&[("istio.io/rev", "1-30-3")])), None);
    }

    #[test]
    fn istiod_is_a_control_plane() {
        let spec = json!({"containers": [{"name": "discovery", "image": "docker.io/istio/pilot:1.30.3"}]});
        let cp = control_plane(&labels(&[("app", "istiod"), ("istio.io/rev", "1-30")]), Some(&spec)).unwrap();
        assert_eq!(
            cp,
            ControlPlane {
                revision: "1-30".into(),
                version: Some("1.30.3".into()),
                flags: Some(BTreeMap::new()),
            }
        );
        assert_eq!(cp.flag("PILOT_ENABLE_ALPHA_GATEWAY_API"), Some(false));
        assert_eq!(cp.minor(), Some((1, 30)));
        assert_eq!(control_plane(&labels(&[("app", "web")]), Some(&spec)), None);
        // The flags istiod reads from its environment, as ParseBool reads them.
        let spec = json!({"containers": [{"name": "discovery", "image": "docker.io/istio/pilot:1.30.3",
            "env": [{"name": "PILOT_ENABLE_ALPHA_GATEWAY_API", "value": "1"}, {"name": "OTHER", "value": "true"},
                    {"name": "PILOT_ENABLE_AMBIENT", "valueFrom": {"configMapKeyRef": {"name": "x", "key": "y"}}}]}]});
        let cp = control_plane(&labels(&[("app", "istiod")]), Some(&spec)).unwrap();
        assert_eq!(cp.flag("PILOT_ENABLE_ALPHA_GATEWAY_API"), Some(true));
        assert_eq!(cp.flag("PILOT_ENABLE_AMBIENT"), Some(false));
        assert_eq!(cp.flags.as_ref().map(|f| f.len()), Some(1));
        // Without a container to read, nothing is known.
        assert_eq!(
            control_plane(&labels(&[("app", "istiod")]), None)
                .unwrap()
                .flag("PILOT_ENABLE_AMBIENT"),
            None
        );
    }
}
