package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/dnstest"
)

// seen records the source port and ID of every query an upstream gets.
type seen struct {
	mu    sync.Mutex
	ports map[int]int
	ids   []uint16
	raw   [][]byte
	h     dns.Handler
}

func (s *seen) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	s.mu.Lock()
	if s.ports == nil {
		s.ports = map[int]int{}
	}
	s.ports[w.RemoteAddr().(*net.UDPAddr).Port]++
	s.ids = append(s.ids, q.Id)
	if b, err := q.Pack(); err == nil {
		s.raw = append(s.raw, b)
	}
	s.mu.Unlock()
	s.h.ServeDNS(w, q)
}

func (s *seen) portCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ports)
}

type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeNow) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeNow) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func exchangeName(t *testing.T, f *Forwarder, name string) (*dns.Msg, error) {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	return f.Exchange(context.Background(), q)
}

// TestPooledSocketsRotate checks that queries share a few long-lived
// sockets, each replaced after rotateAfter queries or rotateEvery.
func TestPooledSocketsRotate(t *testing.T) {
	up := &seen{h: zone(t)}
	clk := &fakeNow{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	f, _ := New(Options{Servers: []Server{{Addr: dnstest.Serve(t, up)}}, Now: clk.now})
	defer f.Close()
	for range 200 {
		if _, err := exchangeName(t, f, "example.org."); err != nil {
			t.Fatal(err)
		}
	}
	if n := up.portCount(); n > poolSockets {
		t.Fatalf("200 queries came from %d source ports, want at most %d (pooled sockets)", n, poolSockets)
	}
	up.mu.Lock()
	distinct := map[uint16]bool{}
	for _, id := range up.ids {
		distinct[id] = true
	}
	up.mu.Unlock()
	if len(distinct) < 190 {
		t.Errorf("200 queries used %d distinct IDs: want random ones", len(distinct))
	}
	before := up.portCount()
	clk.advance(rotateEvery)
	for range poolSockets * 8 {
		if _, err := exchangeName(t, f, "example.org."); err != nil {
			t.Fatal(err)
		}
	}
	if up.portCount() <= before {
		t.Errorf("after %v the queries still came from the same %d ports: want the sockets replaced", rotateEvery, before)
	}
	before = up.portCount()
	for range rotateAfter * poolSockets {
		if _, err := exchangeName(t, f, "example.org."); err != nil {
			t.Fatal(err)
		}
	}
	if up.portCount() <= before {
		t.Errorf("after %d more queries the same %d ports: want the sockets replaced after %d queries each", rotateAfter*poolSockets, before, rotateAfter)
	}
}

// TestStrayAnswersDropped sends, before each real answer, answers with
// another ID, for another question, and garbage: the query gets the real
// answer and the others are counted.
func TestStrayAnswersDropped(t *testing.T) {
	z := zone(t)
	addr := dnstest.Serve(t, dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		stray := new(dns.Msg)
		stray.SetReply(q)
		stray.Id++
		wrong := new(dns.Msg)
		wrong.SetReply(q)
		wrong.Question[0].Name = "other.example."
		query := q.Copy() // our own question sent back: not a response
		for _, m := range []*dns.Msg{stray, wrong, query} {
			_ = w.WriteMsg(m)
		}
		_, _ = w.Write([]byte("\x00\x01garbage"))
		_, _ = w.Write(nil)
		z.ServeDNS(w, q)
	}))
	f, _ := NewForwarder([]netip.AddrPort{addr}, 0, nil)
	defer f.Close()
	r, err := exchangeName(t, f, "example.org.")
	if err != nil || len(r.Answer) != 1 {
		t.Fatalf("%v, %v; want the real answer", r, err)
	}
	if got := f.Dropped(); got < 4 {
		t.Errorf("Dropped() = %d, want at least 4 (another ID, another question, a query, garbage)", got)
	}
}

