// flux-driver runs Flux's real apply logic (github.com/fluxcd/pkg/ssa v0.78.0,
// ResourceManager.ApplyAllStaged with concurrency 4, as kustomize-controller
// does) against a real kube-apiserver whose validating webhook is meshgate,
// behind a relay that sends each admission review to a random replica (no
// affinity, as HA API servers and endpoint routing give none).
//
// Modes:
//
//	gate: fixed root/delegate cases in both orders, then randomized valid
//	      batches (each must apply with no denial and converge: a second
//	      reconcile changes nothing), then broken batches (each must be stopped
//	      at the real apply of its broken object with exactly its finding, or,
//	      for a missing delegate Flux would apply after its root, admitted with
//	      the MG0107 warning). Exit 1 when any expectation fails.
//	race: randomized valid batches only, counting those whose stage is denied
//	      (meshgate under enforceOnDryRun: true shows the race it avoids).
//
// The last line on stdout is a JSON summary the Rust end-to-end test reads.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// ---------------------------------------------------------------- relay

// relay is an HTTPS reverse proxy that sends each request to a random backend
// and counts, per backend, the dry-run and real reviews it carried.
type relay struct {
	backends []*url.URL
	mu       sync.Mutex
	rng      *rand.Rand
	dry      []atomic.Int64
	real     []atomic.Int64
}

func (r *relay) pick() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rng.Intn(len(r.backends))
}

func startRelay(addr, cert, key, ca string, backends []string, seed int64) (*relay, error) {
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(ca)
	if err != nil {
		return nil, err
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", ca)
	}
	r := &relay{rng: rand.New(rand.NewSource(seed)), dry: make([]atomic.Int64, len(backends)), real: make([]atomic.Int64, len(backends))}
	for _, b := range backends {
		u, err := url.Parse(b)
		if err != nil {
			return nil, err
		}
		r.backends = append(r.backends, u)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			i := r.pick()
			body, _ := io.ReadAll(pr.In.Body)
			pr.Out.Body = io.NopCloser(bytes.NewReader(body))
			pr.Out.ContentLength = int64(len(body))
			var review struct {
				Request struct {
					DryRun bool `json:"dryRun"`
				} `json:"request"`
			}
			_ = json.Unmarshal(body, &review)
			if review.Request.DryRun {
				r.dry[i].Add(1)
			} else {
				r.real[i].Add(1)
			}
			pr.SetURL(r.backends[i])
		},
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool},
			MaxIdleConnsPerHost: 16,
		},
	}
	srv := &http.Server{Addr: addr, Handler: proxy, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServeTLS(cert, key); err != nil && err != http.ErrServerClosed {
			fmt.Fprintf(os.Stderr, "relay: %v\n", err)
			os.Exit(2)
		}
	}()
	return r, nil
}

// ---------------------------------------------------------------- objects

type obj = map[string]any

func object(apiVersion, kind, ns, name string, spec obj) *unstructured.Unstructured {
	meta := obj{"name": name}
	if ns != "" {
		meta["namespace"] = ns
	}
	o := obj{"apiVersion": apiVersion, "kind": kind, "metadata": meta}
	if spec != nil {
		o["spec"] = spec
	}
	return &unstructured.Unstructured{Object: o}
}

const istio = "networking.istio.io/v1"

func route(host string, subset string) []any {
	d := obj{"host": host, "port": obj{"number": int64(80)}}
	if subset != "" {
		d["subset"] = subset
	}
	return []any{obj{"destination": d}}
}

// expectation says how a batch must end.
type expectation struct {
	Kind, Name string // the broken object
	Code       string // its finding
	Pointer    string
	Stopped    bool // denied at its real apply; else admitted with the warning
	What       string
}

type batch struct {
	ns     string
	objs   []*unstructured.Unstructured
	expect *expectation
}

type gen struct {
	rng *rand.Rand
	ids map[string]bool
}

// word gives a fresh random name, so that Flux's name order between a
// referrer and its referent is random too.
func (g *gen) word() string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	for {
		b := make([]byte, 5)
		for i := range b {
			b[i] = letters[g.rng.Intn(len(letters))]
		}
		if !g.ids[string(b)] {
			g.ids[string(b)] = true
			return string(b)
		}
	}
}

