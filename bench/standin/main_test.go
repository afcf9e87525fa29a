package main

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestStandinAnswers(t *testing.T) {
	s, err := listen(netip.MustParseAddr("127.0.0.1"), 0, new(handler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	if !s.addr.Addr().IsLoopback() {
		t.Fatalf("listening on %s, want loopback only", s.addr)
	}

	tests := []struct {
		net, name string
		qtype     uint16
		edns      bool
		want      string // the answer's data, "" for NODATA
	}{
		{"udp", "A1.Bench.Example.", dns.TypeA, false, "192.0.2.1"},
		{"udp", "a2.bench.example.", dns.TypeAAAA, true, "2001:db8::1"},
		{"tcp", "a3.bench.example.", dns.TypeA, true, "192.0.2.1"},
		{"udp", "a4.bench.example.", dns.TypeMX, false, ""},
		{"udp", countName, dns.TypeTXT, false, "4"}, // the four questions above
	}
	for _, tt := range tests {
		t.Run(tt.net+" "+tt.name+" "+dns.TypeToString[tt.qtype], func(t *testing.T) {
			q := new(dns.Msg)
			q.SetQuestion(tt.name, tt.qtype)
			if tt.edns {
				q.SetEdns0(1232, true)
			}
			c := &dns.Client{Net: tt.net}
			r, _, err := c.Exchange(q, s.addr.String())
			if err != nil {
				t.Fatal(err)
			}
			if r.Rcode != dns.RcodeSuccess || r.Id != q.Id || r.Question[0].Name != tt.name {
				t.Fatalf("got rcode %s, id %d, question %q; want NOERROR, id %d, question %q",
					dns.RcodeToString[r.Rcode], r.Id, r.Question[0].Name, q.Id, tt.name)
			}
			if (r.IsEdns0() != nil) != tt.edns {
				t.Errorf("EDNS in answer: got %v, want %v", r.IsEdns0() != nil, tt.edns)
			}
			got := ""
			if len(r.Answer) > 1 {
				t.Fatalf("got %d answers, want at most one: %v", len(r.Answer), r.Answer)
			}
			if len(r.Answer) == 1 {
				switch rr := r.Answer[0].(type) {
				case *dns.A:
					got = rr.A.String()
				case *dns.AAAA:
					got = rr.AAAA.String()
				case *dns.TXT:
					got = rr.Txt[0]
				}
				if rr := r.Answer[0]; tt.qtype != dns.TypeTXT && rr.Header().Ttl != ttl {
					t.Errorf("TTL %d, want %d", rr.Header().Ttl, ttl)
				}
			}
			if got != tt.want {
				t.Errorf("answer %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStandinRefusesOddQuestions(t *testing.T) {
	h := new(handler)
	q := new(dns.Msg)
	q.SetQuestion("a.bench.example.", dns.TypeA)
	q.Opcode = dns.OpcodeNotify
	if r := h.answer(q); r.Rcode != dns.RcodeNotImplemented {
		t.Errorf("NOTIFY: rcode %s, want NOTIMP", dns.RcodeToString[r.Rcode])
	}
	q = new(dns.Msg)
	if r := h.answer(q); r.Rcode != dns.RcodeFormatError {
		t.Errorf("no question: rcode %s, want FORMERR", dns.RcodeToString[r.Rcode])
	}
	if n := h.queries.Load(); n != 0 {
		t.Errorf("counted %d queries, want 0: refused questions are not answers", n)
	}
}

func TestStandinListensOnLoopbackOnly(t *testing.T) {
	for _, ip := range []string{"127.0.0.1", "127.0.0.9"} {
		s, err := listen(netip.MustParseAddr(ip), 0, new(handler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.close)
		for _, srv := range s.srvs {
			var a net.Addr
			if srv.PacketConn != nil {
				a = srv.PacketConn.LocalAddr()
			} else {
				a = srv.Listener.Addr()
			}
			host, _, _ := net.SplitHostPort(a.String())
			if host != ip {
				t.Errorf("bound to %s, want %s", a, ip)
			}
		}
	}
	// Anything but IPv4 loopback is refused before a socket is opened.
	for _, ip := range []string{"0.0.0.0", "192.0.2.1", "::1"} {
		if s, err := listen(netip.MustParseAddr(ip), 0, new(handler)); err == nil {
			s.close()
			t.Errorf("listen on %s: no error, want a refusal", ip)
		} else if !strings.Contains(err.Error(), "loopback") {
			t.Errorf("listen on %s: %v, want it to say loopback only", ip, err)
		}
	}
}
