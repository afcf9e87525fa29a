package dnsfilter

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/cache"
	"github.com/nocontact/nocontact/dnsfilter/match"
	"github.com/nocontact/nocontact/dnsfilter/upstream"
)

// zoneUpstream answers every question in-process from the name alone, so
// the same question always gets the same answer: NXDOMAIN with an SOA for
// names starting "nx", a CNAME into instagram for "cname", forty TXT
// records for "big", one record of the asked type otherwise (with a long
// TTL for "long", to show the cap on watched platforms). It spells the
// owner names as asked, as real resolvers do.
type zoneUpstream struct{ asked atomic.Int64 }

func (z *zoneUpstream) Exchange(_ context.Context, q *dns.Msg) (*dns.Msg, error) {
	z.asked.Add(1)
	m := new(dns.Msg)
	m.SetReply(q)
	m.RecursionAvailable = true
	qq := q.Question[0]
	name, lower := qq.Name, strings.ToLower(qq.Name)
	ttl := "300"
	if strings.HasPrefix(lower, "long") {
		ttl = "86400"
	}
	var bad error
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(name + " " + ttl + " IN " + s)
		if err != nil {
			bad = err // a name the fuzzer made up, like "." for an MX target
			return &dns.A{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeA, Class: dns.ClassINET}, A: net.IPv4zero}
		}
		return r
	}
	switch {
	case strings.HasPrefix(lower, "nx"):
		m.Rcode = dns.RcodeNameError
		soa, _ := dns.NewRR("example. 300 IN SOA ns.example. host.example. 1 3600 600 86400 60")
		m.Ns = []dns.RR{soa}
	case strings.HasPrefix(lower, "cname"):
		m.Answer = []dns.RR{rr("CNAME www.instagram.com."), &dns.A{Hdr: dns.RR_Header{Name: "www.instagram.com.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, A: net.IPv4(192, 0, 2, 9)}}
	case strings.HasPrefix(lower, "big"):
		for i := range 40 {
			m.Answer = append(m.Answer, rr(fmt.Sprintf(`TXT "%02d%s"`, i, strings.Repeat("x", 40))))
		}
	default:
		switch qq.Qtype {
		case dns.TypeA, dns.TypeANY:
			m.Answer = []dns.RR{rr("A 192.0.2.1"), rr("A 192.0.2.2")}
		case dns.TypeAAAA:
			m.Answer = []dns.RR{rr("AAAA 2001:db8::1")}
		case dns.TypeMX:
			m.Answer = []dns.RR{rr("MX 10 mail." + name), rr("MX 20 mail2." + name)}
		case dns.TypeTXT:
			m.Answer = []dns.RR{rr(`TXT "v=spf1 -all" "second string"`)}
		case dns.TypeHTTPS:
			m.Answer = []dns.RR{rr("HTTPS 1 . alpn=h2,h3 ipv4hint=192.0.2.1")}
		default:
			soa, _ := dns.NewRR("example. 300 IN SOA ns.example. host.example. 1 3600 600 86400 60")
			m.Ns = []dns.RR{soa}
		}
	}
	if bad != nil {
		return nil, bad
	}
	if o := q.IsEdns0(); o != nil {
		m.SetEdns0(1232, o.Do())
	}
	return m, nil
}

// recorder is the ResponseWriter of the slow path in tests: it keeps the
// bytes written.
type recorder struct {
	from netip.AddrPort
	b    []byte
}

func (w *recorder) LocalAddr() net.Addr  { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }
func (w *recorder) RemoteAddr() net.Addr { return net.UDPAddrFromAddrPort(w.from) }
func (w *recorder) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	w.b = b
	return nil
}
func (w *recorder) Write(b []byte) (int, error) { w.b = append([]byte(nil), b...); return len(b), nil }
func (w *recorder) Close() error                { return nil }
func (w *recorder) TsigStatus() error           { return nil }
func (w *recorder) TsigTimersOnly(bool)         {}
func (w *recorder) Hijack()                     {}

// slowUDP returns what the slow path writes for the UDP packet pkt from
// src, or nil.
func slowUDP(s *Server, pkt []byte, src netip.Addr) []byte {
	w := &recorder{from: netip.AddrPortFrom(src, 5353)}
	s.serveSlow(pkt, w)
	return w.b
}

type fastFixture struct {
	s       *Server
	clk     *fakeClock
	up      *zoneUpstream
	blocked atomic.Int64
}

// newFastFixture builds a server, not started, blocking instagram, tiktok
// being watched, example.net blocked as a user domain and
// help.instagram.com allowed, with a cache on a fake clock.
func newFastFixture(t testing.TB) *fastFixture {
	t.Helper()
	p, err := NewPolicy(testCatalog(t), Spec{Platforms: []string{"instagram", "x"}, Domains: []string{"example.net"}, Allow: []string{"help.instagram.com"}})
	if err != nil {
		t.Fatal(err)
	}
	fx := &fastFixture{clk: &fakeClock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}, up: &zoneUpstream{}}
	s, err := NewServer(Options{
		Listen:    []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")},
		Upstream:  fx.up,
		Cache:     cache.New(cache.Options{Now: fx.clk.now}),
		Loop:      upstream.NewLoopMark(),
		OnBlocked: func(netip.Addr, match.Rule) { fx.blocked.Add(1) },
	}, p)
	if err != nil {
		t.Fatal(err)
	}
	fx.s = s
	return fx
}

