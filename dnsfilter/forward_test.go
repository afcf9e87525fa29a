package dnsfilter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/cache"
	"github.com/nocontact/nocontact/dnsfilter/match"
	"github.com/nocontact/nocontact/dnsfilter/upstream"
	"github.com/nocontact/nocontact/dnsfilter/wire"
)

// packetUpstream gives both servers of a forwardPair the same upstream
// answers: respond returns the packet an upstream sends for a question
// (or an error, as the forwarder would after every upstream failed). As
// an Exchanger (the slow path) it unpacks the packet, as
// upstream.Forwarder does; as a wire forwarder it hands the packet to the
// Waiter, read by wire.ParseResponse when it can, unpacked when not. It
// takes an answer only as the real forwarder would: a response to the
// question asked, not SERVFAIL, NOTIMP, FORMERR, REFUSED or truncated.
type packetUpstream struct {
	respond func(q *dns.Msg) ([]byte, error)
	asked   atomic.Int64
}

func (u *packetUpstream) answer(q *dns.Msg) (*upstream.Answer, error) {
	u.asked.Add(1)
	pkt, err := u.respond(q)
	if err != nil {
		return nil, err
	}
	a := &upstream.Answer{Pkt: pkt}
	qq := q.Question[0]
	var r wire.Response
	qname := make([]byte, 256)
	n, err := dns.PackDomainName(qq.Name, qname, 0, nil, false)
	if err != nil {
		return nil, err
	}
	if wire.ParseResponse(pkt, &r) {
		if !wire.EqualNameFold(pkt, wire.HeaderLen, qname[:n]) || r.Qtype != qq.Qtype || r.Qclass != qq.Qclass {
			return nil, fmt.Errorf("%w: wrong question", upstream.ErrAllFailed)
		}
		a.Parsed = &r
	} else {
		m := new(dns.Msg)
		if err := m.Unpack(pkt); err != nil || !m.Response || len(m.Question) != 1 ||
			!strings.EqualFold(m.Question[0].Name, qq.Name) || m.Question[0].Qtype != qq.Qtype || m.Question[0].Qclass != qq.Qclass {
			return nil, fmt.Errorf("%w: unreadable or wrong question", upstream.ErrAllFailed)
		}
		a.Msg = m
	}
	switch a.Rcode() {
	case dns.RcodeServerFailure, dns.RcodeNotImplemented, dns.RcodeFormatError, dns.RcodeRefused:
		return nil, fmt.Errorf("%w: answered %s", upstream.ErrAllFailed, dns.RcodeToString[a.Rcode()])
	}
	if (a.Parsed != nil && a.Parsed.Truncated()) || (a.Msg != nil && a.Msg.Truncated) {
		return nil, fmt.Errorf("%w: truncated (the real one asks over TCP)", upstream.ErrAllFailed)
	}
	return a, nil
}

func (u *packetUpstream) Exchange(_ context.Context, q *dns.Msg) (*dns.Msg, error) {
	a, err := u.answer(q)
	if err != nil {
		return nil, err
	}
	if a.Msg != nil {
		return a.Msg, nil
	}
	m := new(dns.Msg)
	return m, m.Unpack(a.Pkt)
}

func (u *packetUpstream) Forward(q upstream.Question, w upstream.Waiter, _ *upstream.SendBatch) error {
	name, _, err := dns.UnpackDomainName(q.Name, 0)
	if err != nil {
		return err
	}
	m := new(dns.Msg)
	m.SetQuestion(name, q.Qtype)
	m.Question[0].Qclass = q.Qclass
	m.CheckingDisabled = q.CD
	m.SetEdns0(q.UDPSize, q.DO)
	a, err := u.answer(m)
	if errors.Is(err, upstream.ErrAllDown) {
		return err // the real forwarder refuses at once
	}
	w.Done(a, err)
	return nil
}

// forwardPair is two servers with the same policy and clock and the
// same upstream answers, each with its own cache: wire answers questions
// the way the UDP loop does (the fast path, the wire-level forwarder,
// the slow path), slow answers all of them on the slow path.
type forwardPair struct {
	wire, slow     *Server
	clk            *fakeClock
	blockedW       atomic.Int64
	blockedS       atomic.Int64
	srv, cli       *net.UDPConn
	forwarded      int
	fromPacket     int
	upW, upS       *packetUpstream
	cacheW, cacheS *cache.Cache
}

