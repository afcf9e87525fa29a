package daemon

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/nocontact/nocontact/daemon/clock"
	"github.com/nocontact/nocontact/daemon/pact"
	"github.com/nocontact/nocontact/dnsfilter"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/installer/hosts"
	"github.com/nocontact/nocontact/internal/wait"
)

// fakeSystem is an installed (or not) machine whose DNS settings drift
// when the test says so.
type fakeSystem struct {
	mu        sync.Mutex
	installed bool
	drifted   bool
	hosts     []string
	hostsSets int
	keeps     int
	resolvers []netip.AddrPort
}

func (f *fakeSystem) Installed() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.installed }

func (f *fakeSystem) KeepDNS(context.Context) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keeps++
	re := f.drifted
	f.drifted = false
	return re, nil
}

func (f *fakeSystem) SetHosts(_ context.Context, names []string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	changed := !slices.Equal(f.hosts, names)
	f.hosts = slices.Clone(names)
	f.hostsSets++
	return changed, nil
}

func (f *fakeSystem) OriginalResolvers() ([]netip.AddrPort, error) { return f.resolvers, nil }
func (f *fakeSystem) Changes() <-chan struct{}                     { return nil }
func (f *fakeSystem) Traces() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.hosts) > 0 {
		return []string{"nocontact's section of the hosts file"}
	}
	return nil
}

// startWith starts a daemon on the fixture with sys. The first start of a
// fixture sees no install record even when sys has one, as on a real
// machine: install starts the service before it takes over the DNS
// settings and writes the record.
func (f *fixture) startWith(t *testing.T, sys System) *Daemon {
	t.Helper()
	if fs, ok := sys.(*fakeSystem); ok && f.last == nil {
		fs.mu.Lock()
		was := fs.installed
		fs.installed = false
		fs.mu.Unlock()
		defer func() {
			fs.mu.Lock()
			fs.installed = was
			fs.mu.Unlock()
		}()
	}
	return f.startOpts(t, f.options(t, sys))
}

func TestKeepReassertsAndWritesHostsOnlyWhenInstalled(t *testing.T) {
	f := newFixture(t)
	f.write(t, `block = ["instagram"]`+"\nlength = \"30d\"\ncooldown = \"1h\"")
	sys := &fakeSystem{drifted: true}
	d := f.startWith(t, sys)
	ctx := context.Background()

	// A trial run (no record): nothing is touched.
	d.keep(ctx)
	if sys.keeps != 0 || sys.hostsSets != 0 {
		t.Fatalf("not installed, yet KeepDNS ran %d times and SetHosts %d", sys.keeps, sys.hostsSets)
	}

	sys.installed = true
	d.keep(ctx)
	if got := d.reasserts.Load(); got != 1 {
		t.Errorf("reasserts = %d after one drift, want 1", got)
	}
	if !slices.Contains(sys.hosts, "instagram.com") || !slices.Contains(sys.hosts, "www.instagram.com") {
		t.Errorf("hosts layer %v, want instagram.com and www.instagram.com", sys.hosts)
	}
	d.keep(ctx) // no drift this time
	if got := d.reasserts.Load(); got != 1 {
		t.Errorf("reasserts = %d without a drift, want still 1", got)
	}
	st, _ := d.Backend().Status(ctx)
	if st.Health.Reasserts != 1 {
		t.Errorf("status shows %d re-asserts, want 1", st.Health.Reasserts)
	}

	// The pact ends: nothing binds, so no re-assert, and the hosts layer
	// goes.
	f.clk.advance(31 * 24 * time.Hour)
	d.step()
	sys.drifted = true
	keeps := sys.keeps
	d.keep(ctx)
	if sys.keeps != keeps {
		t.Error("the DNS settings were re-asserted after the pact ended")
	}
	if len(sys.hosts) != 0 {
		t.Errorf("hosts layer after the pact ended: %v, want none", sys.hosts)
	}
}

