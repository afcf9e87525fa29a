// Package dnsfilter answers DNS for the machine: it refuses clients outside
// loopback and the configured LAN, answers a few special names itself,
// gives the blocked answer for names the current policy blocks, and
// forwards everything else, checking that the upstream's answer does not
// lead into a blocked domain.
//
// It knows nothing of periods, cooldowns or pacts: it is handed an
// immutable Policy and swaps it atomically when the daemon publishes a new
// one. It reports every blocked lookup through a hook so the daemon can
// count them.
package dnsfilter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/cache"
	"github.com/nocontact/nocontact/dnsfilter/match"
	"github.com/nocontact/nocontact/dnsfilter/upstream"
)

// ForwardTimeout bounds the whole upstream exchange for one question, over
// every upstream it tries: a client must have an answer, SERVFAIL at worst,
// before its own resolver gives up (5 s for the C library).
const ForwardTimeout = 4 * time.Second

// StaleAnswerTimeout is RFC 8767's client response timer: when the cache
// holds only an expired answer and the upstreams have not answered within
// it, the client gets the stale answer while the question goes on in the
// background and refreshes the cache. (While every upstream is known to be
// down they are not asked at all, and the stale answer goes at once.)
const StaleAnswerTimeout = 1800 * time.Millisecond

// WatchedTTL caps the TTL of answers for the domains of catalog platforms
// that are not blocked now, so that when a block starts, browsers and the
// OS forget the real addresses within minutes.
const WatchedTTL = 300

// Options configure a Server. The zero value of each field is documented.
type Options struct {
	// Listen is where to serve, over UDP and TCP on each address. Port 0
	// picks a free port (the same one for UDP and TCP); Addrs reports it.
	Listen []netip.AddrPort
	// LANClients are the networks, besides loopback, whose clients are
	// answered. Empty: loopback only. Every other source gets REFUSED.
	LANClients []netip.Prefix
	// Upstream answers the forwarded questions. Nil: every forwarded
	// question gets SERVFAIL.
	Upstream upstream.Exchanger
	// Logger receives start-up, error and (at debug level) per-query
	// lines. Nil means quiet.
	Logger *slog.Logger
	// OnBlocked, when set, is called for every blocked lookup with the
	// client that asked and the rule that blocked it. It runs on the
	// query path: keep it short.
	OnBlocked func(src netip.Addr, r match.Rule)
	// ClientRate is the queries per second each client off this machine
	// may send (twice that in a burst); more are dropped. Zero means
	// DefaultClientRate; negative means no limit.
	ClientRate int
	// Cache keeps upstream answers, and serves expired ones when no
	// upstream answers. Nil: nothing is cached, every forwarded question
	// goes upstream (identical ones in flight still share one exchange).
	Cache *cache.Cache
	// Loop is the mark the forwarder puts on its queries; a query that
	// carries it came back to us and is answered SERVFAIL. Nil: no check
	// by mark (CheckLoops still finds loops by probing).
	Loop *upstream.LoopMark
	// Exclusive binds one UDP socket to each address, without
	// SO_REUSEPORT, so that no other process can bind it while the filter
	// holds it. False (the default) lets several sockets, one per core,
	// share each address on Linux; but any other process of the same
	// user (root, for the service) can then join the port and take its
	// share of the questions. The installed service sets it.
	Exclusive bool
}

// Server is the DNS filter. Create it with NewServer, then Start it.
type Server struct {
	opts     Options
	log      *slog.Logger
	policy   atomic.Pointer[Policy]
	upstream atomic.Pointer[upstream.Exchanger]
	lan      atomic.Pointer[[]netip.Prefix]

	flights    flights
	loopLogged atomic.Bool

	wmu      sync.Mutex
	wflights map[cache.Key]*wireJob // wire-level questions in flight

	limiter        *rateLimiter
	slow           chan struct{} // a place per slow-path query under way
	slowFullLogged atomic.Bool

	probeMu sync.Mutex
	probes  map[string]bool // loop probe names that reached us, lower-case

	mu      sync.Mutex
	servers []*dns.Server // UDP on wildcard addresses
	udp     []*udpServer  // UDP on the other addresses, with the fast path
	tcp     []*tcpServer
	addrs   []netip.AddrPort
}

