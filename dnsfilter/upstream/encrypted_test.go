package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/dnstest"
)

var loopback = netip.MustParseAddr("127.0.0.1")

func askName(t *testing.T, f *Forwarder, name string) (*dns.Msg, error) {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	q.Id = 99
	return f.Exchange(context.Background(), q)
}

func TestDoT(t *testing.T) {
	ca := dnstest.NewCA(t)
	z := zone(t)
	addr, hs := dnstest.ServeTLS(t, z, ca.Leaf(t, []string{"dns.test.example"}))
	for _, srv := range []Server{
		{Kind: TLS, Addr: addr, Name: "dns.test.example"},
	} {
		t.Run(srv.String(), func(t *testing.T) {
			f, err := New(Options{Servers: []Server{srv}, RootCAs: ca.Pool})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for i := range 5 {
				r, err := askName(t, f, "example.org.")
				if err != nil || len(r.Answer) != 1 || r.Id != 99 {
					t.Fatalf("query %d: %v, %v", i, r, err)
				}
			}
			if hs.Count() != 1 {
				t.Errorf("%d TLS handshakes for 5 queries, want 1 (the connection reused)", hs.Count())
			}
		})
	}
	// Without a name, the certificate must carry the IP address.
	ipAddr, _ := dnstest.ServeTLS(t, z, ca.Leaf(t, nil, loopback))
	f, _ := New(Options{Servers: []Server{{Kind: TLS, Addr: ipAddr}}, RootCAs: ca.Pool})
	if _, err := askName(t, f, "example.org."); err != nil {
		t.Errorf("tls://IP with an IP certificate: %v", err)
	}
}

func TestDoTNameMismatchRefused(t *testing.T) {
	ca := dnstest.NewCA(t)
	addr, _ := dnstest.ServeTLS(t, zone(t), ca.Leaf(t, []string{"someone-else.example"}))
	log, buf := newLog()
	srv := Server{Kind: TLS, Addr: addr, Name: "dns.test.example"}
	f, _ := New(Options{Servers: []Server{srv}, RootCAs: ca.Pool, Logger: log})
	if r, err := askName(t, f, "example.org."); err == nil {
		t.Fatalf("answer %v through a certificate for another name", r)
	}
	line := buf.String()
	for _, want := range []string{"certificate is not valid for the name", srv.String(), "expected_name=dns.test.example"} {
		if !strings.Contains(line, want) {
			t.Errorf("log %q does not say %q", line, want)
		}
	}
	// A certificate from an authority we do not trust is refused too.
	other := dnstest.NewCA(t)
	addr2, _ := dnstest.ServeTLS(t, zone(t), other.Leaf(t, []string{"dns.test.example"}))
	f2, _ := New(Options{Servers: []Server{{Kind: TLS, Addr: addr2, Name: "dns.test.example"}}, RootCAs: ca.Pool})
	if _, err := askName(t, f2, "example.org."); err == nil {
		t.Error("answer through a certificate of an unknown authority")
	}
}

func TestDoH(t *testing.T) {
	ca := dnstest.NewCA(t)
	d := dnstest.ServeDoH(t, zone(t), ca.Leaf(t, []string{"doh.test.example"}, loopback))
	// The host name is looked up through the bootstrap resolver only.
	boot := &dnstest.Counter{H: dnstest.NewZone(t, "doh.test.example. 300 IN A 127.0.0.1")}
	bootAddr := dnstest.Serve(t, boot)
	for _, tt := range []struct {
		name string
		url  string
		boot []netip.AddrPort
	}{
		{"by name", fmt.Sprintf("https://doh.test.example:%d/dns-query", d.Addr.Port()), []netip.AddrPort{bootAddr}},
		{"by IP", fmt.Sprintf("https://%s/dns-query", d.Addr), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := New(Options{Servers: []Server{{Kind: HTTPS, URL: tt.url}}, Bootstrap: tt.boot, RootCAs: ca.Pool})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			conns := d.Conns()
			for i := range 5 {
				r, err := askName(t, f, "example.org.")
				if err != nil || len(r.Answer) != 1 || r.Id != 99 {
					t.Fatalf("query %d: %v, %v", i, r, err)
				}
			}
			if n := d.Conns() - conns; n != 1 {
				t.Errorf("%d connections for 5 queries, want 1 (reused)", n)
			}
		})
	}
	if got := d.Protos(); got["HTTP/2.0"] != 10 {
		t.Errorf("requests by protocol %v, want all 10 over HTTP/2", got)
	}
	if boot.Count() == 0 || boot.Count() > 2 {
		t.Errorf("the bootstrap resolver saw %d questions, want the A and AAAA lookup once", boot.Count())
	}
	if _, err := New(Options{Servers: []Server{{Kind: HTTPS, URL: "https://doh.test.example/dns-query"}}}); err == nil ||
		!strings.Contains(err.Error(), "bootstrap") {
		t.Errorf("an https upstream by name without bootstrap: err %v, want one naming bootstrap", err)
	}
}

