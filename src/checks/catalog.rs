//! The check registry: every code meshgate reports, with its default severity and
//! documentation. `docs/checks.md` is generated from this table (a test keeps the
//! two equal), so the docs cannot drift from the code. Codes are stable: never
//! renumber, never reuse.

use crate::finding::Severity;

#[derive(Debug, PartialEq, Eq)]
pub struct Check {
    pub code: &'static str,
    pub severity: Severity,
    /// The kind of object the finding is reported on.
    pub kind: &'static str,
    /// C/U: create/update of the subject; D: delete/update of a referent.
    pub phase: &'static str,
    pub condition: &'static str,
    /// The `istioctl analyze` (IST) or Kiali (KIA) equivalent.
    pub peer: &'static str,
    /// A pointer such a finding carries.
    pub example: &'static str,
}

macro_rules! checks {
    ($($id:ident = $code:literal, $sev:ident, $kind:literal, $phase:literal, $peer:literal, $example:literal, $cond:literal;)*) => {
        $(pub static $id: Check = Check {
            code: $code,
            severity: Severity::$sev,
            kind: $kind,
            phase: $phase,
            condition: $cond,
            peer: $peer,
            example: $example,
        };)*
        /// Every check, in code order.
        pub static CATALOG: &[&Check] = &[$(&$id),*];
    };
}