// valid builds a batch every object of which meshgate must admit once its
// referents exist: Services, Gateways, DestinationRules with subsets, a
// ServiceEntry, gateway-bound VirtualServices (some to subsets), a mesh
// VirtualService for the external host, and roots with delegates.
func (g *gen) valid(ns string, minGateways int) *batch {
	b := &batch{ns: ns}
	b.objs = append(b.objs, object("v1", "Namespace", "", ns, nil))
	var svcs []string
	withRule := map[string]bool{}
	for i := 0; i < 1+g.rng.Intn(3); i++ {
		s := g.word()
		svcs = append(svcs, s)
		b.objs = append(b.objs, object("v1", "Service", ns, s, obj{
			"selector": obj{"app": s},
			"ports":    []any{obj{"name": "http", "port": int64(80), "targetPort": int64(8080)}},
		}))
		if g.rng.Intn(10) < 6 {
			withRule[s] = true
			b.objs = append(b.objs, object(istio, "DestinationRule", ns, g.word(), obj{
				"host": s,
				"subsets": []any{
					obj{"name": "v1", "labels": obj{"version": "v1"}},
					obj{"name": "v2", "labels": obj{"version": "v2"}},
				},
			}))
		}
	}
	pickSvc := func() string { return svcs[g.rng.Intn(len(svcs))] }
	for i := 0; i < minGateways+g.rng.Intn(2); i++ {
		gw := g.word()
		b.objs = append(b.objs, object(istio, "Gateway", ns, gw, obj{
			"selector": obj{"istio": "ingressgateway"},
			"servers": []any{obj{
				"port":  obj{"number": int64(80), "name": "http", "protocol": "HTTP"},
				"hosts": []any{"*"},
			}},
		}))
		s := pickSvc()
		subset := ""
		if withRule[s] && g.rng.Intn(2) == 0 {
			subset = "v1"
		}
		b.objs = append(b.objs, object(istio, "VirtualService", ns, g.word(), obj{
			"hosts":    []any{g.word() + ".example.com"},
			"gateways": []any{gw},
			"http":     []any{obj{"route": route(s, subset)}},
		}))
	}
	if g.rng.Intn(2) == 0 {
		host := g.word() + ".example.com"
		b.objs = append(b.objs, object(istio, "ServiceEntry", ns, g.word(), obj{
			"hosts":      []any{host},
			"location":   "MESH_EXTERNAL",
			"resolution": "DNS",
			"ports":      []any{obj{"number": int64(80), "name": "http", "protocol": "HTTP"}},
		}))
		b.objs = append(b.objs, object(istio, "VirtualService", ns, g.word(), obj{
			"hosts": []any{host},
			"http":  []any{obj{"timeout": "5s", "route": route(host, "")}},
		}))
	}
	// One mesh root per Service at most (two mesh VirtualServices for one
	// host are an error of their own, MG0108).
	for _, s := range svcs {
		if g.rng.Intn(2) == 0 {
			continue
		}
		d := g.word()
		b.objs = append(b.objs, g.root(ns, g.word(), s, d), object(istio, "VirtualService", ns, d, obj{
			"http": []any{obj{"route": route(pickSvc(), "")}},
		}))
	}
	return b
}

func (g *gen) root(ns, name, svc, delegate string) *unstructured.Unstructured {
	return object(istio, "VirtualService", ns, name, obj{
		"hosts": []any{svc},
		"http": []any{
			obj{"match": []any{obj{"uri": obj{"prefix": "/delegated"}}}, "delegate": obj{"name": delegate, "namespace": ns}},
			obj{"route": route(svc, "")},
		},
	})
}

func kindOf(o *unstructured.Unstructured) string { return o.GetKind() }

