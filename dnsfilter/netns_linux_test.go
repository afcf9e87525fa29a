package dnsfilter

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/dnstest"
	"github.com/nocontact/nocontact/dnsfilter/upstream"
	"github.com/nocontact/nocontact/internal/netnstest"
)

// netnsPair creates two network namespaces joined by a veth link, the
// "server" side with 10.77.0.1/24 and the "client" side with 10.77.0.2/24,
// and removes them when the test ends. Nothing leaves these namespaces.
func netnsPair(t *testing.T) (srv, cli string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces: run `sudo go test ./dnsfilter/ -run Netns` (CI runs it as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (Debian package iproute2) to create network namespaces")
	}
	srv = fmt.Sprintf("nc-srv-%d", os.Getpid())
	cli = fmt.Sprintf("nc-cli-%d", os.Getpid())
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", srv)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", srv).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", srv, err, out)
		}
	})
	run("netns", "add", cli)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", cli).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", cli, err, out)
		}
	})
	run("link", "add", "ncA", "netns", srv, "type", "veth", "peer", "name", "ncB", "netns", cli)
	run("-n", srv, "addr", "add", "10.77.0.1/24", "dev", "ncA")
	run("-n", cli, "addr", "add", "10.77.0.2/24", "dev", "ncB")
	for _, ns := range []struct{ name, dev string }{{srv, "ncA"}, {cli, "ncB"}, {srv, "lo"}, {cli, "lo"}} {
		run("-n", ns.name, "link", "set", ns.dev, "up")
	}
	return srv, cli
}

// TestNetnsNotAnOpenResolver sends real queries from another network
// namespace: REFUSED unless the source is inside lan_clients.
func TestNetnsNotAnOpenResolver(t *testing.T) {
	srvNS, cliNS := netnsPair(t)
	up := startUpstream(t) // on the host's loopback; the forwarder dials from there
	p, err := NewPolicy(testCatalog(t), Spec{Platforms: []string{"instagram"}})
	if err != nil {
		t.Fatal(err)
	}
	fwd, _ := upstream.NewForwarder([]netip.AddrPort{up}, 0, nil)
	start := func(lan []netip.Prefix) string {
		s, err := NewServer(Options{Listen: []netip.AddrPort{netip.MustParseAddrPort("10.77.0.1:0")}, LANClients: lan, Upstream: fwd}, p)
		if err != nil {
			t.Fatal(err)
		}
		netnstest.In(t, srvNS, func() { err = s.Start() })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Shutdown(t.Context()) })
		return s.Addrs()[0].String()
	}
	closed := start(nil)
	lan := start([]netip.Prefix{netip.MustParsePrefix("10.77.0.0/24")})

	for _, tt := range []struct {
		addr, proto, name string
		rcode             int
		answers           int
	}{
		{closed, "udp", "example.org.", dns.RcodeRefused, 0},
		{closed, "tcp", "example.org.", dns.RcodeRefused, 0},
		{closed, "udp", "instagram.com.", dns.RcodeRefused, 0},
		{lan, "udp", "example.org.", dns.RcodeSuccess, 1},
		{lan, "tcp", "example.org.", dns.RcodeSuccess, 1},
		{lan, "udp", "instagram.com.", dns.RcodeSuccess, 1},
	} {
		var r *dns.Msg
		var err error
		netnstest.In(t, cliNS, func() {
			q := new(dns.Msg)
			q.SetQuestion(tt.name, dns.TypeA)
			r, _, err = (&dns.Client{Net: tt.proto}).Exchange(q, tt.addr)
		})
		if err != nil {
			t.Fatalf("%s %s from 10.77.0.2: %v", tt.proto, tt.addr, err)
		}
		if r.Rcode != tt.rcode || len(r.Answer) != tt.answers {
			t.Errorf("%s %s %s from 10.77.0.2: %s with %d answers, want %s with %d", tt.proto, tt.addr, tt.name,
				dns.RcodeToString[r.Rcode], len(r.Answer), dns.RcodeToString[tt.rcode], tt.answers)
		}
	}
}