// NewServer returns a server that answers with policy p until SetPolicy
// replaces it.
func NewServer(opts Options, p *Policy) (*Server, error) {
	if p == nil {
		return nil, errors.New("dnsfilter: NewServer needs a policy")
	}
	if len(opts.Listen) == 0 {
		return nil, errors.New("dnsfilter: no listen address: set [dns] listen in the config, like listen = [\"127.0.0.1:53\"]")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, log: log}
	rate := opts.ClientRate
	if rate == 0 {
		rate = DefaultClientRate
	}
	s.limiter = newRateLimiter(max(rate, 0), nil)
	s.slow = make(chan struct{}, maxSlow)
	s.policy.Store(p)
	s.SetUpstream(opts.Upstream)
	s.SetLANClients(opts.LANClients)
	return s, nil
}

// SetUpstream replaces the upstream; nil means SERVFAIL for every
// forwarded question.
func (s *Server) SetUpstream(u upstream.Exchanger) { s.upstream.Store(&u) }

// SetLANClients replaces the networks whose clients are answered besides
// loopback.
func (s *Server) SetLANClients(lan []netip.Prefix) {
	lan = append([]netip.Prefix(nil), lan...)
	s.lan.Store(&lan)
}

// SetPolicy replaces the policy; queries already being answered finish
// with the old one.
func (s *Server) SetPolicy(p *Policy) {
	if p != nil {
		s.policy.Store(p)
	}
}

// Policy returns the policy in force.
func (s *Server) Policy() *Policy { return s.policy.Load() }

// Addrs returns the addresses the server listens on, with the ports
// actually bound, once Start has returned.
func (s *Server) Addrs() []netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]netip.AddrPort(nil), s.addrs...)
}

// Start binds every listen address over UDP and TCP and returns once all of
// them serve. An address that does not exist on this machine (an IPv6
// loopback where IPv6 is off) is skipped with a warning as long as another
// one works; any other failure stops everything and is returned.
//
// UDP on a given address is served by our own loop with the fast path
// (udpServer); on a wildcard address (0.0.0.0, ::), where the answer must
// leave from the address the query came to, by miekg/dns, which does that.
// TCP is always ours (tcpServer), which cannot be starved by idle
// connections.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.servers) > 0 || len(s.udp) > 0 || len(s.tcp) > 0 {
		return errors.New("dnsfilter: server already started")
	}
	var started sync.WaitGroup
	var skipped []error
	for _, addr := range s.opts.Listen {
		own := !addr.Addr().IsUnspecified()
		n := 1
		if own && !s.opts.Exclusive {
			n = udpSockets()
		}
		pcs, ln, err := bindBoth(addr, n)
		if errors.Is(err, syscall.EADDRNOTAVAIL) {
			skipped = append(skipped, err)
			continue
		}
		if err != nil {
			s.closeLocked()
			return explainBind(addr, err)
		}
		bound := pcs[0].LocalAddr().(*net.UDPAddr).AddrPort()
		s.addrs = append(s.addrs, netip.AddrPortFrom(addr.Addr(), bound.Port()))
		s.tcp = append(s.tcp, s.newTCPServer(ln))
		var srvs []*dns.Server
		if own {
			s.udp = append(s.udp, s.newUDPServer(pcs))
		} else {
			srvs = append(srvs, &dns.Server{PacketConn: pcs[0], Handler: s, UDPSize: UDPSize})
		}
		for _, srv := range srvs {
			started.Add(1)
			srv.NotifyStartedFunc = started.Done
			s.servers = append(s.servers, srv)
			go func() {
				if err := srv.ActivateAndServe(); err != nil {
					s.log.Error("DNS listener stopped", "addr", addr.String(), "err", err)
				}
			}()
		}
	}
	if len(s.addrs) == 0 {
		return fmt.Errorf("no listen address could be used: %w", errors.Join(skipped...))
	}
	for _, err := range skipped {
		s.log.Warn("skipping a listen address this machine does not have", "err", err)
	}
	started.Wait()
	for _, a := range s.addrs {
		s.log.Info("listening", "addr", a.String(), "proto", "udp+tcp")
	}
	return nil
}

// bindBoth binds TCP and n UDP sockets (see listenUDP) on the same
// address; with port 0 it retries until the port TCP got is free for UDP
// too. TCP goes first because it is bound without SO_REUSEPORT: with port
// 0 the kernel then picks a port no other server of ours holds, whereas a
// SO_REUSEPORT UDP socket bound to port 0 may be given the port of another
// SO_REUSEPORT group of the same user, and join it.
func bindBoth(addr netip.AddrPort, n int) ([]*net.UDPConn, net.Listener, error) {
	for try := 0; ; try++ {
		ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(addr))
		if err != nil {
			return nil, nil, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pcs, err := listenUDP(netip.AddrPortFrom(addr.Addr(), uint16(port)), n)
		if err == nil {
			return pcs, ln, nil
		}
		ln.Close()
		if addr.Port() != 0 || try >= 20 {
			return nil, nil, err
		}
	}
}