// TestAnswerFromElsewhereIgnored answers from another socket to the
// forwarder's source port: the kernel gives it to no one (the socket is
// connected) and the query still gets the real answer.
func TestAnswerFromElsewhereIgnored(t *testing.T) {
	other, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	z := zone(t)
	addr := dnstest.Serve(t, dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		forged := new(dns.Msg)
		forged.SetReply(q)
		forged.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(198, 51, 100, 66)}}
		b, _ := forged.Pack()
		_, _ = other.WriteToUDP(b, w.RemoteAddr().(*net.UDPAddr))
		z.ServeDNS(w, q)
	}))
	f, _ := NewForwarder([]netip.AddrPort{addr}, 0, nil)
	defer f.Close()
	r, err := exchangeName(t, f, "example.org.")
	if err != nil || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.1" {
		t.Fatalf("%v, %v; want the real answer, not the one from another address", r, err)
	}
}

// waiter collects the ends of Forward calls.
type waiter struct {
	done chan struct{}
	mu   sync.Mutex
	pkt  []byte
	msg  *dns.Msg
	err  error
}

func newWaiter() *waiter { return &waiter{done: make(chan struct{})} }

func (w *waiter) Done(a *Answer, err error) {
	w.mu.Lock()
	if err != nil {
		w.err = err
	} else if a.Parsed != nil {
		w.pkt = bytes.Clone(a.Pkt)
	} else {
		w.msg = a.Msg
	}
	w.mu.Unlock()
	close(w.done)
}

func (w *waiter) wait(t *testing.T) {
	t.Helper()
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		t.Fatal("Done not called within 10 s")
	}
}

// TestForwardSendsWhatExchangeSends compares the query Forward writes from
// a Question with the one the server used to build with miekg/dns, and
// checks what reaches the Waiter.
func TestForwardSendsWhatExchangeSends(t *testing.T) {
	up := &seen{h: dnstest.NewZone(t, "Example.org. 60 IN A 192.0.2.1", "example.org. 60 IN HTTPS 1 . alpn=h2")}
	loop := NewLoopMark()
	f, _ := New(Options{Servers: []Server{{Addr: dnstest.Serve(t, up)}}, Loop: loop})
	defer f.Close()
	for _, tt := range []struct {
		qtype  uint16
		cd, do bool
		parsed bool
	}{{dns.TypeA, false, false, true}, {dns.TypeA, true, true, true}, {dns.TypeHTTPS, false, true, false}} {
		w := newWaiter()
		name := []byte("\x07EXAMPLE\x03org\x00")
		if err := f.Forward(Question{Name: name, Qtype: tt.qtype, Qclass: dns.ClassINET, CD: tt.cd, DO: tt.do, UDPSize: 1232}, w, nil); err != nil {
			t.Fatal(err)
		}
		w.wait(t)
		if w.err != nil {
			t.Fatal(w.err)
		}
		if got := w.pkt != nil; got != tt.parsed {
			t.Errorf("%s: answer read from the packet: %v, want %v", dns.TypeToString[tt.qtype], got, tt.parsed)
		}
		// The query as the server built it before.
		old := new(dns.Msg)
		old.SetQuestion("EXAMPLE.org.", tt.qtype)
		old.CheckingDisabled = tt.cd
		old.SetEdns0(1232, tt.do)
		loop.add(old)
		up.mu.Lock()
		got := up.raw[len(up.raw)-1]
		up.mu.Unlock()
		old.Id = binary16(got)
		want, _ := old.Pack()
		if !bytes.Equal(got, want) {
			t.Errorf("%s: upstream got\n%x\nwant\n%x", dns.TypeToString[tt.qtype], got, want)
		}
	}
}

func binary16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

// TestForwardTruncatedGoesTCP: a truncated UDP answer is asked again over
// TCP, and the Waiter gets that answer.
func TestForwardTruncatedGoesTCP(t *testing.T) {
	f, _ := NewForwarder([]netip.AddrPort{dnstest.Serve(t, dnstest.Truncating(zone(t)))}, 0, nil)
	defer f.Close()
	w := newWaiter()
	if err := f.Forward(Question{Name: []byte("\x07example\x03org\x00"), Qtype: dns.TypeA, Qclass: dns.ClassINET, UDPSize: 1232}, w, nil); err != nil {
		t.Fatal(err)
	}
	w.wait(t)
	if w.err != nil || w.msg == nil || len(w.msg.Answer) != 1 {
		t.Fatalf("got %v, %v; want the TCP answer", w.msg, w.err)
	}
}