func newForwardPair(t testing.TB, respond func(q *dns.Msg) ([]byte, error)) *forwardPair {
	t.Helper()
	p, err := NewPolicy(testCatalog(t), Spec{Platforms: []string{"instagram", "x"}, Domains: []string{"example.net"}, Allow: []string{"help.instagram.com"}})
	if err != nil {
		t.Fatal(err)
	}
	fp := &forwardPair{clk: &fakeClock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}}
	fp.upW, fp.upS = &packetUpstream{respond: respond}, &packetUpstream{respond: respond}
	fp.cacheW = cache.New(cache.Options{Now: fp.clk.now, MinTTL: 5 * time.Second})
	fp.cacheS = cache.New(cache.Options{Now: fp.clk.now, MinTTL: 5 * time.Second})
	mk := func(up upstream.Exchanger, c *cache.Cache, n *atomic.Int64) *Server {
		s, err := NewServer(Options{
			Listen:    []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")},
			Upstream:  up,
			Cache:     c,
			OnBlocked: func(netip.Addr, match.Rule) { n.Add(1) },
		}, p)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	fp.wire = mk(fp.upW, fp.cacheW, &fp.blockedW)
	fp.slow = mk(fp.upS, fp.cacheS, &fp.blockedS)
	for _, c := range []**net.UDPConn{&fp.srv, &fp.cli} {
		if *c, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { fp.srv.Close(); fp.cli.Close() })
	return fp
}

// viaWire answers pkt from 127.0.0.1 as the UDP loop would, and returns
// what the client received (nil for nothing). The upstream answers
// within Forward, so the answer is written before forward returns; a
// marker sent after it shows that nothing else is coming.
func (fp *forwardPair) viaWire(t testing.TB, pkt []byte) []byte {
	t.Helper()
	var m miss
	lo := netip.MustParseAddr("127.0.0.1")
	a, res := fp.wire.fastPath(nil, pkt, lo, &m)
	switch res {
	case fastAnswered:
		return a
	case fastMiss:
		fp.forwarded++
		var q dns.Msg
		if q.Unpack(pkt) == nil {
			if rb, err := fp.upW.respond(&q); err == nil {
				var r wire.Response
				if wire.ParseResponse(rb, &r) {
					fp.fromPacket++
				}
			}
		}
		before := fp.upW.asked.Load()
		if !fp.wire.forward(fp.srv, pkt, fp.cli.LocalAddr().(*net.UDPAddr).AddrPort(), &m, nil) {
			t.Fatal("the wire forwarder did not take the question")
		}
		if fp.upW.asked.Load() == before {
			t.Fatal("the forwarded question did not reach the upstream")
		}
		marker := []byte("end of answers")
		if _, err := fp.srv.WriteToUDPAddrPort(marker, fp.cli.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
			t.Fatal(err)
		}
		var got []byte
		buf := make([]byte, 65536)
		for {
			_ = fp.cli.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := fp.cli.Read(buf)
			if err != nil {
				t.Fatalf("reading the forwarded answer: %v", err)
			}
			if bytes.Equal(buf[:n], marker) {
				return got
			}
			if got != nil {
				t.Fatalf("two answers to one question: %x and %x", got, buf[:n])
			}
			got = bytes.Clone(buf[:n])
		}
	}
	return slowUDP(fp.wire, pkt, lo)
}

