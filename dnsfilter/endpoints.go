package dnsfilter

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/netutil"
)

// Endpoints are more ways into one Server, which a running daemon can add
// and remove without a restart: plain DNS on addresses the Server did not
// start with, DNS over TLS (RFC 7858) and DNS over HTTPS (RFC 8484), for
// the phones and other devices of the LAN. Every query they carry goes
// through the Server's own answer path (Answer: access, special names,
// policy, cache, upstreams, answer check, and the OnBlocked hook), so
// they block exactly what the Server blocks; and through its per-client
// rate limit.
//
// The encrypted ones refuse a client outside loopback and the Server's
// LAN networks before the TLS handshake (the connection is closed), and
// take one token of the client's rate limit per connection, so that
// handshakes, the costly part, cannot be used to load the machine.
type Endpoints struct {
	s   *Server
	log *slog.Logger

	mu    sync.Mutex
	cert  func() *tls.Certificate
	plain map[netip.AddrPort]*plainEndpoint
	dot   map[netip.AddrPort]*dns.Server
	doh   map[netip.AddrPort]*http.Server
	bound map[string]netip.AddrPort // kind and address asked → bound (port 0 picks one)
}

// EndpointSpec is what the Endpoints should serve.
type EndpointSpec struct {
	// Plain, TLS and HTTPS are the addresses for plain DNS (UDP and TCP),
	// DNS over TLS and DNS over HTTPS (at DoHPath). Port 0 picks a free
	// port, for tests.
	Plain, TLS, HTTPS []netip.AddrPort
	// Cert returns the certificate to present; it is asked at every
	// handshake, so a renewed one is used at once. Required with TLS or
	// HTTPS.
	Cert func() *tls.Certificate
}

// DoHPath is where DNS over HTTPS is served.
const DoHPath = "/dns-query"

// Timeouts of the encrypted endpoints. A phone keeps its connection open
// between lookups (RFC 7858 asks servers to allow that), so idle ones
// stay longer than on plain TCP; a connection that does not finish its
// handshake and first query soon is closed.
const (
	tlsReadTimeout = 5 * time.Second
	tlsIdleTimeout = 30 * time.Second
	// maxDoHBody bounds a DNS over HTTPS request: one DNS message.
	maxDoHBody = 65535
)

// NewEndpoints returns endpoints for s, serving nothing yet.
func NewEndpoints(s *Server) *Endpoints {
	return &Endpoints{s: s, log: s.log,
		plain: map[netip.AddrPort]*plainEndpoint{}, dot: map[netip.AddrPort]*dns.Server{},
		doh: map[netip.AddrPort]*http.Server{}, bound: map[string]netip.AddrPort{}}
}

// Set makes the endpoints serve what spec says: it starts the ones that
// are missing (including those that failed before: an address that
// appears later, once the Wi-Fi is up, is picked up by the next Set) and
// stops the ones spec no longer has. It returns one error per address
// that could not be served; the others serve regardless.
func (e *Endpoints) Set(spec EndpointSpec) []EndpointError {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cert = spec.Cert
	var errs []EndpointError
	for a, p := range e.plain {
		if !slices.Contains(spec.Plain, a) {
			p.shutdown()
			delete(e.plain, a)
			delete(e.bound, boundKey("plain", a))
			e.log.Info("stopped listening", "addr", a.String(), "proto", "udp+tcp")
		}
	}
	for a, srv := range e.dot {
		if !slices.Contains(spec.TLS, a) {
			_ = srv.Shutdown() // it has stopped either way
			delete(e.dot, a)
			delete(e.bound, boundKey("tls", a))
			e.log.Info("stopped listening", "addr", a.String(), "proto", "dns-over-tls")
		}
	}
	for a, srv := range e.doh {
		if !slices.Contains(spec.HTTPS, a) {
			_ = srv.Close() // it has stopped either way
			delete(e.doh, a)
			delete(e.bound, boundKey("https", a))
			e.log.Info("stopped listening", "addr", a.String(), "proto", "dns-over-https")
		}
	}
	for _, a := range spec.Plain {
		if e.plain[a] != nil {
			continue
		}
		p, err := e.startPlain(a)
		if err != nil {
			errs = append(errs, EndpointError{"plain", a, explainBind(a, err)})
			continue
		}
		e.plain[a] = p
	}
	if (len(spec.TLS) > 0 || len(spec.HTTPS) > 0) && spec.Cert == nil {
		for _, a := range append(slices.Clone(spec.TLS), spec.HTTPS...) {
			errs = append(errs, EndpointError{"tls", a, errors.New("DNS over TLS and HTTPS need a certificate")})
		}
		return errs
	}
	for _, a := range spec.TLS {
		if e.dot[a] != nil {
			continue
		}
		srv, err := e.startDoT(a)
		if err != nil {
			errs = append(errs, EndpointError{"tls", a, explainBind(a, err)})
			continue
		}
		e.dot[a] = srv
	}
	for _, a := range spec.HTTPS {
		if e.doh[a] != nil {
			continue
		}
		srv, err := e.startDoH(a)
		if err != nil {
			errs = append(errs, EndpointError{"https", a, explainBind(a, err)})
			continue
		}
		e.doh[a] = srv
	}
	return errs
}

// EndpointError says why one endpoint does not serve.
type EndpointError struct {
	Kind string // "plain", "tls" or "https"
	Addr netip.AddrPort
	Err  error
}

