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
    /// What breaks, as the user meets it (`503 NC`, `404 NR`, `filter not
    /// applied`, `plaintext`...): every error says so; "—" for advice.
    pub consequence: &'static str,
}

macro_rules! checks {
    ($($id:ident = $code:literal, $sev:ident, $kind:literal, $phase:literal, $peer:literal, $example:literal, $cons:literal, $cond:literal;)*) => {
        $(pub static $id: Check = Check {
            code: $code,
            severity: Severity::$sev,
            kind: $kind,
            phase: $phase,
            condition: $cond,
            peer: $peer,
            example: $example,
            consequence: $cons,
        };)*
        /// Every check, in code order.
        pub static CATALOG: &[&Check] = &[$(&$id),*];
    };
}

checks! {
    MG0001 = "MG0001", Error, "any Istio kind", "C/U", "—", "/spec/http/0/route", "rejected by Istio's validation, or ignored by istiod",
        "The object cannot be read into the shape the checks need; the message names the field and what was expected.";
    MG0002 = "MG0002", Warning, "any Istio kind", "C/U", "—", "/metadata/labels/istio.io~1rev", "config ignored (no istiod reads it)",
        "The `istio.io/rev` label names a revision no known control plane has: no istiod reads this object. A revision tag (MutatingWebhookConfiguration labelled `istio.io/tag`) steers injection only, so a tag here is reported too, naming the revision it points at. Silent when the view knows no control plane.";
    MG0003 = "MG0003", Warning, "VirtualService, DestinationRule, ServiceEntry", "C/U", "KIA0005", "/spec/exportTo/0", "—",
        "`exportTo` names a namespace that does not exist. istiod ignores that entry, and the namespace may simply not exist yet: advice, not a break.";
    MG0101 = "MG0101", Error, "VirtualService", "C/U; D of Gateway", "IST0101 gateway, KIA1102", "/spec/http/0/match/0/gateways/1", "404 NR at that gateway",
        "A gateway named in `spec.gateways` or `{http,tls,tcp}[].match[].gateways` does not exist.";
    MG0102 = "MG0102", Error, "VirtualService", "C/U; D of Service/ServiceEntry", "IST0101 host, KIA1101", "/spec/http/0/route/0/destination/host", "503 NC",
        "A route or mirror destination host matches no Service or ServiceEntry visible to the VirtualService's clients: istiod builds no cluster for it. A warning instead for an external host under MeshConfig `outboundTrafficPolicy: ALLOW_ANY`, or for a host that only a wildcard ServiceEntry visible to those clients covers.";
    MG0103 = "MG0103", Error, "VirtualService", "C/U; D/U of DestinationRule", "IST0101 host+subset, KIA1107", "/spec/http/0/route/0/destination/subset", "503 NC",
        "A route or mirror destination `subset` is defined by no DestinationRule that istiod's lookup finds for that host from the VirtualService's namespace, so cluster `outbound|port|subset|host` does not exist. Judged even when the host does not resolve (over the client namespaces, the namespace a `name.ns.svc` host names, and the root namespace). A warning when rules of one host and namespace have different `exportTo` (istiod keeps them apart and a sidecar uses the one created last) and only some define the subset.";
    MG0104 = "MG0104", Error, "VirtualService", "C/U; U of Service", "IST0101 host:port", "/spec/http/0/route/0/destination/port/number", "503 NC",
        "A destination `port.number` is not a port of the Service or ServiceEntry it resolves to: cluster `outbound|port||host` does not exist. Also a sidecar (mesh) HTTP route that names no port: sidecars keep the port the request came in on, so when the destination lacks every HTTP port of the VirtualService's hosts, no cluster exists (an error; a warning when it lacks only some of them); a delegate's ports are those of the mesh VirtualServices delegating to it. Shown by istiod's generator (`tests/oracle.rs`).";
    MG0105 = "MG0105", Error, "VirtualService", "C/U", "IST0112", "/spec/http/0/route/0/destination", "503 NC at the gateway",
        "A route that applies at a Gateway names no destination port, the destination has several ports, and none equals that Gateway server's port: istiod then uses the server's port and that cluster does not exist. Mesh routes never (a sidecar uses the port the client called), nor a destination with one port.";
    MG0106 = "MG0106", Warning, "VirtualService", "C/U", "IST0132", "/spec/gateways/0", "404 NR for these hosts at that gateway",
        "For a bound Gateway that exists, none of the VirtualService's hosts is served by the Gateway's servers (including the `ns/host` namespace restriction).";
    MG0107 = "MG0107", Error, "VirtualService", "C/U", "—", "/spec/http/0/delegate/name", "delegating route dropped: its requests take a later route, the Service's default route at sidecars, or 404 NR at a gateway",
        "`http[].delegate` names a VirtualService that does not exist: istiod drops the delegating route. Its requests go to the next route that matches them; when no route is left, sidecars use the host's default route (none of the VirtualService's rules) and a gateway has no virtual host for it (404 NR). Shown by istiod's generator (`tests/oracle.rs`).";
    MG0108 = "MG0108", Error, "VirtualService", "C/U", "IST0109, KIA1106", "/spec/hosts/0", "routes of one VirtualService dropped",
        "Another mesh-bound VirtualService already defines the same host in an overlapping exportTo scope; istiod uses only one of them for sidecars.";
    MG0109 = "MG0109", Warning, "VirtualService", "C/U", "IST0130, IST0131", "/spec/http/1", "rule never used",
        "A rule of `http[]`, `tls[]` or `tcp[]` can never match: an earlier rule of the same list matches everything (tcp/tls: no `match`; http: no `match`, an empty match entry, or only `uri.prefix: /`), or each of its match entries (compared without `name`) is an entry of some earlier rule of the list.";
    MG0110 = "MG0110", Warning, "VirtualService", "C/U", "KIA1104, KIA1105", "/spec/http/0/route/0/weight", "—",
        "A route with a single destination whose weight is under 100, or with the same host, subset and port twice.";
    MG0111 = "MG0111", Warning, "VirtualService", "C/U", "IST0140", "/spec/http/0/route/0/destination/host", "gateway traffic skips the subset split",
        "A gateway-bound VirtualService routes to a host without subset while another VirtualService routes that host by subsets.";
    MG0112 = "MG0112", Warning, "VirtualService", "C/U", "IST0149", "/spec/http/0/match/0/headers/@request.auth.claims.group", "match never succeeds",
        "An `http[].match[].headers` (or `withoutHeaders`) key on `@request.auth.claims.*` applies at a Gateway whose workload no RequestAuthentication covers (its namespace's, selecting it or namespace-wide, or the root namespace's): the claim is never set and the match never succeeds.";
    MG0113 = "MG0113", Info, "VirtualService", "C/U", "—", "/spec/http/0/route/0/destination/host", "—",
        "A destination host that only remote clusters of a multi-cluster mesh serve (meshgate reads them through its remote secrets, as istiod does): valid, and istiod sends the requests there; the message names the clusters, so a reader knows the route leaves this cluster. A warning when the host is cluster-local (MeshConfig `serviceSettings`, or istiod's defaults: `*.kube-system`, `kubernetes.default`, istiod): istiod then sends only this cluster's endpoints, none, and requests get 503 UH.";
    MG0201 = "MG0201", Warning, "DestinationRule", "C/U", "IST0174, KIA0202", "/spec/host", "rule applies to nothing",
        "The `host` resolves to no Service or ServiceEntry visible to the rule's clients.";
    MG0202 = "MG0202", Warning, "DestinationRule", "C/U", "IST0173, KIA0203", "/spec/subsets/0/labels", "503 UH for routes to the subset",
        "A subset's labels, together with the Service's selector, select no endpoint behind the host. Endpoint labels are istiod's: the Pod's labels, locality labels from non-empty values only (region/zone/subzone from the Pod's `topology.istio.io/locality` or `istio-locality` label, else its Node's), `kubernetes.io/hostname` from `spec.nodeName`; a key the endpoint lacks does not match. What cannot be known (a template, an unscheduled Pod, no Nodes in the view) counts as matching.";
    MG0203 = "MG0203", Warning, "DestinationRule", "C/U", "KIA0201", "/spec/host", "one definition dropped",
        "Another DestinationRule for the same host in the same namespace defines the same subset, or both define none (istiod merges same-namespace rules; rules of other namespaces never compete, since its lookup takes the client's namespace first).";
    MG0204 = "MG0204", Error, "DestinationRule", "C/U", "KIA0207/0208", "/spec/trafficPolicy/tls/mode", "503 (connection reset: plaintext to an mTLS-only port)",
        "TLS mode DISABLE toward workload ports whose effective mTLS mode is STRICT (workload, then namespace, then mesh-wide PeerAuthentication; a `portLevelMtls` entry overrides its policy's mode on that target port): the server rejects the plaintext connections.";
    MG0205 = "MG0205", Warning, "DestinationRule", "C/U", "IST0128, IST0129", "/spec/trafficPolicy/tls/mode", "plaintext, unverified server, or TLS settings rejected",
        "SIMPLE or MUTUAL TLS (top level, per port, per subset) that istiod will not apply as written: `credentialName` (not `configmap://`) in a DestinationRule without `workloadSelector` is dropped for sidecars with the whole TLS block, so traffic leaves in plaintext; `insecureSkipVerify: true`; MUTUAL with neither `credentialName` nor client certificate and key. Not reported when sidecars route the host to an egress gateway (TLS origination there honours `credentialName`). An empty `caCertificates` is fine: since Istio 1.21 it means the system trust store.";
    MG0301 = "MG0301", Warning, "Gateway", "C/U", "IST0101 selector, KIA0302", "/spec/selector", "no proxy serves the Gateway",
        "The `selector` matches no gateway workload in any namespace.";
    MG0302 = "MG0302", Warning, "Gateway", "C/U", "IST0162", "/spec/servers/0/port/number", "port unreachable from outside",
        "A server port is neither a `port` nor a `targetPort` of a Service selecting the gateway workloads.";
    MG0303 = "MG0303", Warning, "Gateway", "C/U", "IST0101 credentialName", "/spec/servers/0/tls/credentialName", "TLS handshake fails",
        "A server's TLS `credentialName` names a Secret that does not exist in the namespace of the gateway workloads the Gateway selects.";
    MG0304 = "MG0304", Error, "Gateway", "C/U", "IST0145, KIA0301", "/spec/servers/0", "server skipped: its connections reach the kept server (reset, or sent to the wrong backend)",
        "Another Gateway selecting a shared workload, or an earlier server of the same Gateway, has a server on the same port and `bind` that istiod's MergeGateways cannot merge with this one: the same SNI host on TLS servers (namespace prefix dropped), two non-HTTP plaintext servers, or plaintext next to TLS. istiod keeps the server created first (within one Gateway: the earlier one, so the later is reported; not when the earlier one conflicts with another Gateway too, whose findings speak; a warning when the later one's hosts are all on the earlier one, as the same VirtualServices serve them and only its TLS settings are dropped) and skips the other whole; the skipped server's clients reach the kept one's filter chain: a duplicate SNI host is served by the kept server, its other hosts are reset; a TCP or TLS stream on a plaintext HTTP port is closed (protocol error); HTTP on a TCP server's port goes to that server's TCP route. Plaintext HTTP servers on one port merge: never a conflict. Shown by istiod's generator (`tests/oracle.rs`).";
    MG0305 = "MG0305", Info, "Gateway", "C/U", "—", "/metadata/name", "404 NR for every request",
        "No VirtualService visible to the Gateway's namespace binds this Gateway: every request gets 404.";
    MG0306 = "MG0306", Warning, "Gateway", "C/U", "IST0138", "/spec/servers/0/tls/credentialName", "HTTP/2 requests may reach the wrong server (404)",
        "Another Gateway on the same workloads uses the same TLS certificate (`credentialName`).";
    MG0401 = "MG0401", Error, "ServiceEntry; VirtualService, Gateway", "C/U; D of Gateway/Service", "—", "/spec/hosts/0", "503 (no healthy upstream at the egress gateway)",
        "A MESH_EXTERNAL ServiceEntry host's egress path is declared but dead: a Gateway serving the host selects no workload, or the Service a mesh route sends the host to selects none of the egress Gateway's workloads (a route to an unregistered host is MG0102). Also reported on a VirtualService of such a path and on a Gateway serving an external host with no workload.";
    MG0402 = "MG0402", Warning, "ServiceEntry", "C/U", "—", "/spec/hosts/0", "traffic bypasses the egress gateway",
        "A MESH_EXTERNAL ServiceEntry host has no egress path (no Gateway serves it and no mesh VirtualService routes it to an egress gateway: traffic leaves from the sidecars directly), or only part of one; the message says which part is missing. Info when the mesh shows no sign of egress gateways (no egress gateway workload, no Gateway selecting one, outbound policy ALLOW_ANY); an error when the policy sets `requireEgressGateway`.";
    MG0403 = "MG0403", Warning, "ServiceEntry", "C/U", "IST0134", "/spec/ports/0/protocol", "TCP traffic to the host not told apart",
        "A TCP or unset-protocol port on a ServiceEntry that sidecars give no address: no `addresses`, and no DNS auto-allocation (istiod 1.25+: DNS capture on, resolution not NONE, no `networking.istio.io/enable-autoallocate-ip: \"false\"` label, and no wildcard host unless resolution is DYNAMIC_DNS).";
    MG0404 = "MG0404", Warning, "ServiceEntry", "C/U", "IST0177, KIA1211/1212", "/spec/hosts/0", "one declaration dropped or merged",
        "Another ServiceEntry visible to the same namespaces declares the same host and port, with another protocol or as a duplicate.";
    MG0405 = "MG0405", Warning, "ServiceEntry", "C/U", "—", "/spec/resolution", "no address to connect to",
        "`resolution: STATIC` with a wildcard host, or `DNS` with a wildcard host and no endpoints. (`NONE` with wildcard hosts is istiod's supported pass-through and is not reported.)";
    MG0501 = "MG0501", Error, "EnvoyFilter", "C/U", "—", "/spec/configPatches/0/match/proxy/proxyVersion", "filter not applied",
        "`match.proxy.proxyVersion` (RE2, unanchored) matches none of the proxies the patch applies to (the filter's namespace or, in the root namespace, the mesh; narrowed by workloadSelector, match.context and the filter's `istio.io/rev`) and none of the installed control-plane versions: the patch is dead. A warning when no proxy in scope has a known version.";
    MG0502 = "MG0502", Error, "EnvoyFilter", "C/U", "—", "/spec/configPatches/0/match/proxy/proxyVersion", "patch never applied",
        "`proxyVersion` is not a valid RE2 regular expression.";
    MG0503 = "MG0503", Warning, "EnvoyFilter", "C/U", "—", "/spec/workloadSelector", "filter applies to nothing",
        "`workloadSelector` selects no workload.";
    MG0504 = "MG0504", Warning, "EnvoyFilter", "C/U", "IST0151, IST0155", "/spec/configPatches/0/patch/operation", "filter order undefined",
        "A relative operation (INSERT_BEFORE, INSERT_AFTER, REPLACE, REMOVE) with `priority: 0`: its order against other filters is undefined. Only on patches istiod applies (not on those MG0505 reports).";
    MG0505 = "MG0505", Error, "EnvoyFilter", "C/U", "IST0152–IST0154", "/spec/configPatches/0/patch/operation", "patch ignored: filter not applied",
        "An operation istiod's patchers do not apply to its `applyTo`: LISTENER, FILTER_CHAIN and CLUSTER take ADD, REMOVE, MERGE; ROUTE_CONFIGURATION only MERGE; VIRTUAL_HOST ADD, REMOVE, MERGE, REPLACE; HTTP_ROUTE ADD, INSERT_*, REMOVE, MERGE; LISTENER_FILTER, NETWORK_FILTER, HTTP_FILTER every operation. istiod skips the patch without a word.";
    MG0506 = "MG0506", Warning, "EnvoyFilter", "C/U", "—", "/spec/configPatches/0/match/context", "patch applies to nothing",
        "`match.context` GATEWAY with no gateway proxy in scope, or SIDECAR_* with no sidecar in scope.";
    MG0507 = "MG0507", Info, "EnvoyFilter", "check --proxy-version", "—", "/spec/configPatches/0/match/proxy/proxyVersion", "filter starts applying",
        "Only with `meshgate check --proxy-version V [--revision R]`: a patch whose `proxyVersion` matches none of the proxies today (MG0501) would match once they run V, so its filter starts applying after the upgrade.";
    MG0508 = "MG0508", Warning, "Namespace, Deployment, StatefulSet, DaemonSet, MutatingWebhookConfiguration", "U (admission warning)", "—", "/metadata/labels/istio.io~1rev", "filter stops (or starts) applying after restart",
        "A change that moves workloads to another control plane or version once they restart: a Namespace's `istio.io/rev` / `istio-injection` label, a workload template's `istio.io/rev` label or `sidecar.istio.io/inject`, a revision tag (`istioctl tag set`: a MutatingWebhookConfiguration labelled `istio.io/tag`), an istiod Deployment's image. Names each EnvoyFilter that stops or starts applying to those workloads (by revision, proxyVersion, workloadSelector and context), with counts. Only ever a warning, from a webhook entry with `failurePolicy: Ignore`.";
    MG0601 = "MG0601", Warning, "PeerAuthentication, RequestAuthentication, AuthorizationPolicy", "C/U", "IST0127, KIA0004", "/spec/selector", "policy applies to nothing",
        "The `selector` matches no workload (of the policy's namespace; of any namespace for a policy in the root namespace).";
    MG0602 = "MG0602", Error, "PeerAuthentication", "C/U", "KIA0002", "/metadata/name", "one policy ignored",
        "A second selector-less PeerAuthentication in the same namespace (mesh-wide in the root namespace); the message names the other.";
    MG0603 = "MG0603", Warning, "PeerAuthentication", "C/U", "KIA0501", "/spec/mtls/mode", "requests from those clients fail",
        "STRICT mTLS while a DestinationRule turns TLS off (`mode: DISABLE`) toward a port of workloads this policy covers, where this policy's mode for that target port (its `portLevelMtls` entry, else the top-level mode) is STRICT; the message names the rules.";
    MG0604 = "MG0604", Warning, "AuthorizationPolicy", "C/U", "IST0101 namespace, KIA0101", "/spec/rules/0/from/0/source/namespaces/0", "condition matches no request",
        "`source.namespaces` or `notNamespaces` names no namespace that exists: a name is compared exactly; an entry with `*` is a pattern (any characters) matched against the known namespaces; a lone `*` is never reported. `default`, `kube-system`, `kube-public` and `kube-node-lease` always exist.";
    MG0605 = "MG0605", Warning, "AuthorizationPolicy", "C/U", "KIA0106", "/spec/rules/0/from/0/source/principals/0", "condition matches no request",
        "A principal `<trust domain>/ns/<ns>/sa/<sa>` names a ServiceAccount that neither exists nor is used by a workload.";
    MG0606 = "MG0606", Warning, "AuthorizationPolicy", "C/U", "KIA0104", "/spec/rules/0/to/0/operation/hosts/0", "condition matches no request",
        "`to.operation.hosts` or `notHosts` names a host no Service or ServiceEntry declares.";
    MG0607 = "MG0607", Error, "AuthorizationPolicy", "C/U", "KIA0105", "/spec/rules/0/from/0/source/principals", "403 RBAC: access denied (ALLOW) or no denial (DENY)",
        "`source.principals`/`notPrincipals` or `namespaces`/`notNamespaces` (identities only mTLS carries) for workloads that accept plaintext on every port: their effective PeerAuthentication mode (port-level entries included) is DISABLE, or PERMISSIVE while MeshConfig sets `enableAutoMtls: false`. One finding per such list.";
    MG0701 = "MG0701", Warning, "Sidecar", "C/U", "KIA1004", "/spec/egress/0/hosts/0", "host not visible to the workloads",
        "An `egress[].hosts` entry `namespace/host` names a namespace that does not exist, or a host no Service or ServiceEntry of that namespace declares.";
    MG0702 = "MG0702", Error, "Sidecar", "C/U", "IST0111, KIA0002", "/metadata/name", "one Sidecar ignored",
        "A second Sidecar without `workloadSelector` in the namespace; the message names the other.";
    MG0703 = "MG0703", Warning, "Sidecar", "C/U", "IST0110, KIA0003", "/spec/workloadSelector", "Sidecar applies to nothing, or one of two ignored",
        "The `workloadSelector` selects no workload, or selects a workload another Sidecar selects too.";
    MG0704 = "MG0704", Warning, "Sidecar", "C/U", "KIA1006", "/spec/workloadSelector", "selector ignored for the default",
        "A Sidecar in the root namespace has a `workloadSelector`: the mesh-wide default must not have one.";
    MG0801 = "MG0801", Info, "Service", "C/U", "IST0118, KIA0601", "/spec/ports/0/name", "protocol sniffing instead of the declared protocol",
        "A port of a Service in the mesh (it selects a workload with a proxy) whose name (`<protocol>[-suffix]`) and `appProtocol` give no protocol. Not for Istio's reserved ports (15000–15099) or Services in Istio's own namespaces.";
    MG0901 = "MG0901", Error, "HTTPRoute, GRPCRoute, TLSRoute, TCPRoute", "C/U; D of Gateway", "KIA1401", "/spec/parentRefs/0/name", "404 at that gateway (route not attached, no status)",
        "A parentRef names a Gateway API Gateway or ListenerSet that does not exist (or a ListenerSet its Gateway refuses, MG0909): istiod attaches the route to nothing there and writes no status for that parent, so requests for its hostnames at that gateway get 404.";
    MG0902 = "MG0902", Error, "HTTPRoute, GRPCRoute, TLSRoute, TCPRoute", "C/U; U of Gateway", "—", "/spec/parentRefs/0/sectionName", "404 at that gateway (NoMatchingParent)",
        "A parentRef's `sectionName` or `port` names no listener of an Istio Gateway (istiod: NoMatchingParent): the route is not attached there.";
    MG0903 = "MG0903", Error, "HTTPRoute, GRPCRoute, TLSRoute, TCPRoute", "C/U; U of Gateway", "KIA1401", "/spec/parentRefs/0", "404 at that gateway (NotAllowedByListeners)",
        "No listener the parentRef targets admits the route: its namespace is not allowed (`allowedRoutes.namespaces`: `Same` by default, `All`, or a `Selector` over the Namespace's labels with the implicit `kubernetes.io/metadata.name`), or its kind is not among the listener's route kinds (its protocol's kinds: HTTP/HTTPS take HTTPRoute and GRPCRoute, TLS takes TLSRoute, and TCPRoute when it terminates, TCP takes TCPRoute; narrowed by `allowedRoutes.kinds`). istiod: NotAllowedByListeners; the route is not attached.";
    MG0904 = "MG0904", Error, "HTTPRoute, GRPCRoute, TLSRoute", "C/U; U of Gateway", "—", "/spec/hostnames", "404 at that gateway (NoMatchingListenerHostname)",
        "None of the route's hostnames intersects the hostname of a listener the parentRef targets (a wildcard matches either way; no hostname matches all). istiod: NoMatchingListenerHostname; the route is not attached.";
    MG0905 = "MG0905", Warning, "HTTPRoute, GRPCRoute, TLSRoute", "C/U; U of Gateway", "—", "/spec/hostnames/0", "that host served by another listener's routes",
        "A route hostname is dropped by listener isolation: the route is attached to a wildcard (or hostname-less) listener, and another listener of the same Gateway, port and protocol has a hostname at least as specific that covers it (istiod's `hostnameAllowedByIsolation`). Requests for that host go to the other listener's routes, while istiod reports the route Accepted. Gateway API specifies this, so it is a warning.";
    MG0906 = "MG0906", Error, "HTTPRoute, GRPCRoute, TLSRoute, TCPRoute", "C/U; U of Gateway", "—", "/spec/parentRefs/0", "404 at that gateway: no Envoy listener behind an Accepted route",
        "Every listener that accepts the route is one istiod does not program (MG0921, MG0922): the route shows Accepted, but no Envoy listener serves it. A warning when the listeners are invalid only because a certificate Secret does not exist (yet).";
    MG0907 = "MG0907", Warning, "Gateway (gateway.networking.k8s.io)", "C/U", "KIA1504", "/spec/gatewayClassName", "Gateway never programmed",
        "`gatewayClassName` names no GatewayClass and no Istio built-in class (`istio`, `istio-remote`, `istio-waypoint`, `istio-east-west`): no controller may ever program the Gateway. A class of another controller is not judged.";
    MG0908 = "MG0908", Error, "TLSRoute, TCPRoute, ListenerSet", "C/U", "—", "/kind", "ignored whole: 404 at gateways, connections closed",
        "The known istiod version does not read this kind with its flags: TCPRoute before 1.31 needs `PILOT_ENABLE_ALPHA_GATEWAY_API=true`, TLSRoute before 1.30 likewise; ListenerSet (`gateway.networking.k8s.io`) is read from 1.30 (1.28 and 1.29 read only the experimental XListenerSet). The object is ignored whole. Judged only when every control plane that reads the object is known (version and flags); silent otherwise.";
    MG0909 = "MG0909", Error, "ListenerSet", "C/U; D/U of Gateway", "—", "/spec/parentRef", "none of its listeners programmed: routes attached to it get 404",
        "A ListenerSet its parent Gateway refuses: the Gateway does not exist, is of a class that takes no ListenerSets (waypoint, remote), or its `allowedListeners` (none by default) does not admit the ListenerSet's namespace. Routes naming the ListenerSet are reported MG0901.";
    MG0911 = "MG0911", Error, "HTTPRoute, GRPCRoute, TLSRoute, TCPRoute", "C/U; D of Service", "KIA1402", "/spec/rules/0/backendRefs/0/name", "500 for its share of requests (TCP/TLS: connections closed)",
        "A backendRef's Service (or ServiceImport's Service), or Hostname backend's ServiceEntry host, does not exist (istiod: BackendNotFound): its weight's share of requests gets 500, of TCP and TLS connections is closed.";
    MG0912 = "MG0912", Error, "HTTPRoute, GRPCRoute, TLSRoute, TCPRoute", "C/U; U of Service", "—", "/spec/rules/0/backendRefs/0/port", "500 for its share of requests (TCP/TLS: connections closed)",
        "A backendRef's `port` is not a port of its Service: istiod builds a route to a cluster that does not exist while it reports ResolvedRefs True, so that share of requests gets 500 (TCP/TLS: connections closed).";
    MG0913 = "MG0913", Error, "HTTPRoute, GRPCRoute, TLSRoute, TCPRoute", "C/U; D of ReferenceGrant", "KIA1402", "/spec/rules/0/backendRefs/0/namespace", "500 for its share of requests (TCP/TLS: connections closed)",
        "A route attached to a Gateway names a backend in another namespace that no ReferenceGrant there permits (from the route's group, kind and namespace; to the backend's kind, with no name or its name). istiod: RefNotPermitted. Mesh routes need no grant.";
    MG0914 = "MG0914", Error, "HTTPRoute, GRPCRoute, TLSRoute, TCPRoute", "C/U", "—", "/spec/rules/0/backendRefs/0/kind", "500 for its share of requests (TCP/TLS: connections closed)",
        "A backendRef of a kind istiod does not support (istiod: InvalidKind): supported are core Service, `networking.istio.io` Hostname, `multicluster.x-k8s.io` ServiceImport and, with the inference extension enabled, InferencePool (not judged).";
    MG0915 = "MG0915", Error, "HTTPRoute, GRPCRoute, TLSRoute, TCPRoute", "C/U", "—", "/spec/rules/0/backendRefs/0/name", "route dropped: 404 at gateways, not applied in the mesh",
        "istiod converts none of the route's rules when a backend is invalid beyond resolution: a Service backend name with a dot (a hostname, not a name), a backend without `port`, a Hostname backend with a `namespace`.";
    MG0916 = "MG0916", Warning, "HTTPRoute", "C/U", "—", "/spec/rules/0/filters/0/requestMirror/backendRef", "mirror dropped",
        "A RequestMirror filter's backend does not exist, is not permitted by a ReferenceGrant, or is of an unsupported kind: istiod drops the mirror.";
    MG0917 = "MG0917", Info, "HTTPRoute, GRPCRoute", "C/U", "—", "/spec/rules/0", "—",
        "A rule with no backendRefs and no redirect (istiod 1.30: 404; 1.31+: 500), or whose backends all have weight 0 (500).";
    MG0921 = "MG0921", Error, "Gateway (gateway.networking.k8s.io)", "C/U; D of ReferenceGrant, Secret", "—", "/spec/listeners/0/tls/certificateRefs/0", "listener not programmed: its routes get no Envoy listener",
        "A terminating TLS listener has no usable certificate: more than two certificateRefs, or each is of another kind than Secret, or in another namespace without a ReferenceGrant there from the Gateway, or missing (istiod: InvalidCertificateRef). Istio's `gateway.istio.io/tls-terminate-mode` ISTIO_SIMPLE and ISTIO_MUTUAL need none. Or the Gateway's client-certificate validation for the listener's port (`spec.tls.frontend`: its `perPort` entry, else `default`) names more than one `caCertificateRefs`, or one that is neither a ConfigMap nor a Secret (istiod: InvalidTLS). A warning when the Secrets (or the client CA) only do not exist (yet: cert-manager creates them after the Gateway; deleting one in use warns through the `secrets.meshgate.io` entry), or the client CA is in another namespace without a grant.";
    MG0922 = "MG0922", Error, "Gateway (gateway.networking.k8s.io)", "C/U", "—", "/spec/listeners/0/protocol", "listener not programmed: its routes get no Envoy listener",
        "A listener protocol istiod does not program for an ingress Gateway: other than HTTP, HTTPS, TLS and TCP (UDP, lowercase names, HBONE outside waypoints; istiod: UnsupportedProtocol), or TCP (before 1.31) and TLS (before 1.30) without `PILOT_ENABLE_ALPHA_GATEWAY_API=true` when every control plane reading the Gateway is known.";
    MG0923 = "MG0923", Warning, "Gateway (gateway.networking.k8s.io), ListenerSet", "C/U", "KIA1501/1503", "/spec/listeners/1", "listener not programmed: its routes get no Envoy listener",
        "istiod 1.31+ (every control plane reading the object known to be 1.31 or later): a listener conflicts with an earlier one on the same port — the Gateway's own listeners first, then its admitted ListenerSets by creation time (then namespace/name) — and istiod does not program it (HostnameConflict: HTTP, HTTPS or TLS listeners with the same hostname; ProtocolConflict: TCP or UDP next to anything else on the port). Reported on the loser only. istiod 1.30 detects no conflicts. A warning (product.md: error) until the istiod oracle can show it: its istiod predates 1.31's conflict detection.";
    MG0924 = "MG0924", Warning, "BackendTLSPolicy", "C/U", "—", "/spec/validation/caCertificateRefs/0", "503: TLS to the backend fails (its certificate is not verified by the intended CA)",
        "The CA reference istiod uses (the first `caCertificateRefs` entry) is unusable: not a ConfigMap (istiod supports no Secret there: InvalidKind), or a ConfigMap that does not exist (the live view watches every ConfigMap, as metadata but for `istio`); or `wellKnownCACertificates` is not `System`. istiod then originates TLS without that CA (the system roots), so a backend with a private certificate fails the handshake: 503. A warning (product.md: error): the failure is a TLS handshake, past what istiod's simulation shows.";
    MG0925 = "MG0925", Warning, "BackendTLSPolicy", "C/U", "—", "/spec/targetRefs/0", "TLS not originated to that backend",
        "A target that does not exist (Service or ServiceEntry, or a `sectionName` no port of it is named), a target of an unsupported kind, or an older policy (by creation time; equal or unknown: the name decides) already targeting the same Service and section: istiod does not apply this policy there (TargetNotFound, Conflicted). Policies annotated `istio.io/ignore-policy-attachment: \"true\"` take no part.";
    MG0926 = "MG0926", Warning, "Gateway (gateway.networking.k8s.io)", "C/U", "—", "/spec/listeners/0/allowedRoutes/kinds", "no route can attach to the listener",
        "A listener's `allowedRoutes.kinds` admits no route kind its protocol supports (istiod: InvalidRouteKinds).";
    MG0931 = "MG0931", Warning, "HTTPRoute, GRPCRoute, TLSRoute, TCPRoute", "C/U; D of Service", "KIA1402", "/spec/parentRefs/0/name", "route not applied (no rule applies)",
        "A mesh route's parent Service or ServiceEntry does not exist (istiod: parent service not found): none of its rules apply. A warning (product.md: error): no traffic that worked breaks (the parent host has no Service), and istiod's output shows only an absence.";
    MG0932 = "MG0932", Warning, "HTTPRoute, GRPCRoute, TLSRoute, TCPRoute", "C/U", "—", "/spec/parentRefs/0/port", "rules never match",
        "A mesh route's parentRef `port` is not a port of its parent Service: istiod turns it into a port match no request meets.";
    MG0933 = "MG0933", Info, "HTTPRoute, GRPCRoute", "C/U", "—", "/spec/hostnames", "—",
        "A mesh HTTPRoute or GRPCRoute sets `hostnames`, or a mesh parentRef sets `sectionName`: istiod ignores them (the parent's host is used).";
    MG0941 = "MG0941", Info, "ReferenceGrant", "C/U", "KIA1601", "/spec/from/0/namespace", "—",
        "A ReferenceGrant's `from` names a namespace that does not exist: it permits nothing until that namespace exists.";
    MG1001 = "MG1001", Warning, "Service, ServiceEntry, Namespace, Pod, WorkloadEntry", "C/U; D of Gateway", "KIA0109", "/metadata/labels/istio.io~1use-waypoint", "waypoint bypassed: its L7 policies and routes are not applied (fail-open)",
        "`istio.io/use-waypoint` (on the object, else its Namespace; `istio.io/use-waypoint-namespace` names the waypoint's namespace) leads to no waypoint istiod binds: the Gateway does not exist (live: or has no address yet — then a warning only, as it binds once its deployment runs), its HBONE listener's `allowedRoutes` does not admit the namespace (AttachmentDenied), or its `istio.io/waypoint-for` (else its class's, default `service`) does not take the traffic (a Service or ServiceEntry needs `service` or `all`; a labelled workload `workload` or `all`; a workload only inheriting a service waypoint is simply unbound). Traffic then bypasses the waypoint. An error when L7 configuration depends on it: a `targetRefs` policy naming the Service or ServiceEntry, or a mesh (GAMMA) route with it as parent.";
    MG1002 = "MG1002", Warning, "Service, ServiceEntry, Namespace, Pod, WorkloadEntry", "C/U", "—", "/metadata/labels/istio.io~1use-waypoint", "HBONE to the Gateway's port 15008 fails",
        "`istio.io/use-waypoint` names a Gateway whose class is not `istio-waypoint` (an ingress Gateway): istiod binds it as a waypoint all the same (its `Waypoints` collection takes any Gateway with an address), so ztunnel sends the traffic over HBONE to a proxy that does not serve it.";
    MG1003 = "MG1003", Warning, "Namespace, Pod", "C/U", "—", "/metadata/labels/istio.io~1dataplane-mode", "workloads not captured, or captured differently than written",
        "`istio.io/dataplane-mode` has a value other than `ambient` or `none` (istio-cni captures nothing for it on a Namespace; on a Pod it is ignored), or a Namespace is both ambient and sidecar-injected (`istio-injection=enabled` or `istio.io/rev`): its injected Pods keep their sidecars and ztunnel does not capture them.";
    MG1004 = "MG1004", Error, "AuthorizationPolicy", "C/U", "—", "/spec/rules/0", "deny-all: every connection to those pods is reset by ztunnel",
        "An ALLOW AuthorizationPolicy without `targetRefs` selects ambient pods, so ztunnel enforces it, and every one of its rules has HTTP attributes (hosts, methods, paths, remoteIpBlocks, requestPrincipals, a `when` key other than source.ip, source.namespace, source.principal, destination.ip, destination.port). istiod sends it to ztunnel with no rule left (its status says accepted, with a warning), and no other ALLOW admits traffic to those pods: all inbound connections are denied. Use a waypoint and `targetRefs` for HTTP rules. At admission a warning (another ALLOW of the same batch may still admit the traffic); an error in `check` and the audit.";
    MG1005 = "MG1005", Warning, "AuthorizationPolicy", "C/U", "—", "/spec/rules/0", "those rules' sources denied at ztunnel",
        "An ALLOW AuthorizationPolicy enforced by ztunnel for ambient pods has rules with HTTP attributes next to L4-only ones (or its pods are admitted by another ALLOW): istiod drops the HTTP rules, so the traffic only they allowed is denied.";
    MG1006 = "MG1006", Error, "AuthorizationPolicy", "C/U", "—", "/spec/action", "DENY wider than written, or the policy not enforced",
        "A policy without `targetRefs` selecting ambient pods (ztunnel enforces it, no waypoint does): a DENY rule with HTTP attributes is sent without them, so it denies every connection its L4 part matches — requests the HTTP condition would have let through too (istiod: \"more restrictive than requested\"); or the action is CUSTOM or AUDIT, which istiod does not send to ztunnel at all (UnsupportedValue): not enforced.";
    MG1007 = "MG1007", Error, "AuthorizationPolicy", "C/U", "—", "/spec/rules", "every request through the waypoint reset at the destination",
        "An ALLOW AuthorizationPolicy ztunnel enforces selects captured pods that sit behind a waypoint (their own `use-waypoint`, or a Service selecting them bound to one), and no ztunnel ALLOW rule for them admits the waypoint's identity (its service account, by principal or namespace): the destination's ztunnel sees the waypoint, not the client, so it resets what the waypoint forwards. Not judged when a control plane runs with `PILOT_AUTO_ALLOW_WAYPOINT_POLICY=true` (istiod then adds the allow). The waypoint's service account is its Pods', else the Gateway's name (istiod's deployment). At admission a warning (another ALLOW of the same batch may still admit the waypoint); an error in `check` and the audit.";
    MG1008 = "MG1008", Error, "AuthorizationPolicy, RequestAuthentication", "C/U; D of Gateway, Service", "—", "/spec/targetRefs/0", "policy not applied",
        "A `targetRefs` entry never attaches (istiod's `WaypointPolicyStatusCollection`): a GatewayClass that does not exist or is not the mesh controller's (`istio.io/mesh-controller`, as the built-in `istio-waypoint`), or one named from outside the root namespace; a Gateway, Service or ServiceEntry that does not exist in the target's namespace (its `namespace`, else the policy's); a Service or ServiceEntry bound to no waypoint (istiod applies Service targets only at the Service's waypoint, never at an ingress Gateway); a kind istiod does not attach. An error only for Service and ServiceEntry targets (istiod's ambient index shows them without a waypoint); a warning for GatewayClass, Gateway and other targets (decided at the waypoint, past what the oracle shows), and while the Service's waypoint only has no address yet (its deployment is starting: it binds then). Sidecars ignore `targetRefs` altogether.";
    MG1009 = "MG1009", Error, "EnvoyFilter, Sidecar, RequestAuthentication", "C/U", "—", "/spec/workloadSelector", "not applied",
        "Sidecar-only configuration whose selector picks only ambient pods (one at least): an EnvoyFilter or Sidecar `workloadSelector`, a RequestAuthentication `selector`. ztunnel is not Envoy and reads none of it; the pods run no sidecar, so nothing applies it.";
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
         The consequence column says what breaks, as a user meets it: an error is only for what provably breaks \
         traffic or drops configuration in istiod's output, and its message says so. The messages of the routing \
         errors (MG01xx, MG02xx, MG03xx) name the Envoy objects to look for with `istioctl proxy-config`: the cluster \
         (`outbound|9080|v1|reviews.shop.svc.cluster.local`), the route configuration (`9080` at sidecars, `http.80` or \
         `https.443.https.public.istio-system` at a gateway), the virtual host (`host:port`) or the listener (`0.0.0.0_8443`).\n\n\
         | code | severity | reported on | phase | condition | consequence | istioctl / Kiali | example pointer |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for c in CATALOG {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | `{}` |\n",
            c.code, c.severity, c.kind, c.phase, c.condition, c.consequence, c.peer, c.example
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
    fn every_error_names_its_consequence() {
        for c in CATALOG.iter().filter(|c| c.severity == Severity::Error) {
            assert!(c.consequence != "—" && !c.consequence.is_empty(), "{}", c.code);
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