// compare asks both servers pkt and fails unless they answer alike and
// keep the same cache entry for it.
func (fp *forwardPair) compare(t testing.TB, pkt []byte) {
	t.Helper()
	bw, bs := fp.blockedW.Load(), fp.blockedS.Load()
	fwd := fp.forwarded
	got := fp.viaWire(t, pkt)
	want := slowUDP(fp.slow, pkt, netip.MustParseAddr("127.0.0.1"))
	if !bytes.Equal(got, want) {
		var gm, wm dns.Msg
		_ = gm.Unpack(got)
		_ = wm.Unpack(want)
		t.Fatalf("question %x (forwarded: %v):\nwire %x\nslow %x\nwire:\n%v\nslow:\n%v", pkt, fp.forwarded > fwd, got, want, &gm, &wm)
	}
	if dw, ds := fp.blockedW.Load()-bw, fp.blockedS.Load()-bs; dw != ds {
		t.Fatalf("OnBlocked called %d times by the wire path, %d by the slow", dw, ds)
	}
	var q dns.Msg
	if q.Unpack(pkt) != nil || len(q.Question) != 1 {
		return
	}
	k := cache.KeyOf(&q)
	hw, okW := fp.cacheW.Stale(k)
	hs, okS := fp.cacheS.Stale(k)
	if okW != okS {
		t.Fatalf("%s: cached by the wire path: %v, by the slow: %v", q.Question[0].Name, okW, okS)
	}
	if okW {
		ww, ws := hw.AppendWire(nil, 1), hs.AppendWire(nil, 1)
		if !bytes.Equal(ww, ws) || hw.Exact() != hs.Exact() || hw.TTL() != hs.TTL() || !slices.Equal(hw.Redirects(), hs.Redirects()) {
			t.Fatalf("%s: cache entries differ:\nwire %x exact %v ttl %d %q\nslow %x exact %v ttl %d %q", q.Question[0].Name,
				ww, hw.Exact(), hw.TTL(), hw.Redirects(), ws, hs.Exact(), hs.TTL(), hs.Redirects())
		}
	}
}

func nameHash(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(s)))
	return h.Sum32()
}