// broken takes a valid batch and breaks one object in one of three ways.
func (g *gen) broken(ns string, how int) *batch {
	for {
		b := g.valid(ns, 1)
		var vss, roots []*unstructured.Unstructured
		for _, o := range b.objs {
			if kindOf(o) != "VirtualService" {
				continue
			}
			spec := o.Object["spec"].(obj)
			if _, ok := spec["gateways"]; ok {
				vss = append(vss, o)
			}
			if http, ok := spec["http"].([]any); ok && len(http) == 2 {
				roots = append(roots, o)
			}
		}
		switch how % 3 {
		case 0: // a dangling gateway
			vs := vss[g.rng.Intn(len(vss))]
			vs.Object["spec"].(obj)["gateways"] = []any{"missing-" + g.word()}
			b.expect = &expectation{Kind: "VirtualService", Name: vs.GetName(), Code: "MG0101", Pointer: "/spec/gateways/0", Stopped: true, What: "dangling gateway"}
		case 1: // a missing subset
			vs := vss[g.rng.Intn(len(vss))]
			http := vs.Object["spec"].(obj)["http"].([]any)
			dest := http[0].(obj)["route"].([]any)[0].(obj)["destination"].(obj)
			dest["subset"] = "v9"
			b.expect = &expectation{Kind: "VirtualService", Name: vs.GetName(), Code: "MG0103", Pointer: "/spec/http/0/route/0/destination/subset", Stopped: true, What: "missing subset"}
		case 2: // a missing delegate
			if len(roots) == 0 {
				continue
			}
			root := roots[g.rng.Intn(len(roots))]
			delegate := root.Object["spec"].(obj)["http"].([]any)[0].(obj)["delegate"].(obj)["name"].(string)
			var kept []*unstructured.Unstructured
			for _, o := range b.objs {
				if !(kindOf(o) == "VirtualService" && o.GetName() == delegate) {
					kept = append(kept, o)
				}
			}
			b.objs = kept
			// Flux applies VirtualServices of one namespace by name: a delegate
			// named before its root would be there, one named after may come.
			b.expect = &expectation{Kind: "VirtualService", Name: root.GetName(), Code: "MG0107", Pointer: "/spec/http/0/delegate/name", Stopped: delegate < root.GetName(), What: "missing delegate"}
		}
		return b
	}
}

// ---------------------------------------------------------------- Flux

type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(code int, agent string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

type driver struct {
	m    *ssa.ResourceManager
	c    client.Client
	warn *warnings
}

func newDriver(kubeconfig string) (*driver, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	w := &warnings{}
	cfg.WarningHandler = w
	cfg.QPS, cfg.Burst = 200, 400
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Mapper: mapper})
	if err != nil {
		return nil, err
	}
	poller := polling.NewStatusPoller(c, mapper, polling.Options{})
	m := ssa.NewResourceManager(c, poller, ssa.Owner{Field: "kustomize-controller", Group: "kustomize.toolkit.fluxcd.io"})
	m.SetConcurrency(4) // kustomize-controller's --concurrent-ssa default
	return &driver{m: m, c: c, warn: w}, nil
}

// reconcile is one Kustomization reconciliation of the batch: owner labels,
// then ApplyAllStaged (namespaces first, then everything else: concurrent dry
// runs, then applies one by one in Flux's order, stopping at the first error).
func (d *driver) reconcile(ctx context.Context, b *batch) (*ssa.ChangeSet, error) {
	objs := make([]*unstructured.Unstructured, len(b.objs))
	for i, o := range b.objs {
		objs[i] = o.DeepCopy()
	}
	d.m.SetOwnerLabels(objs, "batch", b.ns)
	opts := ssa.DefaultApplyOptions()
	opts.WaitInterval = 100 * time.Millisecond
	opts.WaitTimeout = 30 * time.Second
	return d.m.ApplyAllStaged(ctx, objs, opts)
}

