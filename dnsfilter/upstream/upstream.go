// Package upstream forwards the questions nocontact does not answer itself
// to the resolvers the user chose, and finds the system's resolvers when
// the user chose "system".
//
// It never answers from its own knowledge and knows nothing of what is
// blocked: the filter asks it only for names it has decided to let through.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Exchanger answers one DNS question. The DNS server calls it for every
// name it forwards; it must be safe for concurrent use.
type Exchanger interface {
	Exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error)
}

// DefaultTimeout is how long one try at one upstream may take.
const DefaultTimeout = 2 * time.Second

// ErrAllFailed is returned (wrapped, with the last failure) when no
// upstream gave a usable answer.
var ErrAllFailed = errors.New("no upstream answered")

// Forwarder sends questions to plain DNS upstreams, in order: UDP first,
// TCP when the UDP answer is truncated, the next upstream when one fails or
// answers SERVFAIL or REFUSED.
type Forwarder struct {
	servers []netip.AddrPort
	timeout time.Duration
	log     *slog.Logger
}

// NewForwarder returns a forwarder to servers, each try bounded by timeout
// (DefaultTimeout when zero). A nil logger means quiet.
func NewForwarder(servers []netip.AddrPort, timeout time.Duration, log *slog.Logger) (*Forwarder, error) {
	if len(servers) == 0 {
		return nil, errors.New("no upstream resolvers: set [dns] upstreams in the config, like upstreams = [\"9.9.9.9\"]")
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Forwarder{servers: servers, timeout: timeout, log: log}, nil
}

// Servers returns the upstreams, in the order they are tried.
func (f *Forwarder) Servers() []netip.AddrPort { return f.servers }

// Exchange forwards q and returns the first usable answer, with q's ID.
// q is not modified.
func (f *Forwarder) Exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	var last error
	for _, srv := range f.servers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r, err := f.try(ctx, srv, q)
		if err == nil {
			return r, nil
		}
		f.log.Debug("upstream failed", "upstream", srv.String(), "err", err)
		last = err
	}
	return nil, fmt.Errorf("%w: %w", ErrAllFailed, last)
}

func (f *Forwarder) try(ctx context.Context, srv netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
	out := q.Copy()
	out.Id = dns.Id()
	addr := srv.String()
	c := &dns.Client{Net: "udp", Timeout: f.timeout, UDPSize: 1232}
	r, _, err := c.ExchangeContext(ctx, out, addr)
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.ExchangeContext(ctx, out, addr)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	if err := checkReply(out, r); err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	r.Id = q.Id
	return r, nil
}

// checkReply refuses an answer that is not for our question, or that says
// this upstream could not or would not answer.
func checkReply(q, r *dns.Msg) error {
	if r.Id != q.Id {
		return errors.New("answer has the wrong ID")
	}
	if len(r.Question) != 1 || !strings.EqualFold(r.Question[0].Name, q.Question[0].Name) ||
		r.Question[0].Qtype != q.Question[0].Qtype || r.Question[0].Qclass != q.Question[0].Qclass {
		return errors.New("answer is for another question")
	}
	switch r.Rcode {
	case dns.RcodeServerFailure, dns.RcodeRefused, dns.RcodeNotImplemented, dns.RcodeFormatError:
		return fmt.Errorf("answered %s", dns.RcodeToString[r.Rcode])
	}
	return nil
}

// WithoutSelf returns addrs without the addresses nocontact itself listens
// on (listen), so that it never forwards a question to itself.
func WithoutSelf(addrs, listen []netip.AddrPort) []netip.AddrPort {
	var out []netip.AddrPort
	for _, a := range addrs {
		if !isSelf(a, listen) {
			out = append(out, a)
		}
	}
	return out
}

// isSelf reports whether a is one of our own listen addresses; a wildcard
// listen address (0.0.0.0, ::) covers every loopback address on its port.
func isSelf(a netip.AddrPort, listen []netip.AddrPort) bool {
	a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	for _, l := range listen {
		if l.Port() != a.Port() {
			continue
		}
		if l.Addr().Unmap() == a.Addr() || (l.Addr().IsUnspecified() && a.Addr().IsLoopback()) {
			return true
		}
	}
	return false
}

// ParseResolvConf returns the nameserver addresses of a resolv.conf file,
// port 53, in order. Lines it does not understand are skipped, as the C
// library does.
func ParseResolvConf(text string) []netip.AddrPort {
	var out []netip.AddrPort
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		a, err := netip.ParseAddr(f[1])
		if err != nil {
			continue
		}
		out = append(out, netip.AddrPortFrom(a, 53))
	}
	return out
}