func explainBind(addr netip.AddrPort, err error) error {
	switch {
	case errors.Is(err, syscall.EACCES) && addr.Port() < 1024:
		return fmt.Errorf("listen on %s: %w: ports below 1024 need root (or the service install); "+
			"to try nocontact without root, listen on a high port like \"127.0.0.1:5353\"", addr, err)
	case errors.Is(err, syscall.EADDRINUSE):
		who := "systemd-resolved, dnsmasq or a second nocontact?"
		if addr.Port() == 5353 {
			who = "on port 5353 often avahi-daemon, the multicast DNS service"
		}
		return fmt.Errorf("listen on %s: %w: another program already uses this address (%s); "+
			"stop it or choose another [dns] listen address, like \"127.0.0.1:5354\"", addr, err, who)
	}
	return fmt.Errorf("listen on %s: %w", addr, err)
}

// Shutdown stops every listener and waits for them, up to ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, srv := range s.servers {
		if err := srv.ShutdownContext(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, u := range s.udp {
		if err := u.shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, t := range s.tcp {
		if err := t.shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	s.servers = nil
	s.udp = nil
	s.tcp = nil
	s.addrs = nil
	return errors.Join(errs...)
}

func (s *Server) closeLocked() {
	for _, srv := range s.servers {
		_ = srv.Shutdown()
	}
	for _, u := range s.udp {
		_ = u.shutdown(context.Background())
	}
	for _, t := range s.tcp {
		_ = t.shutdown(context.Background())
	}
	s.servers = nil
	s.udp = nil
	s.tcp = nil
	s.addrs = nil
}

// ServeDNS implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	src, udp := peer(w.RemoteAddr())
	if _, ours := w.(*udpWriter); !ours && !s.admit(src) {
		return // rate limited (our own UDP loop checks before the fast path)
	}
	resp := s.Answer(context.Background(), src, q)
	if resp == nil {
		return
	}
	if udp {
		size := dns.MinMsgSize
		if o := q.IsEdns0(); o != nil {
			size = min(max(int(o.UDPSize()), dns.MinMsgSize), UDPSize)
		}
		resp.Truncate(size)
	}
	if err := w.WriteMsg(resp); err != nil {
		s.log.Debug("writing an answer failed", "client", src.String(), "err", err)
	}
}

func peer(a net.Addr) (netip.Addr, bool) {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap(), true
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap(), false
	}
	return netip.Addr{}, false
}

// Allowed reports whether a client at src may use this server: loopback,
// or inside one of the LAN networks.
func (s *Server) Allowed(src netip.Addr) bool {
	src = src.Unmap()
	if src.IsLoopback() {
		return true
	}
	for _, p := range *s.lan.Load() {
		if p.Contains(src) {
			return true
		}
	}
	return false
}

// Answer computes the answer to q from a client at src: REFUSED for a
// client that may not use us, the local answer for special and blocked
// names, the upstream's (checked) answer otherwise, SERVFAIL when no
// upstream answers. It returns nil when q deserves no answer (it is itself
// a response). The caller truncates for UDP.
func (s *Server) Answer(ctx context.Context, src netip.Addr, q *dns.Msg) *dns.Msg {
	if q.Response {
		return nil
	}
	if !s.Allowed(src) {
		m := new(dns.Msg)
		m.SetRcode(q, dns.RcodeRefused)
		return m
	}
	if o := q.IsEdns0(); o != nil && o.Version() != 0 {
		// RFC 6891 section 6.1.3: a version we do not speak gets BADVERS,
		// in our version (0), before anything else is looked at.
		return reply(q, dns.RcodeBadVers)
	}
	if q.Opcode != dns.OpcodeQuery {
		return reply(q, dns.RcodeNotImplemented)
	}
	if len(q.Question) != 1 {
		return reply(q, dns.RcodeFormatError)
	}
	name := q.Question[0].Name
	if s.opts.Loop.Marked(q) {
		// One of our own questions came back: forwarding it again would
		// send it round until it timed out.
		if !s.loopLogged.Swap(true) {
			s.log.Error("a question nocontact sent upstream came back to it: an upstream forwards to nocontact (a loop); " +
				"answering such questions SERVFAIL; write other resolvers in [dns] upstreams")
		}
		return reply(q, dns.RcodeServerFailure)
	}
	if upstream.IsLoopProbe(name) {
		s.probeArrived(name)
		return reply(q, dns.RcodeServerFailure)
	}
	p := s.policy.Load()
	if m := special(q, p); m != nil {
		return m
	}
	r, matched := p.Match(name)
	if matched && r.Action == match.Block {
		s.log.Debug("blocked", "name", name, "platform", r.Platform, "rule", r.Domain)
		return s.blocked(src, q, r)
	}
	if q.Question[0].Qtype == dns.TypeANY {
		return anyAnswer(q)
	}
	var capTTL uint32
	if matched && r.Action == match.Watch {
		capTTL = WatchedTTL
	}
	return s.checkTarget(src, q, s.resolve(ctx, q, capTTL), p, matched && r.Action == match.Allow)
}