func TestHostsLayerOff(t *testing.T) {
	// Off from the first start: the pact begins without the layer.
	f := newFixture(t)
	f.write(t, `block = ["instagram"]`+"\nlength = \"30d\"\n[hosts_file]\nenabled = false")
	sys := &fakeSystem{installed: true}
	d := f.startWith(t, sys)
	d.keep(context.Background())
	if sys.hostsSets != 1 || len(sys.hosts) != 0 {
		t.Errorf("[hosts_file] enabled = false: SetHosts %d times with %v, want once with none", sys.hostsSets, sys.hosts)
	}

	// Turned off during a pact: a loosening, which waits out the cooldown
	// while the layer stays.
	g := newFixture(t)
	g.write(t, `block = ["instagram"]`+"\nlength = \"30d\"\ncooldown = \"1h\"")
	sys = &fakeSystem{installed: true}
	d = g.startWith(t, sys)
	g.write(t, `block = ["instagram"]`+"\nlength = \"30d\"\ncooldown = \"1h\"\n[hosts_file]\nenabled = false")
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	d.keep(context.Background())
	if len(sys.hosts) == 0 {
		t.Error("the hosts layer went at once when the settings turned it off during a pact")
	}
	if p := d.Status().Pending; len(p) != 1 || p[0].Op != pact.OpHosts {
		t.Errorf("pending %+v, want the hosts layer's removal queued", p)
	}
	g.clk.advance(time.Hour)
	d.step()
	d.keep(context.Background())
	if len(sys.hosts) != 0 {
		t.Errorf("after the cooldown the hosts layer still lists %d names", len(sys.hosts))
	}
}

func TestUninstallThroughTheDaemon(t *testing.T) {
	f := newFixture(t)
	f.write(t, `block = ["instagram"]`+"\nlength = \"30d\"\ncooldown = \"1h\"")
	sys := &fakeSystem{installed: true}
	d := f.startWith(t, sys)
	ctx := context.Background()
	b := d.Backend()
	res, err := b.Uninstall(ctx)
	if err != nil || res.Allowed || res.Pending == nil || res.Pending.ID == "" {
		t.Fatalf("Uninstall during the pact: %+v, %v; want it queued", res, err)
	}
	// It survives a restart, and matures on the boot clock.
	f.clk.advance(time.Hour)
	d = f.startWith(t, sys)
	d.step()
	res, err = d.Backend().Uninstall(ctx)
	if err != nil || !res.Allowed {
		t.Fatalf("Uninstall after the cooldown: %+v, %v; want allowed", res, err)
	}
	// Allowed: the daemon stands down.
	sys.drifted = true
	d.keep(ctx)
	if sys.keeps != 0 {
		t.Error("the daemon re-asserted the DNS settings after allowing uninstall")
	}
}

func TestUninstallRefusedWhenStrict(t *testing.T) {
	f := newFixture(t)
	f.write(t, `block = ["instagram"]`+"\nlength = \"30d\"\nstrict = true")
	d := f.startWith(t, &fakeSystem{installed: true})
	res, err := d.Backend().Uninstall(context.Background())
	if err != nil || res.Allowed || !res.Refused || res.End == nil {
		t.Fatalf("Uninstall of a strict pact: %+v, %v; want refused with the end", res, err)
	}
}

