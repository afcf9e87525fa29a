package daemon

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/daemon/control"
	"github.com/nocontact/nocontact/daemon/lanca"
	"github.com/nocontact/nocontact/dnsfilter"
	"github.com/nocontact/nocontact/dnsfilter/export"
)

// lan serves the other devices of the network (phones) beside the
// filter's own listeners, through the same dnsfilter.Server: plain DNS on
// [dns] listen addresses the filter did not start with (added by a
// reload, or not there yet when it started, like a Wi-Fi address at
// boot), and DNS over TLS and HTTPS on [dns] tls_listen and https_listen,
// with a certificate from the CA in the state folder (lanca).
//
// It is applied at start, after every reload and at every wake of the run
// loop (at least once a minute), so that an address that appears later
// is picked up and a certificate is renewed before it ends. Nothing here
// is a loosening of the pact: every query goes through the same policy,
// and only lan_clients are answered.
type lan struct {
	d  *Daemon
	ep *dnsfilter.Endpoints

	mu       sync.Mutex
	asked    dnsfilter.EndpointSpec // what the settings ask for
	problems map[string]string      // "tls 192.168.1.20:853" → why it does not serve
	ca       *lanca.CA
	caErr    error
	leaf     atomic.Pointer[tls.Certificate]
	leafIPs  []netip.Addr
}

func newLAN(d *Daemon) *lan {
	return &lan{d: d, ep: dnsfilter.NewEndpoints(d.srv), problems: map[string]string{}}
}

// device names the client of a blocked lookup for the attempt counts:
// "" for this computer, its address for another device.
func device(src netip.Addr) string {
	if !src.IsValid() || src.IsLoopback() {
		return ""
	}
	return src.String()
}

// applyLAN makes the LAN endpoints serve what the settings say now.
func (d *Daemon) applyLAN() {
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	d.lan.apply(cfg, d.clk.Now())
}

func (l *lan) apply(cfg *config.Config, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	spec := dnsfilter.EndpointSpec{
		TLS:   slices.Clone(cfg.DNS.TLSListenAddrs),
		HTTPS: slices.Clone(cfg.DNS.HTTPSListenAddrs),
		Cert:  l.leaf.Load,
	}
	main := l.d.srv.Addrs()
	for _, a := range cfg.DNS.ListenAddrs {
		if !servedBy(main, a) {
			spec.Plain = append(spec.Plain, a)
		}
	}
	asked := spec
	problems := map[string]string{}
	if len(spec.TLS)+len(spec.HTTPS) > 0 {
		if err := l.certify(append(slices.Clone(spec.TLS), spec.HTTPS...), now); err != nil {
			for _, a := range spec.TLS {
				problems[key("tls", a)] = err.Error()
			}
			for _, a := range spec.HTTPS {
				problems[key("https", a)] = err.Error()
			}
			spec.TLS, spec.HTTPS = nil, nil
		}
	}
	errs := map[string]string{}
	for _, e := range l.ep.Set(spec) {
		errs[key(e.Kind, e.Addr)] = e.Err.Error()
	}
	for kind, list := range map[string][]netip.AddrPort{"plain": spec.Plain, "tls": spec.TLS, "https": spec.HTTPS} {
		for _, a := range list {
			if _, ok := l.ep.Bound(kind, a); !ok {
				problems[key(kind, a)] = errs[key(kind, a)]
			}
		}
	}
	// Say each problem once, and when it is gone.
	for k, p := range problems {
		if _, had := l.problems[k]; !had {
			l.d.log.Warn("a LAN endpoint does not serve; nocontact tries again every minute", "endpoint", k, "why", p)
		}
	}
	for k := range l.problems {
		if _, has := problems[k]; !has {
			l.d.log.Info("a LAN endpoint serves again", "endpoint", k)
		}
	}
	l.asked, l.problems = asked, problems
}

func key(kind string, a netip.AddrPort) string { return kind + " " + a.String() }

// servedBy reports whether the filter's own listeners serve a: the same
// address, on the same port or, for port 0, on the one it picked.
func servedBy(main []netip.AddrPort, a netip.AddrPort) bool {
	for _, m := range main {
		if m.Addr() == a.Addr() && (m.Port() == a.Port() || a.Port() == 0) {
			return true
		}
	}
	return false
}

