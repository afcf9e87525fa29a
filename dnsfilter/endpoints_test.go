package dnsfilter

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/dnstest"
)

// endpointClients makes a DoT client and an HTTP client that trust ca.
func endpointClients(ca *dnstest.CA) (*dns.Client, *http.Client) {
	tc := &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}
	dot := &dns.Client{Net: "tcp-tls", TLSConfig: tc, Timeout: 5 * time.Second}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}}
	return dot, hc
}

// doh asks name over DNS over HTTPS at url, by POST or by GET.
func doh(t *testing.T, hc *http.Client, url, name string, post bool) (*dns.Msg, *http.Response) {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	q.Id = 0
	b, _ := q.Pack()
	var req *http.Request
	if post {
		req, _ = http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/dns-message")
	} else {
		req, _ = http.NewRequest(http.MethodGet, url+"?dns="+base64.RawURLEncoding.EncodeToString(b), nil)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("DoH %s: %v", name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("DoH %s: %s: %s", name, resp.Status, body)
	}
	m := new(dns.Msg)
	if err := m.Unpack(body); err != nil {
		t.Fatalf("DoH %s: %v", name, err)
	}
	return m, resp
}

func firstA(m *dns.Msg) string {
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			return a.A.String()
		}
	}
	return ""
}

// TestEndpointsServeThePolicy: plain DNS added after Start, DNS over TLS
// and DNS over HTTPS (POST and GET, HTTP/2) all answer through the same
// policy, cache and upstream, and report blocked lookups with the client;
// Set without them stops them.
func TestEndpointsServeThePolicy(t *testing.T) {
	ts := startFilter(t, Spec{Platforms: []string{"instagram"}})
	ca := dnstest.NewCA(t)
	cert := ca.Leaf(t, nil, netip.MustParseAddr("127.0.0.1"))
	ep := NewEndpoints(ts.Server)
	t.Cleanup(ep.Close)
	anyPort := netip.MustParseAddrPort("127.0.0.1:0")
	errs := ep.Set(EndpointSpec{Plain: []netip.AddrPort{anyPort}, TLS: []netip.AddrPort{anyPort}, HTTPS: []netip.AddrPort{anyPort},
		Cert: func() *tls.Certificate { return &cert }})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	plain, _ := ep.Bound("plain", anyPort)
	dot, hc := endpointClients(ca)
	for _, proto := range []string{"udp", "tcp"} {
		if got := firstA(query(t, plain.String(), proto, "instagram.com.", dns.TypeA, false)); got != "0.0.0.0" {
			t.Errorf("plain %s instagram.com: %q", proto, got)
		}
	}
	tlsAddr, _ := ep.Bound("tls", anyPort)
	httpsAddr, _ := ep.Bound("https", anyPort)
	for _, tt := range []struct{ name, want string }{{"instagram.com.", "0.0.0.0"}, {"example.org.", "192.0.2.1"}} {
		q := new(dns.Msg)
		q.SetQuestion(tt.name, dns.TypeA)
		r, _, err := dot.Exchange(q, tlsAddr.String())
		if err != nil {
			t.Fatalf("DoT %s: %v", tt.name, err)
		}
		if got := firstA(r); got != tt.want {
			t.Errorf("DoT %s: %q, want %q", tt.name, got, tt.want)
		}
		for _, post := range []bool{true, false} {
			m, resp := doh(t, hc, "https://"+httpsAddr.String()+DoHPath, tt.name, post)
			if got := firstA(m); got != tt.want {
				t.Errorf("DoH (post %v) %s: %q, want %q", post, tt.name, got, tt.want)
			}
			if resp.ProtoMajor != 2 {
				t.Errorf("DoH over %s, want HTTP/2", resp.Proto)
			}
		}
	}
	ts.mu.Lock()
	srcs := ts.srcs
	ts.mu.Unlock()
	if len(srcs) != 5 || slices.ContainsFunc(srcs, func(a netip.Addr) bool { return a != netip.MustParseAddr("127.0.0.1") }) {
		t.Errorf("blocked lookups reported from %v, want 127.0.0.1 five times (UDP, TCP, DoT, DoH POST and GET)", srcs)
	}
	ep.Set(EndpointSpec{Cert: func() *tls.Certificate { return &cert }})
	q := new(dns.Msg)
	q.SetQuestion("example.org.", dns.TypeA)
	if _, _, err := dot.ExchangeContext(context.Background(), q, tlsAddr.String()); err == nil {
		t.Error("DoT still answers after Set without it")
	}
}
