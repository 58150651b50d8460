// The istiod oracle (issue #11): takes Istio configuration, Kubernetes objects and
// calls, builds the Envoy configuration istiod would push to each calling proxy
// (pilot/test/xds fake discovery server: istiod's real generator in memory), follows
// each call through it (pilot/pkg/simulation) and prints, per call, what istiod's
// output selects: listener, filter chain, route configuration, virtual host, route
// and cluster, whether that cluster exists, and the error if the call fails.
//
// Input: the JSON file named by $ORACLE_INPUT; output: JSON on $ORACLE_OUTPUT.
// Built once with `go test -c` (tests/istiod-oracle/build.sh) and cached.
package oracle

import (
	"encoding/json"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tcp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"

	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/pkg/simulation"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pilot/test/xdstest"
	"istio.io/istio/pkg/cluster"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/config/schema/gvk"
	"istio.io/istio/pkg/config/schema/gvr"
	kubelib "istio.io/istio/pkg/kube"
	"istio.io/istio/pkg/kube/kclient/clienttest"
	"istio.io/istio/pkg/workloadapi"
	"istio.io/istio/pkg/workloadapi/security"
)

// installedGatewayAPI marks every CRD the fake API server installs as Gateway
// API v1.5.1's (the bundle-version annotation a real install carries): without
// it istiod's CRD watcher ignores GRPCRoute and TLSRoute (minimumVersionFilter).
func installedGatewayAPI(c kubelib.Client) {
	fmc, ok := c.Metadata().(*metadatafake.FakeMetadataClient)
	if !ok {
		return
	}
	annotate := func(a clienttesting.Action) (bool, runtime.Object, error) {
		if o, ok := a.(interface{ GetObject() runtime.Object }); ok {
			if m, ok := o.GetObject().(*metav1.PartialObjectMetadata); ok {
				if m.Annotations == nil {
					m.Annotations = map[string]string{}
				}
				m.Annotations["gateway.networking.k8s.io/bundle-version"] = "v1.5.1"
			}
		}
		return false, nil, nil
	}
	fmc.PrependReactor("create", "customresourcedefinitions", annotate)
	fmc.PrependReactor("update", "customresourcedefinitions", annotate)
	// The fake API server's own list lacks these; a real install has them.
	for _, g := range []schema.GroupVersionResource{gvr.ListenerSet, gvr.BackendTLSPolicy} {
		clienttest.MakeCRD(fakeT{}, c, g)
	}
}

// fakeT is the test.Failer MakeCRD asks for (it fails only on a fake client error).
type fakeT struct{}

func (fakeT) Fail()                             { panic("oracle: installing a CRD failed") }
func (fakeT) FailNow()                          { panic("oracle: installing a CRD failed") }
func (fakeT) Fatal(args ...any)                 { panic(args) }
func (fakeT) Fatalf(format string, args ...any) { panic(format) }
func (fakeT) Helper()                           {}
func (fakeT) Cleanup(func())                    {}
func (fakeT) Skip(args ...any)                  {}
func (fakeT) Log(args ...any)                   {}
func (fakeT) Logf(format string, args ...any)   {}
func (fakeT) TempDir() string                   { return os.TempDir() }

type Proxy struct {
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
	Gateway   bool              `json:"gateway"`
	Version   string            `json:"version"`
	IP        string            `json:"ip"`
}

type Call struct {
	Proxy    Proxy             `json:"proxy"`
	Address  string            `json:"address"`
	Port     int               `json:"port"`
	Host     string            `json:"host"`
	Path     string            `json:"path"`
	Headers  map[string]string `json:"headers"`
	Protocol string            `json:"protocol"`
	Sni      string            `json:"sni"`
	Mode     string            `json:"mode"`
}