// mixCase spells name with random letter case, as 0x20 clients do.
func mixCase(r *rand.Rand, name string) string {
	b := []byte(name)
	for i, c := range b {
		if 'a' <= c && c <= 'z' && r.IntN(2) == 0 {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// TestFastPathMatchesSlowPath asks many generated questions, and for every
// one the fast path answers, compares its bytes with the slow path's for
// the same packet and the same cache state.
func TestFastPathMatchesSlowPath(t *testing.T) {
	fx := newFastFixture(t)
	r := rand.New(rand.NewPCG(7, 7))
	var names []string
	for _, rule := range fx.s.Policy().m.Rules() {
		names = append(names, rule.Domain+".", "www."+rule.Domain+".")
	}
	for i := range 60 {
		names = append(names, fmt.Sprintf("host%d.example.org.", i))
	}
	names = append(names, "nx1.example.org.", "nx2.example.com.", "cname.example.org.", "big.example.org.",
		"long.tiktok.com.", "www.tiktok.com.", "help.instagram.com.", "cname.help.instagram.com.",
		"use-application-dns.net.", "mask.icloud.com.", "_dns.resolver.arpa.", "a_b.example.org.",
		strings.Repeat("a", 63)+"."+strings.Repeat("b", 63)+"."+strings.Repeat("c", 63)+".instagram.com.")
	types := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeHTTPS, dns.TypeMX, dns.TypeTXT, dns.TypeANY, dns.TypeSVCB, dns.TypeCAA}
	sources := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1"), netip.MustParseAddr("192.0.2.77")}

	var fastBlocked, fastCached, slow int
	for i := range 20000 {
		if i%500 == 0 {
			fx.clk.advance(time.Duration(r.IntN(40)) * time.Second)
		}
		q := new(dns.Msg)
		q.SetQuestion(mixCase(r, names[r.IntN(len(names))]), types[r.IntN(len(types))])
		q.Id = uint16(r.Uint32())
		q.RecursionDesired = r.IntN(8) != 0
		q.CheckingDisabled = r.IntN(8) == 0
		q.AuthenticatedData = r.IntN(4) == 0
		if r.IntN(10) == 0 {
			q.Question[0].Qclass = dns.ClassCHAOS
		}
		switch r.IntN(4) {
		case 0: // no EDNS
		case 1:
			q.SetEdns0(uint16([]int{0, 512, 1232, 4096}[r.IntN(4)]), r.IntN(2) == 0)
		default:
			q.SetEdns0(1232, r.IntN(3) == 0)
		}
		if o := q.IsEdns0(); o != nil && r.IntN(30) == 0 {
			o.SetVersion(uint8(1 + r.IntN(255)))
		}
		pkt, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		src := sources[0]
		if r.IntN(20) == 0 {
			src = sources[1+r.IntN(2)]
		}
		before := fx.blocked.Load()
		fast, ok := fx.s.fastAnswer(nil, pkt, src)
		if !ok {
			slow++
			slowUDP(fx.s, pkt, src) // fills the cache for the next time
			continue
		}
		fastCalls := fx.blocked.Load() - before
		want := slowUDP(fx.s, pkt, src)
		slowCalls := fx.blocked.Load() - before - fastCalls
		if !bytes.Equal(fast, want) {
			var fm, sm dns.Msg
			_ = fm.Unpack(fast) // shown as far as it unpacks; the bytes are shown too
			_ = sm.Unpack(want)
			t.Fatalf("question %d %s %s from %s:\nfast %x\nslow %x\nfast:\n%v\nslow:\n%v", i, q.Question[0].Name,
				dns.TypeToString[q.Question[0].Qtype], src, fast, want, &fm, &sm)
		}
		if fastCalls != slowCalls {
			t.Fatalf("%s: OnBlocked called %d times by the fast path, %d by the slow", q.Question[0].Name, fastCalls, slowCalls)
		}
		if fastCalls > 0 {
			fastBlocked++
		} else {
			fastCached++
		}
	}
	t.Logf("fast path: %d blocked, %d from the cache; slow path: %d", fastBlocked, fastCached, slow)
	if fastBlocked < 1000 || fastCached < 1000 {
		t.Errorf("only %d blocked and %d cached answers took the fast path: the comparison proves little", fastBlocked, fastCached)
	}
}

// TestFastPathLeavesTheUnusual checks a few packets the fast path must
// leave to the slow path.
func TestFastPathLeavesTheUnusual(t *testing.T) {
	fx := newFastFixture(t)
	lo := netip.MustParseAddr("127.0.0.1")
	ask := func(name string, qtype uint16, edit func(*dns.Msg)) []byte {
		q := new(dns.Msg)
		q.SetQuestion(name, qtype)
		if edit != nil {
			edit(q)
		}
		b, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	slowUDP(fx.s, ask("host.example.org.", dns.TypeA, nil), lo) // cached now
	if _, ok := fx.s.fastAnswer(nil, ask("host.example.org.", dns.TypeA, nil), lo); !ok {
		t.Fatal("a cached name did not take the fast path")
	}
	for _, tt := range []struct {
		what string
		pkt  []byte
		src  string
	}{
		{"outside the access list", ask("instagram.com.", dns.TypeA, nil), "192.0.2.1"},
		{"special name", ask("use-application-dns.net.", dns.TypeA, nil), "127.0.0.1"},
		{"loop probe", ask("abc."+upstream.LoopProbeZone, dns.TypeA, nil), "127.0.0.1"},
		{"CHAOS class", ask("instagram.com.", dns.TypeA, func(q *dns.Msg) { q.Question[0].Qclass = dns.ClassCHAOS }), "127.0.0.1"},
		{"cookie", ask("instagram.com.", dns.TypeA, func(q *dns.Msg) {
			q.SetEdns0(1232, false)
			q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
		}), "127.0.0.1"},
		{"not cached", ask("other.example.org.", dns.TypeA, nil), "127.0.0.1"},
		{"cached answer leads into instagram", func() []byte {
			b := ask("cname.example.org.", dns.TypeA, nil)
			slowUDP(fx.s, b, lo)
			return b
		}(), "127.0.0.1"},
		{"needs truncating", func() []byte {
			b := ask("big.example.org.", dns.TypeTXT, nil)
			slowUDP(fx.s, b, lo)
			return b
		}(), "127.0.0.1"},
	} {
		if a, ok := fx.s.fastAnswer(nil, tt.pkt, netip.MustParseAddr(tt.src)); ok {
			t.Errorf("%s: the fast path answered %x", tt.what, a)
		}
	}
}

// TestFastPathDoesNotAllocate checks the two fast answers for
// allocations; speed is for the benchmarks.
func TestFastPathDoesNotAllocate(t *testing.T) {
	fx := newFastFixture(t)
	lo := netip.MustParseAddr("127.0.0.1")
	for _, name := range []string{"www.instagram.com.", "host.example.org."} {
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		q.SetEdns0(1232, false)
		pkt, _ := q.Pack()
		slowUDP(fx.s, pkt, lo)
		buf := make([]byte, 0, UDPSize)
		if n := testing.AllocsPerRun(100, func() {
			if _, ok := fx.s.fastAnswer(buf[:0], pkt, lo); !ok {
				t.Fatalf("%s: not on the fast path", name)
			}
		}); n != 0 {
			t.Errorf("%s: %v allocations per fast answer", name, n)
		}
	}
}

// FuzzFastPath feeds raw packets to both paths: whenever the fast path
// answers, its answer is byte for byte the slow path's.
func FuzzFastPath(f *testing.F) {
	addQuerySeeds(f, []querySeed{
		{"instagram.com.", dns.TypeA, true},
		{"WWW.Instagram.com.", dns.TypeAAAA, false},
		{"host.example.org.", dns.TypeA, true},
		{"host.example.org.", dns.TypeMX, false},
		{"nx.example.org.", dns.TypeA, true},
		{"example.net.", dns.TypeHTTPS, true},
	})
	fx := newFastFixture(f)
	lo := netip.MustParseAddr("127.0.0.1")
	f.Fuzz(func(t *testing.T, pkt []byte) {
		fast, ok := fx.s.fastAnswer(nil, pkt, lo)
		if !ok {
			slowUDP(fx.s, pkt, lo) // may fill the cache for a later input
			return
		}
		if slow := slowUDP(fx.s, pkt, lo); !bytes.Equal(fast, slow) {
			t.Fatalf("fast %x\nslow %x", fast, slow)
		}
	})
}

// BenchmarkFastPath measures the fast path without sockets: reading the
// question, the policy, and the blocked answer or the cache hit written
// into a reused buffer.
func BenchmarkFastPath(b *testing.B) {
	fx := newFastFixture(b)
	lo := netip.MustParseAddr("127.0.0.1")
	for _, tt := range []struct{ bench, name string }{{"blocked", "www.instagram.com."}, {"cached", "host.example.org."}} {
		q := new(dns.Msg)
		q.SetQuestion(tt.name, dns.TypeA)
		q.SetEdns0(1232, false)
		pkt, _ := q.Pack()
		slowUDP(fx.s, pkt, lo)
		buf := make([]byte, 0, UDPSize)
		b.Run(tt.bench, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := fx.s.fastAnswer(buf[:0], pkt, lo); !ok {
					b.Fatal("not on the fast path")
				}
			}
		})
	}
}

// TestUDPLoopOnIPv6 serves on ::1 through the IPv6 side of the batch
// loop, with several sockets on the port where the OS allows it.
func TestUDPLoopOnIPv6(t *testing.T) {
	pc, err := net.ListenPacket("udp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	pc.Close()
	fx := newFastFixture(t)
	fx.s.opts.Listen = []netip.AddrPort{netip.MustParseAddrPort("[::1]:0")}
	if err := fx.s.Start(); err != nil {
		t.Fatal(err)
	}
	defer fx.s.Shutdown(context.Background())
	if n := len(fx.s.udp[0].conns); n != udpSockets() {
		t.Errorf("%d UDP sockets on the address, want %d", n, udpSockets())
	}
	addr := fx.s.Addrs()[0].String()
	for range 2 { // the second time example.org comes from the cache
		for _, tt := range []struct {
			name, want string
		}{{"www.Instagram.com.", "0.0.0.0"}, {"host.example.org.", "192.0.2.1"}} {
			r := query(t, addr, "udp", tt.name, dns.TypeA, true)
			if len(r.Answer) == 0 || r.Answer[0].(*dns.A).A.String() != tt.want || r.Question[0].Name != tt.name {
				t.Errorf("%s over UDP on ::1: %v, want %s", tt.name, r, tt.want)
			}
		}
	}
	if got := fx.up.asked.Load(); got != 1 {
		t.Errorf("upstream asked %d times, want once (then the cache)", got)
	}
}

// TestSlowPathAnswersLikeMiekg sends odd packets to miekg/dns's own UDP
// server in front of the filter and compares its replies with serveSlow's,
// which replaced it.
func TestSlowPathAnswersLikeMiekg(t *testing.T) {
	fx := newFastFixture(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: fx.s, UDPSize: UDPSize, NotifyStartedFunc: func() { close(started) }}
	go srv.ActivateAndServe()
	<-started
	defer srv.Shutdown()
	c, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q := func(edit func(*dns.Msg)) []byte {
		m := new(dns.Msg)
		m.SetQuestion("www.instagram.com.", dns.TypeA)
		m.Id = 4242
		edit(m)
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tt := range []struct {
		what string
		pkt  []byte
	}{
		{"blocked", q(func(*dns.Msg) {})},
		{"two questions", q(func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) })},
		{"update", q(func(m *dns.Msg) { m.Opcode = dns.OpcodeUpdate })},
		{"notify", q(func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify })},
		{"cut short", q(func(*dns.Msg) {})[:20]},
		{"garbage name", append(q(func(*dns.Msg) {})[:12], 0xc0, 0xff, 0, 1, 0, 1)},
		{"cookie", q(func(m *dns.Msg) {
			m.SetEdns0(1232, true)
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
		})},
	} {
		if _, err := c.Write(tt.pkt); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 2048)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("%s: miekg's server: %v", tt.what, err)
		}
		if got := slowUDP(fx.s, tt.pkt, netip.MustParseAddr("127.0.0.1")); !bytes.Equal(got, buf[:n]) {
			t.Errorf("%s:\nserveSlow %x\nmiekg     %x", tt.what, got, buf[:n])
		}
	}
	if got := slowUDP(fx.s, q(func(m *dns.Msg) { m.Response = true }), netip.MustParseAddr("127.0.0.1")); got != nil {
		t.Errorf("a response got an answer: %x", got)
	}
}
