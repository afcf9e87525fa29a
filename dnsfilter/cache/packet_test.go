package cache

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/wire"
)

// putBoth stores pkt with PutPacket in one cache and, unpacked, with Put
// in another, on the same clock, and fails unless both stored the same
// thing. It reports whether PutPacket could read pkt.
func putBoth(t testing.TB, clk *clock, o Options, pkt []byte, capTTL uint32) bool {
	t.Helper()
	var r wire.Response
	if !wire.ParseResponse(pkt, &r) {
		return false
	}
	var m dns.Msg
	if err := m.Unpack(pkt); err != nil {
		t.Fatalf("ParseResponse read what miekg/dns cannot: %v", err)
	}
	o.Now = clk.now
	a, b := New(o), New(o)
	k := Key{Name: "example.org.", Qtype: r.Qtype, Qclass: r.Qclass}
	gotA, gotB := a.PutPacket(k, pkt, &r, capTTL), b.Put(k, &m, capTTL)
	if gotA != gotB {
		t.Fatalf("PutPacket stored: %v, Put stored: %v\n%v", gotA, gotB, &m)
	}
	if !gotA {
		return true
	}
	for _, age := range []time.Duration{0, 7 * time.Second} {
		clk.advance(age)
		ha, okA := a.Stale(k)
		hb, okB := b.Stale(k)
		if !okA || !okB {
			t.Fatalf("stored, then not found: %v %v", okA, okB)
		}
		wa, wb := ha.AppendWire(nil, 7), hb.AppendWire(nil, 7)
		if !bytes.Equal(wa, wb) || ha.TTL() != hb.TTL() || ha.Exact() != hb.Exact() || !slices.Equal(ha.Redirects(), hb.Redirects()) {
			t.Fatalf("after %v:\nPutPacket %x ttl %d exact %v redirects %q\nPut       %x ttl %d exact %v redirects %q\n%v",
				age, wa, ha.TTL(), ha.Exact(), ha.Redirects(), wb, hb.TTL(), hb.Exact(), hb.Redirects(), &m)
		}
	}
	return true
}

func TestPutPacketMatchesPut(t *testing.T) {
	soa := "example.org. 300 IN SOA ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 60"
	for i, m := range []*dns.Msg{
		answer(t, "example.org.", dns.TypeA, dns.RcodeSuccess, []string{"example.org. 300 IN A 192.0.2.1", "example.org. 30 IN A 192.0.2.2"}),
		answer(t, "Example.ORG.", dns.TypeAAAA, dns.RcodeSuccess, []string{"example.org. 86400 IN AAAA 2001:db8::1"}),
		answer(t, "example.org.", dns.TypeA, dns.RcodeSuccess, []string{"example.org. 60 IN CNAME www.instagram.com.", "www.instagram.com. 20 IN A 192.0.2.9"}),
		answer(t, "example.org.", dns.TypeA, dns.RcodeNameError, nil, soa),
		answer(t, "example.org.", dns.TypeA, dns.RcodeNameError, []string{"example.org. 600 IN CNAME gone.example.net."}, soa),
		answer(t, "example.org.", dns.TypeMX, dns.RcodeSuccess, nil, soa),
		answer(t, "example.org.", dns.TypeA, dns.RcodeSuccess, nil),                                       // NODATA without SOA: not cached
		answer(t, "example.org.", dns.TypeA, dns.RcodeServerFailure, nil),                                 // not cached
		answer(t, "example.org.", dns.TypeA, dns.RcodeSuccess, []string{"example.org. 0 IN A 192.0.2.1"}), // TTL 0
		answer(t, "example.org.", dns.TypeNS, dns.RcodeSuccess, []string{"example.org. 300 IN NS ns1.example.org."}, "example.org. 100 IN NS ns2.example.org."),
		func() *dns.Msg {
			m := answer(t, "example.org.", dns.TypeA, dns.RcodeSuccess, []string{"example.org. 300 IN A 192.0.2.1"})
			m.Truncated = true
			return m
		}(),
	} {
		for _, compress := range []bool{false, true} {
			for _, o := range []Options{{}, {MinTTL: time.Minute, MaxTTL: time.Hour}} {
				for _, capTTL := range []uint32{0, 45} {
					t.Run(fmt.Sprintf("%d/compress=%v/%v/cap=%d", i, compress, o.MinTTL, capTTL), func(t *testing.T) {
						m.Compress = compress
						pkt, err := m.Pack()
						if err != nil {
							t.Fatal(err)
						}
						if !putBoth(t, newClock(), o, pkt, capTTL) {
							t.Fatalf("ParseResponse did not read %v", m)
						}
					})
				}
			}
		}
	}
}

func TestPutPacketAllocations(t *testing.T) {
	m := answer(t, "example.org.", dns.TypeA, dns.RcodeSuccess, []string{"example.org. 300 IN A 192.0.2.1"})
	pkt, _ := m.Pack()
	var r wire.Response
	if !wire.ParseResponse(pkt, &r) {
		t.Fatal("not read")
	}
	c := New(Options{})
	k := Key{Name: "example.org.", Qtype: dns.TypeA, Qclass: dns.ClassINET}
	if n := testing.AllocsPerRun(100, func() { c.PutPacket(k, pkt, &r, 0) }); n > 3 {
		t.Errorf("%v allocations per PutPacket, want at most 3 (entry, wire form, TTL offsets)", n)
	}
}

// FuzzPutPacket stores arbitrary responses both ways and compares.
func FuzzPutPacket(f *testing.F) {
	soa := "example.org. 300 IN SOA ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 60"
	for _, m := range []*dns.Msg{
		answer(f, "example.org.", dns.TypeA, dns.RcodeSuccess, []string{"example.org. 60 IN CNAME www.example.net.", "www.example.net. 20 IN A 192.0.2.9"}),
		answer(f, "example.org.", dns.TypeA, dns.RcodeNameError, nil, soa),
		answer(f, "example.org.", dns.TypeAAAA, dns.RcodeSuccess, []string{"example.org. 86400 IN AAAA 2001:db8::1"}),
	} {
		m.Compress = true
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint32(0))
		f.Add(b, uint32(300))
	}
	f.Fuzz(func(t *testing.T, pkt []byte, capTTL uint32) {
		putBoth(t, newClock(), Options{MinTTL: 10 * time.Second, MaxTTL: time.Hour}, pkt, capTTL)
	})
}

func BenchmarkPutPacket(b *testing.B) {
	m := answer(b, "example.org.", dns.TypeA, dns.RcodeSuccess, []string{"example.org. 300 IN A 192.0.2.1"})
	m.Compress = true
	pkt, _ := m.Pack()
	c := New(Options{})
	k := Key{Name: "example.org.", Qtype: dns.TypeA, Qclass: dns.ClassINET}
	b.Run("packet", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r wire.Response
			if !wire.ParseResponse(pkt, &r) || !c.PutPacket(k, pkt, &r, 0) {
				b.Fatal("not stored")
			}
		}
	})
	b.Run("msg", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m dns.Msg
			if m.Unpack(pkt) != nil || !c.Put(k, &m, 0) {
				b.Fatal("not stored")
			}
		}
	})
}
