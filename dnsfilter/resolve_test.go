package dnsfilter

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/cache"
	"github.com/nocontact/nocontact/dnsfilter/dnstest"
	"github.com/nocontact/nocontact/dnsfilter/upstream"
	"github.com/nocontact/nocontact/internal/wait"
)

// slowLimit is the generous bound asserted on an answer the 4 s budget
// promises; fast paths get no timing asserts.
const slowLimit = 6 * time.Second

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) { b.mu.Lock(); defer b.mu.Unlock(); return b.b.Write(p) }
func (b *syncBuf) String() string              { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

// startWith starts the filter in front of up (nil: none), blocking
// instagram, with cache c (nil: none).
func startWith(t testing.TB, up upstream.Exchanger, c *cache.Cache, loop *upstream.LoopMark, log *slog.Logger) *Server {
	t.Helper()
	p, err := NewPolicy(testCatalog(t), Spec{Platforms: []string{"instagram"}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(Options{
		Listen:   []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")},
		Upstream: up,
		Cache:    c,
		Loop:     loop,
		Logger:   log,
	}, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s
}

func forwarder(t testing.TB, addrs ...netip.AddrPort) *upstream.Forwarder {
	t.Helper()
	f, err := upstream.NewForwarder(addrs, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// slowQuery asks with a client patient enough for the 4 s budget.
func slowQuery(t testing.TB, s *Server, name string, qtype uint16) (*dns.Msg, time.Duration) {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(1232, false)
	c := &dns.Client{Net: "udp", Timeout: 10 * time.Second}
	start := time.Now()
	r, _, err := c.Exchange(q, s.Addrs()[0].String())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r, time.Since(start)
}

func TestEveryQueryAnsweredWithinBudget(t *testing.T) {
	z := func(t testing.TB) *dnstest.Zone { return dnstest.NewZone(t, "example.org. 60 IN A 192.0.2.1") }
	for _, tt := range []struct {
		name string
		h    func(t testing.TB) dns.Handler
	}{
		{"silent", func(testing.TB) dns.Handler { return dnstest.Silent() }},
		{"slow 3s", func(t testing.TB) dns.Handler { return dnstest.Slow(3*time.Second, z(t)) }},
		{"SERVFAIL", func(testing.TB) dns.Handler { return dnstest.Rcode(dns.RcodeServerFailure) }},
		{"REFUSED", func(testing.TB) dns.Handler { return dnstest.Rcode(dns.RcodeRefused) }},
		{"truncating", func(t testing.TB) dns.Handler { return dnstest.Truncating(z(t)) }},
		{"wrong ID", func(t testing.TB) dns.Handler { return dnstest.WrongID(z(t)) }},
		{"wrong question", func(t testing.TB) dns.Handler { return dnstest.WrongQuestion(z(t)) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bad := dnstest.Serve(t, tt.h(t))
			good := dnstest.Serve(t, z(t))
			for _, setup := range []struct {
				name string
				ups  []netip.AddrPort
			}{{"alone", []netip.AddrPort{bad}}, {"first of two", []netip.AddrPort{bad, good}}} {
				s := startWith(t, forwarder(t, setup.ups...), nil, nil, nil)
				var wg sync.WaitGroup
				for range 5 {
					wg.Go(func() {
						r, took := slowQuery(t, s, "example.org.", dns.TypeA)
						ok := r.Rcode == dns.RcodeServerFailure ||
							(r.Rcode == dns.RcodeSuccess && len(r.Answer) == 1 && r.Answer[0].(*dns.A).A.String() == "192.0.2.1")
						if !ok {
							t.Errorf("%s: %v, want the right answer or SERVFAIL", setup.name, r)
						}
						if len(setup.ups) == 2 && r.Rcode != dns.RcodeSuccess {
							t.Errorf("%s: %s, want the second upstream's answer", setup.name, dns.RcodeToString[r.Rcode])
						}
						if took > slowLimit {
							t.Errorf("%s: answered after %v, want at most 4 s (asserted < %v)", setup.name, took, slowLimit)
						}
					})
				}
				wg.Wait()
			}
		})
	}
}

func TestAllUpstreamsDeadServesStale(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	c := cache.New(cache.Options{Now: clk.now})
	up := dnstest.Serve(t, dnstest.NewZone(t, "example.org. 60 IN A 192.0.2.1"))
	s := startWith(t, forwarder(t, up), c, nil, nil)
	if r, _ := slowQuery(t, s, "example.org.", dns.TypeA); len(r.Answer) != 1 {
		t.Fatalf("first answer %v", r)
	}
	s.SetUpstream(forwarder(t, dnstest.Serve(t, dnstest.Silent()), dnstest.Serve(t, dnstest.Rcode(dns.RcodeServerFailure))))
	clk.advance(2 * time.Hour)

	blocked := make(chan *dns.Msg, 1)
	stale := make(chan *dns.Msg, 1)
	go func() { r, _ := slowQuery(t, s, "example.org.", dns.TypeA); stale <- r }()
	go func() { r, _ := slowQuery(t, s, "www.instagram.com.", dns.TypeA); blocked <- r }()
	// The blocked name is answered while the stale one still waits on the
	// dead upstreams: an ordering, not a timing, assert.
	select {
	case r := <-blocked:
		if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "0.0.0.0" {
			t.Errorf("blocked name: %v, want 0.0.0.0", r)
		}
	case r := <-stale:
		t.Fatalf("the stale answer %v came before the blocked one: the blocked name waited behind the upstreams", r)
	}
	r := <-stale
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].Header().Ttl != cache.StaleTTL {
		t.Errorf("with every upstream dead: %v, want the old answer with TTL %d", r, cache.StaleTTL)
	}
	if r, _ := slowQuery(t, s, "never-seen.example.org.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("a name never seen, upstreams dead: %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
}

func TestCachedAnswerDoesNotWaitBehindUpstream(t *testing.T) {
	slowDone := make(chan struct{})
	z := dnstest.NewZone(t, "example.org. 60 IN A 192.0.2.1", "slow.example.org. 60 IN A 192.0.2.2")
	up := dnstest.Serve(t, dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		if strings.HasPrefix(strings.ToLower(q.Question[0].Name), "slow.") {
			<-slowDone
		}
		z.ServeDNS(w, q)
	}))
	c := cache.New(cache.Options{})
	s := startWith(t, forwarder(t, up), c, nil, nil)
	slowQuery(t, s, "example.org.", dns.TypeA) // now cached
	got := make(chan *dns.Msg, 1)
	go func() { r, _ := slowQuery(t, s, "slow.example.org.", dns.TypeA); got <- r }()
	// The slow exchange is held until the cached answer has come back.
	r, _ := slowQuery(t, s, "EXAMPLE.org.", dns.TypeA)
	close(slowDone)
	if len(r.Answer) != 1 || r.Question[0].Name != "EXAMPLE.org." {
		t.Errorf("cached answer %v, want one A record and the client's spelling", r)
	}
	if r := <-got; len(r.Answer) != 1 {
		t.Errorf("slow answer %v", r)
	}
}

func TestInFlightQuestionsShareOneExchange(t *testing.T) {
	release := make(chan struct{})
	z := dnstest.NewZone(t, "example.org. 60 IN A 192.0.2.1")
	counter := &dnstest.Counter{H: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		<-release
		z.ServeDNS(w, q)
	})}
	s := startWith(t, forwarder(t, dnstest.Serve(t, counter)), nil, nil, nil)
	const n = 20
	var wg sync.WaitGroup
	var arrived sync.WaitGroup
	arrived.Add(n)
	lo := netip.MustParseAddr("127.0.0.1")
	for i := range n {
		wg.Go(func() {
			q := new(dns.Msg)
			q.SetQuestion("example.org.", dns.TypeA)
			q.Id = uint16(i)
			arrived.Done()
			r := s.Answer(context.Background(), lo, q)
			if r.Id != uint16(i) || len(r.Answer) != 1 {
				t.Errorf("caller %d got id %d with %v", i, r.Id, r.Answer)
			}
		})
	}
	arrived.Wait()
	// Hold the one exchange until every other caller has joined it.
	k := cache.Key{Name: "example.org.", Qtype: dns.TypeA, Qclass: dns.ClassINET}
	wait.For(t, "every other caller to join the exchange", func() bool { return s.flights.waiting(k) >= n-1 })
	close(release)
	wg.Wait()
	if counter.Count() != 1 {
		t.Errorf("%d identical questions made %d upstream exchanges, want 1", n, counter.Count())
	}
}

func TestWatchedPlatformTTLCapped(t *testing.T) {
	c := cache.New(cache.Options{})
	z := dnstest.NewZone(t, "www.tiktok.com. 3600 IN A 192.0.2.8", "example.org. 3600 IN A 192.0.2.1")
	s := startWith(t, forwarder(t, dnstest.Serve(t, z)), c, nil, nil)
	for range 2 { // from upstream, then from the cache
		r, _ := slowQuery(t, s, "www.tiktok.com.", dns.TypeA)
		if len(r.Answer) != 1 || r.Answer[0].Header().Ttl > WatchedTTL {
			t.Errorf("tiktok (not blocked): %v, want its TTL capped at %d", r.Answer, WatchedTTL)
		}
		r, _ = slowQuery(t, s, "example.org.", dns.TypeA)
		if len(r.Answer) != 1 || r.Answer[0].Header().Ttl <= WatchedTTL {
			t.Errorf("example.org: %v, want its TTL untouched", r.Answer)
		}
	}
	if z.Queries() != 2 {
		t.Errorf("upstream saw %d queries, want 2 (the second round from the cache)", z.Queries())
	}
}

// loopBack is an upstream that forwards every question to the filter
// itself, as a resolver pointed back at nocontact does. With strip, it
// asks a fresh question (the loop mark lost), as systemd-resolved would.
func loopBack(t testing.TB, target *atomic.Pointer[netip.AddrPort], strip bool, seen *dnstest.Counter) netip.AddrPort {
	seen.H = dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		out := q.Copy()
		if strip {
			out = new(dns.Msg)
			out.SetQuestion(q.Question[0].Name, q.Question[0].Qtype)
		}
		c := &dns.Client{Timeout: 5 * time.Second}
		r, _, err := c.Exchange(out, target.Load().String())
		if err != nil {
			return
		}
		r.Id = q.Id
		w.WriteMsg(r)
	})
	return dnstest.Serve(t, seen)
}

