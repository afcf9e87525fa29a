package dnsfilter

import (
	"context"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// echoUpstream answers every question in-process with one record, so the
// fuzzer exercises the forwarding path without a network.
type echoUpstream struct{}

func (echoUpstream) Exchange(_ context.Context, q *dns.Msg) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetReply(q)
	m.Answer = []dns.RR{&dns.CNAME{
		Hdr:    dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60},
		Target: "www.instagram.com.",
	}}
	if len(q.Question[0].Name)%2 == 0 {
		m.Answer[0].(*dns.CNAME).Target = "example.org."
	}
	return m, nil
}

// FuzzAnswer feeds raw packets to the query path: whatever arrives, the
// server answers with a message that packs and parses, or stays silent;
// it never panics.
func FuzzAnswer(f *testing.F) {
	addQuerySeeds(f, []querySeed{
		{"instagram.com.", dns.TypeA, true},
		{"www.instagram.com.", dns.TypeAAAA, false},
		{"example.org.", dns.TypeHTTPS, true},
		{"use-application-dns.net.", dns.TypeA, false},
		{"_dns.resolver.arpa.", dns.TypeSVCB, true},
		{`a\.b.instagram.com.`, dns.TypeTXT, true},
	})
	p, err := NewPolicy(testCatalog(f), Spec{Platforms: []string{"instagram", "tiktok"}, Domains: []string{"example.net"}, Allow: []string{"help.instagram.com"}})
	if err != nil {
		f.Fatal(err)
	}
	s, err := NewServer(Options{Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}, Upstream: echoUpstream{}}, p)
	if err != nil {
		f.Fatal(err)
	}
	lo := netip.MustParseAddr("127.0.0.1")
	f.Fuzz(func(t *testing.T, packet []byte) {
		q := new(dns.Msg)
		if err := q.Unpack(packet); err != nil {
			return // the DNS library drops or FORMERRs these before us
		}
		r := s.Answer(context.Background(), lo, q)
		if r == nil {
			return
		}
		r.Truncate(UDPSize)
		b, err := r.Pack()
		if err != nil {
			t.Fatalf("answer does not pack: %v\n%v", err, r)
		}
		var back dns.Msg
		if err := back.Unpack(b); err != nil {
			t.Fatalf("answer does not parse: %v\n%v", err, r)
		}
		if back.Id != q.Id {
			t.Fatalf("answer ID %d, want %d", back.Id, q.Id)
		}
	})
}

// querySeed is a question a fuzz target starts from.
type querySeed struct {
	name  string
	qtype uint16
	edns  bool
}

// addQuerySeeds adds each seed to f as a packed query (EDNS with the DO
// bit where asked).
func addQuerySeeds(f *testing.F, seeds []querySeed) {
	for _, seed := range seeds {
		q := new(dns.Msg)
		q.SetQuestion(seed.name, seed.qtype)
		if seed.edns {
			q.SetEdns0(4096, true)
		}
		b, err := q.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}
