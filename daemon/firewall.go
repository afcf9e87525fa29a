package daemon

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/nocontact/nocontact/daemon/pact"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/installer/firewall"
)

// Firewall is the installed machine's firewall layer as the daemon keeps
// it (see installer/firewall): while anything is blocked and the pact
// keeps the layer on, DNS to anything but nocontact's upstreams and
// HTTPS to the known encrypted-DNS services are refused. The daemon
// decides when and with which addresses; the implementation (the
// installer's Keeper) knows how.
type Firewall interface {
	// UpstreamControl returns the function every upstream socket is
	// dialled with, so that the layer lets the daemon's own questions
	// through (nil when nothing needs it), or an error when the daemon's
	// sockets cannot be told apart (the layer then stays off).
	UpstreamControl() (func(network, address string, c syscall.RawConn) error, error)
	// KeepFirewall puts the layer in force with r, or removes it when r
	// is nil. removed says it was in force and something else had
	// removed it; it is back.
	KeepFirewall(ctx context.Context, r *firewall.Rules) (removed bool, err error)
}

// Browsers are the browsers' policies that turn off their own encrypted
// DNS (see installer/browsers), written at install and kept while the
// pact binds.
type Browsers interface {
	// KeepBrowsers writes the policies where they are missing (a browser
	// installed since, one whose policy was removed) and returns what it
	// put back that had been written before: each, a removal by someone.
	KeepBrowsers(ctx context.Context) (putBack []string, err error)
}

// The encrypted-DNS addresses: each name of the catalog's bypass group is
// looked up through the daemon's own upstreams, again when its TTL runs
// out (within these bounds), and each address stays in the layer for
// dohHold after it was last seen, so that a failed lookup does not open
// the way.
const (
	dohMinTTL   = time.Minute
	dohMaxTTL   = time.Hour
	dohHold     = 24 * time.Hour
	dohParallel = 8
)

// dohAddrs is what the daemon knows of the encrypted-DNS services.
type dohAddrs struct {
	mu      sync.Mutex
	until   map[netip.Addr]time.Time // address → when it leaves the layer
	next    map[string]time.Time     // name → when to look it up again
	running atomic.Bool              // a lookup round is under way
}

// firewallControl returns what the upstream sockets are dialled with, and
// whether the layer may be turned on: it may not when the daemon's own
// questions could not be told apart, since that would leave the machine
// with no DNS at all. Why is logged when the layer would be wanted
// (keepLayers), not here: a trial run without rights has no layer.
func firewallControl(fw Firewall) (ctl func(string, string, syscall.RawConn) error, usable bool, why error) {
	if fw == nil {
		return nil, false, nil
	}
	ctl, err := fw.UpstreamControl()
	if err != nil {
		return nil, false, err
	}
	return ctl, true, nil
}

// keepLayers keeps the browsers' policies (while the pact binds) and the
// firewall layer (while anything is blocked and the pact keeps it on),
// and notes in the record what someone else removed. keep calls it.
func (d *Daemon) keepLayers(ctx context.Context) {
	d.mu.Lock()
	now := d.clk.Now()
	binding := d.eng.Binding(now)
	blocking := len(d.spec.Platforms)+len(d.spec.Domains) > 0
	wanted := d.eng.Firewall() && blocking
	fwOn := wanted && d.fwUsable
	up := d.up
	d.mu.Unlock()
	if wanted && !d.fwUsable && d.opts.Firewall != nil && !d.fwSaid.Swap(true) {
		d.log.Error("the firewall layer stays off: nocontact could not mark its own questions to its upstreams, and without that the layer would cut this computer's DNS; "+
			"the service needs the CAP_NET_ADMIN capability", "err", d.fwWhy)
	}

	if b := d.opts.Browsers; b != nil && binding {
		back, err := b.KeepBrowsers(ctx)
		if err != nil {
			d.log.Error("could not check the browsers' policies; trying again at the next wake", "err", err)
		}
		for _, what := range back {
			d.log.Warn("something removed a browser's policy that turns off its own encrypted DNS; nocontact put it back", "policy", what)
			d.note(pact.EventBrowserPolicyRemoved, "the browser policy "+what+" was removed")
		}
	}

	fw := d.opts.Firewall
	if fw == nil {
		return
	}
	var rules *firewall.Rules
	if fwOn {
		var ups []netip.Addr
		if up != nil {
			d.refreshDoH(up, now)
			ups = up.Addrs()
		}
		r := d.firewallRules(ups, now)
		rules = &r
	}
	removed, err := fw.KeepFirewall(ctx, rules)
	switch {
	case err != nil:
		d.log.Error("could not keep the firewall layer; trying again at the next wake", "err", err)
	case removed:
		d.log.Warn("something removed nocontact's firewall rules; nocontact put them back")
		d.note(pact.EventFirewallRemoved, "nocontact's firewall rules were removed")
	}
}

