package cache

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// clock is a settable time for tests: nothing here sleeps.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func question(name string, qtype uint16) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	return q
}

// answer makes an upstream answer to name/qtype from records.
func answer(t testing.TB, name string, qtype uint16, rcode int, answer []string, ns ...string) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetReply(question(name, qtype))
	m.Rcode = rcode
	for _, s := range answer {
		m.Answer = append(m.Answer, mustRR(t, s))
	}
	for _, s := range ns {
		m.Ns = append(m.Ns, mustRR(t, s))
	}
	m.SetEdns0(1232, false)
	return m
}

func mustRR(t testing.TB, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

func ttls(m *dns.Msg) []uint32 {
	var out []uint32
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			out = append(out, rr.Header().Ttl)
		}
	}
	return out
}

func TestTTLDecrements(t *testing.T) {
	clk := newClock()
	c := New(Options{Now: clk.now})
	k := KeyOf(question("Example.ORG.", dns.TypeA))
	if k.Name != "example.org." {
		t.Fatalf("key name %q, want lower-case", k.Name)
	}
	m := answer(t, "example.org.", dns.TypeA, dns.RcodeSuccess,
		[]string{"example.org. 300 IN A 192.0.2.1", "example.org. 100 IN A 192.0.2.2"})
	if !c.Put(k, m, 0) {
		t.Fatal("Put refused a plain positive answer")
	}
	clk.advance(40*time.Second + 500*time.Millisecond)
	h, ok := c.Get(k)
	if !ok {
		t.Fatal("no hit 40 s after storing a 100 s answer")
	}
	got, err := h.Msg(777)
	if err != nil {
		t.Fatal(err)
	}
	if got.Id != 777 || got.IsEdns0() != nil || len(got.Answer) != 2 {
		t.Errorf("hit: id %d, opt %v, %d answers; want id 777, no OPT, 2 answers", got.Id, got.IsEdns0(), len(got.Answer))
	}
	if want := []uint32{260, 60}; fmt.Sprint(ttls(got)) != fmt.Sprint(want) {
		t.Errorf("TTLs %v, want %v", ttls(got), want)
	}
	if h.TTL() != 60 {
		t.Errorf("Hit.TTL %d, want 60", h.TTL())
	}
	clk.advance(60 * time.Second)
	if _, ok := c.Get(k); ok {
		t.Error("hit 100.5 s after storing a 100 s answer")
	}
	if m.Answer[0].Header().Ttl != 300 || m.Id == 0 {
		t.Error("Put modified the caller's message")
	}
}

func TestClampAndCap(t *testing.T) {
	for _, tt := range []struct {
		name     string
		min, max time.Duration
		capTTL   uint32
		in       []string
		want     []uint32
	}{
		{"raised to min", 60 * time.Second, time.Hour, 0, []string{"a.example. 5 IN A 192.0.2.1", "a.example. 600 IN A 192.0.2.2"}, []uint32{60, 600}},
		{"lowered to max", 0, 120 * time.Second, 0, []string{"a.example. 5000 IN A 192.0.2.1"}, []uint32{120}},
		{"watched cap", 0, time.Hour, 300, []string{"a.example. 3600 IN A 192.0.2.1", "a.example. 30 IN A 192.0.2.2"}, []uint32{300, 30}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Options{MinTTL: tt.min, MaxTTL: tt.max, Now: newClock().now})
			k := KeyOf(question("a.example.", dns.TypeA))
			c.Put(k, answer(t, "a.example.", dns.TypeA, dns.RcodeSuccess, tt.in), tt.capTTL)
			h, ok := c.Get(k)
			if !ok {
				t.Fatal("no hit")
			}
			got, _ := h.Msg(1)
			if fmt.Sprint(ttls(got)) != fmt.Sprint(tt.want) {
				t.Errorf("TTLs %v, want %v", ttls(got), tt.want)
			}
		})
	}
}

