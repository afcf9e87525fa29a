package dnsfilter

import (
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/cache"
	"github.com/nocontact/nocontact/dnsfilter/dnstest"
)

// anyName answers every A question with 192.0.2.1, echoing EDNS as a
// resolver does.
func anyName(t testing.TB) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.RecursionAvailable = true
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, A: net.IPv4(192, 0, 2, 1)}}
		if o := q.IsEdns0(); o != nil {
			m.SetEdns0(1232, o.Do())
		}
		if err := w.WriteMsg(m); err != nil {
			t.Error(err)
		}
	})
}

// TestEDNSCompliance runs the checks of ISC's EDNS compliance tests
// (https://ednscomp.isc.org, genreport) against a blocked name (the fast
// path), a name never asked before (the wire-level forwarder), the same
// name again (the cache on the fast path), and a loop probe name (the
// slow path): each check's query and what a compliant server answers.
func TestEDNSCompliance(t *testing.T) {
	up := dnstest.Serve(t, anyName(t))
	s := startWith(t, forwarder(t, up), cache.New(cache.Options{}), nil, nil)
	addr := s.Addrs()[0].String()
	const unknownOption = 100
	type check struct {
		name   string
		tcp    bool
		edns   bool
		ver    uint8
		option bool   // ednsopt: an unknown option
		flags  uint16 // ednsflags: an unknown flag
		do     bool
	}
	for _, c := range []check{
		{name: "plain"},
		{name: "edns", edns: true},
		{name: "edns1", edns: true, ver: 1},
		{name: "ednsopt", edns: true, option: true},
		{name: "edns1opt", edns: true, ver: 1, option: true},
		{name: "ednsflags", edns: true, flags: 0x80},
		{name: "do", edns: true, do: true},
		{name: "tcp", tcp: true},
		{name: "ednstcp", tcp: true, edns: true},
	} {
		for _, target := range []string{"www.instagram.com.", c.name + ".fresh.example.org.", c.name + ".fresh.example.org.", "x." + "nocontact-loop.arpa."} {
			t.Run(c.name+"/"+target, func(t *testing.T) {
				q := new(dns.Msg)
				q.SetQuestion(target, dns.TypeA)
				q.RecursionDesired = true
				if c.edns {
					q.SetEdns0(4096, c.do)
					o := q.IsEdns0()
					o.SetVersion(c.ver)
					if c.flags != 0 {
						o.SetZ(c.flags)
					}
					if c.option {
						o.Option = append(o.Option, &dns.EDNS0_LOCAL{Code: unknownOption, Data: []byte{1, 2}})
					}
				}
				proto := "udp"
				if c.tcp {
					proto = "tcp"
				}
				r, _, err := (&dns.Client{Net: proto}).Exchange(q, addr)
				if err != nil {
					t.Fatal(err)
				}
				if r.Id != q.Id || !r.Response || len(r.Question) != 1 || r.Question[0].Name != target {
					t.Fatalf("not an answer to the question: %v", r)
				}
				o := r.IsEdns0()
				if !c.edns {
					if o != nil {
						t.Errorf("a query without EDNS got an OPT record: %v", r)
					}
					if r.Rcode != dns.RcodeSuccess && !strings.HasSuffix(target, "nocontact-loop.arpa.") {
						t.Errorf("rcode %s without EDNS, want NOERROR", dns.RcodeToString[r.Rcode])
					}
					return
				}
				if o == nil {
					t.Fatalf("an EDNS query got no OPT record: %v", r)
				}
				if o.Version() != 0 {
					t.Errorf("OPT version %d, want 0 (the one we speak)", o.Version())
				}
				if o.Z() != 0 {
					t.Errorf("OPT flags %#x besides DO, want none (unknown flags are not echoed)", o.Z())
				}
				for _, opt := range o.Option {
					if opt.Option() == unknownOption {
						t.Errorf("the unknown option %d was echoed", unknownOption)
					}
					if opt.Option() != dns.EDNS0EDE {
						t.Errorf("option %d in the answer, want only Extended DNS Errors", opt.Option())
					}
				}
				if c.ver != 0 {
					if r.Rcode != dns.RcodeBadVers || len(r.Answer) != 0 || len(r.Ns) != 0 {
						t.Errorf("EDNS version %d: rcode %s with %d answers, want BADVERS and none", c.ver, dns.RcodeToString[r.Rcode], len(r.Answer))
					}
					return
				}
				if r.Rcode != dns.RcodeSuccess && !strings.HasSuffix(target, "nocontact-loop.arpa.") {
					t.Errorf("rcode %s, want NOERROR", dns.RcodeToString[r.Rcode])
				}
				if o.Do() != c.do {
					t.Errorf("DO %v in the answer, want %v (echoed)", o.Do(), c.do)
				}
			})
		}
	}
}