type Case struct {
	Name   string `json:"name"`
	Config string `json:"config"`
	Kube   string `json:"kube"`
	// The mesh config text (the `mesh` key of the istio ConfigMap); empty: defaults.
	Mesh  string `json:"mesh"`
	Calls []Call `json:"calls"`
	// Report what istiod's ambient index makes of the case (run the oracle
	// with PILOT_ENABLE_AMBIENT=true).
	Ambient bool `json:"ambient"`
	// Kubernetes objects of remote clusters (a multi-cluster mesh), by
	// cluster id: istiod builds a service registry for each (its Services,
	// Pods, EndpointSlices) and merges them by hostname; Istio configuration
	// comes from the config cluster only.
	Remote map[string]string `json:"remote"`
}

// AmbientOut is what istiod's ambient index holds for ztunnel: workloads (captured
// or not, their waypoint, the selector policies attached), services (their
// waypoint, or why none), and the AuthorizationPolicies it sends.
type AmbientOut struct {
	Workloads []AmbWorkload `json:"workloads"`
	Services  []AmbService  `json:"services"`
	Policies  []AmbPolicy   `json:"policies"`
}

type AmbWorkload struct {
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Hbone     bool     `json:"hbone"`
	Waypoint  string   `json:"waypoint"`
	Policies  []string `json:"policies"`
	// The Services it backs ("namespace/hostname").
	Services []string `json:"services"`
}

type AmbSource struct {
	Principals    []string `json:"principals"`
	Namespaces    []string `json:"namespaces"`
	NotPrincipals []string `json:"notPrincipals"`
	NotNamespaces []string `json:"notNamespaces"`
	Ports         []uint32 `json:"ports"`
	NotPorts      []uint32 `json:"notPorts"`
	// Constrained on what explain cannot know (source or destination IPs).
	Ips bool `json:"ips"`
}

func patterns(ms []*security.StringMatch) []string {
	var out []string
	for _, m := range ms {
		switch {
		case m.GetPresence() != nil:
			out = append(out, "*")
		case m.GetPrefix() != "":
			out = append(out, m.GetPrefix()+"*")
		case m.GetSuffix() != "":
			out = append(out, "*"+m.GetSuffix())
		default:
			out = append(out, m.GetExact())
		}
	}
	return out
}

type AmbService struct {
	Namespace     string `json:"namespace"`
	Hostname      string `json:"hostname"`
	Waypoint      string `json:"waypoint"`
	WaypointError string `json:"waypointError"`
}

type AmbPolicy struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Action    string `json:"action"`
	Scope     string `json:"scope"`
	// Per group (an input rule istiod kept), per clause, whether a match of it
	// is empty (matches every connection).
	Groups [][]bool `json:"groups"`
	// Per group, per clause, its matches' source constraints (principals and
	// namespaces as Istio patterns; empty: unconstrained).
	Sources [][][]AmbSource `json:"sources"`
	// The status istiod writes (e.g. the HTTP attributes it found and dropped).
	Status string `json:"status"`
}

type Outcome struct {
	Listener      string `json:"listener"`
	FilterChain   string `json:"filterChain"`
	RouteConfig   string `json:"routeConfig"`
	VirtualHost   string `json:"virtualHost"`
	Route         string `json:"route"`
	Cluster       string `json:"cluster"`
	ClusterExists bool   `json:"clusterExists"`
	// The object the matched route comes from (istiod's route metadata), e.g.
	// /apis/networking.istio.io/v1/namespaces/default/virtual-service/reviews.
	RouteSource string `json:"routeSource"`
	// The clusters of a weighted route (Cluster is then empty).
	Weighted []Weighted `json:"weighted,omitempty"`
	// What Envoy answers when the route's cluster does not exist
	// (SERVICE_UNAVAILABLE, Envoy's default: 503; INTERNAL_SERVER_ERROR: 500).
	ClusterNotFoundCode string `json:"clusterNotFoundCode,omitempty"`
	// A direct response the route gives instead of a cluster (its status code).
	DirectResponse uint32 `json:"directResponse,omitempty"`
	// A redirect the route answers with (its status code).
	Redirect uint32 `json:"redirect,omitempty"`
	Error    string `json:"error"`
	// The endpoints istiod sends the calling proxy for Cluster (EDS).
	Endpoints []string `json:"endpoints"`
}