// firewallRules returns the layer's rules now: the upstreams' addresses
// and every encrypted-DNS address still held.
func (d *Daemon) firewallRules(upstreams []netip.Addr, now time.Time) firewall.Rules {
	r := firewall.Rules{Upstreams: upstreams}
	d.doh.mu.Lock()
	defer d.doh.mu.Unlock()
	for a, until := range d.doh.until {
		if !until.After(now) {
			delete(d.doh.until, a)
			continue
		}
		r.DoH = append(r.DoH, firewall.Entry{Addr: a, Keep: until.Sub(now)})
	}
	slices.SortFunc(r.DoH, func(x, y firewall.Entry) int { return x.Addr.Compare(y.Addr) })
	return r
}

// bypassNames returns the names of the catalog's bypass group.
func bypassNames(cat *catalog.Catalog) []string {
	var out []string
	for _, p := range cat.Category(catalog.Bypass) {
		out = append(out, p.Domains...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// refreshDoH starts, in the background, a lookup of every bypass name
// whose time has come, unless one is under way; when it found something
// new the daemon wakes to put it in the layer. The run loop never waits
// for the upstreams.
func (d *Daemon) refreshDoH(up exchanger, now time.Time) {
	d.doh.mu.Lock()
	var due []string
	for _, n := range bypassNames(d.opts.Catalog) {
		if t, ok := d.doh.next[n]; !ok || !t.After(now) {
			due = append(due, n)
		}
	}
	d.doh.mu.Unlock()
	if len(due) == 0 || !d.doh.running.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer d.doh.running.Store(false)
		if d.lookupDoH(up, due) {
			d.poke()
		}
	}()
}

// exchanger is the forwarder, as the lookups use it.
type exchanger interface {
	Exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error)
}

// lookupDoH looks up the A and AAAA records of names through up, and
// reports whether an address was new.
func (d *Daemon) lookupDoH(up exchanger, names []string) bool {
	var (
		wg    sync.WaitGroup
		sem   = make(chan struct{}, dohParallel)
		fresh atomic.Bool
	)
	for _, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			addrs, ttl := resolveBoth(up, name)
			now := d.clk.Now()
			d.doh.mu.Lock()
			defer d.doh.mu.Unlock()
			if d.doh.until == nil {
				d.doh.until, d.doh.next = map[netip.Addr]time.Time{}, map[string]time.Time{}
			}
			d.doh.next[name] = now.Add(min(max(ttl, dohMinTTL), dohMaxTTL))
			for _, a := range addrs {
				if _, ok := d.doh.until[a]; !ok {
					fresh.Store(true)
				}
				d.doh.until[a] = now.Add(dohHold)
			}
		}()
	}
	wg.Wait()
	return fresh.Load()
}

// resolveBoth returns the A and AAAA addresses of name and the shortest
// TTL among them (zero when none: looked up again at the shortest
// interval).
func resolveBoth(up exchanger, name string) ([]netip.Addr, time.Duration) {
	var out []netip.Addr
	var ttl uint32
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		q := new(dns.Msg)
		q.SetQuestion(dns.Fqdn(name), qt)
		r, err := up.Exchange(ctx, q)
		cancel()
		if err != nil || r.Rcode != dns.RcodeSuccess {
			continue
		}
		for _, rr := range r.Answer {
			var a netip.Addr
			switch rr := rr.(type) {
			case *dns.A:
				a, _ = netip.AddrFromSlice(rr.A.To4())
			case *dns.AAAA:
				a, _ = netip.AddrFromSlice(rr.AAAA)
			default:
				continue
			}
			// Never loopback or unspecified: a sinkholing upstream's
			// 0.0.0.0 is not a service to block.
			if a.IsValid() && !a.IsLoopback() && !a.IsUnspecified() {
				out = append(out, a)
				if ttl == 0 || rr.Header().Ttl < ttl {
					ttl = rr.Header().Ttl
				}
			}
		}
	}
	return out, time.Duration(ttl) * time.Second
}