func TestSystemUpstreamsUseTheSavedResolvers(t *testing.T) {
	f := newFixture(t)
	f.write(t, `block = ["instagram"]`)
	// Rewrite upstreams to "system".
	cfgText := strings.Replace(readFile(t, f.cfg), `upstreams = ["127.0.0.1:9"]`, `upstreams = ["system"]`, 1)
	writeFile(t, f.cfg, cfgText)
	sys := &fakeSystem{installed: true, resolvers: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.53:53")}}
	d := f.startOpts(t, f.options(t, sys)) // installed from the start: the forwarder is built in New
	var got []string
	for _, h := range d.up.Health() {
		got = append(got, h.Name)
	}
	if len(got) != 1 || !strings.Contains(got[0], "192.0.2.53") {
		t.Errorf("upstreams %v, want the saved 192.0.2.53:53 only", got)
	}
}

func TestHostsNames(t *testing.T) {
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	spec := dnsfilter.Spec{
		Platforms: []string{"instagram"},
		Domains:   []string{"their-blog.example"},
		Allow:     []string{"www.instagram.com"},
	}
	p, _ := cat.Lookup("instagram")
	got := HostsNames(cat, spec)
	for _, d := range p.Domains {
		if !slices.Contains(got, d) {
			t.Errorf("HostsNames lacks %s: %v", d, got)
		}
	}
	for _, want := range []string{"their-blog.example", "www.their-blog.example"} {
		if !slices.Contains(got, want) {
			t.Errorf("HostsNames lacks %s: %v", want, got)
		}
	}
	if slices.Contains(got, "www.instagram.com") {
		t.Errorf("HostsNames lists the allowed www.instagram.com: %v", got)
	}
	if !slices.IsSorted(got) {
		t.Errorf("HostsNames not sorted: %v", got)
	}
	// The bypass group is never listed, even when a spec names it.
	var bypass []string
	for _, p := range cat.Category(catalog.Bypass) {
		bypass = append(bypass, p.ID)
	}
	if got := HostsNames(cat, dnsfilter.Spec{Platforms: bypass}); len(got) != 0 {
		t.Errorf("HostsNames of the bypass group: %v, want none", got)
	}
	if got := HostsNames(cat, dnsfilter.Spec{}); len(got) != 0 {
		t.Errorf("HostsNames of nothing: %v", got)
	}
	// The usual names of each domain, and the names the apps use.
	for _, want := range []string{"m.instagram.com", "mobile.instagram.com", "api.instagram.com", "www.cdninstagram.com",
		"i.instagram.com", "graph.instagram.com", "scontent.cdninstagram.com"} {
		if !slices.Contains(got, want) {
			t.Errorf("HostsNames lacks %s", want)
		}
	}
}

// TestHostsNamesBounded: with every platform of every group blocked, the
// hosts layer lists every name of the catalog's platforms (their domains,
// the usual names under them, the names their apps use), stays under
// MaxHostsNames, and makes a well-formed section; the settings' own
// domains fill the rest up to the bound, never past it.
func TestHostsNamesBounded(t *testing.T) {
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	var want []string
	for _, p := range cat.Platforms() {
		ids = append(ids, p.ID)
		if p.Category == catalog.Bypass {
			continue
		}
		for _, d := range p.Domains {
			for _, pre := range hostsPrefixes {
				want = append(want, pre+d)
			}
		}
		want = append(want, p.Hosts...)
	}
	got := HostsNames(cat, dnsfilter.Spec{Platforms: ids})
	t.Logf("every platform blocked: %d names, %d lines in the hosts file (bound %d names)", len(got), 2*len(got), MaxHostsNames)
	if len(got) > MaxHostsNames*9/10 {
		t.Errorf("the catalog alone takes %d of the %d names the hosts layer may list: raise the bound or list fewer names", len(got), MaxHostsNames)
	}
	for _, w := range want {
		if _, ok := slices.BinarySearch(got, w); !ok {
			t.Errorf("HostsNames lacks %s", w)
		}
	}
	if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Error("HostsNames is not sorted without duplicates")
	}
	sec, err := hosts.Section(got, "\n")
	if err != nil {
		t.Fatalf("the names do not make a hosts section: %v", err)
	}
	if lines := strings.Count(string(sec), "\n"); lines != 2*len(got)+3 {
		t.Errorf("the section has %d lines, want %d", lines, 2*len(got)+3)
	}

	var own []string
	for i := range 2 * MaxHostsNames {
		own = append(own, fmt.Sprintf("d%d.example", i))
	}
	all := HostsNames(cat, dnsfilter.Spec{Platforms: ids, Domains: own})
	if len(all) != MaxHostsNames {
		t.Errorf("with %d domains of the settings: %d names, want the bound %d", len(own), len(all), MaxHostsNames)
	}
	for _, w := range got {
		if _, ok := slices.BinarySearch(all, w); !ok {
			t.Fatalf("with many domains of the settings, the catalog's %s is left out", w)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestNoUsableSystemUpstreamStillAnswers: "system" finds nothing but
// nocontact itself (the installed machine's settings point at it, and the
// record holds no servers): the daemon must not exit, which would leave
// the machine with no DNS at all. It answers blocked names, SERVFAILs the
// rest, and logs exactly what to write in [dns] upstreams.
func TestNoUsableSystemUpstreamStillAnswers(t *testing.T) {
	f := newFixture(t)
	f.write(t, `block = ["instagram"]`)
	writeFile(t, f.cfg, strings.Replace(readFile(t, f.cfg), `upstreams = ["127.0.0.1:9"]`, `upstreams = ["system"]`, 1))
	root := t.TempDir() // its etc/resolv.conf names only nocontact
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "etc", "resolv.conf"), "# written by nocontact\n")
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	d, err := New(Options{ConfigPath: f.cfg, Catalog: cat, Clock: f.clk, Location: time.UTC,
		System: &fakeSystem{installed: true}, SystemRoot: root, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Witness: func(url string) clock.Witness { return offline{url} }})
	if err != nil {
		t.Fatalf("New = %v; want the daemon to start without upstreams", err)
	}
	for _, want := range []string{`no upstream resolver left`, `[dns] section of ` + f.cfg, `upstreams = [\"9.9.9.9\", \"149.112.112.112\"]`, "sudo nocontact reload", "SERVFAIL"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log does not say %q:\n%s", want, logs.String())
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()
	var addr string
	wait.For(t, "the filter to listen", func() bool {
		if a := d.srv.Addrs(); len(a) > 0 {
			addr = a[0].String()
		}
		return addr != ""
	})
	ask := func(name string) *dns.Msg {
		t.Helper()
		q := new(dns.Msg)
		q.SetQuestion(dns.Fqdn(name), dns.TypeA)
		r, _, err := (&dns.Client{Timeout: 6 * time.Second}).Exchange(q, addr)
		if err != nil {
			t.Fatalf("asking %s: %v", name, err)
		}
		return r
	}
	if r := ask("instagram.com"); r.Rcode == dns.RcodeServerFailure {
		t.Errorf("blocked instagram.com: %s, want the block answered locally", dns.RcodeToString[r.Rcode])
	}
	if r := ask("example.org"); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("example.org with no upstream: %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	st, err := d.Backend().Status(context.Background())
	if err != nil || len(st.Health.Upstreams) != 0 {
		t.Errorf("status: %+v, %v; want no upstreams", st.Health, err)
	}
}

// syncBuffer is a bytes.Buffer safe for the daemon's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestStatusSaysWhenUninstallingIsAllowed: status carries the engine's
// answer (binding, the request waiting or matured) into control.Status.
func TestStatusSaysWhenUninstallingIsAllowed(t *testing.T) {
	f := newFixture(t)
	f.write(t, `block = ["instagram"]`+"\nlength = \"30d\"\ncooldown = \"1h\"")
	d := f.startWith(t, &fakeSystem{installed: true})
	ctx := context.Background()
	st, err := d.Backend().Status(ctx)
	if err != nil || st.Uninstall.Allowed || st.Uninstall.Requested {
		t.Fatalf("while the pact binds, nothing asked: %+v, %v", st.Uninstall, err)
	}
	res, err := d.Backend().Uninstall(ctx)
	if err != nil || res.Pending == nil {
		t.Fatalf("Uninstall = %+v, %v; want it queued", res, err)
	}
	st, _ = d.Backend().Status(ctx)
	u := st.Uninstall
	if u.Allowed || !u.Requested || u.ID != res.Pending.ID || u.Effective == nil || !u.Effective.Equal(res.Pending.Effective) {
		t.Errorf("queued: %+v, want requested %s at %v, not allowed", u, res.Pending.ID, res.Pending.Effective)
	}
	f.clk.advance(2 * time.Hour)
	st, _ = d.Backend().Status(ctx)
	if u := st.Uninstall; !u.Allowed || !u.Requested {
		t.Errorf("after the cooldown: %+v, want allowed", u)
	}

	g := newFixture(t)
	g.write(t, `block = ["instagram"]`+"\nlength = \"1h\"")
	d = g.startWith(t, &fakeSystem{installed: true})
	g.clk.advance(2 * time.Hour)
	st, _ = d.Backend().Status(ctx)
	if u := st.Uninstall; !u.Allowed || u.Requested {
		t.Errorf("after the pact ended: %+v, want allowed, nothing requested", u)
	}
}