// checkTarget gives the blocked answer in place of resp when resp leads
// into a blocked domain through a CNAME, DNAME, HTTPS or SVCB target. An
// allowed name (allow) stays reachable whatever it points to.
func (s *Server) checkTarget(src netip.Addr, q, resp *dns.Msg, p *Policy, allow bool) *dns.Msg {
	if resp.Rcode != dns.RcodeSuccess || allow {
		return resp
	}
	if br, ok := blockedTarget(p, resp); ok {
		s.log.Debug("blocked by answer", "name", q.Question[0].Name, "target", br.Domain, "platform", br.Platform)
		return s.blocked(src, q, br)
	}
	return resp
}

func (s *Server) blocked(src netip.Addr, q *dns.Msg, r match.Rule) *dns.Msg {
	if s.opts.OnBlocked != nil {
		s.opts.OnBlocked(src, r)
	}
	return blockedAnswer(q, r.Domain, r.Platform)
}

// resolve answers q from the cache, or from the upstreams (one exchange
// for all identical questions in flight), or stale from the cache when no
// upstream answers, or SERVFAIL. capTTL, when not zero, caps every TTL.
// Nothing here holds a lock across the exchange: cached and blocked
// answers never wait behind upstream work.
func (s *Server) resolve(ctx context.Context, q *dns.Msg, capTTL uint32) *dns.Msg {
	k := cache.KeyOf(q)
	c := s.opts.Cache
	stale := false
	if c != nil {
		if h, ok := c.Stale(k); ok {
			if !h.Stale() {
				if resp := s.fromCache(q, h, capTTL); resp != nil {
					return resp
				}
			}
			stale = h.Stale()
		}
	}
	up := *s.upstream.Load()
	if up == nil {
		return reply(q, dns.RcodeServerFailure)
	}
	ask := func() (*dns.Msg, error) {
		resp, err := s.exchange(up, q, k.DO)
		if err == nil && c != nil {
			c.Put(k, resp, capTTL)
		}
		return resp, err
	}
	var msg *dns.Msg
	var err error
	if !stale {
		msg, err, _ = s.flights.do(ctx, k, ask)
	} else {
		msg, err = s.staleTimer(ctx, k, ask)
	}
	if err != nil {
		return s.failure(q, k, capTTL, err)
	}
	return shape(q, msg.Copy(), capTTL)
}

// errSlowUpstreams ends the wait for the upstreams after the client
// response timer, a stale answer being at hand.
var errSlowUpstreams = errors.New("the upstreams did not answer within the client response timer")