func (d *driver) exists(ctx context.Context, o *unstructured.Unstructured) (bool, error) {
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(o.GroupVersionKind())
	err := d.c.Get(ctx, client.ObjectKeyFromObject(o), got)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// denial extracts meshgate's message from an apply error, if it is a denial.
func denial(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	const marker = `denied the request: `
	i := strings.Index(s, marker)
	if i < 0 {
		return ""
	}
	return s[i+len(marker):]
}

type result struct {
	Valid, ValidDenied, Converged                 int
	DryRunReferentWarnings                        int
	Broken, BrokenStopped, BrokenAdmittedWithWarn int
	DelegateOrderCases                            int
	Failures                                      []string
	Replicas                                      []map[string]int64
}

func (r *result) fail(format string, args ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
}

func (d *driver) runValid(ctx context.Context, b *batch, res *result, raceMode bool) {
	res.Valid++
	d.warn.take()
	_, err := d.reconcile(ctx, b)
	for _, w := range d.warn.take() {
		if strings.Contains(w, "(dry run: not denied") {
			res.DryRunReferentWarnings++
		}
	}
	if err != nil {
		res.ValidDenied++
		if !raceMode {
			res.fail("valid batch %s denied: %v", b.ns, err)
		}
		return
	}
	// Converged: every object exists, and the next reconciliation changes nothing.
	for _, o := range b.objs {
		if ok, err := d.exists(ctx, o); !ok {
			res.fail("valid batch %s: %s/%s missing after apply (%v)", b.ns, o.GetKind(), o.GetName(), err)
			return
		}
	}
	cs, err := d.reconcile(ctx, b)
	if err != nil {
		res.fail("valid batch %s: second reconciliation failed: %v", b.ns, err)
		return
	}
	for _, e := range cs.Entries {
		if e.Action != ssa.UnchangedAction {
			res.fail("valid batch %s: second reconciliation changed %s (%s)", b.ns, e.Subject, e.Action)
			return
		}
	}
	res.Converged++
}

func (d *driver) runBroken(ctx context.Context, b *batch, res *result) {
	res.Broken++
	e := b.expect
	d.warn.take()
	_, err := d.reconcile(ctx, b)
	warned := false
	for _, w := range d.warn.take() {
		if strings.HasPrefix(w, e.Code+" "+e.Pointer+": ") {
			warned = true
		}
	}
	msg := denial(err)
	if !e.Stopped {
		if err != nil {
			res.fail("broken batch %s (%s, delegate sorted after %s): expected admission with a warning, got %v", b.ns, e.What, e.Name, err)
			return
		}
		if !warned {
			res.fail("broken batch %s (%s): admitted without the %s warning", b.ns, e.What, e.Code)
			return
		}
		res.BrokenAdmittedWithWarn++
		return
	}
	// Stopped at the real apply of the broken object (not in the dry-run
	// phase), with exactly its finding.
	applyFailed := fmt.Sprintf("%s/%s/%s apply failed", e.Kind, b.ns, e.Name)
	switch {
	case err == nil:
		res.fail("broken batch %s (%s): not stopped", b.ns, e.What)
	case !strings.Contains(err.Error(), applyFailed):
		res.fail("broken batch %s (%s): stopped elsewhere than %q: %v", b.ns, e.What, applyFailed, err)
	case !strings.HasPrefix(msg, e.Code+" "+e.Pointer+": ") || strings.Contains(msg, "; MG"):
		res.fail("broken batch %s (%s): denial is not exactly %s %s: %q", b.ns, e.What, e.Code, e.Pointer, msg)
	default:
		for _, o := range b.objs {
			if o.GetKind() == e.Kind && o.GetName() == e.Name {
				if ok, _ := d.exists(ctx, o); ok {
					res.fail("broken batch %s: the broken object was stored", b.ns)
					return
				}
			}
		}
		res.BrokenStopped++
	}
}

// delegateOrders applies a root and its delegate in both of Flux's orders.
func (d *driver) delegateOrders(ctx context.Context, g *gen, res *result, seq *int) {
	for _, names := range [][2]string{{"a-root", "b-delegate"}, {"b-root", "a-delegate"}} {
		ns := fmt.Sprintf("flux-order-%d", *seq)
		*seq++
		b := &batch{ns: ns, objs: []*unstructured.Unstructured{
			object("v1", "Namespace", "", ns, nil),
			object("v1", "Service", ns, "web", obj{"selector": obj{"app": "web"}, "ports": []any{obj{"name": "http", "port": int64(80)}}}),
			g.root(ns, names[0], "web", names[1]),
			object(istio, "VirtualService", ns, names[1], obj{"http": []any{obj{"route": route("web", "")}}}),
		}}
		before := res.Converged
		d.runValid(ctx, b, res, false)
		if res.Converged == before {
			res.fail("root %s with delegate %s did not converge", names[0], names[1])
		}
		res.DelegateOrderCases++
	}
}

// waitForRelay waits until the API server calls meshgate through the relay
// (it picks up the webhook configuration through an informer).
func waitForRelay(ctx context.Context, d *driver, r *relay) error {
	ns := "flux-probe"
	_ = d.c.Create(ctx, object("v1", "Namespace", "", ns, nil))
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		gw := object(istio, "Gateway", ns, "probe", obj{"selector": obj{"istio": "ingressgateway"}, "servers": []any{obj{"port": obj{"number": int64(80), "name": "http", "protocol": "HTTP"}, "hosts": []any{"*"}}}})
		_ = d.c.Create(ctx, gw, client.DryRunAll)
		var n int64
		for i := range r.backends {
			n += r.dry[i].Load()
		}
		if n > 0 {
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("the API server never called the relay")
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the API server")
	listen := flag.String("relay", "127.0.0.1:0", "relay address (the webhook's URL points here)")
	cert := flag.String("tls-cert", "", "relay serving certificate")
	key := flag.String("tls-key", "", "relay serving key")
	ca := flag.String("ca", "", "CA of the replicas' certificate")
	backends := flag.String("backends", "", "comma-separated replica URLs")
	mode := flag.String("mode", "gate", "gate | race")
	valid := flag.Int("valid", 50, "randomized valid batches")
	broken := flag.Int("broken", 12, "broken batches (gate mode)")
	seed := flag.Int64("seed", 1, "random seed")
	prefix := flag.String("prefix", "flux", "namespace prefix")
	flag.Parse()

	r, err := startRelay(*listen, *cert, *key, *ca, strings.Split(*backends, ","), *seed)
	if err != nil {
		fmt.Fprintf(os.Stderr, "relay: %v\n", err)
		os.Exit(2)
	}
	d, err := newDriver(*kubeconfig)
	if err != nil {
		fmt.Fprintf(os.Stderr, "client: %v\n", err)
		os.Exit(2)
	}
	ctx := context.Background()
	if err := waitForRelay(ctx, d, r); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	g := &gen{rng: rand.New(rand.NewSource(*seed)), ids: map[string]bool{}}
	res := &result{}
	seq := 0
	nextNS := func() string {
		seq++
		return fmt.Sprintf("%s-%d-%d", *prefix, *seed, seq)
	}
	start := time.Now()
	switch *mode {
	case "gate":
		d.delegateOrders(ctx, g, res, &seq)
		for i := 0; i < *valid; i++ {
			d.runValid(ctx, g.valid(nextNS(), 0), res, false)
		}
		for i := 0; i < *broken; i++ {
			d.runBroken(ctx, g.broken(nextNS(), i), res)
		}
	case "race":
		for i := 0; i < *valid; i++ {
			d.runValid(ctx, g.valid(nextNS(), 1), res, true)
		}
	default:
		fmt.Fprintf(os.Stderr, "unknown mode %q\n", *mode)
		os.Exit(2)
	}
	for i, b := range r.backends {
		res.Replicas = append(res.Replicas, map[string]int64{"dryRun": r.dry[i].Load(), "real": r.real[i].Load()})
		fmt.Fprintf(os.Stderr, "replica %s: %d dry-run and %d real reviews\n", b.Host, r.dry[i].Load(), r.real[i].Load())
	}
	sort.Strings(res.Failures)
	for _, f := range res.Failures {
		fmt.Fprintln(os.Stderr, "FAIL:", f)
	}
	fmt.Fprintf(os.Stderr, "%s mode: %d valid (%d denied, %d converged), %d broken (%d stopped, %d admitted with warning), %d dry-run referent warnings, %.1f s\n",
		*mode, res.Valid, res.ValidDenied, res.Converged, res.Broken, res.BrokenStopped, res.BrokenAdmittedWithWarn, res.DryRunReferentWarnings, time.Since(start).Seconds())
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	if len(res.Failures) > 0 {
		os.Exit(1)
	}
}
