package upstream

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// LoopOptionCode is the EDNS0 option that carries a LoopMark, from the
// range set aside for local use (RFC 6891 section 9: 65001-65534).
const LoopOptionCode = 65301

// LoopProbeZone is where the names sent by CheckLoops live. It is under
// .arpa, not .invalid, because resolvers such as systemd-resolved answer
// .invalid themselves and would hide a loop behind them; nocontact answers
// every name in it itself and never forwards one.
const LoopProbeZone = "nocontact-loop.arpa."

// LoopMark is a random value, one per process, that the forwarder adds to
// every query it sends to a plain upstream, so that the server can tell a
// query of its own that came back to it (an upstream that forwards to us)
// and answer it SERVFAIL instead of forwarding it round again.
type LoopMark struct {
	nonce [16]byte
}

// NewLoopMark returns a fresh random mark.
func NewLoopMark() *LoopMark {
	m := &LoopMark{}
	rand.Read(m.nonce[:])
	return m
}

func (m *LoopMark) add(q *dns.Msg) {
	o := q.IsEdns0()
	if o == nil {
		q.SetEdns0(1232, false)
		o = q.IsEdns0()
	}
	o.Option = append(o.Option, &dns.EDNS0_LOCAL{Code: LoopOptionCode, Data: m.nonce[:]})
}

// Marked reports whether q carries this mark: it is a query we sent.
func (m *LoopMark) Marked(q *dns.Msg) bool {
	if m == nil {
		return false
	}
	o := q.IsEdns0()
	if o == nil {
		return false
	}
	for _, opt := range o.Option {
		if l, ok := opt.(*dns.EDNS0_LOCAL); ok && l.Code == LoopOptionCode && bytes.Equal(l.Data, m.nonce[:]) {
			return true
		}
	}
	return false
}

// IsLoopProbe reports whether name lies in LoopProbeZone.
func IsLoopProbe(name string) bool {
	return len(name) > len(LoopProbeZone) && strings.EqualFold(name[len(name)-len(LoopProbeZone)-1:], "."+LoopProbeZone)
}

// CheckLoops sends a name of its own under LoopProbeZone through each plain
// upstream and drops, for good, every upstream after which arrived reports
// that the name reached our own server: that upstream sends our questions
// back to us, possibly through resolvers that strip the LoopMark. It
// returns the upstreams dropped. Encrypted upstreams cannot reach us and
// are not probed.
func (f *Forwarder) CheckLoops(ctx context.Context, arrived func(name string) bool) []string {
	var mu sync.Mutex
	var dropped []string
	var wg sync.WaitGroup
	for i, u := range f.ups {
		if u.srv.Kind != Plain || u.dropped.Load() {
			continue
		}
		wg.Go(func() {
			var b [8]byte
			rand.Read(b[:])
			name := hex.EncodeToString(b[:]) + "." + LoopProbeZone
			q := new(dns.Msg)
			q.SetQuestion(name, dns.TypeA)
			q.SetEdns0(1232, false)
			_, _ = f.ExchangeWith(ctx, i, q) // whatever it answers, what matters is where the name went
			if arrived(name) {
				f.Drop(i)
				f.log.Error("upstream dropped: it sends nocontact's questions back to nocontact (a loop); "+
					"write other resolvers in [dns] upstreams", "upstream", u.name)
				mu.Lock()
				dropped = append(dropped, u.name)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return dropped
}
