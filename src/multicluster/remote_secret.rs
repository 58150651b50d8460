//! Remote secrets, as istiod's `pkg/kube/multicluster/secretcontroller.go`
//! reads them: Secrets labelled `istio/multiCluster: "true"` (the format
//! `istioctl create-remote-secret` writes), one data key per cluster id, each
//! a kubeconfig; a key equal to the local cluster's id is ignored (it would
//! overwrite the config cluster), and every kubeconfig is sanitised as
//! `sanitizeKubeConfig` (pkg/kube/util.go) does before anything uses it: no
//! `exec` plugin, no auth provider but OIDC, no client certificate, key or
//! token read from a file. A rejected kubeconfig is never used, let alone run.

use kube::config::Kubeconfig;
use serde_json::Value;

/// The label that marks a remote secret.
pub const MULTICLUSTER_LABEL: &str = "istio/multiCluster";

/// Why one cluster of a remote secret is not used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RemoteSecretError {
    #[error("cluster {0:?}: its data is not base64")]
    NotBase64(String),
    #[error("cluster {0:?}: the kubeconfig does not parse: {1}")]
    BadKubeconfig(String, String),
    #[error(
        "cluster {cluster:?}: {what} is not allowed in a remote secret (istiod's sanitizeKubeConfig rejects it too)"
    )]
    Unsafe { cluster: String, what: String },
    #[error("cluster {0:?}: the kubeconfig names no server")]
    NoServer(String),
}

/// A cluster a remote secret lets meshgate read.
#[derive(Debug, Clone)]
pub struct RemoteCluster {
    pub id: String,
    pub kubeconfig: Kubeconfig,
}

/// What one remote secret yields.
#[derive(Debug, Default)]
pub struct RemoteSecret {
    pub clusters: Vec<RemoteCluster>,
    /// Clusters refused, each with the reason (logged and counted; never used).
    pub rejected: Vec<RemoteSecretError>,
    /// Keys equal to the local cluster's id (ignored, as istiod does).
    pub ignored_local: Vec<String>,
}

/// The label selector of remote secrets (what istiod's secret controller watches).
pub fn selector() -> String {
    format!("{MULTICLUSTER_LABEL}=true")
}