func TestNegativeCaching(t *testing.T) {
	clk := newClock()
	c := New(Options{Now: clk.now})
	soa := "example.org. 3600 IN SOA ns.example.org. host.example.org. 1 7200 900 1209600 120"
	nx := KeyOf(question("nope.example.org.", dns.TypeA))
	if !c.Put(nx, answer(t, "nope.example.org.", dns.TypeA, dns.RcodeNameError, nil, soa), 0) {
		t.Fatal("NXDOMAIN with SOA not cached")
	}
	nodata := KeyOf(question("example.org.", dns.TypeMX))
	if !c.Put(nodata, answer(t, "example.org.", dns.TypeMX, dns.RcodeSuccess, nil, soa), 0) {
		t.Fatal("NODATA with SOA not cached")
	}
	noSOA := KeyOf(question("bare.example.org.", dns.TypeA))
	if c.Put(noSOA, answer(t, "bare.example.org.", dns.TypeA, dns.RcodeNameError, nil), 0) {
		t.Error("NXDOMAIN without SOA cached (RFC 2308: no negative TTL to honour)")
	}
	if c.Put(KeyOf(question("x.example.", dns.TypeA)), answer(t, "x.example.", dns.TypeA, dns.RcodeServerFailure, nil, soa), 0) {
		t.Error("SERVFAIL cached")
	}
	clk.advance(100 * time.Second)
	for _, k := range []Key{nx, nodata} {
		h, ok := c.Get(k)
		if !ok {
			t.Fatalf("%v: no hit at 100 s of a 120 s negative TTL", k)
		}
		m, _ := h.Msg(1)
		if len(m.Ns) != 1 || m.Ns[0].Header().Ttl != 20 {
			t.Errorf("%v: authority %v, want the SOA with TTL 20 (min(3600, 120) - 100)", k, m.Ns)
		}
	}
	if h, _ := c.Get(nx); func() int { m, _ := h.Msg(1); return m.Rcode }() != dns.RcodeNameError {
		t.Error("cached NXDOMAIN lost its rcode")
	}
	clk.advance(21 * time.Second)
	if _, ok := c.Get(nx); ok {
		t.Error("negative answer served past the SOA minimum")
	}
}

func TestKeySeparatesDNSSECAndType(t *testing.T) {
	c := New(Options{Now: newClock().now})
	q := question("a.example.", dns.TypeA)
	c.Put(KeyOf(q), answer(t, "a.example.", dns.TypeA, dns.RcodeSuccess, []string{"a.example. 60 IN A 192.0.2.1"}), 0)
	do := question("a.example.", dns.TypeA)
	do.SetEdns0(1232, true)
	if _, ok := c.Get(KeyOf(do)); ok {
		t.Error("a DO=1 question hit an answer stored for DO=0")
	}
	if _, ok := c.Get(KeyOf(question("a.example.", dns.TypeAAAA))); ok {
		t.Error("AAAA hit an A answer")
	}
	if _, ok := c.Get(KeyOf(question("A.EXAMPLE.", dns.TypeA))); !ok {
		t.Error("the same name in capitals missed")
	}
}

func TestServeStale(t *testing.T) {
	clk := newClock()
	c := New(Options{Now: clk.now})
	k := KeyOf(question("a.example.", dns.TypeA))
	c.Put(k, answer(t, "a.example.", dns.TypeA, dns.RcodeSuccess, []string{"a.example. 60 IN A 192.0.2.1"}), 0)
	if h, ok := c.Stale(k); !ok || h.Stale() {
		t.Errorf("Stale on a fresh answer: ok=%v stale=%v, want the fresh answer", ok, h.Stale())
	}
	clk.advance(time.Hour)
	if _, ok := c.Get(k); ok {
		t.Fatal("Get returned an expired answer")
	}
	h, ok := c.Stale(k)
	if !ok || !h.Stale() {
		t.Fatal("no stale answer an hour after expiry")
	}
	m, _ := h.Msg(9)
	if len(m.Answer) != 1 || m.Answer[0].Header().Ttl != StaleTTL {
		t.Errorf("stale answer %v, want TTL %d", m.Answer, StaleTTL)
	}
	clk.advance(StaleFor)
	if _, ok := c.Stale(k); ok {
		t.Error("stale answer served more than a day after expiry")
	}
	if c.Len() != 0 {
		t.Errorf("Len %d after the answer outlived serve-stale, want 0", c.Len())
	}
}