// certify makes sure there is a CA and a server certificate for the
// addresses, valid for at least lanca.RenewBefore. The caller holds l.mu.
func (l *lan) certify(addrs []netip.AddrPort, now time.Time) error {
	if l.ca == nil {
		host, _ := os.Hostname() // only a name on the CA: "" is fine
		ca, made, err := lanca.Load(l.d.dir, host, now)
		if err != nil {
			if l.caErr == nil || l.caErr.Error() != err.Error() {
				l.d.log.Error("the encrypted DNS endpoints for phones cannot start without their certificate authority", "err", err)
			}
			l.caErr = err
			return err
		}
		if made {
			l.d.log.Info("made a certificate authority for the phones' encrypted DNS; set each phone up with 'nocontact phone'",
				"file", l.d.dir+string(os.PathSeparator)+lanca.FileName)
		}
		l.ca, l.caErr = ca, nil
	}
	var ips []netip.Addr
	for _, a := range addrs {
		if !slices.Contains(ips, a.Addr()) {
			ips = append(ips, a.Addr())
		}
	}
	slices.SortFunc(ips, func(a, b netip.Addr) int { return a.Compare(b) })
	if c := l.leaf.Load(); c != nil && slices.Equal(ips, l.leafIPs) && now.Before(c.Leaf.NotAfter.Add(-lanca.RenewBefore)) {
		return nil
	}
	c, err := l.ca.Issue(ips, now)
	if err != nil {
		return err
	}
	l.leaf.Store(c)
	l.leafIPs = ips
	l.d.log.Info("server certificate for the phones' encrypted DNS made", "addresses", fmt.Sprint(ips),
		"valid_until", c.Leaf.NotAfter.In(l.d.loc).Format(time.DateOnly))
	return nil
}

// close stops every LAN endpoint.
func (l *lan) close() { l.ep.Close() }

// listening returns the LAN endpoints that serve, for status.
func (l *lan) listening() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range []struct {
		kind string
		list []netip.AddrPort
		what string
	}{{"plain", l.asked.Plain, ""}, {"tls", l.asked.TLS, " (DNS over TLS)"}, {"https", l.asked.HTTPS, " (DNS over HTTPS)"}} {
		for _, a := range e.list {
			if b, ok := l.ep.Bound(e.kind, a); ok {
				out = append(out, b.String()+e.what)
			}
		}
	}
	return out
}

// view describes the LAN endpoints for `nocontact phone`.
func (l *lan) view(clients []netip.Prefix) control.LAN {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := control.LAN{Clients: []string{}, Plain: []control.Endpoint{}, TLS: []control.Endpoint{}, HTTPS: []control.Endpoint{}}
	for _, p := range clients {
		out.Clients = append(out.Clients, p.String())
	}
	one := func(kind string, a netip.AddrPort) control.Endpoint {
		e := control.Endpoint{Addr: a.String(), Problem: l.problems[key(kind, a)]}
		if b, ok := l.ep.Bound(kind, a); ok {
			e.Listening, e.Bound = true, b.String()
			if kind == "https" {
				e.URL = DoHURL(b)
			}
		}
		return e
	}
	for _, a := range l.asked.Plain {
		out.Plain = append(out.Plain, one("plain", a))
	}
	for _, a := range l.asked.TLS {
		out.TLS = append(out.TLS, one("tls", a))
	}
	for _, a := range l.asked.HTTPS {
		out.HTTPS = append(out.HTTPS, one("https", a))
	}
	if l.ca != nil {
		out.CA = string(l.ca.CertPEM())
	} else if l.caErr != nil {
		out.CAProblem = l.caErr.Error()
	}
	return out
}

// DoHURL is the DNS over HTTPS address of an endpoint bound at b.
func DoHURL(b netip.AddrPort) string {
	host := b.Addr().String()
	if b.Addr().Is6() {
		host = "[" + host + "]"
	}
	if b.Port() != config.DefaultHTTPSPort {
		host += fmt.Sprintf(":%d", b.Port())
	}
	return "https://" + host + dnsfilter.DoHPath
}

func (b backend) Blocklist(ctx context.Context) (export.List, error) {
	return b.d.srv.Policy().Blocklist(), nil
}

func (b backend) LAN(ctx context.Context) (control.LAN, error) {
	d := b.d
	d.mu.Lock()
	clients := d.cfg.DNS.LANPrefixes
	d.mu.Unlock()
	return d.lan.view(clients), nil
}
