package upstream

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/dnstest"
	"github.com/nocontact/nocontact/internal/wait"
)

// limit is the generous bound on an Exchange that the 4 s budget promises:
// timing asserts stay well clear of scheduling noise.
const limit = 6 * time.Second

func zone(t testing.TB) *dnstest.Zone {
	return dnstest.NewZone(t, "example.org. 60 IN A 192.0.2.1")
}

func ask(t *testing.T, f *Forwarder) (*dns.Msg, time.Duration, error) {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion("example.org.", dns.TypeA)
	q.SetEdns0(1232, false)
	q.Id = 4242
	start := time.Now()
	r, err := f.Exchange(context.Background(), q)
	return r, time.Since(start), err
}

// TestMisbehavingUpstreams runs each kind of broken upstream alone and in
// front of a good one: alone, the answer is an error (the server's
// SERVFAIL) within the budget; in front, the good one's answer.
func TestMisbehavingUpstreams(t *testing.T) {
	for _, tt := range []struct {
		name string
		h    func(t testing.TB) dns.Handler
		// answers: the broken upstream still gives the right answer alone
		// (a truncating one, through TCP; a stray packet, by waiting).
		answers bool
	}{
		{"silent", func(testing.TB) dns.Handler { return dnstest.Silent() }, false},
		{"slow 3s", func(t testing.TB) dns.Handler { return dnstest.Slow(3*time.Second, zone(t)) }, false},
		{"SERVFAIL", func(testing.TB) dns.Handler { return dnstest.Rcode(dns.RcodeServerFailure) }, false},
		{"REFUSED", func(testing.TB) dns.Handler { return dnstest.Rcode(dns.RcodeRefused) }, false},
		{"truncating", func(t testing.TB) dns.Handler { return dnstest.Truncating(zone(t)) }, true},
		{"wrong ID", func(t testing.TB) dns.Handler { return dnstest.WrongID(zone(t)) }, false},
		{"wrong question", func(t testing.TB) dns.Handler { return dnstest.WrongQuestion(zone(t)) }, false},
		{"stray packet first", func(t testing.TB) dns.Handler { return dnstest.StrayFirst(zone(t)) }, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bad := dnstest.Serve(t, tt.h(t))
			alone, _ := NewForwarder([]netip.AddrPort{bad}, 0, nil)
			r, took, err := ask(t, alone)
			if took > limit {
				t.Errorf("alone: took %v, want at most 4 s (asserted < %v)", took, limit)
			}
			if tt.answers {
				if err != nil || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.1" || r.Id != 4242 {
					t.Errorf("alone: %v, %v; want the real answer with the caller's ID", r, err)
				}
			} else if err == nil {
				t.Errorf("alone: got %v, want an error (SERVFAIL to the client)", r)
			}

			good := dnstest.Serve(t, zone(t))
			both, _ := NewForwarder([]netip.AddrPort{bad, good}, 0, nil)
			for i := range 2 {
				r, took, err := ask(t, both)
				if err != nil || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.1" || r.Id != 4242 {
					t.Fatalf("query %d in front of a good upstream: %v, %v; want its answer", i, r, err)
				}
				if took > limit {
					t.Errorf("query %d: took %v, want at most 4 s (asserted < %v)", i, took, limit)
				}
			}
		})
	}
}

func TestFailingUpstreamIsDemotedThenProbed(t *testing.T) {
	silent := &dnstest.Counter{}
	bad := dnstest.Serve(t, silent)
	good := &dnstest.Counter{H: zone(t)}
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f, _ := New(Options{
		Servers: []Server{{Addr: bad}, {Addr: dnstest.Serve(t, good)}},
		Now:     clock,
	})
	if _, _, err := ask(t, f); err != nil {
		t.Fatal(err)
	}
	if silent.Count() != 1 {
		t.Fatalf("the silent upstream saw %d queries, want 1 (tried first)", silent.Count())
	}
	for range 3 {
		if _, _, err := ask(t, f); err != nil {
			t.Fatal(err)
		}
	}
	if silent.Count() != 1 || good.Count() != 4 {
		t.Errorf("after a failure: silent saw %d, good %d; want the good one asked first (1, 4)", silent.Count(), good.Count())
	}
	if got := f.order(); got[0].srv.Addr == bad {
		t.Errorf("order %v: the failing upstream is still first", got)
	}
	// When its hold-down is over, a background probe asks it, not a client.
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if _, _, err := ask(t, f); err != nil {
		t.Fatal(err)
	}
	wait.Within(5*time.Second, func() bool { return silent.Count() >= 2 })
	if silent.Count() != 2 {
		t.Errorf("the held-down upstream saw %d queries after its hold-down, want 2 (one probe)", silent.Count())
	}
}

func TestServfailDoesNotDemote(t *testing.T) {
	f, _ := NewForwarder([]netip.AddrPort{dnstest.Serve(t, dnstest.Rcode(dns.RcodeServerFailure)), dnstest.Serve(t, zone(t))}, 0, nil)
	if _, _, err := ask(t, f); err != nil {
		t.Fatal(err)
	}
	if got := f.order(); got[0].srv.Kind != Plain || got[0] != f.ups[0] {
		t.Errorf("a SERVFAIL demoted the upstream; want it kept first (it answers, just not that name)")
	}
}

func TestLoopMarkAddedToPlainQueries(t *testing.T) {
	mark := NewLoopMark()
	var seen bool
	var mu sync.Mutex
	addr := dnstest.Serve(t, dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		mu.Lock()
		seen = mark.Marked(q)
		mu.Unlock()
		zone(t).ServeDNS(w, q)
	}))
	f, _ := New(Options{Servers: []Server{{Addr: addr}}, Loop: mark})
	q := new(dns.Msg)
	q.SetQuestion("example.org.", dns.TypeA)
	if _, err := f.Exchange(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !seen {
		t.Error("the upstream did not see our loop mark")
	}
	if q.IsEdns0() != nil {
		t.Error("Exchange added the mark to the caller's question")
	}
	if NewLoopMark().Marked(q) || (*LoopMark)(nil).Marked(q) {
		t.Error("another mark, or none, claims the question")
	}
}

func TestIsLoopProbe(t *testing.T) {
	for name, want := range map[string]bool{
		"abc.nocontact-loop.arpa.":   true,
		"ABC.NoContact-Loop.ARPA.":   true,
		"nocontact-loop.arpa.":       false,
		"xnocontact-loop.arpa.":      false,
		"abc.nocontact-loop.arpa.x.": false,
	} {
		if got := IsLoopProbe(name); got != want {
			t.Errorf("IsLoopProbe(%q) = %v, want %v", name, got, want)
		}
	}
}

// logBuffer collects log lines for asserts.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLog() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelInfo})), b
}