func TestLoopDetectedByMark(t *testing.T) {
	var self atomic.Pointer[netip.AddrPort]
	seen := &dnstest.Counter{}
	loop := upstream.NewLoopMark()
	f, _ := upstream.New(upstream.Options{Servers: []upstream.Server{{Addr: loopBack(t, &self, false, seen)}}, Loop: loop})
	var logs syncBuf
	s := startWith(t, f, nil, loop, slog.New(slog.NewTextHandler(&logs, nil)))
	self.Store(&s.Addrs()[0])
	r, took := slowQuery(t, s, "example.org.", dns.TypeA)
	if r.Rcode != dns.RcodeServerFailure || took > slowLimit {
		t.Errorf("through a loop: %s after %v, want SERVFAIL within the budget", dns.RcodeToString[r.Rcode], took)
	}
	if seen.Count() != 1 {
		t.Errorf("the looping upstream saw the question %d times, want 1: it must not go round", seen.Count())
	}
	if !strings.Contains(logs.String(), "came back") {
		t.Errorf("log %q does not explain the loop", logs.String())
	}
}

func TestLoopDetectedByProbe(t *testing.T) {
	var self atomic.Pointer[netip.AddrPort]
	seen := &dnstest.Counter{}
	good := dnstest.Serve(t, dnstest.NewZone(t, "example.org. 60 IN A 192.0.2.1"))
	looping := loopBack(t, &self, true, seen)
	var logs syncBuf
	log := slog.New(slog.NewTextHandler(&logs, nil))
	f, _ := upstream.New(upstream.Options{
		Servers: []upstream.Server{{Addr: looping}, {Addr: good}},
		Loop:    upstream.NewLoopMark(),
		Logger:  log,
	})
	s := startWith(t, f, nil, nil, log)
	self.Store(&s.Addrs()[0])
	dropped := s.CheckLoops(context.Background())
	if len(dropped) != 1 || dropped[0] != looping.String() {
		t.Fatalf("CheckLoops dropped %v, want only the looping upstream %s", dropped, looping)
	}
	if !strings.Contains(logs.String(), "loop") || !strings.Contains(logs.String(), looping.String()) {
		t.Errorf("log %q does not name the looping upstream", logs.String())
	}
	before := seen.Count()
	if r, _ := slowQuery(t, s, "example.org.", dns.TypeA); len(r.Answer) != 1 {
		t.Errorf("after dropping the loop: %v, want the good upstream's answer", r)
	}
	if seen.Count() != before {
		t.Error("the dropped upstream was asked again")
	}
}

