package dnsfilter

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/dnsfilter/dnstest"
	"github.com/nocontact/nocontact/dnsfilter/match"
	"github.com/nocontact/nocontact/dnsfilter/upstream"
)

// startUpstream runs a real DNS server on 127.0.0.1 that answers a few
// test names, and returns its address.
func startUpstream(t testing.TB) netip.AddrPort {
	t.Helper()
	big := make([]string, 40)
	for i := range big {
		big[i] = `big.example.org. 300 IN TXT "` + strings.Repeat("x", 60) + `"`
	}
	z := dnstest.NewZone(t, append(big,
		"example.org. 300 IN A 192.0.2.1",
		"example.org. 300 IN AAAA 2001:db8::1",
		"help.instagram.com. 300 IN A 192.0.2.5",
		"cname-to-ig.example.org. 300 IN CNAME www.instagram.com.",
		"www.instagram.com. 300 IN A 192.0.2.9",
		"https-to-ig.example.org. 300 IN HTTPS 1 scontent.cdninstagram.com. alpn=h2",
		"mask.icloud.com. 300 IN A 192.0.2.7",
	)...)
	return dnstest.Serve(t, z)
}

func testCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type testServer struct {
	*Server
	addr    string
	mu      sync.Mutex
	blocked []string     // platforms reported through OnBlocked
	srcs    []netip.Addr // and the clients
}