// TestNetnsLANClientRateLimited: a LAN client sending far more than its
// rate gets only its burst and rate answered; the rest is dropped, not
// answered, so the filter cannot be used to flood anyone.
func TestNetnsLANClientRateLimited(t *testing.T) {
	srvNS, cliNS := netnsPair(t)
	up := startUpstream(t)
	p, _ := NewPolicy(testCatalog(t), Spec{Platforms: []string{"instagram"}})
	fwd, _ := upstream.NewForwarder([]netip.AddrPort{up}, 0, nil)
	s, err := NewServer(Options{Listen: []netip.AddrPort{netip.MustParseAddrPort("10.77.0.1:0")},
		LANClients: []netip.Prefix{netip.MustParsePrefix("10.77.0.0/24")}, Upstream: fwd, ClientRate: 5}, p)
	if err != nil {
		t.Fatal(err)
	}
	netnstest.In(t, srvNS, func() { err = s.Start() })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(t.Context()) })
	addr := s.Addrs()[0].String()

	var answered int
	var elapsed time.Duration
	netnstest.In(t, cliNS, func() {
		c, err := net.Dial("udp", addr)
		if err != nil {
			return
		}
		defer c.Close()
		start := time.Now()
		q := new(dns.Msg)
		q.SetQuestion("www.instagram.com.", dns.TypeA)
		b, _ := q.Pack()
		for range 200 {
			c.Write(b)
		}
		buf := make([]byte, 1500)
		c.SetReadDeadline(time.Now().Add(time.Second))
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
			answered++
		}
		elapsed = time.Since(start)
	})
	// The burst (2 × 5) plus 5 a second while the client listened.
	limit := 10 + int(elapsed.Seconds()*5) + 1
	if answered == 0 || answered > limit {
		t.Errorf("200 queries at once from a LAN client: %d answered, want 1 to %d", answered, limit)
	}
}

// TestNetnsEncryptedEndpointsRefuseOutsiders: DNS over TLS and HTTPS from
// another host are closed before the handshake unless the host is inside
// lan_clients, and answered through the policy once it is.
func TestNetnsEncryptedEndpointsRefuseOutsiders(t *testing.T) {
	srvNS, cliNS := netnsPair(t)
	up := startUpstream(t)
	p, err := NewPolicy(testCatalog(t), Spec{Platforms: []string{"instagram"}})
	if err != nil {
		t.Fatal(err)
	}
	fwd, _ := upstream.NewForwarder([]netip.AddrPort{up}, 0, nil)
	s, err := NewServer(Options{Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}, Upstream: fwd}, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(t.Context()) })
	ca := dnstest.NewCA(t)
	cert := ca.Leaf(t, nil, netip.MustParseAddr("10.77.0.1"))
	ep := NewEndpoints(s)
	t.Cleanup(ep.Close)
	at := netip.MustParseAddrPort("10.77.0.1:0")
	netnstest.In(t, srvNS, func() {
		if errs := ep.Set(EndpointSpec{TLS: []netip.AddrPort{at}, HTTPS: []netip.AddrPort{at}, Cert: func() *tls.Certificate { return &cert }}); len(errs) > 0 {
			err = errs[0]
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	dotAddr, _ := ep.Bound("tls", at)
	dohAddr, _ := ep.Bound("https", at)
	dot, hc := endpointClients(ca)
	hc.Transport.(*http.Transport).DialContext = netnstest.Dialer(cliNS, "")
	ask := func() (dotA, dohA string, dotErr, dohErr error) {
		netnstest.In(t, cliNS, func() {
			q := new(dns.Msg)
			q.SetQuestion("instagram.com.", dns.TypeA)
			var r *dns.Msg
			if r, _, dotErr = dot.Exchange(q, dotAddr.String()); dotErr == nil {
				dotA = firstA(r)
			}
			b, _ := q.Pack()
			req, _ := http.NewRequest(http.MethodPost, "https://"+dohAddr.String()+DoHPath, bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/dns-message")
			hc.CloseIdleConnections()
			resp, err := hc.Do(req)
			if dohErr = err; err != nil {
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			m := new(dns.Msg)
			if dohErr = m.Unpack(body); dohErr == nil {
				dohA = firstA(m)
			}
		})
		return
	}
	_, _, dotErr, dohErr := ask()
	t.Logf("outside lan_clients: DoT %v; DoH %v", dotErr, dohErr)
	if dotErr == nil || dohErr == nil {
		t.Errorf("from 10.77.0.2, outside lan_clients: DoT err %v, DoH err %v; want both refused", dotErr, dohErr)
	}
	s.SetLANClients([]netip.Prefix{netip.MustParsePrefix("10.77.0.0/24")})
	var dotA, dohA string
	dotA, dohA, dotErr, dohErr = ask()
	if dotErr != nil || dohErr != nil || dotA != "0.0.0.0" || dohA != "0.0.0.0" {
		t.Errorf("from 10.77.0.2 inside lan_clients: DoT %q %v, DoH %q %v; want 0.0.0.0 from both", dotA, dotErr, dohA, dohErr)
	}
}