// staleTimer runs ask (the flight for k) on a goroutine of its own and
// waits for it at most StaleAnswerTimeout: past that the caller serves
// the stale answer, and the flight goes on and refreshes the cache.
func (s *Server) staleTimer(ctx context.Context, k cache.Key, ask func() (*dns.Msg, error)) (*dns.Msg, error) {
	type result struct {
		msg *dns.Msg
		err error
	}
	done := make(chan result, 1)
	go func() {
		msg, err, _ := s.flights.do(context.Background(), k, ask)
		done <- result{msg, err}
	}()
	t := time.NewTimer(StaleAnswerTimeout)
	defer t.Stop()
	select {
	case r := <-done:
		return r.msg, r.err
	case <-t.C:
		return nil, errSlowUpstreams
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// failure answers q when no upstream answered it (err): with the stale
// answer from the cache if there is one (RFC 8767), else SERVFAIL, with
// an Extended DNS Error 22 ("No Reachable Authority") when the upstreams
// were not even asked because all of them failed moments ago.
func (s *Server) failure(q *dns.Msg, k cache.Key, capTTL uint32, err error) *dns.Msg {
	if c := s.opts.Cache; c != nil {
		if h, ok := c.Stale(k); ok {
			if resp := s.fromCache(q, h, capTTL); resp != nil {
				s.log.Debug("no upstream answered: serving a stale answer", "name", q.Question[0].Name, "err", err)
				return resp
			}
		}
	}
	s.log.Debug("forwarding failed", "name", q.Question[0].Name, "err", err)
	m := reply(q, dns.RcodeServerFailure)
	if o := m.IsEdns0(); o != nil && errors.Is(err, upstream.ErrAllDown) {
		o.Option = append(o.Option, &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeNoReachableAuthority, ExtraText: allDownText})
	}
	return m
}

// allDownText is the Extended DNS Error text of a SERVFAIL given without
// asking, every upstream having failed moments ago.
const allDownText = "no upstream resolver answers; nocontact is checking them again"

// exchange asks the upstreams the question q, with only our own EDNS
// record: nothing of the client's (client subnet, cookies) leaves the
// machine. The exchange is bounded by ForwardTimeout, not by the client
// that started it, since other clients may be waiting for it too.
func (s *Server) exchange(up upstream.Exchanger, q *dns.Msg, do bool) (*dns.Msg, error) {
	out := new(dns.Msg)
	out.SetQuestion(q.Question[0].Name, q.Question[0].Qtype)
	out.Question[0].Qclass = q.Question[0].Qclass
	out.CheckingDisabled = q.CheckingDisabled
	out.SetEdns0(UDPSize, do)
	ctx, cancel := context.WithTimeout(context.Background(), ForwardTimeout)
	defer cancel()
	return up.Exchange(ctx, out)
}

func (s *Server) fromCache(q *dns.Msg, h cache.Hit, capTTL uint32) *dns.Msg {
	resp, err := h.Msg(q.Id)
	if err != nil {
		s.log.Warn("a cached answer could not be read back; asking the upstreams instead", "err", err)
		return nil
	}
	return shape(q, resp, capTTL)
}

// shape fits an upstream or cached answer to the client's question: the
// client's ID and spelling of the name, our EDNS record in place of
// theirs, TTLs capped at capTTL when it is not zero.
func shape(q, resp *dns.Msg, capTTL uint32) *dns.Msg {
	resp.Id = q.Id
	resp.Question = q.Question // the client's spelling of the name (0x20 case)
	resp.RecursionDesired = q.RecursionDesired
	resp.RecursionAvailable = true
	extra := resp.Extra[:0]
	for _, rr := range resp.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			extra = append(extra, rr)
		}
	}
	resp.Extra = extra
	if o := q.IsEdns0(); o != nil {
		resp.SetEdns0(UDPSize, o.Do())
	}
	if capTTL > 0 {
		for _, sec := range [][]dns.RR{resp.Answer, resp.Ns, resp.Extra} {
			for _, rr := range sec {
				if h := rr.Header(); h.Rrtype != dns.TypeOPT && h.Ttl > capTTL {
					h.Ttl = capTTL
				}
			}
		}
	}
	resp.Compress = true
	return resp
}

// probeArrived notes that a loop probe name reached us.
func (s *Server) probeArrived(name string) {
	s.probeMu.Lock()
	defer s.probeMu.Unlock()
	if s.probes == nil {
		s.probes = map[string]bool{}
	}
	if len(s.probes) < 1024 {
		s.probes[strings.ToLower(name)] = true
	}
}

func (s *Server) sawProbe(name string) bool {
	s.probeMu.Lock()
	defer s.probeMu.Unlock()
	k := strings.ToLower(name)
	saw := s.probes[k]
	delete(s.probes, k)
	return saw
}

// CheckLoops sends a probe name through each plain upstream and drops the
// upstreams that send it back to this server: they forward to us, maybe
// through resolvers that strip the loop mark. Call it once the server is
// started, and after each SetUpstream. It returns the upstreams dropped.
func (s *Server) CheckLoops(ctx context.Context) []string {
	up := *s.upstream.Load()
	lc, ok := up.(interface {
		CheckLoops(ctx context.Context, arrived func(string) bool) []string
	})
	if !ok {
		return nil
	}
	return lc.CheckLoops(ctx, s.sawProbe)
}

// blockedTarget finds, in an upstream answer, a CNAME, DNAME, HTTPS or
// SVCB target that lies inside a blocked domain.
func blockedTarget(p *Policy, resp *dns.Msg) (match.Rule, bool) {
	for _, rr := range resp.Answer {
		var target string
		switch rr := rr.(type) {
		case *dns.CNAME:
			target = rr.Target
		case *dns.DNAME:
			target = rr.Target
		case *dns.HTTPS:
			target = rr.Target
		case *dns.SVCB:
			target = rr.Target
		default:
			continue
		}
		if r, ok := p.Blocks(target); ok {
			return r, true
		}
	}
	return match.Rule{}, false
}
