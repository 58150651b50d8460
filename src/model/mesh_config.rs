//! The parts of MeshConfig (ConfigMap `istio`, key `mesh`) that change check outcomes.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeshConfig {
    pub root_namespace: String,
    pub default_service_export_to: Vec<String>,
    pub default_virtual_service_export_to: Vec<String>,
    pub default_destination_rule_export_to: Vec<String>,
    /// `outboundTrafficPolicy.mode`: ALLOW_ANY (Istio's default) or REGISTRY_ONLY.
    pub outbound_allow_any: bool,
    /// `defaultConfig.proxyMetadata.ISTIO_META_DNS_CAPTURE`: sidecars answer DNS,
    /// so ServiceEntries without addresses get an auto-allocated one (istiod 1.25+
    /// allocates without `ISTIO_META_DNS_AUTO_ALLOCATE`).
    pub dns_capture: bool,
    /// `enableAutoMtls` (default true): sidecars send mTLS to sidecars that accept it.
    pub auto_mtls: bool,
    /// `serviceSettings`: (host pattern, `settings.clusterLocal`), in order.
    pub service_settings: Vec<(String, bool)>,
}

impl Default for MeshConfig {
    fn default() -> Self {
        MeshConfig {
            root_namespace: "istio-system".to_string(),
            default_service_export_to: Vec::new(),
            default_virtual_service_export_to: Vec::new(),
            default_destination_rule_export_to: Vec::new(),
            outbound_allow_any: true,
            dns_capture: false,
            auto_mtls: true,
            service_settings: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("MeshConfig `mesh` is not valid YAML: {0}")]
pub struct MeshConfigError(String);

impl MeshConfig {
    /// Reads the `mesh` text of the ConfigMap; absent fields keep Istio's defaults.
    pub fn from_mesh_text(text: &str) -> Result<MeshConfig, MeshConfigError> {
        let docs = crate::manifest::yaml::parse_documents(text).map_err(|e| MeshConfigError(e.to_string()))?;
        let value = docs.into_iter().next().map(|d| d.value).unwrap_or(Value::Null);
        Ok(Self::from_value(&value))
    }

    pub fn from_value(v: &Value) -> MeshConfig {
        let mut mc = MeshConfig::default();
        if let Some(ns) = v.get("rootNamespace").and_then(Value::as_str).filter(|s| !s.is_empty()) {
            mc.root_namespace = ns.to_string();
        }
        let strings = |key: &str| -> Vec<String> {
            v.get(key)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default()
        };
        mc.default_service_export_to = strings("defaultServiceExportTo");
        mc.default_virtual_service_export_to = strings("defaultVirtualServiceExportTo");
        mc.default_destination_rule_export_to = strings("defaultDestinationRuleExportTo");
        if let Some(mode) = v.pointer("/outboundTrafficPolicy/mode").and_then(Value::as_str) {
            mc.outbound_allow_any = mode != "REGISTRY_ONLY";
        }
        mc.dns_capture = v
            .pointer("/defaultConfig/proxyMetadata/ISTIO_META_DNS_CAPTURE")
            .and_then(Value::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case("true"));
        mc.auto_mtls = v.get("enableAutoMtls").and_then(Value::as_bool).unwrap_or(true);
        for setting in v.get("serviceSettings").and_then(Value::as_array).into_iter().flatten() {
            let local = setting
                .pointer("/settings/clusterLocal")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            for h in setting.get("hosts").and_then(Value::as_array).into_iter().flatten() {
                if let Some(h) = h.as_str() {
                    mc.service_settings.push((h.to_string(), local));
                }
            }
        }
        mc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let d = MeshConfig::from_mesh_text("").unwrap();
        assert_eq!(d, MeshConfig::default());
        let mc = MeshConfig::from_mesh_text(
            "rootNamespace: mesh-root\ndefaultServiceExportTo: [\".\"]\noutboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n",
        )
        .unwrap();
        assert_eq!(mc.root_namespace, "mesh-root");
        assert_eq!(mc.default_service_export_to, ["."]);
        assert!(!mc.outbound_allow_any);
        assert!(mc.auto_mtls);
        assert!(!MeshConfig::from_mesh_text("enableAutoMtls: false\n").unwrap().auto_mtls);
    }
}