func TestEvictionAtTheBound(t *testing.T) {
	c := New(Options{Size: 3, Now: newClock().now})
	keys := make([]Key, 5)
	for i := range keys {
		name := fmt.Sprintf("n%d.example.", i)
		keys[i] = KeyOf(question(name, dns.TypeA))
	}
	put := func(i int) {
		name := keys[i].Name
		c.Put(keys[i], answer(t, name, dns.TypeA, dns.RcodeSuccess, []string{name + " 60 IN A 192.0.2.1"}), 0)
	}
	put(0)
	put(1)
	put(2)
	c.Get(keys[0]) // 0 is now more recent than 1
	put(3)
	if c.Len() != 3 {
		t.Errorf("Len %d, want the bound 3", c.Len())
	}
	if _, ok := c.Get(keys[1]); ok {
		t.Error("the least recently used answer was kept")
	}
	for _, i := range []int{0, 2, 3} {
		if _, ok := c.Get(keys[i]); !ok {
			t.Errorf("answer %d evicted, want only the least recently used one gone", i)
		}
	}
	big := New(Options{Size: 10000})
	for i := range 12000 {
		name := fmt.Sprintf("n%d.example.", i)
		big.Put(KeyOf(question(name, dns.TypeA)), answer(t, name, dns.TypeA, dns.RcodeSuccess, []string{name + " 60 IN A 192.0.2.1"}), 0)
	}
	if n := big.Len(); n > 10000 || n < 9000 {
		t.Errorf("Len %d after 12000 answers into a cache of 10000", n)
	}
}

func TestAppendWireMatchesMsg(t *testing.T) {
	clk := newClock()
	c := New(Options{Now: clk.now})
	k := KeyOf(question("www.example.org.", dns.TypeA))
	c.Put(k, answer(t, "www.example.org.", dns.TypeA, dns.RcodeSuccess, []string{
		"www.example.org. 300 IN CNAME example.org.",
		"example.org. 200 IN A 192.0.2.1",
	}), 0)
	clk.advance(10 * time.Second)
	h, _ := c.Get(k)
	buf := h.AppendWire([]byte("prefix"), 4242)
	if string(buf[:6]) != "prefix" {
		t.Fatal("AppendWire overwrote dst")
	}
	m := new(dns.Msg)
	if err := m.Unpack(buf[6:]); err != nil {
		t.Fatal(err)
	}
	if m.Id != 4242 || fmt.Sprint(ttls(m)) != "[290 190]" {
		t.Errorf("id %d TTLs %v, want 4242 and [290 190]", m.Id, ttls(m))
	}
	// Stored uncompressed, exactly as miekg/dns packs the unpacked answer
	// when it does not compress.
	again, err := m.Pack()
	if err != nil || string(again) != string(buf[6:]) || !h.Exact() {
		t.Errorf("wire form is not what miekg/dns packs uncompressed (Exact %v):\n%x\n%x", h.Exact(), buf[6:], again)
	}
	if fmt.Sprint(h.Redirects()) != "[example.org.]" {
		t.Errorf("Redirects %v, want [example.org.]", h.Redirects())
	}
	if err := m.Unpack(h.AppendWireCapped(nil, 1, 100)); err != nil || fmt.Sprint(ttls(m)) != "[100 100]" {
		t.Errorf("capped at 100: TTLs %v (%v), want [100 100]", ttls(m), err)
	}
}

func TestTTLOffsetsRejectsGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, make([]byte, 11), {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, 'a'}} {
		if _, err := ttlOffsets(b); err == nil {
			t.Errorf("ttlOffsets(%v): no error", b)
		}
	}
}

// BenchmarkCacheHit measures the lookup a wire-level fast path would do:
// key, shard lock, map probe, copy with ID and TTLs patched.
func BenchmarkCacheHit(b *testing.B) {
	c := New(Options{})
	// A full cache around the answer looked up (stored last, so the
	// bound does not evict it).
	for i := range DefaultSize - 1 {
		name := fmt.Sprintf("n%d.example.", i)
		c.Put(KeyOf(question(name, dns.TypeA)), answer(b, name, dns.TypeA, dns.RcodeSuccess, []string{name + " 60 IN A 192.0.2.1"}), 0)
	}
	q := question("www.example.org.", dns.TypeA)
	k := KeyOf(q)
	c.Put(k, answer(b, "www.example.org.", dns.TypeA, dns.RcodeSuccess, []string{
		"www.example.org. 300 IN CNAME example.org.",
		"example.org. 300 IN A 192.0.2.1",
		"example.org. 300 IN A 192.0.2.2",
	}), 0)
	buf := make([]byte, 0, 512)
	b.Run("wire", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h, ok := c.Get(KeyOf(q))
			if !ok {
				b.Fatal("miss")
			}
			buf = h.AppendWire(buf[:0], 1)
		}
	})
	b.Run("msg", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h, _ := c.Get(KeyOf(q))
			if _, err := h.Msg(1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			buf := make([]byte, 0, 512)
			for pb.Next() {
				h, _ := c.Get(k)
				buf = h.AppendWire(buf[:0], 1)
			}
		})
	})
}
