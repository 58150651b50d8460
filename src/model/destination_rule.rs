//! The fields of a DestinationRule that checks and indexes read.

use std::collections::BTreeMap;

use jsonptr::PointerBuf;
use serde_json::Value;

use super::fields::{self, child, index, Problems};
use super::Object;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DestinationRuleSpec {
    /// As written; see `ParsedDestinationRule::host` for the resolved FQDN.
    pub host: Option<String>,
    pub subsets: Vec<Subset>,
    pub export_to: Vec<String>,
    pub has_workload_selector: bool,
    /// Every `tls` block: top level, per port, per subset.
    pub tls: Vec<TlsSetting>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSetting {
    pub mode: Option<String>,
    /// `credentialName`, when set and not empty.
    pub credential_name: Option<String>,
    /// Both `clientCertificate` and `privateKey` set (MUTUAL from files).
    pub client_cert_and_key: bool,
    pub insecure_skip_verify: bool,
    /// The Service port of a `portLevelSettings` entry; `None`: every port but
    /// those in `overridden_ports`.
    pub port: Option<u32>,
    /// Ports whose own `portLevelSettings[].tls` replaces this (top-level) one.
    pub overridden_ports: Vec<u32>,
    /// The subset whose traffic policy holds it.
    pub subset: Option<String>,
    /// The `tls` object.
    pub pointer: PointerBuf,
}

impl DestinationRuleSpec {
    /// The `tls` block that applies to the cluster of a Service port and
    /// subset: the subset's own (port level first), else the top level's
    /// (port level first), as istiod merges a subset's traffic policy.
    pub fn tls_for(&self, port: u32, subset: Option<&str>) -> Option<&TlsSetting> {
        let at_level = |level: Option<&str>| {
            let here = || self.tls.iter().filter(move |t| t.subset.as_deref() == level);
            here()
                .find(|t| t.port == Some(port))
                .or_else(|| here().find(|t| t.port.is_none() && !t.overridden_ports.contains(&port)))
        };
        subset.and_then(|s| at_level(Some(s))).or_else(|| at_level(None))
    }
}

fn read_policy(
    policy: Option<&Value>,
    subset: Option<&str>,
    at: &jsonptr::Pointer,
    out: &mut Vec<TlsSetting>,
    p: &mut Problems,
) {
    let Some(tp) = fields::mapping(policy, at, p) else {
        return;
    };
    let mut port_level = Vec::new();
    let pls_at = child(at, "portLevelSettings");
    for (i, pl) in fields::list(tp.get("portLevelSettings"), &pls_at, p).iter().enumerate() {
        let here = index(&pls_at, i);
        if let Some(pl) = fields::mapping(Some(pl), &here, p) {
            let port_at = child(&here, "port");
            let port = fields::mapping(pl.get("port"), &port_at, p)
                .and_then(|pm| fields::port_field(pm, "number", &port_at, p));
            if let Some(t) = read_tls(pl.get("tls"), &child(&here, "tls"), p) {
                port_level.push(TlsSetting {
                    port,
                    subset: subset.map(str::to_string),
                    ..t
                });
            }
        }
    }
    if let Some(t) = read_tls(tp.get("tls"), &child(at, "tls"), p) {
        out.push(TlsSetting {
            overridden_ports: port_level.iter().filter_map(|t| t.port).collect(),
            subset: subset.map(str::to_string),
            ..t
        });
    }
    out.extend(port_level);
}

fn read_tls(tls: Option<&Value>, at: &jsonptr::Pointer, p: &mut Problems) -> Option<TlsSetting> {
    let t = fields::mapping(tls, at, p)?;
    let set = |k: &str| t.get(k).and_then(Value::as_str).is_some_and(|s| !s.is_empty());
    Some(TlsSetting {
        mode: fields::str_field(t, "mode", at, p).map(str::to_string),
        credential_name: t
            .get("credentialName")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_string),
        client_cert_and_key: set("clientCertificate") && set("privateKey"),
        insecure_skip_verify: t.get("insecureSkipVerify").and_then(Value::as_bool).unwrap_or(false),
        port: None,
        overridden_ports: Vec::new(),
        subset: None,
        pointer: at.to_buf(),
    })
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subset {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub pointer: PointerBuf,
}

pub fn parse(obj: &Object, p: &mut Problems) -> DestinationRuleSpec {
    let mut spec = DestinationRuleSpec::default();
    let root = PointerBuf::parse("/spec").unwrap_or_default();
    let Some(m) = fields::spec(&obj.value, p) else {
        return spec;
    };
    spec.host = fields::str_field(m, "host", &root, p).map(str::to_string);
    if spec.host.is_none() {
        p.invalid(&child(&root, "host"), "a DestinationRule needs a host");
    }
    spec.export_to = fields::string_list(m, "exportTo", &root, p)
        .into_iter()
        .map(|l| l.value)
        .collect();
    spec.has_workload_selector = m.get("workloadSelector").is_some_and(|v| !v.is_null());
    let mut tls = Vec::new();
    read_policy(
        m.get("trafficPolicy"),
        None,
        &child(&root, "trafficPolicy"),
        &mut tls,
        p,
    );
    let at = child(&root, "subsets");
    for (i, s) in fields::list(m.get("subsets"), &at, p).iter().enumerate() {
        let here = index(&at, i);
        let Some(s) = fields::mapping(Some(s), &here, p) else {
            continue;
        };
        let subset_name = s.get("name").and_then(Value::as_str);
        read_policy(
            s.get("trafficPolicy"),
            subset_name,
            &child(&here, "trafficPolicy"),
            &mut tls,
            p,
        );
        match fields::str_field(s, "name", &here, p) {
            Some(name) => spec.subsets.push(Subset {
                name: name.to_string(),
                labels: fields::string_map(s, "labels", &here, p),
                pointer: here,
            }),
            None => p.invalid(&child(&here, "name"), "a subset needs a name"),
        }
    }
    spec.tls = tls;
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> DestinationRuleSpec {
        let doc = format!("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: r, namespace: default}}\nspec:\n{yaml}");
        let obj = crate::manifest::parse_text("t", &doc, "default")
            .unwrap()
            .remove(0)
            .object;
        parse(&obj, &mut Problems::default())
    }

    #[test]
    fn tls_for_takes_subset_then_port_level_first() {
        let dr = spec("  host: reviews\n  trafficPolicy:\n    tls: {mode: DISABLE}\n    portLevelSettings:\n    - port: {number: 9443}\n      tls: {mode: SIMPLE}\n  subsets:\n  - name: v2\n    labels: {version: v2}\n    trafficPolicy:\n      tls: {mode: ISTIO_MUTUAL}\n  - name: v3\n    labels: {version: v3}\n");
        let mode = |port, subset| dr.tls_for(port, subset).and_then(|t| t.mode.as_deref());
        assert_eq!(mode(9080, None), Some("DISABLE"));
        assert_eq!(mode(9443, None), Some("SIMPLE"));
        assert_eq!(mode(9080, Some("v2")), Some("ISTIO_MUTUAL"));
        assert_eq!(mode(9443, Some("v2")), Some("ISTIO_MUTUAL"));
        // A subset without its own tls keeps the top level's.
        assert_eq!(mode(9080, Some("v3")), Some("DISABLE"));
        assert_eq!(spec("  host: reviews\n").tls_for(9080, None), None);
    }
}