type Weighted struct {
	Cluster string `json:"cluster"`
	Weight  uint32 `json:"weight"`
	Exists  bool   `json:"exists"`
}

type CaseResult struct {
	Name     string    `json:"name"`
	Outcomes []Outcome `json:"outcomes"`
	// Set when istiod's generator could not be run on the case at all.
	Failure string      `json:"failure,omitempty"`
	Ambient *AmbientOut `json:"ambient,omitempty"`
}

func proxyOf(p Proxy) *model.Proxy {
	ns := p.Namespace
	if ns == "" {
		ns = "default"
	}
	version := p.Version
	if version == "" {
		version = "1.30.3"
	}
	ip := p.IP
	if ip == "" {
		ip = "10.9.9.9"
	}
	out := &model.Proxy{
		Labels:          p.Labels,
		ConfigNamespace: ns,
		IPAddresses:     []string{ip},
		Metadata: &model.NodeMetadata{
			Labels:       p.Labels,
			Namespace:    ns,
			IstioVersion: version,
		},
	}
	if p.Gateway {
		out.Type = model.Router
	}
	return out
}

func runCase(t *testing.T, c Case) (res CaseResult) {
	res.Name = c.Name
	configs, _, err := crd.ParseInputs(c.Config)
	if err != nil {
		res.Failure = "parse: " + err.Error()
		return res
	}
	// ConfigString would leave Domain empty and short names would never resolve.
	withDomain := make([]config.Config, 0, len(configs))
	for _, cfg := range configs {
		cfg.Domain = "cluster.local"
		withDomain = append(withDomain, cfg)
	}
	opts := xds.FakeOptions{
		Configs:                withDomain,
		KubernetesObjectString: c.Kube,
		KubeClientModifier:     installedGatewayAPI,
	}
	if len(c.Remote) > 0 {
		opts.KubernetesObjectStringByCluster = map[cluster.ID]string{}
		for id, objects := range c.Remote {
			opts.KubernetesObjectStringByCluster[cluster.ID(id)] = objects
		}
	}
	if c.Mesh != "" {
		m, err := mesh.ApplyMeshConfigDefaults(c.Mesh)
		if err != nil {
			res.Failure = "mesh config: " + err.Error()
			return res
		}
		opts.MeshConfig = m
	}
	s := xds.NewFakeDiscoveryServer(t, opts)
	if c.Ambient {
		res.Ambient = ambientOut(s.Env().AmbientIndexes)
	}
	if os.Getenv("ORACLE_DEBUG") != "" {
		for _, g := range s.Env().ConfigStore.List(gvk.Gateway, "") {
			t.Logf("DEBUG gateway %s/%s %v %v", g.Namespace, g.Name, g.Annotations, g.Spec)
		}
		for _, v := range s.Env().ConfigStore.List(gvk.VirtualService, "") {
			t.Logf("DEBUG vs %s/%s %v", v.Namespace, v.Name, v.Spec)
		}
	}
	for _, call := range c.Calls {
		proxy := s.SetupProxy(proxyOf(call.Proxy))
		if os.Getenv("ORACLE_DEBUG") != "" {
			t.Logf("DEBUG targets %v", proxy.ServiceTargets)
		}
		sim := simulation.NewSimulation(t, s, proxy)
		clusters := map[string]bool{}
		for _, name := range xdstest.MapKeys(xdstest.ExtractClusters(sim.Clusters)) {
			clusters[name] = true
		}
		mode := simulation.CallModeOutbound
		if call.Mode == "gateway" {
			mode = simulation.CallModeGateway
		}
		protocol := simulation.HTTP
		switch call.Protocol {
		case "tcp":
			protocol = simulation.TCP
		case "http2":
			protocol = simulation.HTTP2
		}
		in := simulation.Call{
			Address:    call.Address,
			Port:       call.Port,
			Path:       call.Path,
			HostHeader: call.Host,
			Protocol:   protocol,
			Sni:        call.Sni,
			CallMode:   mode,
		}
		if call.Sni != "" {
			in.TLS = simulation.TLS
		}
		if len(call.Headers) > 0 {
			in.Headers = map[string][]string{}
			for k, v := range call.Headers {
				in.Headers[k] = []string{v}
			}
		}
		r := sim.Run(in)
		o := Outcome{
			Listener:    r.ListenerMatched,
			FilterChain: r.FilterChainMatched,
			RouteConfig: r.RouteConfigMatched,
			VirtualHost: r.VirtualHostMatched,
			Route:       r.RouteMatched,
			Cluster:     r.ClusterMatched,
		}
		if r.Error != nil {
			o.Error = r.Error.Error()
		}
		// The simulation matches routes on the path only; match the routes of the
		// virtual host it chose again with headers (and method, authority) as Envoy does.
		if vh := findVirtualHost(sim.Routes, r.RouteConfigMatched, r.VirtualHostMatched); vh != nil &&
			(r.Error == nil || r.Error == simulation.ErrNoRoute) {
			o.Route, o.Cluster, o.Error = "", "", ""
			if rt := matchRoute(vh, in, call); rt != nil {
				o.Route = rt.Name
				o.RouteSource = routeSource(rt)
				if d := rt.GetDirectResponse(); d != nil {
					o.DirectResponse = d.GetStatus()
				}
				if rd := rt.GetRedirect(); rd != nil {
					o.Redirect = map[route.RedirectAction_RedirectResponseCode]uint32{
						route.RedirectAction_MOVED_PERMANENTLY:  301,
						route.RedirectAction_FOUND:              302,
						route.RedirectAction_SEE_OTHER:          303,
						route.RedirectAction_TEMPORARY_REDIRECT: 307,
						route.RedirectAction_PERMANENT_REDIRECT: 308,
					}[rd.GetResponseCode()]
				}
				if a := rt.GetRoute(); a != nil {
					o.ClusterNotFoundCode = a.GetClusterNotFoundResponseCode().String()
					o.Cluster = a.GetCluster()
					for _, w := range a.GetWeightedClusters().GetClusters() {
						o.Weighted = append(o.Weighted, Weighted{Cluster: w.Name, Weight: w.GetWeight().GetValue(), Exists: clusters[w.Name]})
					}
				}
			} else {
				o.Error = simulation.ErrNoRoute.Error()
			}
		}
		// A TCP proxy to weighted clusters: the simulation names no cluster.
		if r.RouteConfigMatched == "" && r.ClusterMatched == "" {
			for _, w := range tcpWeightedClusters(sim, r.ListenerMatched, r.FilterChainMatched) {
				o.Weighted = append(o.Weighted, Weighted{Cluster: w.Name, Weight: w.GetWeight(), Exists: clusters[w.Name]})
			}
		}
		o.ClusterExists = o.Cluster != "" && clusters[o.Cluster]
		if o.ClusterExists {
			o.Endpoints = xdstest.ExtractLoadAssignments(s.Endpoints(proxy))[o.Cluster]
		}
		res.Outcomes = append(res.Outcomes, o)
	}
	return res
}