checks! {
    MG0001 = "MG0001", Error, "any Istio kind", "C/U", "—", "/spec/http/0/route",
        "The object cannot be read into the shape the checks need; the message names the field and what was expected.";
    MG0002 = "MG0002", Warning, "any Istio kind", "C/U", "—", "/metadata/labels/istio.io~1rev",
        "The `istio.io/rev` label names a revision no known control plane has: no istiod reads this object. A revision tag (MutatingWebhookConfiguration labelled `istio.io/tag`) steers injection only, so a tag here is reported too, naming the revision it points at. Silent when the view knows no control plane.";
    MG0003 = "MG0003", Error, "VirtualService, DestinationRule, ServiceEntry", "C/U", "KIA0005", "/spec/exportTo/0",
        "`exportTo` names a namespace that does not exist.";
    MG0101 = "MG0101", Error, "VirtualService", "C/U; D of Gateway", "IST0101 gateway, KIA1102", "/spec/http/0/match/0/gateways/1",
        "A gateway named in `spec.gateways` or `{http,tls,tcp}[].match[].gateways` does not exist.";
    MG0102 = "MG0102", Error, "VirtualService", "C/U; D of Service/ServiceEntry", "IST0101 host, KIA1101", "/spec/http/0/route/0/destination/host",
        "A route or mirror destination host matches no Service or ServiceEntry visible to the VirtualService's clients. A warning instead for an external host under MeshConfig `outboundTrafficPolicy: ALLOW_ANY`, or for a host only a wildcard ServiceEntry covers (istiod builds no cluster for it).";
    MG0103 = "MG0103", Error, "VirtualService", "C/U; D/U of DestinationRule", "IST0101 host+subset, KIA1107", "/spec/http/0/route/0/destination/subset",
        "A route or mirror destination `subset` is defined by no DestinationRule that istiod's lookup finds for that host from the VirtualService's namespace.";
    MG0104 = "MG0104", Error, "VirtualService", "C/U; U of Service", "IST0101 host:port", "/spec/http/0/route/0/destination/port/number",
        "A destination `port.number` is not a port of the Service or ServiceEntry it resolves to.";
    MG0105 = "MG0105", Error, "VirtualService", "C/U", "IST0112", "/spec/http/0/route/0/destination",
        "An HTTP route destination names no port while the Service or ServiceEntry exposes several.";
    MG0106 = "MG0106", Warning, "VirtualService", "C/U", "IST0132", "/spec/gateways/0",
        "For a bound Gateway that exists, none of the VirtualService's hosts is served by the Gateway's servers (including the `ns/host` namespace restriction).";
    MG0107 = "MG0107", Error, "VirtualService", "C/U", "—", "/spec/http/0/delegate/name",
        "`http[].delegate` names a VirtualService that does not exist.";
    MG0108 = "MG0108", Error, "VirtualService", "C/U", "IST0109, KIA1106", "/spec/hosts/0",
        "Another mesh-bound VirtualService already defines the same host in an overlapping exportTo scope; istiod uses only one of them.";
    MG0109 = "MG0109", Warning, "VirtualService", "C/U", "IST0130, IST0131", "/spec/http/1",
        "An `http[]` rule can never match: it comes after a rule that matches every request, or repeats an earlier rule's match.";
    MG0110 = "MG0110", Warning, "VirtualService", "C/U", "KIA1104, KIA1105", "/spec/http/0/route/0/weight",
        "A route with a single destination whose weight is under 100, or with the same host, subset and port twice.";
    MG0111 = "MG0111", Warning, "VirtualService", "C/U", "IST0140", "/spec/http/0/route/0/destination/host",
        "A gateway-bound VirtualService routes to a host without subset while another VirtualService routes that host by subsets.";
    MG0112 = "MG0112", Warning, "VirtualService", "C/U", "IST0149", "/spec/http/0/match/0/headers/@request.auth.claims.group",
        "An `http[].match[].headers` (or `withoutHeaders`) key on `@request.auth.claims.*` applies at a Gateway whose workload no RequestAuthentication covers (its namespace's, selecting it or namespace-wide, or the root namespace's): the claim is never set and the match never succeeds.";
    MG0201 = "MG0201", Warning, "DestinationRule", "C/U", "IST0174, KIA0202", "/spec/host",
        "The `host` resolves to no Service or ServiceEntry visible to the rule's clients.";
    MG0202 = "MG0202", Warning, "DestinationRule", "C/U", "IST0173, KIA0203", "/spec/subsets/0/labels",
        "A subset's labels, together with the Service's selector, select no workload behind the host. Node topology labels (`topology.kubernetes.io/region|zone`, `topology.istio.io/subzone`, `kubernetes.io/hostname`) are matched against the labels of the Node each Pod runs on; not judged when the view holds no Nodes or the Pod's Node is unknown.";
    MG0203 = "MG0203", Warning, "DestinationRule", "C/U", "KIA0201", "/spec/host",
        "Another DestinationRule for the same host in the same namespace defines the same subset, or both define none (istiod merges same-namespace rules; rules of other namespaces never compete, since its lookup takes the client's namespace first).";
    MG0204 = "MG0204", Error, "DestinationRule", "C/U", "KIA0207/0208", "/spec/trafficPolicy/tls/mode",
        "TLS mode DISABLE toward a host whose workloads a STRICT PeerAuthentication covers (workload, then namespace, then mesh-wide policy): the requests will fail.";
    MG0205 = "MG0205", Warning, "DestinationRule", "C/U", "IST0128, IST0129", "/spec/trafficPolicy/tls/mode",
        "TLS mode SIMPLE or MUTUAL (top level, per port or per subset) with no `caCertificates` or `credentialName`: the server is not verified.";
    MG0301 = "MG0301", Warning, "Gateway", "C/U", "IST0101 selector, KIA0302", "/spec/selector",
        "The `selector` matches no gateway workload in any namespace.";
    MG0302 = "MG0302", Warning, "Gateway", "C/U", "IST0162", "/spec/servers/0/port/number",
        "A server port is neither a `port` nor a `targetPort` of a Service selecting the gateway workloads.";
    MG0303 = "MG0303", Warning, "Gateway", "C/U", "IST0101 credentialName", "/spec/servers/0/tls/credentialName",
        "A server's TLS `credentialName` names a Secret that does not exist in the namespace of the gateway workloads the Gateway selects.";
    MG0304 = "MG0304", Error, "Gateway", "C/U", "IST0145, KIA0301", "/spec/servers/0",
        "Another Gateway selecting a workload this one selects serves the same port for an overlapping host; the message names it.";
    MG0305 = "MG0305", Info, "Gateway", "C/U", "—", "/metadata/name",
        "No VirtualService visible to the Gateway's namespace binds this Gateway: every request gets 404.";
    MG0306 = "MG0306", Warning, "Gateway", "C/U", "IST0138", "/spec/servers/0/tls/credentialName",
        "Another Gateway on the same workloads uses the same TLS certificate (`credentialName`).";
    MG0401 = "MG0401", Error, "ServiceEntry; VirtualService, Gateway", "C/U; D of Gateway/Service", "—", "/spec/hosts/0",
        "A MESH_EXTERNAL ServiceEntry host's egress path is declared but dead: a Gateway serving the host selects no workload, or a mesh VirtualService routes the host to an egress gateway Service that does not exist. Also reported on a VirtualService of such a path (at the dead gateway reference or route destination, including when its egress Gateway is deleted) and on a Gateway serving an external host with no workload (at the server host).";
    MG0402 = "MG0402", Warning, "ServiceEntry", "C/U", "—", "/spec/hosts/0",
        "A MESH_EXTERNAL ServiceEntry host has no egress path (no Gateway serves it and no mesh VirtualService routes it to an egress gateway: traffic leaves from the sidecars directly), or only part of one; the message says which part is missing. An error when the policy sets `requireEgressGateway`.";
    MG0403 = "MG0403", Warning, "ServiceEntry", "C/U", "IST0134", "/spec/ports/0/protocol",
        "A TCP or unset-protocol port on a ServiceEntry with no `addresses`, while MeshConfig does not turn on DNS auto-allocation.";
    MG0404 = "MG0404", Warning, "ServiceEntry", "C/U", "IST0177, KIA1211/1212", "/spec/hosts/0",
        "Another ServiceEntry visible to the same namespaces declares the same host and port, with another protocol or as a duplicate.";
    MG0405 = "MG0405", Warning, "ServiceEntry", "C/U", "—", "/spec/resolution",
        "`resolution: STATIC` with a wildcard host, or `DNS` with a wildcard host and no endpoints. (`NONE` with wildcard hosts is istiod's supported pass-through and is not reported.)";
    MG0501 = "MG0501", Error, "EnvoyFilter", "C/U", "—", "/spec/configPatches/0/match/proxy/proxyVersion",
        "`match.proxy.proxyVersion` (RE2, unanchored) matches none of the proxies the patch applies to (the filter's namespace or, in the root namespace, the mesh; narrowed by workloadSelector, match.context and the filter's `istio.io/rev`) and none of the installed control-plane versions: the patch is dead. A warning when no proxy in scope has a known version.";
    MG0502 = "MG0502", Error, "EnvoyFilter", "C/U", "—", "/spec/configPatches/0/match/proxy/proxyVersion",
        "`proxyVersion` is not a valid RE2 regular expression.";
    MG0503 = "MG0503", Warning, "EnvoyFilter", "C/U", "—", "/spec/workloadSelector",
        "`workloadSelector` selects no workload.";
    MG0504 = "MG0504", Warning, "EnvoyFilter", "C/U", "IST0151, IST0155", "/spec/configPatches/0/patch/operation",
        "A relative operation (INSERT_BEFORE, INSERT_AFTER, REPLACE, REMOVE) with `priority: 0`: its order against other filters is undefined.";
    MG0505 = "MG0505", Error, "EnvoyFilter", "C/U", "IST0152–IST0154", "/spec/configPatches/0/patch/operation",
        "The operation is not valid for its `applyTo` (REPLACE outside HTTP_FILTER, NETWORK_FILTER, VIRTUAL_HOST; ADD or REMOVE on ROUTE_CONFIGURATION or HTTP_ROUTE): istiod ignores it.";
    MG0506 = "MG0506", Warning, "EnvoyFilter", "C/U", "—", "/spec/configPatches/0/match/context",
        "`match.context` GATEWAY with no gateway proxy in scope, or SIDECAR_* with no sidecar in scope.";
    MG0601 = "MG0601", Warning, "PeerAuthentication, RequestAuthentication, AuthorizationPolicy", "C/U", "IST0127, KIA0004", "/spec/selector",
        "The `selector` matches no workload (of the policy's namespace; of any namespace for a policy in the root namespace).";
    MG0602 = "MG0602", Error, "PeerAuthentication", "C/U", "KIA0002", "/metadata/name",
        "A second selector-less PeerAuthentication in the same namespace (mesh-wide in the root namespace); the message names the other.";
    MG0603 = "MG0603", Warning, "PeerAuthentication", "C/U", "KIA0501", "/spec/mtls/mode",
        "STRICT mTLS while a DestinationRule turns TLS off (`mode: DISABLE`) toward workloads this policy covers; the message names the rules.";
    MG0604 = "MG0604", Warning, "AuthorizationPolicy", "C/U", "IST0101 namespace, KIA0101", "/spec/rules/0/from/0/source/namespaces/0",
        "`source.namespaces` or `notNamespaces` names a namespace that does not exist (`*`, prefix and suffix patterns are not names).";
    MG0605 = "MG0605", Warning, "AuthorizationPolicy", "C/U", "KIA0106", "/spec/rules/0/from/0/source/principals/0",
        "A principal `<trust domain>/ns/<ns>/sa/<sa>` names a ServiceAccount that neither exists nor is used by a workload.";
    MG0606 = "MG0606", Warning, "AuthorizationPolicy", "C/U", "KIA0104", "/spec/rules/0/to/0/operation/hosts/0",
        "`to.operation.hosts` or `notHosts` names a host no Service or ServiceEntry declares.";
    MG0607 = "MG0607", Error, "AuthorizationPolicy", "C/U", "KIA0105", "/spec/rules/0/from/0/source/principals",
        "`source.principals`/`notPrincipals` or `namespaces`/`notNamespaces` (identities only mTLS carries) for workloads that accept plaintext: their effective PeerAuthentication mode is DISABLE, or PERMISSIVE while MeshConfig sets `enableAutoMtls: false`. One finding per such list.";
    MG0701 = "MG0701", Warning, "Sidecar", "C/U", "KIA1004", "/spec/egress/0/hosts/0",
        "An `egress[].hosts` entry `namespace/host` names a namespace that does not exist, or a host no Service or ServiceEntry of that namespace declares.";
    MG0702 = "MG0702", Error, "Sidecar", "C/U", "IST0111, KIA0002", "/metadata/name",
        "A second Sidecar without `workloadSelector` in the namespace; the message names the other.";
    MG0703 = "MG0703", Warning, "Sidecar", "C/U", "IST0110, KIA0003", "/spec/workloadSelector",
        "The `workloadSelector` selects no workload, or selects a workload another Sidecar selects too.";
    MG0704 = "MG0704", Warning, "Sidecar", "C/U", "KIA1006", "/spec/workloadSelector",
        "A Sidecar in the root namespace has a `workloadSelector`: the mesh-wide default must not have one.";
    MG0801 = "MG0801", Info, "Service", "C/U", "IST0118, KIA0601", "/spec/ports/0/name",
        "A port of a Service in the mesh (it selects a workload with a proxy) whose name (`<protocol>[-suffix]`) and `appProtocol` give no protocol.";
}

pub fn lookup(code: &str) -> Option<&'static Check> {
    CATALOG.iter().copied().find(|c| c.code == code)
}

/// The Markdown table of `docs/checks.md`.
pub fn markdown() -> String {
    let mut s = String::from(
        "# Check catalog\n\n\
         Generated from the check registry in `src/checks/catalog.rs` by `meshgate catalog`; \
         a test fails when this file and the registry differ. Codes are stable: never renumbered, never reused.\n\n\
         Severity is the default; the admission action follows from the policy (error → deny, warning → warn, info → audit). \
         Phase: C/U = create/update of the subject, D = delete or update of a referent (impact analysis).\n\n\
         | code | severity | reported on | phase | condition | istioctl / Kiali | example pointer |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for c in CATALOG {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | `{}` |\n",
            c.code, c.severity, c.kind, c.phase, c.condition, c.peer, c.example
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_ordered() {
        for w in CATALOG.windows(2) {
            assert!(w[0].code < w[1].code, "{} !< {}", w[0].code, w[1].code);
        }
    }

    #[test]
    fn docs_checks_md_matches_the_registry() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/checks.md");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == markdown(),
            "docs/checks.md differs from the registry: run `cargo run -- catalog > docs/checks.md`"
        );
    }
}