func (e EndpointError) Error() string { return e.Kind + " " + e.Addr.String() + ": " + e.Err.Error() }

// Bound returns the address the endpoint of kind ("plain", "tls" or
// "https") asked for at a is bound to (its port filled in), and whether
// it serves.
func (e *Endpoints) Bound(kind string, a netip.AddrPort) (netip.AddrPort, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, ok := e.bound[boundKey(kind, a)]
	return b, ok
}

func boundKey(kind string, a netip.AddrPort) string { return kind + " " + a.String() }

// Close stops every endpoint.
func (e *Endpoints) Close() {
	e.Set(EndpointSpec{Cert: e.cert})
}

// plainEndpoint is plain DNS over UDP and TCP on one address, served by
// miekg/dns (without the UDP fast path: a few phones do not need it).
type plainEndpoint struct{ udp, tcp *dns.Server }

func (p *plainEndpoint) shutdown() {
	_ = p.udp.Shutdown() // it has stopped either way
	_ = p.tcp.Shutdown()
}

func (e *Endpoints) startPlain(a netip.AddrPort) (*plainEndpoint, error) {
	pcs, ln, err := bindBoth(a, 1)
	if err != nil {
		return nil, err
	}
	p := &plainEndpoint{
		udp: &dns.Server{PacketConn: pcs[0], Handler: e.s, UDPSize: UDPSize},
		tcp: &dns.Server{Listener: limitTCP(ln), Handler: e.s, ReadTimeout: tcpReadTimeout, IdleTimeout: func() time.Duration { return tcpIdleTimeout }},
	}
	e.serve("plain", a, ln.Addr(), "udp+tcp", p.udp, p.tcp)
	return p, nil
}

// serve runs miekg/dns servers and returns once they serve.
func (e *Endpoints) serve(kind string, asked netip.AddrPort, bound net.Addr, proto string, srvs ...*dns.Server) {
	var started sync.WaitGroup
	for _, srv := range srvs {
		started.Add(1)
		srv.NotifyStartedFunc = started.Done
		go func() {
			if err := srv.ActivateAndServe(); err != nil {
				e.log.Error("DNS listener stopped", "addr", asked.String(), "proto", proto, "err", err)
			}
		}()
	}
	started.Wait()
	b := netip.AddrPortFrom(asked.Addr(), bound.(*net.TCPAddr).AddrPort().Port())
	e.bound[boundKey(kind, asked)] = b
	e.log.Info("listening", "addr", b.String(), "proto", proto)
}

func (e *Endpoints) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			e.mu.Lock()
			get := e.cert
			e.mu.Unlock()
			if c := get(); c != nil {
				return c, nil
			}
			return nil, errors.New("no certificate for the encrypted DNS endpoints yet")
		},
	}
}

func (e *Endpoints) startDoT(a netip.AddrPort) (*dns.Server, error) {
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(a))
	if err != nil {
		return nil, err
	}
	srv := &dns.Server{
		// No ALPN: clients differ in what they send ("dot", or nothing),
		// and a server that names protocols refuses the others.
		Listener:    limitTCP(tls.NewListener(&gate{Listener: ln, s: e.s}, e.tlsConfig())),
		Net:         "tcp-tls",
		Handler:     e.s,
		ReadTimeout: tlsReadTimeout,
		IdleTimeout: func() time.Duration { return tlsIdleTimeout },
	}
	e.serve("tls", a, ln.Addr(), "dns-over-tls", srv)
	return srv, nil
}

func (e *Endpoints) startDoH(a netip.AddrPort) (*http.Server, error) {
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(a))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc(DoHPath, e.s.serveDoH)
	srv := &http.Server{
		Handler:           mux,
		TLSConfig:         e.tlsConfig(),
		ReadHeaderTimeout: tlsReadTimeout,
		ReadTimeout:       tlsReadTimeout,
		WriteTimeout:      ForwardTimeout + time.Second,
		IdleTimeout:       tlsIdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(e.log.Handler(), slog.LevelDebug),
	}
	go func() {
		// ServeTLS sets up HTTP/2 beside HTTP/1.1, as phones expect.
		if err := srv.ServeTLS(limitTCP(&gate{Listener: ln, s: e.s}), "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("DNS over HTTPS listener stopped", "addr", a.String(), "err", err)
		}
	}()
	b := netip.AddrPortFrom(a.Addr(), ln.Addr().(*net.TCPAddr).AddrPort().Port())
	e.bound[boundKey("https", a)] = b
	e.log.Info("listening", "addr", b.String(), "proto", "dns-over-https", "path", DoHPath)
	return srv, nil
}

// gate closes, as soon as they are accepted, the connections of clients
// that may not use the server or are over their rate: before any TLS.
type gate struct {
	net.Listener
	s *Server
}

func (g *gate) Accept() (net.Conn, error) {
	for {
		c, err := g.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src, _ := peer(c.RemoteAddr())
		if g.s.Allowed(src) && g.s.admit(src) {
			return c, nil
		}
		g.s.log.Debug("refused an encrypted DNS connection", "client", src.String())
		c.Close()
	}
}

// limitTCP caps the connections a LAN endpoint's listener serves at once
// (maxTCP); past that, new ones wait in the accept queue. The main
// listeners use tcpServer, which closes the longest-idle connection
// instead; the phone endpoints are few clients, on the home network.
func limitTCP(ln net.Listener) net.Listener { return netutil.LimitListener(ln, maxTCP) }