// TestInFlightBounded fills the forwarder with questions to a silent
// upstream: past maxInFlight, Forward refuses at once.
func TestInFlightBounded(t *testing.T) {
	f, _ := NewForwarder([]netip.AddrPort{dnstest.Serve(t, dnstest.Silent())}, 0, nil)
	ws := make([]*waiter, 0, maxInFlight)
	q := Question{Name: []byte("\x07example\x03org\x00"), Qtype: dns.TypeA, Qclass: dns.ClassINET, UDPSize: 1232}
	for range maxInFlight {
		w := newWaiter()
		if err := f.Forward(q, w, nil); err != nil {
			t.Fatalf("question %d: %v", len(ws), err)
		}
		ws = append(ws, w)
	}
	if err := f.Forward(q, newWaiter(), nil); !errors.Is(err, ErrBusy) {
		t.Errorf("question %d: err %v, want ErrBusy", maxInFlight+1, err)
	}
	f.Close()
	for _, w := range ws {
		w.wait(t)
		if w.err == nil {
			t.Fatal("a question to a silent upstream got an answer")
		}
	}
	if n := f.inflight.Load(); n != 0 {
		t.Errorf("%d questions still counted in flight after all ended", n)
	}
}

// switchable answers, or not, as told.
type switchable struct {
	silent atomic.Bool
	n      atomic.Int64
	h      dns.Handler
}

func (s *switchable) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	s.n.Add(1)
	if !s.silent.Load() {
		s.h.ServeDNS(w, q)
	}
}

// TestAllDownFailsFast: once a question has failed on every upstream,
// the next ones fail at once while probes check them, and when one
// answers again forwarding resumes.
func TestAllDownFailsFast(t *testing.T) {
	a, b := &switchable{h: zone(t)}, &switchable{h: zone(t)}
	a.silent.Store(true)
	b.silent.Store(true)
	clk := &fakeNow{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	// Short tries keep the test quick; what is checked is who gets asked.
	f, _ := New(Options{Servers: []Server{{Addr: dnstest.Serve(t, a)}, {Addr: dnstest.Serve(t, b)}}, Now: clk.now,
		TryTimeout: 200 * time.Millisecond, Timeout: 400 * time.Millisecond})
	defer f.Close()
	if _, err := exchangeName(t, f, "example.org."); !errors.Is(err, ErrAllFailed) || errors.Is(err, ErrAllDown) {
		t.Fatalf("first question: err %v, want ErrAllFailed after trying", err)
	}
	asked := a.n.Load() + b.n.Load()
	start := time.Now()
	_, err := exchangeName(t, f, "other.example.org.")
	if took := time.Since(start); !errors.Is(err, ErrAllDown) || took > time.Second {
		t.Fatalf("second question: err %v after %v, want ErrAllDown at once", err, took)
	}
	w := newWaiter()
	if err := f.Forward(Question{Name: []byte("\x01x\x07example\x03org\x00"), Qtype: dns.TypeA, Qclass: dns.ClassINET, UDPSize: 1232}, w, nil); !errors.Is(err, ErrAllDown) {
		t.Errorf("Forward: err %v, want ErrAllDown", err)
	}
	// The probes (one per upstream) are the only questions sent.
	deadline := time.Now().Add(5 * time.Second)
	for a.n.Load()+b.n.Load() < asked+2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := a.n.Load() + b.n.Load() - asked; got != 2 {
		t.Errorf("%d questions reached the upstreams while down, want 2 probes", got)
	}
	// The second upstream comes back; the next probe (a second later on
	// the forwarder's clock) finds it and forwarding resumes.
	b.silent.Store(false)
	clk.advance(probeEvery)
	deadline = time.Now().Add(10 * time.Second)
	for f.downAt.Load() != nil && time.Now().Before(deadline) {
		_, _ = exchangeName(t, f, "probe-trigger.example.org.")
		time.Sleep(10 * time.Millisecond)
	}
	if r, err := exchangeName(t, f, "example.org."); err != nil || len(r.Answer) != 1 {
		t.Errorf("after an upstream came back: %v, %v; want its answer", r, err)
	}
	// Without fresh evidence the knowledge goes stale: a question is
	// sent again rather than failed.
	a.silent.Store(true)
	b.silent.Store(true)
	_, _ = exchangeName(t, f, "example.org.")
	clk.advance(allDownFor)
	before := a.n.Load() + b.n.Load()
	_, err = exchangeName(t, f, "example.org.")
	if errors.Is(err, ErrAllDown) || a.n.Load()+b.n.Load() == before {
		t.Errorf("%v after the failures: err %v, want the question sent again", allDownFor, err)
	}
}

// TestSingleLostAnswerDoesNotFailFast: one try that times out, then an
// answer on the retry, must not put the forwarder in the all-down state.
func TestSingleLostAnswerDoesNotFailFast(t *testing.T) {
	var n atomic.Int64
	z := zone(t)
	addr := dnstest.Serve(t, dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		if n.Add(1) == 1 {
			return // the first query is lost
		}
		z.ServeDNS(w, q)
	}))
	f, _ := NewForwarder([]netip.AddrPort{addr}, 300*time.Millisecond, nil)
	defer f.Close()
	if _, err := exchangeName(t, f, "example.org."); err != nil {
		t.Fatalf("with one lost answer: %v, want the retry's answer", err)
	}
	if _, err := exchangeName(t, f, "example.org."); err != nil {
		t.Errorf("next question: %v, want an answer", err)
	}
}

