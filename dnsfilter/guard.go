package dnsfilter

import (
	"net/netip"
	"sync"
	"time"
)

// Limits that keep the filter answering under floods and abuse. The
// machine's own queries (loopback) are never rate limited: they are the
// ones nocontact exists for.
const (
	// DefaultClientRate is the queries per second one client off this
	// machine (a LAN client, or a refused one) may send; twice that in a
	// burst. More are dropped without an answer, so nocontact is no use
	// as a reflector.
	DefaultClientRate = 100
	// maxClients bounds the rate limiter's memory: past it, clients whose
	// buckets are full again are forgotten.
	maxClients = 4096
	// maxSlow bounds the queries on the slow path at once (each a
	// goroutine that may wait up to ForwardTimeout for an upstream, with
	// its socket and buffers: about 30 KiB). Past it, new slow-path
	// queries are dropped; the fast path (blocked names, cache hits) goes
	// on answering. 1,024 is unbound's num-queries-per-thread; 4,096 let
	// a flood of random names take the daemon past 120 MiB.
	maxSlow = 1024
	// maxTCP bounds the TCP connections open at once; at the bound a new
	// one takes the place of the longest idle (tcp.go), so a crowd of
	// silent connections cannot hold the TCP side, and UDP is never
	// affected.
	maxTCP = 256
	// tcpReadTimeout and tcpIdleTimeout close TCP connections that send
	// nothing (first query) or nothing more (between queries).
	tcpReadTimeout = 2 * time.Second
	tcpIdleTimeout = 8 * time.Second
)

// rateLimiter is a token bucket per client address.
type rateLimiter struct {
	rate  float64 // tokens per second; 0 means no limit
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(rate int, now func() time.Time) *rateLimiter {
	if now == nil {
		now = time.Now
	}
	return &rateLimiter{rate: float64(rate), burst: 2 * float64(rate), now: now, buckets: map[netip.Addr]*bucket{}}
}

// allow takes a token for src, reporting false when its bucket is empty.
func (l *rateLimiter) allow(src netip.Addr) bool {
	if l.rate <= 0 {
		return true
	}
	t := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[src]
	if b == nil {
		if len(l.buckets) >= maxClients {
			l.forgetLocked(t)
		}
		b = &bucket{tokens: l.burst, last: t}
		l.buckets[src] = b
	}
	b.tokens = min(l.burst, b.tokens+t.Sub(b.last).Seconds()*l.rate)
	b.last = t
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// forgetLocked drops the buckets that would be full by now, and if that
// is not enough (a flood from many spoofed sources), all of them: a
// forgotten client starts again with a full bucket, which is no worse
// than before any limit.
func (l *rateLimiter) forgetLocked(t time.Time) {
	for a, b := range l.buckets {
		if b.tokens+t.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, a)
		}
	}
	if len(l.buckets) >= maxClients {
		clear(l.buckets)
	}
}

// admit reports whether a query from src is answered at all: always for
// this machine, within the rate limit for every other client.
func (s *Server) admit(src netip.Addr) bool {
	if src.IsLoopback() {
		return true
	}
	if s.limiter.allow(src) {
		return true
	}
	s.log.Debug("rate limited", "client", src.String())
	return false
}

// slowSlot takes a place on the slow path; false means it is full and
// the query should be dropped.
func (s *Server) slowSlot() bool {
	select {
	case s.slow <- struct{}{}:
		return true
	default:
		if !s.slowFullLogged.Swap(true) {
			s.log.Warn("too many questions are waiting for the upstreams at once; new ones are dropped until some are answered "+
				"(blocked and cached names are still answered)", "limit", maxSlow)
		}
		return false
	}
}

func (s *Server) slowDone() { <-s.slow }