// startFilter starts the real filter on 127.0.0.1 port 0 in front of a real
// upstream, blocking spec.
func startFilter(t testing.TB, spec Spec, lan ...netip.Prefix) *testServer {
	t.Helper()
	p, err := NewPolicy(testCatalog(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	fwd, err := upstream.NewForwarder([]netip.AddrPort{startUpstream(t)}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{}
	s, err := NewServer(Options{
		Listen:     []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")},
		LANClients: lan,
		Upstream:   fwd,
		OnBlocked: func(src netip.Addr, r match.Rule) {
			ts.mu.Lock()
			ts.blocked = append(ts.blocked, r.Platform)
			ts.srcs = append(ts.srcs, src)
			ts.mu.Unlock()
		},
	}, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	ts.Server = s
	ts.addr = s.Addrs()[0].String()
	return ts
}

func query(t testing.TB, addr, proto, name string, qtype uint16, edns bool) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	if edns {
		q.SetEdns0(1232, false)
	}
	c := &dns.Client{Net: proto}
	r, _, err := c.Exchange(q, addr)
	if err != nil {
		t.Fatalf("%s %s %s: %v", proto, name, dns.TypeToString[qtype], err)
	}
	return r
}

func ede(m *dns.Msg) *dns.EDNS0_EDE {
	if o := m.IsEdns0(); o != nil {
		for _, opt := range o.Option {
			if e, ok := opt.(*dns.EDNS0_EDE); ok {
				return e
			}
		}
	}
	return nil
}

func TestBlockedAnswers(t *testing.T) {
	ts := startFilter(t, Spec{Platforms: []string{"instagram", "x"}})
	for _, proto := range []string{"udp", "tcp"} {
		for _, tt := range []struct {
			name  string
			qtype uint16
		}{
			{"instagram.com.", dns.TypeA},
			{"www.instagram.com.", dns.TypeAAAA},
			{"InStAgRaM.CoM.", dns.TypeA},
			{"scontent.cdninstagram.com.", dns.TypeHTTPS},
			{"instagram.com.", dns.TypeSVCB},
			{"instagram.com.", dns.TypeMX},
			{"instagram.com.", dns.TypeTXT},
			{"instagram.com.", dns.TypeCNAME},
			{"instagram.com.", dns.TypeANY},
			{"api.twitter.com.", dns.TypeA},
		} {
			t.Run(proto+"/"+tt.name+"/"+dns.TypeToString[tt.qtype], func(t *testing.T) {
				r := query(t, ts.addr, proto, tt.name, tt.qtype, true)
				if r.Rcode != dns.RcodeSuccess {
					t.Fatalf("rcode %s, want NOERROR", dns.RcodeToString[r.Rcode])
				}
				if r.Question[0].Name != tt.name {
					t.Errorf("question %q, want the client's spelling %q", r.Question[0].Name, tt.name)
				}
				switch tt.qtype {
				case dns.TypeA:
					if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "0.0.0.0" {
						t.Fatalf("answer %v, want one A 0.0.0.0", r.Answer)
					}
				case dns.TypeAAAA:
					if len(r.Answer) != 1 || r.Answer[0].(*dns.AAAA).AAAA.String() != "::" {
						t.Fatalf("answer %v, want one AAAA ::", r.Answer)
					}
				default:
					if len(r.Answer) != 0 || len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA {
						t.Fatalf("answer %v authority %v, want no answer and one SOA", r.Answer, r.Ns)
					}
				}
				for _, rr := range append(r.Answer, r.Ns...) {
					if ttl := rr.Header().Ttl; ttl == 0 || ttl > 60 {
						t.Errorf("TTL %d, want 1..60", ttl)
					}
				}
				e := ede(r)
				if e == nil || e.InfoCode != dns.ExtendedErrorCodeBlocked {
					t.Fatalf("EDE %v, want code 15 (Blocked)", e)
				}
				want := "instagram"
				if strings.Contains(tt.name, "twitter") {
					want = "x "
				}
				if !strings.Contains(e.ExtraText, want) {
					t.Errorf("EDE text %q does not name the platform (%q)", e.ExtraText, want)
				}
			})
		}
	}
	// Without EDNS in the question there is no OPT, and so no EDE, in the answer.
	if r := query(t, ts.addr, "udp", "instagram.com.", dns.TypeA, false); r.IsEdns0() != nil {
		t.Errorf("answer to a non-EDNS query carries an OPT record: %v", r)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if len(ts.blocked) == 0 || ts.blocked[0] != "instagram" {
		t.Errorf("OnBlocked saw %v, want instagram first", ts.blocked)
	}
}

func TestForwardedAnswers(t *testing.T) {
	ts := startFilter(t, Spec{Platforms: []string{"instagram"}, Allow: []string{"help.instagram.com"}})
	for _, proto := range []string{"udp", "tcp"} {
		for _, tt := range []struct {
			name  string
			qtype uint16
			rcode int
			want  string // the answer's first record data, "" for none
		}{
			{"example.org.", dns.TypeA, dns.RcodeSuccess, "192.0.2.1"},
			{"EXAMPLE.org.", dns.TypeAAAA, dns.RcodeSuccess, "2001:db8::1"},
			{"notinstagram.com.", dns.TypeA, dns.RcodeNameError, ""},
			{"instagram.com.example.", dns.TypeA, dns.RcodeNameError, ""},
			{"help.instagram.com.", dns.TypeA, dns.RcodeSuccess, "192.0.2.5"},
			{"Help.Instagram.com.", dns.TypeA, dns.RcodeSuccess, "192.0.2.5"},
		} {
			t.Run(proto+"/"+tt.name, func(t *testing.T) {
				r := query(t, ts.addr, proto, tt.name, tt.qtype, true)
				if r.Rcode != tt.rcode {
					t.Fatalf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.rcode])
				}
				got := ""
				if len(r.Answer) > 0 {
					got = strings.Fields(r.Answer[0].String())[4]
				}
				if got != tt.want {
					t.Errorf("answer %q, want %q", got, tt.want)
				}
				if ede(r) != nil {
					t.Errorf("forwarded answer carries an EDE: %v", ede(r))
				}
			})
		}
	}
}

func TestAnswerCheck(t *testing.T) {
	ts := startFilter(t, Spec{Platforms: []string{"instagram"}})
	for _, tt := range []struct {
		name  string
		qtype uint16
	}{
		{"cname-to-ig.example.org.", dns.TypeA},
		{"https-to-ig.example.org.", dns.TypeHTTPS},
	} {
		r := query(t, ts.addr, "udp", tt.name, tt.qtype, true)
		if e := ede(r); e == nil || e.InfoCode != dns.ExtendedErrorCodeBlocked {
			t.Errorf("%s: got %v, want the blocked answer since its target is inside instagram", tt.name, r)
		}
		if tt.qtype == dns.TypeA && (len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "0.0.0.0") {
			t.Errorf("%s: answer %v, want A 0.0.0.0", tt.name, r.Answer)
		}
	}
	// With instagram not blocked the same names are forwarded untouched.
	open := startFilter(t, Spec{Platforms: []string{"tiktok"}})
	if r := query(t, open.addr, "udp", "cname-to-ig.example.org.", dns.TypeA, true); len(r.Answer) != 2 {
		t.Errorf("with instagram open: answer %v, want the upstream's CNAME and A", r.Answer)
	}
}

func TestTruncationThenTCP(t *testing.T) {
	ts := startFilter(t, Spec{Platforms: []string{"instagram"}})
	udp := query(t, ts.addr, "udp", "big.example.org.", dns.TypeTXT, true)
	if !udp.Truncated {
		t.Fatalf("UDP answer of %d records not truncated", len(udp.Answer))
	}
	udp.Compress = true // as it came over the wire
	if packed, _ := udp.Pack(); len(packed) > UDPSize {
		t.Errorf("UDP answer is %d bytes, want at most %d", len(packed), UDPSize)
	}
	tcp := query(t, ts.addr, "tcp", "big.example.org.", dns.TypeTXT, true)
	if tcp.Truncated || len(tcp.Answer) != 40 {
		t.Errorf("TCP answer: truncated=%v with %d records, want all 40", tcp.Truncated, len(tcp.Answer))
	}
	// A client without EDNS gets at most 512 bytes over UDP.
	small := query(t, ts.addr, "udp", "big.example.org.", dns.TypeTXT, false)
	small.Compress = true
	if packed, _ := small.Pack(); !small.Truncated || len(packed) > 512 {
		t.Errorf("non-EDNS UDP answer: truncated=%v, %d bytes; want truncated within 512", small.Truncated, len(packed))
	}
}

func TestSpecialNames(t *testing.T) {
	blocking := startFilter(t, Spec{Platforms: []string{"instagram"}})
	open := startFilter(t, Spec{})
	for _, tt := range []struct {
		srv    *testServer
		name   string
		qtype  uint16
		rcode  int
		answer int
	}{
		{blocking, "use-application-dns.net.", dns.TypeA, dns.RcodeNameError, 0},
		{open, "use-application-dns.net.", dns.TypeAAAA, dns.RcodeNameError, 0},
		{blocking, "mask.icloud.com.", dns.TypeA, dns.RcodeNameError, 0},
		{blocking, "MASK-H2.icloud.com.", dns.TypeAAAA, dns.RcodeNameError, 0},
		{open, "mask.icloud.com.", dns.TypeA, dns.RcodeSuccess, 1}, // nothing blocked: forwarded
		{blocking, "_dns.resolver.arpa.", dns.TypeSVCB, dns.RcodeSuccess, 0},
		{open, "_dns.resolver.arpa.", dns.TypeSVCB, dns.RcodeSuccess, 0},
		{blocking, "dns.google.", dns.TypeA, dns.RcodeSuccess, 1}, // bypass group: blocked answer
		{blocking, "cloudflare-dns.com.", dns.TypeHTTPS, dns.RcodeSuccess, 0},
	} {
		r := query(t, tt.srv.addr, "udp", tt.name, tt.qtype, true)
		if r.Rcode != tt.rcode || len(r.Answer) != tt.answer {
			t.Errorf("%s %s (blocking=%v): rcode %s with %d answers, want %s with %d",
				tt.name, dns.TypeToString[tt.qtype], tt.srv.Policy().Blocking(),
				dns.RcodeToString[r.Rcode], len(r.Answer), dns.RcodeToString[tt.rcode], tt.answer)
		}
	}
	if r := query(t, open.addr, "udp", "dns.google.", dns.TypeA, true); r.Rcode != dns.RcodeNameError {
		t.Errorf("dns.google with nothing blocked: %s, want it forwarded (NXDOMAIN from the test upstream)", dns.RcodeToString[r.Rcode])
	}
}

func TestAccess(t *testing.T) {
	ts := startFilter(t, Spec{Platforms: []string{"instagram"}}, netip.MustParsePrefix("192.168.7.0/24"), netip.MustParsePrefix("fd00:7::/64"))
	for _, tt := range []struct {
		src  string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.8.9.10", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true},
		{"192.168.7.20", true},
		{"::ffff:192.168.7.20", true},
		{"fd00:7::99", true},
		{"192.168.8.1", false},
		{"10.0.0.1", false},
		{"8.8.8.8", false},
		{"fe80::1", false},
		{"fd00:8::1", false},
	} {
		src := netip.MustParseAddr(tt.src)
		if got := ts.Allowed(src); got != tt.want {
			t.Errorf("Allowed(%s) = %v, want %v", tt.src, got, tt.want)
		}
		q := new(dns.Msg)
		q.SetQuestion("example.org.", dns.TypeA)
		r := ts.Answer(context.Background(), src, q)
		if refused := r.Rcode == dns.RcodeRefused; refused == tt.want {
			t.Errorf("Answer from %s: rcode %s", tt.src, dns.RcodeToString[r.Rcode])
		}
		if !tt.want && (len(r.Answer) != 0 || len(r.Ns) != 0 || len(r.Extra) != 0) {
			t.Errorf("REFUSED answer from %s carries records: %v", tt.src, r)
		}
	}
}

func TestSetPolicySwaps(t *testing.T) {
	ts := startFilter(t, Spec{})
	if r := query(t, ts.addr, "udp", "instagram.com.", dns.TypeA, true); r.Rcode != dns.RcodeNameError {
		t.Fatalf("before: %v, want forwarded", r)
	}
	p, err := NewPolicy(testCatalog(t), Spec{Domains: []string{"instagram.com"}})
	if err != nil {
		t.Fatal(err)
	}
	ts.SetPolicy(p)
	r := query(t, ts.addr, "udp", "www.instagram.com.", dns.TypeA, true)
	if e := ede(r); e == nil || !strings.Contains(e.ExtraText, "instagram") {
		t.Errorf("after: %v, want blocked, naming instagram", r)
	}
}

func TestUpstreamDownGivesServfail(t *testing.T) {
	// A port with nobody behind it: bind and close to find one.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	pc.Close()
	p, _ := NewPolicy(testCatalog(t), Spec{Platforms: []string{"instagram"}})
	fwd, _ := upstream.NewForwarder([]netip.AddrPort{dead}, 0, nil)
	s, err := NewServer(Options{Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}, Upstream: fwd}, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	addr := s.Addrs()[0].String()
	if r := query(t, addr, "udp", "example.org.", dns.TypeA, true); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("upstream down: %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	if r := query(t, addr, "udp", "instagram.com.", dns.TypeA, true); len(r.Answer) != 1 {
		t.Errorf("upstream down: a blocked name got %v, want the blocked answer", r)
	}
}

func TestNotQueries(t *testing.T) {
	ts := startFilter(t, Spec{Platforms: []string{"instagram"}})
	lo := netip.MustParseAddr("127.0.0.1")
	q := new(dns.Msg)
	q.SetQuestion("instagram.com.", dns.TypeA)
	q.Opcode = dns.OpcodeUpdate
	if r := ts.Answer(context.Background(), lo, q); r.Rcode != dns.RcodeNotImplemented {
		t.Errorf("UPDATE: %s, want NOTIMP", dns.RcodeToString[r.Rcode])
	}
	q.Opcode = dns.OpcodeQuery
	q.Question = append(q.Question, q.Question[0])
	if r := ts.Answer(context.Background(), lo, q); r.Rcode != dns.RcodeFormatError {
		t.Errorf("two questions: %s, want FORMERR", dns.RcodeToString[r.Rcode])
	}
	q.Question = q.Question[:1]
	q.Response = true
	if r := ts.Answer(context.Background(), lo, q); r != nil {
		t.Errorf("a response sent to us got an answer: %v", r)
	}
}

func TestStartErrors(t *testing.T) {
	p, _ := NewPolicy(testCatalog(t), Spec{})
	a := startFilter(t, Spec{})
	s, _ := NewServer(Options{Listen: []netip.AddrPort{a.Addrs()[0]}}, p)
	err := s.Start()
	if err == nil || !strings.Contains(err.Error(), "already uses this address") {
		t.Errorf("second server on %s: err %v, want one saying the address is in use", a.addr, err)
	}
	if _, err := NewServer(Options{}, p); err == nil {
		t.Error("NewServer with no listen address: no error")
	}
}

// BenchmarkRoundTrip measures one query over real UDP on loopback, from a
// client socket through the filter: a blocked name answered locally, and a
// forwarded one (through the stand-in upstream).
func BenchmarkRoundTrip(b *testing.B) {
	ts := startFilter(b, Spec{Platforms: []string{"instagram"}})
	for _, name := range []string{"www.instagram.com.", "example.org."} {
		b.Run(name, func(b *testing.B) {
			conn, err := net.Dial("udp", ts.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			co := &dns.Conn{Conn: conn}
			q := new(dns.Msg)
			q.SetQuestion(name, dns.TypeA)
			b.ReportAllocs()
			for b.Loop() {
				if err := co.WriteMsg(q); err != nil {
					b.Fatal(err)
				}
				if _, err := co.ReadMsg(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAnswerBlocked measures the query path without sockets.
func BenchmarkAnswerBlocked(b *testing.B) {
	p, _ := NewPolicy(testCatalog(b), Spec{Platforms: []string{"instagram"}})
	s, _ := NewServer(Options{Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}}, p)
	q := new(dns.Msg)
	q.SetQuestion("www.instagram.com.", dns.TypeA)
	lo := netip.MustParseAddr("127.0.0.1")
	b.ReportAllocs()
	for b.Loop() {
		s.Answer(context.Background(), lo, q)
	}
}
