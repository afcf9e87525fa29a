package dnstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// CA is a certificate authority made for one test.
type CA struct {
	Pool *x509.CertPool // trusts the CA, for the client side
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA makes a fresh CA.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "nocontact test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{Pool: pool, cert: cert, key: key}
}

// Leaf issues a server certificate for the given DNS names and IP
// addresses.
func (ca *CA) Leaf(t testing.TB, names []string, ips ...netip.Addr) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "nocontact test server"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names,
	}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip.AsSlice())
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// ServeTLS runs h as a DNS over TLS server on a free port of 127.0.0.1
// until the test ends. Handshakes counts the TLS handshakes it completed,
// to tell reused connections from new ones.
func ServeTLS(t testing.TB, h dns.Handler, cert tls.Certificate) (netip.AddrPort, *Handshakes) {
	t.Helper()
	hs := &Handshakes{}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		VerifyConnection: func(tls.ConnectionState) error {
			hs.mu.Lock()
			hs.n++
			hs.mu.Unlock()
			return nil
		},
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	srv := &dns.Server{Listener: ln, Net: "tcp-tls", Handler: h, NotifyStartedFunc: wg.Done,
		IdleTimeout: func() time.Duration { return 30 * time.Second }}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	wg.Wait()
	return ln.Addr().(*net.TCPAddr).AddrPort(), hs
}

// Handshakes counts completed TLS handshakes.
type Handshakes struct {
	mu sync.Mutex
	n  int
}

// Count returns the handshakes so far.
func (h *Handshakes) Count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// DoH is a DNS over HTTPS server (RFC 8484, POST and GET) run by ServeDoH.
type DoH struct {
	Addr  netip.AddrPort
	mu    sync.Mutex
	conns int
	proto map[string]int
}

// Conns returns how many connections the server accepted.
func (d *DoH) Conns() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conns
}

// Protos returns how many requests came over each HTTP version.
func (d *DoH) Protos() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]int{}
	for k, v := range d.proto {
		out[k] = v
	}
	return out
}

// ServeDoH runs h as a DNS over HTTPS server at path /dns-query on a free
// port of 127.0.0.1, over HTTP/2, until the test ends.
func ServeDoH(t testing.TB, h dns.Handler, cert tls.Certificate) *DoH {
	t.Helper()
	d := &DoH{proto: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/dns-query", func(rw http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		d.proto[r.Proto]++
		d.mu.Unlock()
		var body []byte
		var err error
		switch r.Method {
		case http.MethodPost:
			body, err = io.ReadAll(io.LimitReader(r.Body, 65536))
		default:
			http.Error(rw, "want POST", http.StatusMethodNotAllowed)
			return
		}
		q := new(dns.Msg)
		if err != nil || q.Unpack(body) != nil || len(q.Question) != 1 {
			http.Error(rw, "bad DNS message", http.StatusBadRequest)
			return
		}
		cw := &captureWriter{}
		h.ServeDNS(cw, q)
		if cw.m == nil {
			// A silent handler: hold the request until the client gives up.
			<-r.Context().Done()
			return
		}
		out, err := cw.m.Pack()
		if err != nil {
			http.Error(rw, err.Error(), http.StatusInternalServerError)
			return
		}
		rw.Header().Set("Content-Type", "application/dns-message")
		rw.Write(out)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:   mux,
		ErrorLog:  log.New(io.Discard, "", 0), // refused handshakes are what some tests want
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}},
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				d.mu.Lock()
				d.conns++
				d.mu.Unlock()
			}
		},
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	d.Addr = ln.Addr().(*net.TCPAddr).AddrPort()
	return d
}

// captureWriter keeps the answer a handler writes.
type captureWriter struct{ m *dns.Msg }

func (c *captureWriter) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 443}
}
func (c *captureWriter) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
}
func (c *captureWriter) WriteMsg(m *dns.Msg) error { c.m = m; return nil }
func (c *captureWriter) Write([]byte) (int, error) { return 0, nil }
func (c *captureWriter) Close() error              { return nil }
func (c *captureWriter) TsigStatus() error         { return nil }
func (c *captureWriter) TsigTimersOnly(bool)       {}
func (c *captureWriter) Hijack()                   {}
