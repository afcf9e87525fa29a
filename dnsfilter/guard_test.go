//go:build !windows

package dnsfilter

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/dnstest"
	"github.com/nocontact/nocontact/dnsfilter/upstream"
)

func TestRateLimiter(t *testing.T) {
	now := time.Unix(1e9, 0)
	l := newRateLimiter(10, func() time.Time { return now })
	a, b := netip.MustParseAddr("192.168.1.2"), netip.MustParseAddr("192.168.1.3")
	allowed := 0
	for range 100 {
		if l.allow(a) {
			allowed++
		}
	}
	if allowed != 20 {
		t.Errorf("a burst of 100: %d allowed, want the burst of 20", allowed)
	}
	if !l.allow(b) {
		t.Error("another client was limited by the first one's burst")
	}
	now = now.Add(time.Second)
	allowed = 0
	for range 100 {
		if l.allow(a) {
			allowed++
		}
	}
	if allowed != 10 {
		t.Errorf("one second later: %d allowed, want 10", allowed)
	}
	if off := newRateLimiter(0, nil); !off.allow(a) {
		t.Error("a rate of 0 limited")
	}
}

func TestRateLimiterForgetsWithinBounds(t *testing.T) {
	now := time.Unix(1e9, 0)
	l := newRateLimiter(10, func() time.Time { return now })
	for i := range 3 * maxClients {
		l.allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	if n := len(l.buckets); n > maxClients {
		t.Errorf("%d buckets kept, want at most %d", n, maxClients)
	}
}

func TestAnyIsAnsweredMinimally(t *testing.T) {
	z := dnstest.NewZone(t, "example.org. 300 IN A 192.0.2.1")
	fwd, _ := upstream.NewForwarder([]netip.AddrPort{dnstest.Serve(t, z)}, 0, nil)
	p, _ := NewPolicy(testCatalog(t), Spec{Platforms: []string{"instagram"}})
	s, _ := NewServer(Options{Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}, Upstream: fwd}, p)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(t.Context())
	r := query(t, s.Addrs()[0].String(), "udp", "example.org.", dns.TypeANY, true)
	h, ok := func() (*dns.HINFO, bool) {
		if len(r.Answer) != 1 {
			return nil, false
		}
		h, ok := r.Answer[0].(*dns.HINFO)
		return h, ok
	}()
	if !ok || h.Cpu != "RFC8482" || r.Rcode != dns.RcodeSuccess {
		t.Errorf("ANY: %v, want one HINFO \"RFC8482\" (RFC 8482)", r)
	}
	if z.Queries() != 0 {
		t.Errorf("ANY was sent upstream %d times, want never", z.Queries())
	}
}

// raiseFileLimit lets the test hold n sockets, or says how many it may.
func raiseFileLimit(t *testing.T, n uint64) uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 1000
	}
	want := min(n+1000, lim.Max)
	if lim.Cur < want {
		old := lim
		lim.Cur = want
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
			t.Cleanup(func() {
				if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
					t.Errorf("putting back the open-files limit: %v", err)
				}
			})
		} else {
			lim = old
		}
	}
	return lim.Cur - 1000
}

func openFiles(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	return len(entries)
}

// TestIdleTCPConnections opens many TCP connections that send nothing:
// the server holds at most maxTCP of them, closing the longest idle to
// admit new ones, and UDP goes on being answered throughout.
func TestIdleTCPConnections(t *testing.T) {
	n := 1000
	if os.Getenv("NOCONTACT_LONG") == "1" {
		n = 10000
	}
	if max := raiseFileLimit(t, uint64(n)); uint64(n) > max {
		t.Logf("the file limit allows %d connections, not %d", max, n)
		n = int(max)
	}
	ts := startFilter(t, Spec{Platforms: []string{"instagram"}})
	base := openFiles(t)
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	for w := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 50 {
				c, err := net.DialTimeout("tcp", ts.addr, time.Second)
				if err != nil {
					continue // the kernel's queue is full: that is the bound working
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// The server side holds at most maxTCP connections: each new one
	// past that took the place of the longest idle.
	if held := openFiles(t) - base - len(conns); held > maxTCP+16 {
		t.Errorf("the server holds %d connections, want at most %d", held, maxTCP)
	}
	if r := query(t, ts.addr, "udp", "www.instagram.com.", dns.TypeA, true); len(r.Answer) != 1 {
		t.Errorf("UDP with %d idle TCP connections: %v", len(conns), r)
	}
	// Idle connections are closed, so a real TCP client gets through.
	c := &dns.Client{Net: "tcp", Timeout: 30 * time.Second}
	q := new(dns.Msg)
	q.SetQuestion("www.instagram.com.", dns.TypeA)
	if _, _, err := c.Exchange(q, ts.addr); err != nil {
		t.Errorf("TCP query after %d idle connections: %v", len(conns), err)
	}
	t.Logf("%d idle TCP connections opened", len(conns))
}

// TestMalformedTCP sends frames no client should: the server survives them
// and answers the next proper query.
func TestMalformedTCP(t *testing.T) {
	ts := startFilter(t, Spec{Platforms: []string{"instagram"}})
	frame := func(b []byte) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...) }
	header := func(qd uint16) []byte {
		h := make([]byte, 12)
		binary.BigEndian.PutUint16(h[0:], 0x1234)
		binary.BigEndian.PutUint16(h[4:], qd)
		return h
	}
	loop := append(header(1), 0xc0, 12, 0, 1, 0, 1) // the name points at itself
	many := header(100)
	for range 100 {
		many = append(many, 1, 'a', 0, 0, 1, 0, 1)
	}
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"length with no body", []byte{0xff, 0xff}},
		{"short body", append([]byte{0xff, 0xff}, make([]byte, 100)...)},
		{"garbage", frame([]byte("this is not DNS at all, not even close"))},
		{"empty frame", frame(nil)},
		{"compression loop", frame(loop)},
		{"100 questions", frame(many)},
		{"header only", frame(header(0))},
	} {
		c, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(tt.data)
		if strings.Contains(tt.name, "length") || strings.Contains(tt.name, "short") {
			c.(*net.TCPConn).CloseWrite()
		}
		// Whatever comes back (FORMERR, or nothing) is read for a moment;
		// the server must then still answer others.
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		_, _ = io.ReadAll(c) // the answer, if any, does not matter here
		c.Close()
		if r := query(t, ts.addr, "tcp", "www.instagram.com.", dns.TypeA, true); len(r.Answer) != 1 {
			t.Fatalf("after %s: %v", tt.name, r)
		}
	}
	if r := query(t, ts.addr, "udp", "www.instagram.com.", dns.TypeA, true); len(r.Answer) != 1 {
		t.Fatalf("UDP after the malformed frames: %v", r)
	}
}
