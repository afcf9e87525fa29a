package upstream

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// doh is a DNS over HTTPS server (RFC 8484), asked with POST. The standard
// library's client keeps its connections open and speaks HTTP/2 to it.
type doh struct {
	url    string
	client *http.Client
	try    time.Duration
	host   string     // the URL's host: an address, or a name looked up through boot
	boot   *bootstrap // nil without bootstrap resolvers
}

// hostAddrs returns the addresses of the server: its host when it is an
// address, or else what the bootstrap lookups found so far, and the
// bootstrap resolvers themselves.
func (d *doh) hostAddrs() []netip.Addr {
	if a, err := netip.ParseAddr(d.host); err == nil {
		return []netip.Addr{a}
	}
	if d.boot == nil {
		return nil
	}
	var out []netip.Addr
	for _, s := range d.boot.servers {
		out = append(out, s.Addr())
	}
	d.boot.mu.Lock()
	defer d.boot.mu.Unlock()
	return append(out, d.boot.known[d.host].ips...)
}

const dnsMessage = "application/dns-message"

func newDoH(raw string, boot *bootstrap, roots *x509.CertPool, try time.Duration, control func(network, address string, c syscall.RawConn) error) (*doh, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("upstream %q: want an address like \"https://dns.quad9.net/dns-query\"", raw)
	}
	host := u.Hostname()
	_, ipErr := netip.ParseAddr(host)
	if ipErr != nil && boot == nil {
		return nil, fmt.Errorf("upstream %q: nocontact cannot look up %q without a bootstrap resolver: "+
			"set [dns] bootstrap, like bootstrap = [\"9.9.9.9\"], or write the server's IP address in the URL", raw, host)
	}
	nd := net.Dialer{Control: control}
	tr := &http.Transport{
		// Never the system's resolver (that is us) and never a proxy
		// from the environment.
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			h, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if _, err := netip.ParseAddr(h); err == nil {
				return nd.DialContext(ctx, network, addr)
			}
			if boot == nil {
				return nil, fmt.Errorf("no bootstrap resolver to look up %q", h)
			}
			ips, err := boot.lookup(ctx, h)
			if err != nil {
				return nil, err
			}
			var errs []error
			for _, ip := range ips {
				c, err := nd.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
				if err == nil {
					return c, nil
				}
				errs = append(errs, err)
			}
			return nil, errors.Join(errs...)
		},
		TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: try,
	}
	return &doh{url: raw, client: &http.Client{Transport: tr}, try: try, host: host, boot: boot}, nil
}

func (d *doh) exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, d.try)
	defer cancel()
	// RFC 8484 section 4.1: ID 0, so that HTTP caches can share answers.
	out := q.Copy()
	out.Id = 0
	body, err := out.Pack()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", dnsMessage)
	req.Header.Set("Accept", dnsMessage)
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096)) // only to reuse the connection
		return nil, fmt.Errorf("HTTP status %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != dnsMessage {
		return nil, fmt.Errorf("answer of type %q, want %s", ct, dnsMessage)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, dns.MaxMsgSize+1))
	if err != nil {
		return nil, err
	}
	r := new(dns.Msg)
	if err := r.Unpack(b); err != nil {
		return nil, fmt.Errorf("unreadable answer: %w", err)
	}
	if r.Id != 0 || !r.Response || !sameQuestion(q, r) {
		return nil, errors.New("the answer is not for our question")
	}
	r.Id = q.Id
	return r, nil
}

func (d *doh) closeIdle() { d.client.CloseIdleConnections() }

// bootstrap looks up the host names of HTTPS upstreams through plain DNS
// resolvers of the user's choice, never through the system (which is us),
// and keeps the addresses for their TTL, and past it while the resolvers
// do not answer.
type bootstrap struct {
	servers []netip.AddrPort
	try     time.Duration
	loop    *LoopMark
	now     func() time.Time
	control func(network, address string, c syscall.RawConn) error // see Options.Control

	mu    sync.Mutex
	known map[string]bootEntry
}

type bootEntry struct {
	ips     []netip.Addr
	expires time.Time
}

func (b *bootstrap) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	b.mu.Lock()
	e, ok := b.known[host]
	b.mu.Unlock()
	if ok && b.now().Before(e.expires) {
		return e.ips, nil
	}
	var ips []netip.Addr
	ttl := uint32(3600)
	var errs []error
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		q := new(dns.Msg)
		q.SetQuestion(dns.Fqdn(host), qt)
		q.SetEdns0(1232, false)
		r, err := b.ask(ctx, q)
		if err != nil {
			errs = append(errs, err)
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
			ips = append(ips, a)
			ttl = min(ttl, rr.Header().Ttl)
		}
	}
	if len(ips) == 0 {
		if ok {
			return e.ips, nil // the last addresses known beat none
		}
		return nil, fmt.Errorf("bootstrap: looking up %q: no address (%w)", host, errors.Join(errs...))
	}
	b.mu.Lock()
	if b.known == nil {
		b.known = map[string]bootEntry{}
	}
	b.known[host] = bootEntry{ips: ips, expires: b.now().Add(time.Duration(max(ttl, 60)) * time.Second)}
	b.mu.Unlock()
	return ips, nil
}

func (b *bootstrap) ask(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	var last error
	for _, s := range b.servers {
		out := q.Copy()
		out.Id = dns.Id()
		if b.loop != nil {
			b.loop.add(out)
		}
		p := &plain{addr: s.String(), try: b.try, control: b.control}
		r, err := p.exchange(ctx, out)
		if err == nil && r.Rcode == dns.RcodeSuccess {
			return r, nil
		}
		if err == nil {
			err = fmt.Errorf("%s answered %s", s, dns.RcodeToString[r.Rcode])
		}
		last = err
	}
	return nil, last
}
