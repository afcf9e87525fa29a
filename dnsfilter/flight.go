package dnsfilter

import (
	"context"
	"sync"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/cache"
)

// flights lets identical questions in flight share one upstream exchange:
// the first asks, the others wait for its answer. A few lines of our own
// rather than golang.org/x/sync/singleflight: the key stays the cache's
// comparable struct (no string built per query), and a waiter can give up
// on its own context without cancelling the exchange for the others.
type flights struct {
	mu sync.Mutex
	m  map[cache.Key]*flight
}

type flight struct {
	done chan struct{}
	msg  *dns.Msg // read-only once done: each waiter copies it
	err  error
	dups int // callers waiting for this one's answer
}

// do returns the answer of fn for k, calling fn once for all the callers
// that ask for k while it runs. shared reports whether the caller got
// another caller's answer.
func (g *flights) do(ctx context.Context, k cache.Key, fn func() (*dns.Msg, error)) (msg *dns.Msg, err error, shared bool) {
	g.mu.Lock()
	if f, ok := g.m[k]; ok {
		f.dups++
		g.mu.Unlock()
		select {
		case <-f.done:
			return f.msg, f.err, true
		case <-ctx.Done():
			return nil, ctx.Err(), true
		}
	}
	if g.m == nil {
		g.m = make(map[cache.Key]*flight)
	}
	f := &flight{done: make(chan struct{})}
	g.m[k] = f
	g.mu.Unlock()

	defer func() {
		g.mu.Lock()
		delete(g.m, k)
		g.mu.Unlock()
		close(f.done)
	}()
	f.msg, f.err = fn()
	return f.msg, f.err, false
}

// waiting returns how many callers wait for the flight of k to end.
func (g *flights) waiting(k cache.Key) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.m[k]; ok {
		return f.dups
	}
	return 0
}