func TestDoHNameMismatchRefused(t *testing.T) {
	ca := dnstest.NewCA(t)
	d := dnstest.ServeDoH(t, zone(t), ca.Leaf(t, []string{"someone-else.example"}))
	bootAddr := dnstest.Serve(t, dnstest.NewZone(t, "doh.test.example. 300 IN A 127.0.0.1"))
	log, buf := newLog()
	url := fmt.Sprintf("https://doh.test.example:%d/dns-query", d.Addr.Port())
	f, _ := New(Options{Servers: []Server{{Kind: HTTPS, URL: url}}, Bootstrap: []netip.AddrPort{bootAddr}, RootCAs: ca.Pool, Logger: log})
	if r, err := askName(t, f, "example.org."); err == nil {
		t.Fatalf("answer %v through a certificate for another name", r)
	}
	for _, want := range []string{"certificate is not valid for the name", url, "expected_name=doh.test.example"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log %q does not say %q", buf.String(), want)
		}
	}
}

// TestControlOnEverySocket: Options.Control sees every socket the
// forwarder dials (plain UDP, DNS over TLS, DNS over HTTPS and its
// bootstrap lookup), before it connects, which is where the installed
// daemon marks its own traffic for the firewall layer.
func TestControlOnEverySocket(t *testing.T) {
	ca := dnstest.NewCA(t)
	z := zone(t)
	plainAddr := dnstest.Serve(t, z)
	tlsAddr, _ := dnstest.ServeTLS(t, z, ca.Leaf(t, []string{"dns.test.example"}))
	d := dnstest.ServeDoH(t, z, ca.Leaf(t, []string{"doh.test.example"}, loopback))
	bootAddr := dnstest.Serve(t, dnstest.NewZone(t, "doh.test.example. 300 IN A 127.0.0.1"))
	for _, tt := range []struct {
		srv  Server
		want []string // network and address of each socket, in order
	}{
		{Server{Kind: Plain, Addr: plainAddr}, []string{"udp4 " + plainAddr.String()}},
		{Server{Kind: TLS, Addr: tlsAddr, Name: "dns.test.example"}, []string{"tcp4 " + tlsAddr.String()}},
		{Server{Kind: HTTPS, URL: fmt.Sprintf("https://doh.test.example:%d/dns-query", d.Addr.Port())},
			[]string{"udp4 " + bootAddr.String(), "udp4 " + bootAddr.String(), "tcp4 " + d.Addr.String()}},
	} {
		t.Run(tt.srv.String(), func(t *testing.T) {
			var mu sync.Mutex
			var got []string
			f, err := New(Options{Servers: []Server{tt.srv}, Bootstrap: []netip.AddrPort{bootAddr}, RootCAs: ca.Pool,
				Control: func(network, address string, c syscall.RawConn) error {
					mu.Lock()
					defer mu.Unlock()
					got = append(got, network+" "+address)
					return nil
				}})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := askName(t, f, "example.org."); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(got, tt.want) {
				t.Errorf("sockets seen by Control:\n\twant %q\n\t got %q", tt.want, got)
			}
		})
	}
	// A Control that refuses fails the dial: nothing leaves unmarked.
	f, _ := New(Options{Servers: []Server{{Kind: Plain, Addr: plainAddr}}, TryTimeout: time.Second,
		Control: func(string, string, syscall.RawConn) error { return errors.New("no mark") }})
	defer f.Close()
	if _, err := askName(t, f, "example.org."); err == nil || !strings.Contains(err.Error(), "no mark") {
		t.Errorf("a refusing Control: %v, want its error", err)
	}
}

// TestAddrs: every address the forwarder sends to, the HTTPS host as the
// bootstrap found it once it was looked up.
func TestAddrs(t *testing.T) {
	ca := dnstest.NewCA(t)
	d := dnstest.ServeDoH(t, zone(t), ca.Leaf(t, []string{"doh.test.example"}, loopback))
	bootAddr := dnstest.Serve(t, dnstest.NewZone(t, "doh.test.example. 300 IN A 127.0.0.7"))
	f, err := New(Options{Servers: []Server{
		{Kind: Plain, Addr: netip.MustParseAddrPort("192.0.2.53:53")},
		{Kind: TLS, Addr: netip.MustParseAddrPort("[2001:db8::853]:853")},
		{Kind: HTTPS, URL: "https://198.51.100.4/dns-query"},
		{Kind: HTTPS, URL: fmt.Sprintf("https://doh.test.example:%d/dns-query", d.Addr.Port())},
	}, Bootstrap: []netip.AddrPort{bootAddr}, RootCAs: ca.Pool})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := []string{"192.0.2.53", "2001:db8::853", "198.51.100.4", "127.0.0.1"}
	if got := fmt.Sprint(f.Addrs()); got != fmt.Sprint(want) {
		t.Errorf("before the lookup: %s, want %s", got, want)
	}
	boot := f.ups[3].t.(*doh).boot
	if _, err := boot.lookup(context.Background(), "doh.test.example"); err != nil {
		t.Fatal(err)
	}
	want = append(want, "127.0.0.7")
	if got := fmt.Sprint(f.Addrs()); got != fmt.Sprint(want) {
		t.Errorf("after the lookup: %s, want %s", got, want)
	}
}