// BenchmarkAnswerCached measures the query path for a cache hit without
// sockets: policy match, cache lookup, unpacking and shaping the answer.
func BenchmarkAnswerCached(b *testing.B) {
	up := dnstest.Serve(b, dnstest.NewZone(b, "example.org. 300 IN A 192.0.2.1"))
	p, _ := NewPolicy(testCatalog(b), Spec{Platforms: []string{"instagram"}})
	s, _ := NewServer(Options{Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}, Upstream: forwarder(b, up), Cache: cache.New(cache.Options{})}, p)
	q := new(dns.Msg)
	q.SetQuestion("example.org.", dns.TypeA)
	q.SetEdns0(1232, false)
	lo := netip.MustParseAddr("127.0.0.1")
	s.Answer(context.Background(), lo, q)
	b.ReportAllocs()
	for b.Loop() {
		s.Answer(context.Background(), lo, q)
	}
}

// onOff answers with h while on, and is silent otherwise.
type onOff struct {
	on atomic.Bool
	h  dns.Handler
}

func (o *onOff) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	if o.on.Load() {
		o.h.ServeDNS(w, q)
	}
}

// TestAllUpstreamsSilentFailFast: with every upstream silent, the first
// new name waits out the budget; after that a new name gets SERVFAIL
// (with EDE 22) within 1 s, and a cached name its stale answer at once.
func TestAllUpstreamsSilentFailFast(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	z := dnstest.NewZone(t, "cached.example.org. 60 IN A 192.0.2.1")
	a, b := &onOff{h: z}, &onOff{h: z}
	a.on.Store(true)
	f, err := upstream.New(upstream.Options{
		Servers: []upstream.Server{{Addr: dnstest.Serve(t, a)}, {Addr: dnstest.Serve(t, b)}},
		Now:     clk.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := startWith(t, f, cache.New(cache.Options{Now: clk.now}), nil, nil)
	if r, _ := slowQuery(t, s, "cached.example.org.", dns.TypeA); len(r.Answer) != 1 {
		t.Fatalf("while the upstream answers: %v", r)
	}
	a.on.Store(false)
	clk.advance(time.Hour) // the cached answer is stale now

	// The first new name: every upstream is tried, and fails.
	if r, took := slowQuery(t, s, "first.example.org.", dns.TypeA); r.Rcode != dns.RcodeServerFailure || took > slowLimit {
		t.Fatalf("first new name: %s after %v, want SERVFAIL within the budget", dns.RcodeToString[r.Rcode], took)
	}
	for _, proto := range []string{"udp", "tcp"} {
		start := time.Now()
		r := query(t, s.Addrs()[0].String(), proto, "second.example.org.", dns.TypeA, true)
		if took := time.Since(start); r.Rcode != dns.RcodeServerFailure || took > time.Second {
			t.Errorf("%s: a new name after the first failure: %s after %v, want SERVFAIL within 1 s", proto, dns.RcodeToString[r.Rcode], took)
		}
		if e := ede(r); e == nil || e.InfoCode != dns.ExtendedErrorCodeNoReachableAuthority {
			t.Errorf("%s: EDE %v, want 22 (No Reachable Authority)", proto, e)
		}
		start = time.Now()
		r = query(t, s.Addrs()[0].String(), proto, "cached.example.org.", dns.TypeA, true)
		if took := time.Since(start); len(r.Answer) != 1 || r.Answer[0].Header().Ttl != cache.StaleTTL || took > time.Second {
			t.Errorf("%s: the cached name: %v after %v, want its stale answer (TTL %d) within 1 s", proto, r, took, cache.StaleTTL)
		}
	}
	// A blocked name is answered as ever.
	if r := query(t, s.Addrs()[0].String(), "udp", "www.instagram.com.", dns.TypeA, true); len(r.Answer) != 1 {
		t.Errorf("blocked name while the upstreams are down: %v", r)
	}
}

// TestStaleAfterClientResponseTimer: an upstream that holds the answer
// back does not hold the client: it gets the stale answer, and the
// answer that comes later refreshes the cache.
func TestStaleAfterClientResponseTimer(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	z := dnstest.NewZone(t, "example.org. 60 IN A 192.0.2.1")
	var hold atomic.Bool
	release := make(chan struct{})
	up := dnstest.Serve(t, dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		if hold.Load() {
			<-release
		}
		z.ServeDNS(w, q)
	}))
	c := cache.New(cache.Options{Now: clk.now})
	s := startWith(t, forwarder(t, up), c, nil, nil)
	slowQuery(t, s, "example.org.", dns.TypeA)
	clk.advance(time.Hour)
	hold.Store(true)
	r, _ := slowQuery(t, s, "example.org.", dns.TypeA)
	// The answer came while the upstream still holds its own: an
	// ordering, not a timing, assert.
	close(release)
	if len(r.Answer) != 1 || r.Answer[0].Header().Ttl != cache.StaleTTL {
		t.Fatalf("with the upstream holding back: %v, want the stale answer (TTL %d)", r, cache.StaleTTL)
	}
	k := cache.Key{Name: "example.org.", Qtype: dns.TypeA, Qclass: dns.ClassINET, DO: false}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if h, ok := c.Get(k); ok && h.TTL() > cache.StaleTTL {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the late answer did not refresh the cache")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