func BenchmarkForward(b *testing.B) {
	addr := dnstest.Serve(b, dnstest.NewZone(b, "example.org. 60 IN A 192.0.2.1"))
	f, _ := NewForwarder([]netip.AddrPort{addr}, 0, nil)
	defer f.Close()
	q := Question{Name: []byte("\x07example\x03org\x00"), Qtype: dns.TypeA, Qclass: dns.ClassINET, UDPSize: 1232}
	b.Run("forward", func(b *testing.B) {
		w := &benchWaiter{ch: make(chan error, 1)}
		b.ReportAllocs()
		for b.Loop() {
			if err := f.Forward(q, w, nil); err != nil {
				b.Fatal(err)
			}
			if err := <-w.ch; err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("exchange", func(b *testing.B) {
		m := new(dns.Msg)
		m.SetQuestion("example.org.", dns.TypeA)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.Exchange(context.Background(), m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

type benchWaiter struct{ ch chan error }

func (w *benchWaiter) Done(a *Answer, err error) {
	if err == nil && a.Parsed == nil {
		err = fmt.Errorf("answer not read from the packet")
	}
	w.ch <- err
}

// TestForwardBatch: queries forwarded into a SendBatch leave only on
// Flush, together, and each gets its answer.
func TestForwardBatch(t *testing.T) {
	up := &seen{h: dnstest.NewZone(t, "a.example.org. 60 IN A 192.0.2.1", "b.example.org. 60 IN A 192.0.2.2", "c.example.org. 60 IN A 192.0.2.3")}
	f, _ := NewForwarder([]netip.AddrPort{dnstest.Serve(t, up)}, 0, nil)
	defer f.Close()
	var b SendBatch
	var ws []*waiter
	for _, n := range []string{"a", "b", "c"} {
		w := newWaiter()
		ws = append(ws, w)
		if err := f.Forward(Question{Name: []byte("\x01" + n + "\x07example\x03org\x00"), Qtype: dns.TypeA, Qclass: dns.ClassINET, UDPSize: 1232}, w, &b); err != nil {
			t.Fatal(err)
		}
	}
	up.mu.Lock()
	sent := len(up.ids)
	up.mu.Unlock()
	if sent != 0 {
		t.Fatalf("%d queries left before Flush", sent)
	}
	b.Flush()
	for i, w := range ws {
		w.wait(t)
		var m dns.Msg
		if w.err != nil || m.Unpack(w.pkt) != nil || len(m.Answer) != 1 || m.Answer[0].(*dns.A).A[3] != byte(i+1) {
			t.Errorf("question %d: %v, %v", i, &m, w.err)
		}
	}
	if n := up.portCount(); n != 1 {
		t.Errorf("one batch went out from %d ports, want 1 (one socket per upstream per batch)", n)
	}
}
