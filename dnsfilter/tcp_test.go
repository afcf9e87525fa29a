//go:build !windows

package dnsfilter

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestTCPNotStarvedByIdleConnections holds 2,000 idle TCP connections
// open, as a misbehaving LAN device would, then asks over a new one: the
// answer comes within 1 s.
func TestTCPNotStarvedByIdleConnections(t *testing.T) {
	const idle = 2000
	// The test holds its 2,000 ends, the server up to maxTCP of its own.
	if room := raiseFileLimit(t, idle+maxTCP+200); room < idle+maxTCP+200 {
		t.Skipf("the open-file limit leaves room for %d files, the test needs %d: raise it (ulimit -n %d)", room, idle+maxTCP+200, idle+maxTCP+1200)
	}
	ts := startFilter(t, Spec{Platforms: []string{"instagram"}})
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	d := net.Dialer{Timeout: 10 * time.Second}
	for range idle {
		c, err := d.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatalf("idle connection %d: %v", len(conns)+1, err)
		}
		conns = append(conns, c)
	}
	start := time.Now()
	c, err := d.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	co := &dns.Conn{Conn: c}
	q := new(dns.Msg)
	q.SetQuestion("www.instagram.com.", dns.TypeA)
	if err := co.WriteMsg(q); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	r, err := co.ReadMsg()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("with %d idle connections open, a TCP query got no answer: %v (after %v)", idle, err, took)
	}
	if len(r.Answer) != 1 || took > time.Second {
		t.Errorf("with %d idle connections open: %v after %v, want the blocked answer within 1 s", idle, r.Answer, took)
	}
	for _, tcp := range ts.tcp {
		tcp.mu.Lock()
		n := tcp.n
		tcp.mu.Unlock()
		if n > maxTCP {
			t.Errorf("%d TCP connections open on the server, want at most %d", n, maxTCP)
		}
	}
}

// TestTCPIdleTimeoutUnderPressure: past half the places, connections
// get unbound's short idle timeout.
func TestTCPIdleTimeoutUnderPressure(t *testing.T) {
	ts := &tcpServer{}
	for _, tt := range []struct {
		n     int
		first bool
		want  time.Duration
	}{
		{0, true, tcpReadTimeout},
		{10, false, tcpIdleTimeout},
		{maxTCP / 2, false, tcpIdleTimeout},
		{maxTCP/2 + 1, true, tcpPressureTimeout},
		{maxTCP, false, tcpPressureTimeout},
	} {
		ts.n = tt.n
		if got := ts.idleTimeout(tt.first); got != tt.want {
			t.Errorf("%d open, first query %v: idle timeout %v, want %v", tt.n, tt.first, got, tt.want)
		}
	}
}

// TestTCPQueriesPerConnection: several queries on one connection
// are answered in turn; the connection closes after maxTCPQueries.
func TestTCPQueriesPerConnection(t *testing.T) {
	ts := startFilter(t, Spec{Platforms: []string{"instagram"}})
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	co := &dns.Conn{Conn: c}
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	for i := range maxTCPQueries {
		q := new(dns.Msg)
		q.SetQuestion("www.instagram.com.", dns.TypeA)
		if err := co.WriteMsg(q); err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		r, err := co.ReadMsg()
		if err != nil || r.Id != q.Id {
			t.Fatalf("query %d: %v, %v", i, r, err)
		}
	}
	q := new(dns.Msg)
	q.SetQuestion("www.instagram.com.", dns.TypeA)
	_ = co.WriteMsg(q)
	if _, err := co.ReadMsg(); err == nil {
		t.Errorf("query %d on one connection answered, want the connection closed after %d", maxTCPQueries+1, maxTCPQueries)
	}
}