/// The clusters of a remote secret: `data` (base64, as the API server sends
/// it) and `stringData` keys, cluster id → kubeconfig.
pub fn read(secret: &Value, local_cluster: &str) -> RemoteSecret {
    let mut out = RemoteSecret::default();
    let mut entries: Vec<(String, Result<String, RemoteSecretError>)> = Vec::new();
    if let Some(data) = secret.get("data").and_then(Value::as_object) {
        for (id, v) in data {
            let text = serde_json::from_value::<k8s_openapi::ByteString>(v.clone())
                .ok()
                .and_then(|b| String::from_utf8(b.0).ok())
                .ok_or_else(|| RemoteSecretError::NotBase64(id.clone()));
            entries.push((id.clone(), text));
        }
    }
    if let Some(data) = secret.get("stringData").and_then(Value::as_object) {
        for (id, v) in data {
            let text = v
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| RemoteSecretError::NotBase64(id.clone()));
            entries.push((id.clone(), text));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (id, text) in entries {
        if id == local_cluster {
            out.ignored_local.push(id);
            continue;
        }
        match text.and_then(|t| parse(&id, &t)) {
            Ok(kubeconfig) => out.clusters.push(RemoteCluster { id, kubeconfig }),
            Err(e) => out.rejected.push(e),
        }
    }
    out
}

fn parse(id: &str, text: &str) -> Result<Kubeconfig, RemoteSecretError> {
    let kc =
        Kubeconfig::from_yaml(text).map_err(|e| RemoteSecretError::BadKubeconfig(id.to_string(), e.to_string()))?;
    sanitize(id, &kc)?;
    let has_server = kc.clusters.iter().any(|c| {
        c.cluster
            .as_ref()
            .and_then(|c| c.server.as_ref())
            .is_some_and(|s| !s.is_empty())
    });
    if !has_server {
        return Err(RemoteSecretError::NoServer(id.to_string()));
    }
    Ok(kc)
}

/// istiod's `sanitizeKubeConfig` (with no allowlist): every user's auth must
/// neither run code nor read files.
pub fn sanitize(id: &str, kc: &Kubeconfig) -> Result<(), RemoteSecretError> {
    let unsafe_ = |what: String| RemoteSecretError::Unsafe {
        cluster: id.to_string(),
        what,
    };
    for named in &kc.auth_infos {
        let Some(a) = &named.auth_info else { continue };
        let user = &named.name;
        if let Some(p) = &a.auth_provider {
            if p.name != "oidc" {
                return Err(unsafe_(format!("user {user:?}: auth provider {:?}", p.name)));
            }
        }
        if a.exec.is_some() {
            return Err(unsafe_(format!("user {user:?}: exec")));
        }
        for (field, set) in [
            ("client-certificate (a file)", a.client_certificate.is_some()),
            ("client-key (a file)", a.client_key.is_some()),
            ("tokenFile", a.token_file.is_some()),
        ] {
            if set {
                return Err(unsafe_(format!("user {user:?}: {field}")));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map};

    fn kubeconfig(user: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: west\n  cluster:\n    server: https://10.0.0.1:6443\n    certificate-authority-data: Y2E=\ncontexts:\n- name: west\n  context: {{cluster: west, user: west}}\ncurrent-context: west\nusers:\n- name: west\n  user:\n{user}"
        )
    }

    fn secret(data: &[(&str, &str)]) -> Value {
        let data: Map<String, Value> = data
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    serde_json::to_value(k8s_openapi::ByteString(v.as_bytes().to_vec())).unwrap(),
                )
            })
            .collect();
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "istio-remote-secret-west", "labels": {"istio/multiCluster": "true"}},
               "data": data})
    }

    #[test]
    fn a_token_kubeconfig_is_read_and_the_local_cluster_ignored() {
        let token = kubeconfig("    token: abc\n");
        let s = read(&secret(&[("west", &token), ("east", &token)]), "east");
        assert_eq!(s.clusters.len(), 1);
        assert_eq!(s.clusters[0].id, "west");
        assert_eq!(s.ignored_local, vec!["east".to_string()]);
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
    }

    #[test]
    fn unsafe_kubeconfigs_are_rejected_never_used() {
        let cases = [
            ("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/sh\n      args: [-c, \"curl evil\"]\n", "user \"west\": exec"),
            ("    auth-provider:\n      name: gcp\n      config: {}\n", "user \"west\": auth provider \"gcp\""),
            ("    client-certificate: /etc/passwd\n    client-key-data: a2V5\n", "client-certificate (a file)"),
            ("    client-key: /var/run/secrets/key\n    client-certificate-data: Y2VydA==\n", "client-key (a file)"),
            ("    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token\n", "tokenFile"),
        ];
        for (user, what) in cases {
            let s = read(&secret(&[("west", &kubeconfig(user))]), "east");
            assert!(s.clusters.is_empty(), "{user}");
            assert_eq!(s.rejected.len(), 1);
            let msg = s.rejected[0].to_string();
            assert!(
                msg.contains(what) && msg.contains("is not allowed in a remote secret"),
                "{msg}"
            );
        }
        // OIDC reads no file and runs nothing: allowed, as by istiod.
        let oidc = "    auth-provider:\n      name: oidc\n      config: {id-token: abc, idp-issuer-url: https://idp.example.com}\n";
        assert_eq!(read(&secret(&[("west", &kubeconfig(oidc))]), "east").clusters.len(), 1);
    }

    #[test]
    fn malformed_secrets_are_clear_errors() {
        let bad = json!({"data": {"west": "%%%not-base64"}});
        assert_eq!(
            read(&bad, "east").rejected,
            vec![RemoteSecretError::NotBase64("west".into())]
        );
        let s = read(&secret(&[("west", "clusters: [")]), "east");
        assert!(
            matches!(&s.rejected[0], RemoteSecretError::BadKubeconfig(id, _) if id == "west"),
            "{:?}",
            s.rejected
        );
        let no_server = "apiVersion: v1\nkind: Config\nusers: [{name: u, user: {token: t}}]\n";
        assert_eq!(
            read(&secret(&[("west", no_server)]), "east").rejected,
            vec![RemoteSecretError::NoServer("west".into())]
        );
        // stringData is read too (a Secret written by hand).
        let by_hand = json!({"stringData": {"west": kubeconfig("    token: abc\n")}});
        assert_eq!(read(&by_hand, "east").clusters.len(), 1);
    }
}