func gatewayHost(a *workloadapi.GatewayAddress) string {
	if a == nil {
		return ""
	}
	if h := a.GetHostname(); h != nil {
		return h.GetNamespace() + "/" + h.GetHostname()
	}
	return "address"
}

func ambientOut(idx model.AmbientIndexes) *AmbientOut {
	if synced, ok := idx.(interface{ HasSynced() bool }); ok {
		for i := 0; i < 500 && !synced.HasSynced(); i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}
	out := &AmbientOut{}
	all, _ := idx.AddressInformation(nil)
	for _, a := range all {
		if w := a.GetWorkload(); w != nil {
			out.Workloads = append(out.Workloads, AmbWorkload{
				Namespace: w.GetNamespace(),
				Name:      w.GetName(),
				Hbone:     w.GetTunnelProtocol() == workloadapi.TunnelProtocol_HBONE,
				Waypoint:  gatewayHost(w.GetWaypoint()),
				Policies:  w.GetAuthorizationPolicies(),
				Services:  slices.Sorted(maps.Keys(w.GetServices())),
			})
		}
		if sv := a.GetService(); sv != nil {
			svc := AmbService{Namespace: sv.GetNamespace(), Hostname: sv.GetHostname(), Waypoint: gatewayHost(sv.GetWaypoint())}
			if info := idx.ServiceInfo(sv.GetNamespace() + "/" + sv.GetHostname()); info != nil && info.Waypoint.Error != nil {
				svc.WaypointError = info.Waypoint.Error.Reason + ": " + info.Waypoint.Error.Message
			}
			out.Services = append(out.Services, svc)
		}
	}
	for _, p := range idx.Policies(nil) {
		a := p.Authorization
		ap := AmbPolicy{Namespace: a.GetNamespace(), Name: a.GetName(), Action: a.GetAction().String(), Scope: a.GetScope().String()}
		if st := p.Binding.Status; st != nil {
			ap.Status = st.Reason + ": " + st.Message
		}
		for _, g := range a.GetGroups() {
			var clauses []bool
			var sources [][]AmbSource
			for _, r := range g.GetRules() {
				empty := false
				var ms []AmbSource
				for _, m := range r.GetMatches() {
					if proto.Size(m) == 0 {
						empty = true
					}
					ms = append(ms, AmbSource{
						Principals:    patterns(m.GetPrincipals()),
						Namespaces:    patterns(m.GetNamespaces()),
						NotPrincipals: patterns(m.GetNotPrincipals()),
						NotNamespaces: patterns(m.GetNotNamespaces()),
						Ports:         m.GetDestinationPorts(),
						NotPorts:      m.GetNotDestinationPorts(),
						Ips:           len(m.GetSourceIps())+len(m.GetNotSourceIps())+len(m.GetDestinationIps())+len(m.GetNotDestinationIps()) > 0,
					})
				}
				clauses = append(clauses, empty)
				sources = append(sources, ms)
			}
			ap.Groups = append(ap.Groups, clauses)
			ap.Sources = append(ap.Sources, sources)
		}
		out.Policies = append(out.Policies, ap)
	}
	return out
}

