package daemon

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nocontact/nocontact/daemon/pact"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/dnsfilter/dnstest"
	"github.com/nocontact/nocontact/installer/firewall"
	"github.com/nocontact/nocontact/internal/wait"
)

// fakeLayers is the firewall layer and the browsers' policies of a fake
// machine.
type fakeLayers struct {
	mu       sync.Mutex
	rules    *firewall.Rules // nil: off
	calls    int
	removeBy bool     // the next KeepFirewall finds the layer removed
	putBack  []string // the next KeepBrowsers puts these back
	browsers int
	marked   atomic.Int64
	// hold, when set, keeps the next KeepFirewall waiting (after it says
	// so on entered) until it is closed: a keep round under way.
	hold, entered chan struct{}
}

func (f *fakeLayers) UpstreamControl() (func(network, address string, c syscall.RawConn) error, error) {
	return func(string, string, syscall.RawConn) error { f.marked.Add(1); return nil }, nil
}

func (f *fakeLayers) KeepFirewall(_ context.Context, r *firewall.Rules) (bool, error) {
	f.mu.Lock()
	hold, entered := f.hold, f.entered
	f.hold, f.entered = nil, nil
	f.mu.Unlock()
	if hold != nil {
		close(entered)
		<-hold
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	removed := f.removeBy && f.rules != nil && r != nil
	f.removeBy = false
	f.rules = r
	return removed, nil
}

func (f *fakeLayers) KeepBrowsers(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.browsers++
	out := f.putBack
	f.putBack = nil
	return out, nil
}

func (f *fakeLayers) state() (*firewall.Rules, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rules, f.browsers
}

// TestFirewallLayerKept: installed and blocking, the layer is on with the
// bypass group's addresses as the daemon's own upstream answers them,
// looked up through marked sockets; a removal by someone else and a
// browser policy put back are noted in the record; turning the layer off
// in the settings waits out the cooldown; once nothing is blocked the
// layer goes.
func TestFirewallLayerKept(t *testing.T) {
	// The daemon's upstream: dns.google is 192.0.2.8 and 2001:db8::8,
	// cloudflare-dns.com 192.0.2.1; other names have no address.
	up := dnstest.Serve(t, dnstest.NewZone(t,
		"dns.google. 300 IN A 192.0.2.8",
		"dns.google. 300 IN AAAA 2001:db8::8",
		"cloudflare-dns.com. 300 IN A 192.0.2.1",
	))
	f := newFixture(t)
	cfg := func(extra string) {
		text := "[pact]\nblock = [\"instagram\"]\nlength = \"30d\"\ncooldown = \"1h\"\n[dns]\nlisten = [\"127.0.0.1:0\"]\nupstreams = [\"" + up.String() + "\"]\n" +
			extra + "[daemon]\nstate_dir = \"" + filepath.Join(f.dir, "state") + "\"\ncontrol_socket = \"" + filepath.Join(f.dir, "c.sock") + "\"\n"
		if err := os.WriteFile(f.cfg, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg("")
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	// Installed after the daemon started, as install does (a record
	// there at the first start would be a lost memory).
	sys := &fakeSystem{}
	layers := &fakeLayers{}
	d, err := New(Options{ConfigPath: f.cfg, Catalog: cat, Clock: f.clk, Location: time.UTC, System: sys, Firewall: layers, Browsers: layers})
	if err != nil {
		t.Fatal(err)
	}
	sys.mu.Lock()
	sys.installed = true
	sys.mu.Unlock()
	ctx := context.Background()
	has := func(r *firewall.Rules, a string) bool {
		return r != nil && slices.ContainsFunc(r.DoH, func(e firewall.Entry) bool { return e.Addr == netip.MustParseAddr(a) && e.Keep > 23*time.Hour })
	}
	wait.For(t, "the encrypted-DNS addresses in the firewall layer", func() bool {
		d.keep(ctx)
		r, _ := layers.state()
		return has(r, "192.0.2.8") && has(r, "2001:db8::8") && has(r, "192.0.2.1")
	})
	r, browsers := layers.state()
	if browsers == 0 {
		t.Error("the browsers' policies were never kept")
	}
	if len(r.Upstreams) != 1 || r.Upstreams[0] != up.Addr() {
		t.Errorf("upstreams in the layer: %v, want %v", r.Upstreams, up.Addr())
	}
	if layers.marked.Load() == 0 {
		t.Error("the lookups did not go through the upstream sockets' Control")
	}

	layers.mu.Lock()
	layers.removeBy, layers.putBack = true, []string{"Firefox (/etc/firefox/policies/policies.json)"}
	layers.mu.Unlock()
	d.keep(ctx)
	counts := d.eng.Record().Counts
	if counts[pact.EventFirewallRemoved] != 1 || counts[pact.EventBrowserPolicyRemoved] != 1 {
		t.Errorf("the record after a removal of each: %v", counts)
	}

	// Turning it off is a loosening: queued, and the layer stays.
	cfg("[firewall]\nenabled = false\n")
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	d.keep(ctx)
	if r, _ := layers.state(); r == nil {
		t.Error("the layer went off at once when the settings turned it off")
	}
	f.clk.advance(time.Hour)
	d.step()
	d.keep(ctx)
	if r, _ := layers.state(); r != nil {
		t.Error("the layer is still on after the cooldown")
	}

	// On again, then the pact ends: nothing is blocked, the layer goes.
	cfg("")
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	d.keep(ctx)
	if r, _ := layers.state(); r == nil {
		t.Fatal("turning the layer on again did not apply at once")
	}
	f.clk.advance(31 * 24 * time.Hour)
	d.step()
	before := layers.browsers
	d.keep(ctx)
	if r, b := layers.state(); r != nil || b != before {
		t.Errorf("after the pact: layer %v, browsers kept %d times (was %d); want off and no more keeping", r, b, before)
	}
}

// unmarkable is a machine where the daemon cannot mark its sockets.
type unmarkable struct{ fakeLayers }

func (u *unmarkable) UpstreamControl() (func(string, string, syscall.RawConn) error, error) {
	return nil, syscall.EPERM
}

// TestFirewallStaysOffWithoutTheMark: a layer that would refuse the
// daemon's own questions would leave the machine without DNS, so it is
// never turned on, and the log says why.
func TestFirewallStaysOffWithoutTheMark(t *testing.T) {
	f := newFixture(t)
	f.write(t, `block = ["instagram"]`+"\nlength = \"30d\"")
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	u := &unmarkable{}
	d, err := New(Options{ConfigPath: f.cfg, Catalog: cat, Clock: f.clk, Location: time.UTC, System: &fakeSystem{installed: true},
		Firewall: u, Logger: slog.New(slog.NewTextHandler(f.log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	d.keep(context.Background())
	if r, _ := u.state(); r != nil {
		t.Error("the layer is on though the daemon cannot mark its own questions")
	}
	if !strings.Contains(f.log.String(), "the firewall layer stays off") {
		t.Errorf("the log does not say why:\n%s", f.log)
	}
}

// TestUninstallWaitsForTheKeepRoundUnderWay: uninstall removes the
// firewall layer right after the daemon says it may, so a keep round that
// was already under way must not put the layer back afterwards (CI saw
// exactly that: the machine kept refusing DNS after uninstall). Uninstall
// answers "allowed" only once that round is over, and no round after it
// touches the layer.
func TestUninstallWaitsForTheKeepRoundUnderWay(t *testing.T) {
	f := newFixture(t)
	f.write(t, `block = ["instagram"]`+"\nlength = \"30d\"\ncooldown = \"1h\"")
	sys := &fakeSystem{}
	layers := &fakeLayers{}
	o := f.options(t, sys)
	o.Firewall, o.Browsers = layers, layers
	d := f.startOpts(t, o)
	sys.mu.Lock()
	sys.installed = true
	sys.mu.Unlock()
	ctx := context.Background()
	d.keep(ctx)
	if r, _ := layers.state(); r == nil {
		t.Fatal("the layer is not on while the pact blocks")
	}
	res, err := d.Backend().Uninstall(ctx)
	if err != nil || res.Allowed {
		t.Fatalf("Uninstall during the pact: %+v, %v; want it queued", res, err)
	}
	f.clk.advance(time.Hour)
	d.step()

	hold, entered := make(chan struct{}), make(chan struct{})
	layers.mu.Lock()
	layers.hold, layers.entered = hold, entered
	layers.mu.Unlock()
	kept := make(chan struct{})
	go func() { defer close(kept); d.keep(ctx) }()
	<-entered
	type answer struct {
		allowed bool
		err     error
	}
	uninstalled := make(chan answer, 1)
	go func() {
		res, err := d.Backend().Uninstall(ctx)
		uninstalled <- answer{res.Allowed, err}
	}()
	select {
	case a := <-uninstalled:
		t.Fatalf("Uninstall answered (allowed %v, %v) while a keep round that re-asserts the layer was still under way", a.allowed, a.err)
	case <-time.After(200 * time.Millisecond):
	}
	close(hold)
	if a := <-uninstalled; a.err != nil || !a.allowed {
		t.Fatalf("Uninstall after the cooldown: allowed %v, %v", a.allowed, a.err)
	}
	select {
	case <-kept:
	default:
		t.Fatal("Uninstall answered before the keep round under way was over")
	}

	// What uninstall does now: the layer goes. No round puts it back.
	layers.mu.Lock()
	layers.rules = nil
	calls := layers.calls
	layers.mu.Unlock()
	d.keep(ctx)
	layers.mu.Lock()
	defer layers.mu.Unlock()
	if layers.rules != nil || layers.calls != calls {
		t.Errorf("after uninstall was allowed a keep round touched the firewall layer (%d calls, was %d; rules %v)", layers.calls, calls, layers.rules)
	}
}