// zoneAnswer is the upstream of the differential test: the answer to a
// question depends on the name (its first label), the same every time,
// compressed or not by a hash of the name, with the name spelled as
// asked in the question and in random case in the records.
func zoneAnswer(q *dns.Msg) ([]byte, error) {
	qq := q.Question[0]
	name := qq.Name
	lower := strings.ToLower(name)
	first, _, _ := strings.Cut(lower, ".")
	h := nameHash(lower) ^ uint32(qq.Qtype)
	m := new(dns.Msg)
	m.SetReply(q)
	m.RecursionAvailable = true
	m.Compress = h%2 == 0
	owner := name
	if h%3 == 0 {
		owner = strings.ToUpper(name)
	}
	ttl := uint32(300)
	if strings.HasPrefix(first, "long") {
		ttl = 86400
	}
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			panic(err)
		}
		return r
	}
	hdr := func(n string, t uint16, ttl uint32) dns.RR_Header {
		return dns.RR_Header{Name: n, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	soa := rr(fmt.Sprintf("example.org. %d IN SOA ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 %d", ttl, 60+h%600))
	switch {
	case strings.HasPrefix(first, "fail"):
		return nil, fmt.Errorf("%w: every upstream timed out", upstream.ErrAllFailed)
	case strings.HasPrefix(first, "down"):
		return nil, upstream.ErrAllDown
	case strings.HasPrefix(first, "servfail"):
		m.Rcode = dns.RcodeServerFailure
	case strings.HasPrefix(first, "nx"):
		m.Rcode = dns.RcodeNameError
		m.Ns = []dns.RR{soa}
	case strings.HasPrefix(first, "nodata"):
		m.Ns = []dns.RR{soa}
	case strings.HasPrefix(first, "nosoa"):
		// NOERROR with nothing: not cached
	case strings.HasPrefix(first, "cname"):
		m.Answer = []dns.RR{
			&dns.CNAME{Hdr: hdr(owner, dns.TypeCNAME, ttl), Target: "Www.Instagram.com."},
			&dns.A{Hdr: hdr("www.instagram.com.", dns.TypeA, ttl), A: net.IPv4(192, 0, 2, 9)},
		}
	case strings.HasPrefix(first, "chain"):
		m.Answer = []dns.RR{
			&dns.CNAME{Hdr: hdr(owner, dns.TypeCNAME, 60), Target: "edge." + lower},
			&dns.CNAME{Hdr: hdr("edge."+lower, dns.TypeCNAME, 30), Target: "a.cdn.example.com."},
			&dns.A{Hdr: hdr("a.cdn.example.com.", dns.TypeA, 20), A: net.IPv4(192, 0, 2, 10)},
		}
	case strings.HasPrefix(first, "usercname"):
		m.Answer = []dns.RR{&dns.CNAME{Hdr: hdr(owner, dns.TypeCNAME, ttl), Target: "cdn.example.net."}}
	case strings.HasPrefix(first, "big"):
		for i := range 60 {
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr(owner, dns.TypeA, ttl), A: net.IPv4(192, 0, 2, byte(i))})
		}
	case strings.HasPrefix(first, "ns"):
		m.Answer = []dns.RR{&dns.A{Hdr: hdr(owner, dns.TypeA, ttl), A: net.IPv4(192, 0, 2, 1)}}
		m.Ns = []dns.RR{&dns.NS{Hdr: hdr("example.org.", dns.TypeNS, 3600), Ns: "ns1.example.org."}}
		m.Extra = []dns.RR{&dns.A{Hdr: hdr("ns1.example.org.", dns.TypeA, 3600), A: net.IPv4(192, 0, 2, 53)}}
	case strings.HasPrefix(first, "flags"):
		m.Authoritative, m.AuthenticatedData = true, true
		m.Answer = []dns.RR{&dns.A{Hdr: hdr(owner, dns.TypeA, ttl), A: net.IPv4(192, 0, 2, 1)}}
	case strings.HasPrefix(first, "zero"):
		m.Answer = []dns.RR{&dns.A{Hdr: hdr(owner, dns.TypeA, 0), A: net.IPv4(192, 0, 2, 1)}}
	case strings.HasPrefix(first, "badvers"):
		m.Rcode = dns.RcodeBadVers
	default:
		switch qq.Qtype {
		case dns.TypeA:
			m.Answer = []dns.RR{&dns.A{Hdr: hdr(owner, dns.TypeA, ttl), A: net.IPv4(192, 0, 2, 1)}, &dns.A{Hdr: hdr(owner, dns.TypeA, ttl/2), A: net.IPv4(192, 0, 2, 2)}}
		case dns.TypeAAAA:
			m.Answer = []dns.RR{&dns.AAAA{Hdr: hdr(owner, dns.TypeAAAA, ttl), AAAA: net.ParseIP("2001:db8::1")}}
		case dns.TypeHTTPS:
			m.Answer = []dns.RR{rr(owner + " 300 IN HTTPS 1 . alpn=h2")}
		case dns.TypeMX:
			m.Answer = []dns.RR{rr(owner + " 300 IN MX 10 mail.example.org.")}
		case dns.TypeTXT:
			m.Answer = []dns.RR{rr(owner + ` 300 IN TXT "v=spf1 -all"`)}
		default:
			m.Ns = []dns.RR{soa}
		}
	}
	if o := q.IsEdns0(); o != nil && (h%5 != 0 || m.Rcode > 0xf) {
		m.SetEdns0(4096, o.Do())
	}
	return m.Pack()
}

// TestForwardMatchesSlowPath asks many generated questions of a server
// with the wire-level forwarder and of one on the slow path alone, with
// the same upstream answers, and compares every answer byte for byte and
// every cache entry.
func TestForwardMatchesSlowPath(t *testing.T) {
	fp := newForwardPair(t, zoneAnswer)
	r := rand.New(rand.NewPCG(16, 16))
	var names []string
	for i := range 40 {
		names = append(names, fmt.Sprintf("host%d.example.org.", i))
	}
	for _, p := range []string{"nx", "nodata", "nosoa", "cname", "chain", "usercname", "big", "ns", "flags", "zero", "badvers", "fail", "down", "servfail", "long"} {
		for i := range 3 {
			names = append(names, fmt.Sprintf("%s%d.example.org.", p, i))
		}
	}
	names = append(names, "long.tiktok.com.", "www.tiktok.com.", "cname.help.instagram.com.", "chain.help.instagram.com.",
		"www.instagram.com.", "example.net.", "a_b.example.org.",
		strings.Repeat("a", 63)+"."+strings.Repeat("b", 63)+"."+strings.Repeat("c", 63)+".example.org.")
	types := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeHTTPS, dns.TypeMX, dns.TypeTXT, dns.TypeSVCB, dns.TypeA, dns.TypeA}
	for i := range 20000 {
		if i%300 == 0 {
			fp.clk.advance(time.Duration(r.IntN(400)) * time.Second)
		}
		q := new(dns.Msg)
		q.SetQuestion(mixCase(r, names[r.IntN(len(names))]), types[r.IntN(len(types))])
		q.Id = uint16(r.Uint32())
		q.RecursionDesired = r.IntN(8) != 0
		q.CheckingDisabled = r.IntN(8) == 0
		q.AuthenticatedData = r.IntN(4) == 0
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
		fp.compare(t, pkt)
	}
	wire := fp.upW.asked.Load()
	t.Logf("%d questions forwarded at the wire level, %d with answers read from the packet; the upstream was asked %d times by the wire server, %d by the slow one",
		fp.forwarded, fp.fromPacket, wire, fp.upS.asked.Load())
	if fp.forwarded < 2000 || fp.fromPacket < 1000 {
		t.Errorf("only %d questions took the wire-level forwarder, %d answered from the packet: the comparison proves little", fp.forwarded, fp.fromPacket)
	}
}

