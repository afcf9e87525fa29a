package dnsfilter

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/wire"
)

// TCP that cannot be starved. miekg/dns's TCP server behind a listener
// limited to maxTCP connections let a crowd of idle connections (a
// misbehaving LAN device, 2,000 of them) hold every place while new ones
// waited in the kernel's queue for many seconds. tcpServer instead
// accepts every connection at once and, at maxTCP, closes the one that
// has been idle longest to make room; a connection is idle while it waits
// for the next query's first bytes. When more than half the places are
// taken, connections get a much shorter idle timeout (as unbound does),
// so that the crowd thins out by itself.
const (
	// tcpPressureTimeout is the idle timeout under pressure: unbound's
	// TCP_QUERY_TIMEOUT_MINIMUM.
	tcpPressureTimeout = 200 * time.Millisecond
	// tcpWriteTimeout bounds writing one answer.
	tcpWriteTimeout = 2 * time.Second
	// maxTCPQueries is how many queries one connection may ask before it
	// is closed (miekg/dns's default).
	maxTCPQueries = 128
)

// tcpServer serves DNS over TCP on one listener.
type tcpServer struct {
	s  *Server
	ln net.Listener
	wg sync.WaitGroup

	mu     sync.Mutex
	n      int     // connections open
	idle   tcpConn // sentinel of the idle list: idle.next is the most recently idle
	closed bool
	all    map[*tcpConn]struct{}
}

// tcpConn is one client connection.
type tcpConn struct {
	c          net.Conn
	prev, next *tcpConn // in the idle list while idle
	evicted    bool     // closed to make room: no longer counted
}

func (s *Server) newTCPServer(ln net.Listener) *tcpServer {
	t := &tcpServer{s: s, ln: ln, all: map[*tcpConn]struct{}{}}
	t.idle.next, t.idle.prev = &t.idle, &t.idle
	t.wg.Add(1)
	go t.accept()
	return t
}

// accept takes every connection as it comes.
func (t *tcpServer) accept() {
	defer t.wg.Done()
	failures := 0
	for {
		c, err := t.ln.Accept()
		if err != nil {
			if t.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors, say: wait a little rather than spin.
			t.s.log.Debug("accepting a TCP connection failed", "err", err)
			failures++
			time.Sleep(min(time.Duration(failures)*5*time.Millisecond, time.Second))
			continue
		}
		failures = 0
		tc := &tcpConn{c: c}
		if !t.admit(tc) {
			_ = c.Close() // every place busy with a question, or shutting down
			continue
		}
		t.wg.Add(1)
		go t.serve(tc)
	}
}

func (t *tcpServer) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// admit makes a place for tc, closing the longest-idle connection when
// all maxTCP are taken, and counts it as idle. It reports false when no
// connection is idle to make room.
func (t *tcpServer) admit(tc *tcpConn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	if t.n >= maxTCP {
		old := t.idle.prev
		if old == &t.idle {
			return false
		}
		t.unlinkLocked(old)
		old.evicted = true
		delete(t.all, old)
		t.n--
		// Its goroutine sees the error and ends.
		_ = old.c.Close()
	}
	t.n++
	t.all[tc] = struct{}{}
	t.pushIdleLocked(tc)
	return true
}

func (t *tcpServer) pushIdleLocked(tc *tcpConn) {
	tc.prev, tc.next = &t.idle, t.idle.next
	t.idle.next.prev = tc
	t.idle.next = tc
}

func (t *tcpServer) unlinkLocked(tc *tcpConn) {
	if tc.prev == nil {
		return
	}
	tc.prev.next, tc.next.prev = tc.next, tc.prev
	tc.prev, tc.next = nil, nil
}

// idleTimeout is how long a connection may wait for its next query:
// tcpReadTimeout for the first, tcpIdleTimeout for the next, and
// tcpPressureTimeout whenever more than half the places are taken.
func (t *tcpServer) idleTimeout(first bool) time.Duration {
	t.mu.Lock()
	n := t.n
	t.mu.Unlock()
	switch {
	case n > maxTCP/2:
		return tcpPressureTimeout
	case first:
		return tcpReadTimeout
	}
	return tcpIdleTimeout
}

// busy takes tc off the idle list while it answers; false means it was
// closed to make room meanwhile.
func (t *tcpServer) busy(tc *tcpConn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tc.prev == nil {
		return false
	}
	t.unlinkLocked(tc)
	return true
}

// idleAgain puts tc back at the front of the idle list.
func (t *tcpServer) idleAgain(tc *tcpConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pushIdleLocked(tc)
}

func (t *tcpServer) done(tc *tcpConn) {
	t.mu.Lock()
	if !tc.evicted {
		t.unlinkLocked(tc)
		delete(t.all, tc)
		t.n--
	}
	t.mu.Unlock()
	_ = tc.c.Close() // may be closed already
}

// serve answers the queries on one connection, one at a time, as
// miekg/dns's server did (serveSlow repeats what it does with a packet).
func (t *tcpServer) serve(tc *tcpConn) {
	defer t.wg.Done()
	defer t.done(tc)
	w := &tcpWriter{c: tc.c}
	var lenBuf [2]byte
	for q := 0; q < maxTCPQueries; q++ {
		if err := tc.c.SetReadDeadline(time.Now().Add(t.idleTimeout(q == 0))); err != nil {
			return
		}
		if _, err := io.ReadFull(tc.c, lenBuf[:]); err != nil {
			return
		}
		if !t.busy(tc) {
			return
		}
		n := int(binary.BigEndian.Uint16(lenBuf[:]))
		if err := tc.c.SetReadDeadline(time.Now().Add(tcpReadTimeout)); err != nil {
			return
		}
		pkt := make([]byte, n)
		if _, err := io.ReadFull(tc.c, pkt); err != nil {
			return
		}
		if n < wire.HeaderLen {
			return // miekg/dns closes on these too
		}
		t.s.serveSlow(pkt, w)
		if w.failed {
			return
		}
		t.idleAgain(tc)
	}
}

// shutdown closes the listener and every connection, and waits for their
// goroutines, up to ctx.
func (t *tcpServer) shutdown(ctx context.Context) error {
	t.mu.Lock()
	t.closed = true
	for tc := range t.all {
		_ = tc.c.Close() // its goroutine ends on the error
	}
	t.mu.Unlock()
	err := t.ln.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tcpWriter writes answers on one connection, each with its length.
type tcpWriter struct {
	c      net.Conn
	failed bool
}

func (w *tcpWriter) LocalAddr() net.Addr  { return w.c.LocalAddr() }
func (w *tcpWriter) RemoteAddr() net.Addr { return w.c.RemoteAddr() }
func (w *tcpWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Write writes one message with its two-byte length in front.
func (w *tcpWriter) Write(b []byte) (int, error) {
	if len(b) > 65535 {
		return 0, errors.New("dnsfilter: answer too long for TCP")
	}
	out := make([]byte, 2+len(b))
	binary.BigEndian.PutUint16(out, uint16(len(b)))
	copy(out[2:], b)
	if err := w.c.SetWriteDeadline(time.Now().Add(tcpWriteTimeout)); err != nil {
		w.failed = true
		return 0, err
	}
	if _, err := w.c.Write(out); err != nil {
		w.failed = true
		return 0, err
	}
	return len(b), nil
}
func (w *tcpWriter) Close() error        { w.failed = true; return nil }
func (w *tcpWriter) TsigStatus() error   { return nil }
func (w *tcpWriter) TsigTimersOnly(bool) {}
func (w *tcpWriter) Hijack()             {}
