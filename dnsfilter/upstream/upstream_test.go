package upstream

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/dnstest"
)

// deadAddr returns a loopback UDP port nobody listens on.
func deadAddr(t *testing.T) netip.AddrPort {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

func rcodeServer(t *testing.T, rcode int) netip.AddrPort {
	return dnstest.Serve(t, dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(q, rcode)
		w.WriteMsg(m)
	}))
}

func TestForwarderMovesOn(t *testing.T) {
	good := dnstest.Serve(t, dnstest.NewZone(t, "example.org. 60 IN A 192.0.2.1"))
	wrongQuestion := dnstest.Serve(t, dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Question[0].Name = "other.example."
		w.WriteMsg(m)
	}))
	for _, tt := range []struct {
		name  string
		first netip.AddrPort
	}{
		{"dead", deadAddr(t)},
		{"SERVFAIL", rcodeServer(t, dns.RcodeServerFailure)},
		{"REFUSED", rcodeServer(t, dns.RcodeRefused)},
		{"wrong question", wrongQuestion},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewForwarder([]netip.AddrPort{tt.first, good}, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			q := new(dns.Msg)
			q.SetQuestion("example.org.", dns.TypeA)
			q.Id = 4242
			r, err := f.Exchange(context.Background(), q)
			if err != nil {
				t.Fatalf("Exchange: %v, want the second upstream's answer", err)
			}
			if r.Id != 4242 || len(r.Answer) != 1 {
				t.Errorf("answer id %d with %v, want id 4242 and one A record", r.Id, r.Answer)
			}
			if q.Id != 4242 {
				t.Errorf("Exchange changed the caller's question ID to %d", q.Id)
			}
		})
	}
}

func TestForwarderAllFail(t *testing.T) {
	f, _ := NewForwarder([]netip.AddrPort{rcodeServer(t, dns.RcodeServerFailure), deadAddr(t)}, 0, nil)
	q := new(dns.Msg)
	q.SetQuestion("example.org.", dns.TypeA)
	if _, err := f.Exchange(context.Background(), q); !errors.Is(err, ErrAllFailed) {
		t.Errorf("err %v, want ErrAllFailed", err)
	}
	if _, err := NewForwarder(nil, 0, nil); err == nil {
		t.Error("NewForwarder with no servers: no error")
	}
}

func TestForwarderTruncatedRetriesTCP(t *testing.T) {
	var recs []string
	for range 30 {
		recs = append(recs, `big.example. 60 IN TXT "`+strings.Repeat("y", 100)+`"`)
	}
	z := dnstest.NewZone(t, recs...)
	f, _ := NewForwarder([]netip.AddrPort{dnstest.Serve(t, z)}, 0, nil)
	q := new(dns.Msg)
	q.SetQuestion("big.example.", dns.TypeTXT)
	r, err := f.Exchange(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if r.Truncated || len(r.Answer) != 30 {
		t.Errorf("truncated=%v with %d records, want the whole answer over TCP", r.Truncated, len(r.Answer))
	}
	if z.Queries() != 2 {
		t.Errorf("upstream saw %d queries, want 2 (UDP, then TCP)", z.Queries())
	}
}

func TestParseResolvConf(t *testing.T) {
	got := ParseResolvConf(`# generated
nameserver 127.0.0.53
nameserver   192.0.2.1  # trailing
search example.org
options edns0
nameserver fe80::1%eth0
nameserver not-an-ip
nameserver
`)
	want := []netip.AddrPort{
		netip.MustParseAddrPort("127.0.0.53:53"),
		netip.MustParseAddrPort("192.0.2.1:53"),
		netip.AddrPortFrom(netip.MustParseAddr("fe80::1%eth0"), 53),
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestWithoutSelf(t *testing.T) {
	sys := []netip.AddrPort{
		netip.MustParseAddrPort("127.0.0.1:53"), // us, on the default listen address
		netip.MustParseAddrPort("192.0.2.53:53"),
		netip.MustParseAddrPort("127.0.0.2:53"),          // us too: we listen on 0.0.0.0:53
		netip.MustParseAddrPort("127.0.0.1:5353"),        // another port: not us
		netip.MustParseAddrPort("[::ffff:127.0.0.1]:53"), // us, written as IPv4-mapped
	}
	listen := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:53"), netip.MustParseAddrPort("0.0.0.0:53")}
	got := WithoutSelf(sys, listen)
	want := []netip.AddrPort{netip.MustParseAddrPort("192.0.2.53:53"), netip.MustParseAddrPort("127.0.0.1:5353")}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// FuzzParseResolvConf: any text gives addresses, never a panic; every
// address it returns is valid and on port 53.
func FuzzParseResolvConf(f *testing.F) {
	f.Add("nameserver 127.0.0.53\nsearch example.org\n")
	f.Add("nameserver fe80::1%eth0\nnameserver 192.0.2.1 # x\n")
	f.Add("nameserver\n\x00nameserver 1.2.3")
	f.Fuzz(func(t *testing.T, text string) {
		for _, a := range ParseResolvConf(text) {
			if !a.Addr().IsValid() || a.Port() != 53 {
				t.Fatalf("ParseResolvConf(%q) gave %v", text, a)
			}
		}
	})
}