// FuzzForward sends a question and, as the upstream's answer to it,
// arbitrary bytes (with the question's ID and, when it fits, its
// question): both servers must answer alike and cache alike.
func FuzzForward(f *testing.F) {
	for _, s := range []struct {
		name  string
		qtype uint16
	}{{"host.example.org.", dns.TypeA}, {"cname.example.org.", dns.TypeA}, {"nx.example.org.", dns.TypeAAAA},
		{"chain.example.org.", dns.TypeA}, {"ns.example.org.", dns.TypeA}, {"long.tiktok.com.", dns.TypeA},
		{"cname.help.instagram.com.", dns.TypeA}, {"host.example.org.", dns.TypeHTTPS}, {"big.example.org.", dns.TypeA}} {
		for _, edns := range []bool{false, true} {
			q := new(dns.Msg)
			q.SetQuestion(s.name, s.qtype)
			if edns {
				q.SetEdns0(1232, true)
			}
			qb, err := q.Pack()
			if err != nil {
				f.Fatal(err)
			}
			rb, err := zoneAnswer(q)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(qb, rb)
		}
	}
	var resp []byte
	fp := newForwardPair(f, func(*dns.Msg) ([]byte, error) { return resp, nil })
	f.Fuzz(func(t *testing.T, qb, rb []byte) {
		var m miss
		if _, res := fp.wire.fastPath(nil, qb, netip.MustParseAddr("127.0.0.1"), &m); res != fastMiss {
			return // not forwarded: the fast path's own fuzz target covers it
		}
		resp = rb
		fp.compare(t, qb)
		// What was cached is forgotten: the next input starts afresh.
		fp.clk.advance(cache.StaleFor + 48*time.Hour)
	})
}

// BenchmarkForwardAnswer measures writing a forwarded answer from the
// upstream's packet (appendForwarded) against the slow path's functions,
// without sockets.
func BenchmarkForwardAnswer(b *testing.B) {
	fp := newForwardPair(b, zoneAnswer)
	q := new(dns.Msg)
	q.SetQuestion("host.example.org.", dns.TypeA)
	q.SetEdns0(1232, false)
	pkt, _ := q.Pack()
	var m miss
	if _, res := fp.wire.fastPath(nil, pkt, netip.MustParseAddr("127.0.0.1"), &m); res != fastMiss {
		b.Fatal("not a miss")
	}
	a, err := fp.upW.answer(q)
	if err != nil || a.Parsed == nil {
		b.Fatalf("%v %v", a, err)
	}
	cl := &wireClient{q: m.q, size: m.size}
	cl.pkt = append(cl.buf[:0], pkt...)
	buf := make([]byte, 0, UDPSize)
	b.Run("packet", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := fp.wire.appendForwarded(buf[:0], cl, &m, a.Pkt, a.Parsed); !ok {
				b.Fatal("not written from the packet")
			}
		}
	})
	b.Run("msg", func(b *testing.B) {
		b.ReportAllocs()
		am := &upstream.Answer{Msg: new(dns.Msg)}
		if err := am.Msg.Unpack(a.Pkt); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			fp.wire.wireAnswer(buf[:0], cl, &m, am, nil)
		}
	})
}