// tcpWeightedClusters: the weighted clusters of the tcp_proxy filter in the
// matched filter chain, if it splits.
func tcpWeightedClusters(sim *simulation.Simulation, listenerName, chainName string) []*tcp.TcpProxy_WeightedCluster_ClusterWeight {
	for _, l := range sim.Listeners {
		if l.Name != listenerName {
			continue
		}
		for _, fc := range append(l.FilterChains, l.DefaultFilterChain) {
			if fc == nil || fc.Name != chainName {
				continue
			}
			for _, f := range fc.Filters {
				if f.Name != "envoy.filters.network.tcp_proxy" {
					continue
				}
				var p tcp.TcpProxy
				if f.GetTypedConfig().UnmarshalTo(&p) == nil {
					return p.GetWeightedClusters().GetClusters()
				}
			}
		}
	}
	return nil
}

func TestOracle(t *testing.T) {
	input := os.Getenv("ORACLE_INPUT")
	output := os.Getenv("ORACLE_OUTPUT")
	if input == "" || output == "" {
		t.Skip("set ORACLE_INPUT and ORACLE_OUTPUT")
	}
	raw, err := os.ReadFile(input)
	if err != nil {
		t.Fatal(err)
	}
	var cases []Case
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	results := make([]CaseResult, 0, len(cases))
	for _, c := range cases {
		// A case istiod's generator rejects fails its subtest (t.Fatal ends the
		// subtest's goroutine before the assignment), not the run.
		res := CaseResult{Name: c.Name, Failure: "the generator failed on this case (see the test log)"}
		t.Run(c.Name, func(t *testing.T) { res = runCase(t, c) })
		results = append(results, res)
	}
	out, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(output, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func findVirtualHost(rcs []*route.RouteConfiguration, rcName, vhName string) *route.VirtualHost {
	if rcName == "" || vhName == "" {
		return nil
	}
	for _, rc := range rcs {
		if rc.Name != rcName {
			continue
		}
		for _, vh := range rc.VirtualHosts {
			if vh.Name == vhName {
				return vh
			}
		}
	}
	return nil
}

func routeSource(r *route.Route) string {
	if m := r.GetMetadata().GetFilterMetadata()["istio"]; m != nil {
		return m.GetFields()["config"].GetStringValue()
	}
	return ""
}

// matchRoute is Envoy's first-match over a virtual host's routes: path, headers
// (with :authority, :method, :path pseudo-headers) and query parameters.
func matchRoute(vh *route.VirtualHost, in simulation.Call, call Call) *route.Route {
	path := in.Path
	if path == "" {
		path = "/"
	}
	headers := map[string]string{":authority": in.HostHeader, ":method": "GET", ":path": path}
	for k, v := range call.Headers {
		headers[strings.ToLower(k)] = v
	}
	query := map[string]string{}
	if i := strings.Index(path, "?"); i >= 0 {
		for _, kv := range strings.Split(path[i+1:], "&") {
			k, v, _ := strings.Cut(kv, "=")
			query[k] = v
		}
		path = path[:i]
	}
	for _, r := range vh.Routes {
		if !pathMatches(r.Match, path) {
			continue
		}
		ok := true
		for _, h := range r.Match.GetHeaders() {
			if !headerMatches(h, headers) {
				ok = false
				break
			}
		}
		for _, q := range r.Match.GetQueryParameters() {
			v, present := query[q.Name]
			switch {
			case q.GetPresentMatch():
				ok = ok && present
			case q.GetStringMatch() != nil:
				ok = ok && present && stringMatches(q.GetStringMatch(), v)
			}
		}
		if ok {
			return r
		}
	}
	return nil
}

func pathMatches(m *route.RouteMatch, path string) bool {
	switch pt := m.GetPathSpecifier().(type) {
	case *route.RouteMatch_Prefix:
		return strings.HasPrefix(path, pt.Prefix)
	case *route.RouteMatch_PathSeparatedPrefix:
		p := pt.PathSeparatedPrefix
		return path == p || strings.HasPrefix(path, p+"/")
	case *route.RouteMatch_Path:
		return path == pt.Path
	case *route.RouteMatch_SafeRegex:
		re, err := regexp.Compile("^(?:" + pt.SafeRegex.GetRegex() + ")$")
		return err == nil && re.MatchString(path)
	}
	return false
}

func headerMatches(h *route.HeaderMatcher, headers map[string]string) bool {
	v, present := headers[strings.ToLower(h.Name)]
	var ok bool
	switch {
	case h.GetPresentMatch():
		ok = present
	case h.GetStringMatch() != nil:
		ok = present && stringMatches(h.GetStringMatch(), v)
	case h.GetExactMatch() != "":
		ok = present && v == h.GetExactMatch()
	case h.GetPrefixMatch() != "":
		ok = present && strings.HasPrefix(v, h.GetPrefixMatch())
	case h.GetSafeRegexMatch() != nil:
		re, err := regexp.Compile("^(?:" + h.GetSafeRegexMatch().GetRegex() + ")$")
		ok = present && err == nil && re.MatchString(v)
	default:
		ok = present
	}
	if h.InvertMatch {
		return !ok
	}
	return ok
}

func stringMatches(m *matcher.StringMatcher, v string) bool {
	if m.IgnoreCase {
		v = strings.ToLower(v)
	}
	lower := func(s string) string {
		if m.IgnoreCase {
			return strings.ToLower(s)
		}
		return s
	}
	switch p := m.GetMatchPattern().(type) {
	case *matcher.StringMatcher_Exact:
		return v == lower(p.Exact)
	case *matcher.StringMatcher_Prefix:
		return strings.HasPrefix(v, lower(p.Prefix))
	case *matcher.StringMatcher_Suffix:
		return strings.HasSuffix(v, lower(p.Suffix))
	case *matcher.StringMatcher_Contains:
		return strings.Contains(v, lower(p.Contains))
	case *matcher.StringMatcher_SafeRegex:
		re, err := regexp.Compile("^(?:" + p.SafeRegex.GetRegex() + ")$")
		return err == nil && re.MatchString(v)
	}
	return false
}
