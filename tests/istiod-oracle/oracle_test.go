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
	"os"
	"testing"

	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/pkg/simulation"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pilot/test/xdstest"
	"istio.io/istio/pkg/config"
)

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
	Calls  []Call `json:"calls"`
}

type Outcome struct {
	Listener      string `json:"listener"`
	FilterChain   string `json:"filterChain"`
	RouteConfig   string `json:"routeConfig"`
	VirtualHost   string `json:"virtualHost"`
	Route         string `json:"route"`
	Cluster       string `json:"cluster"`
	ClusterExists bool   `json:"clusterExists"`
	Error         string `json:"error"`
}

type CaseResult struct {
	Name     string    `json:"name"`
	Outcomes []Outcome `json:"outcomes"`
	// Set when istiod's generator could not be run on the case at all.
	Failure string `json:"failure,omitempty"`
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
	s := xds.NewFakeDiscoveryServer(t, xds.FakeOptions{
		Configs:                withDomain,
		KubernetesObjectString: c.Kube,
	})
	for _, call := range c.Calls {
		proxy := s.SetupProxy(proxyOf(call.Proxy))
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
		o.ClusterExists = o.Cluster != "" && clusters[o.Cluster]
		if r.Error != nil {
			o.Error = r.Error.Error()
		}
		res.Outcomes = append(res.Outcomes, o)
	}
	return res
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
