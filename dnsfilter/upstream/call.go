package upstream

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/wire"
)

// maxInFlight bounds the questions a Forwarder has in flight at once;
// past it Forward and Exchange fail at once with ErrBusy. The server
// bounds its own side lower (a place per query waiting for an upstream).
const maxInFlight = 4096

// ErrBusy is returned when maxInFlight questions are in flight already.
var ErrBusy = errors.New("too many questions in flight to the upstreams")

// Question is a question to forward with Forward, in wire form.
type Question struct {
	// Name is the question's name in wire form, uncompressed, spelled as
	// the client spelled it.
	Name          []byte
	Qtype, Qclass uint16
	CD            bool   // checking disabled, as the client asked
	DO            bool   // DNSSEC OK, as the client asked
	UDPSize       uint16 // the payload size our OPT record advertises
}

// Answer is an upstream's answer. It is only valid during Waiter.Done.
type Answer struct {
	// Pkt is the answer as it arrived over UDP; nil for one that came
	// over TCP, TLS or HTTPS.
	Pkt []byte
	// Parsed is Pkt read by wire.ParseResponse, or nil when that could
	// not read it; Msg is then the answer unpacked by miekg/dns.
	Parsed *wire.Response
	Msg    *dns.Msg
	// Batch is the batch of answers Pkt was read with, or nil.
	Batch *Batch
}

// Rcode returns the answer's rcode, with the extended bits of its OPT
// record (a parsed answer has none).
func (a *Answer) Rcode() int {
	if a.Parsed != nil {
		return a.Parsed.Rcode()
	}
	return a.Msg.Rcode
}

func (a *Answer) truncated() bool {
	if a.Parsed != nil {
		return a.Parsed.Truncated()
	}
	return a.Msg.Truncated
}

// A Waiter is told how a question sent with Forward ended.
type Waiter interface {
	// Done is called exactly once, with the first usable answer or the
	// error that ended the question (wrapping ErrAllFailed). a is only
	// valid during the call. It may run on the goroutine that reads an
	// upstream's socket, and even before Forward returns: it must not
	// block.
	Done(a *Answer, err error)
}

// call is one question on its way through the upstreams: the packet, the
// order to try them in, and the try in flight. Tries follow each other as
// events (an answer read, a deadline passed), with no goroutine of its
// own unless a try needs one (TCP, TLS, HTTPS). Whoever ends a try (the
// socket's reader, its timer, a failed send) owns the call until it
// starts the next try or finishes.
type call struct {
	f   *Forwarder
	w   Waiter
	buf [512]byte
	pkt []byte // the query: our ID patched in for each try
	// nameEnd is where the question's name ends in pkt.
	nameEnd       int
	qtype, qclass uint16
	query         *dns.Msg // the caller's question for Exchange; nil for Forward
	deadline      time.Time
	single        bool       // one try only: probes and ExchangeWith
	batch         *SendBatch // where the first try's query waits to be sent

	order, again []*up
	next, pass   int
	last         error

	// The try in flight.
	u           *up
	tcp         bool // it went on over TCP after a truncated answer
	sock        *poolSock
	id          uint16
	tryDeadline time.Time
	tryLen      time.Duration
	heapAt      int
}

var calls = sync.Pool{New: func() any { return new(call) }}

func (f *Forwarder) newCall(w Waiter) *call {
	c := calls.Get().(*call)
	c.f, c.w = f, w
	return c
}

func (c *call) release() {
	order, again := c.order[:0], c.again[:0]
	clear(c.order[:cap(c.order)])
	clear(c.again[:cap(c.again)])
	*c = call{order: order, again: again}
	calls.Put(c)
}

func (c *call) qname() []byte { return c.pkt[wire.HeaderLen:c.nameEnd] }

// Forward sends q to the upstreams, healthy ones first, as Exchange does,
// and tells w how it ended; it returns an error, and w is not called,
// when the question cannot be sent at all (every upstream down in the
// last few seconds: ErrAllDown; too many in flight: ErrBusy). Plain
// upstreams are asked straight from the packet: the answer reaches w as
// it arrived, with its parse when wire.ParseResponse can read it. With a
// batch b, the first query to a plain upstream waits in b until
// b.Flush; with nil it is sent at once.
func (f *Forwarder) Forward(q Question, w Waiter, b *SendBatch) error {
	if len(q.Name) == 0 || len(q.Name) > wire.MaxName {
		return errors.New("upstream: bad question name")
	}
	if err := f.failFast(); err != nil {
		return err
	}
	if f.inflight.Add(1) > maxInFlight {
		f.inflight.Add(-1)
		return ErrBusy
	}
	c := f.newCall(w)
	c.order = f.orderInto(c.order)
	if len(c.order) == 0 {
		f.inflight.Add(-1)
		c.release()
		return errLooping
	}
	c.pkt = appendQuery(c.buf[:0], q, f.loop)
	c.nameEnd = wire.HeaderLen + len(q.Name)
	c.qtype, c.qclass = q.Qtype, q.Qclass
	c.deadline = time.Now().Add(f.total)
	c.batch = b
	c.step()
	return nil
}

// errLooping is the end of a question when every upstream was dropped.
var errLooping = fmt.Errorf("%w: every upstream sends our questions back to us", ErrAllFailed)

// appendQuery appends the query for q as the filter has always sent it:
// RD set, CD as asked, our OPT record with the DO bit as asked and the
// loop mark when there is one; the ID is left zero.
func appendQuery(dst []byte, q Question, loop *LoopMark) []byte {
	flags := uint16(wire.FlagRD)
	if q.CD {
		flags |= wire.FlagCD
	}
	dst = append(dst, 0, 0)
	dst = binary.BigEndian.AppendUint16(dst, flags)
	dst = append(dst, 0, 1, 0, 0, 0, 0, 0, 1)
	dst = append(dst, q.Name...)
	dst = binary.BigEndian.AppendUint16(dst, q.Qtype)
	dst = binary.BigEndian.AppendUint16(dst, q.Qclass)
	var do byte
	if q.DO {
		do = 0x80
	}
	dst = append(dst, 0, 0, wire.TypeOPT, byte(q.UDPSize>>8), byte(q.UDPSize), 0, 0, do, 0)
	if loop == nil {
		return append(dst, 0, 0)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(4+len(loop.nonce)))
	dst = binary.BigEndian.AppendUint16(dst, LoopOptionCode)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(loop.nonce)))
	return append(dst, loop.nonce[:]...)
}

// exchangeResult is what a synchronous caller waits for.
type exchangeResult struct {
	msg *dns.Msg
	err error
}

// chanWaiter hands the end of a call to a goroutine waiting on it.
type chanWaiter chan exchangeResult

func (w chanWaiter) Done(a *Answer, err error) {
	if err != nil {
		w <- exchangeResult{err: err}
		return
	}
	m := a.Msg
	if m == nil {
		m = new(dns.Msg)
		if err := m.Unpack(a.Pkt); err != nil {
			w <- exchangeResult{err: fmt.Errorf("unreadable answer: %w", err)}
			return
		}
	}
	w <- exchangeResult{msg: m}
}

// exchange runs a call for q over order and waits for its end, or for
// ctx. q is not modified.
func (f *Forwarder) exchange(ctx context.Context, q *dns.Msg, order []*up, single bool) (*dns.Msg, error) {
	if f.inflight.Add(1) > maxInFlight {
		f.inflight.Add(-1)
		return nil, ErrBusy
	}
	out := q.Copy()
	out.Id = 0
	out.Compress = false
	if f.loop != nil {
		f.loop.add(out)
	}
	pkt, err := out.PackBuffer(nil)
	if err != nil {
		f.inflight.Add(-1)
		return nil, fmt.Errorf("upstream: cannot pack the question: %w", err)
	}
	ch := make(chanWaiter, 1)
	c := f.newCall(ch)
	c.pkt = pkt
	c.nameEnd = wire.HeaderLen
	for l := int(pkt[c.nameEnd]); l != 0; l = int(pkt[c.nameEnd]) {
		c.nameEnd += 1 + l
	}
	c.nameEnd++
	c.qtype, c.qclass = q.Question[0].Qtype, q.Question[0].Qclass
	c.query = q
	c.single = single
	c.order = append(c.order, order...)
	c.deadline = time.Now().Add(f.total)
	if d, ok := ctx.Deadline(); ok && d.Before(c.deadline) {
		c.deadline = d
	}
	c.step()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, r.err
		}
		r.msg.Id = q.Id
		return r.msg, nil
	case <-ctx.Done():
		// The call ends by itself by its deadline; nobody waits for it.
		return nil, fmt.Errorf("%w: %w", ErrAllFailed, ctx.Err())
	}
}

// step starts the next try: the next upstream in order, then a second
// pass over those that timed out, while time is left; or finishes.
func (c *call) step() {
	for time.Now().Before(c.deadline) {
		if c.next < len(c.order) {
			u := c.order[c.next]
			c.next++
			c.try(u)
			return
		}
		if c.single || c.pass > 0 || len(c.again) == 0 {
			break
		}
		c.pass++
		c.order = append(c.order[:0], c.again...)
		c.again = c.again[:0]
		c.next = 0
	}
	last := c.last
	if last == nil {
		last = context.DeadlineExceeded
	}
	c.finish(nil, fmt.Errorf("%w: %w", ErrAllFailed, last))
}

// try asks u: over a pooled UDP socket for a plain upstream, on a
// goroutine of its own for the others.
func (c *call) try(u *up) {
	c.u, c.tcp = u, false
	c.tryLen = c.f.try
	end := time.Now().Add(c.f.try)
	if end.After(c.deadline) {
		end = c.deadline
	}
	b := c.batch
	c.batch = nil
	if u.pool == nil {
		go c.tryMsg(u, end)
		return
	}
	var s *poolSock
	var err error
	if b != nil {
		if s, err = u.pool.pickIn(b); err == nil {
			err = s.queue(c, end, b)
		}
	} else if s, err = u.pool.pick(); err == nil {
		err = s.send(c, end)
	}
	if err != nil {
		c.after(nil, err)
	}
}

// queryMsg returns the question as a dns.Msg for a transport that needs
// one: with the loop mark for a plain upstream, without for the others.
func (c *call) queryMsg(mark bool) (*dns.Msg, error) {
	if c.query != nil && !mark {
		q := c.query.Copy()
		q.Id = dns.Id()
		return q, nil
	}
	q := new(dns.Msg)
	if err := q.Unpack(c.pkt); err != nil {
		return nil, err
	}
	q.Id = dns.Id()
	if !mark {
		if o := q.IsEdns0(); o != nil {
			opts := o.Option[:0]
			for _, opt := range o.Option {
				if opt.Option() != LoopOptionCode {
					opts = append(opts, opt)
				}
			}
			o.Option = opts
		}
	}
	return q, nil
}

// tryMsg asks a TLS or HTTPS upstream, on the goroutine it runs on.
func (c *call) tryMsg(u *up, end time.Time) {
	ctx, cancel := context.WithDeadline(context.Background(), end)
	defer cancel()
	q, err := c.queryMsg(false)
	if err == nil {
		var r *dns.Msg
		if r, err = u.t.exchange(ctx, q); err == nil {
			c.after(&Answer{Msg: r}, nil)
			return
		}
	}
	c.after(nil, err)
}

// tryTCP asks a plain upstream again over TCP, its UDP answer having been
// truncated: a try of its own within the total.
func (c *call) tryTCP(u *up) {
	end := time.Now().Add(c.f.try)
	if end.After(c.deadline) {
		end = c.deadline
	}
	ctx, cancel := context.WithDeadline(context.Background(), end)
	defer cancel()
	q, err := c.queryMsg(true)
	if err == nil {
		var r *dns.Msg
		if r, err = u.tcp.over(ctx, "tcp", q); err == nil {
			c.after(&Answer{Msg: r}, nil)
			return
		}
	}
	c.after(nil, err)
}

// after takes the end of the try at c.u, keeps the upstream's health, and
// finishes with the answer or goes on to the next try. SERVFAIL, NOTIMP
// and FORMERR move on without touching health (the upstream answers, only
// not this question); REFUSED, a timeout or a network error count against
// it. A truncated UDP answer is asked again over TCP first.
func (c *call) after(a *Answer, err error) {
	u, f := c.u, c.f
	if err == nil {
		if a.truncated() && u.pool != nil && !c.tcp {
			c.tcp = true
			go c.tryTCP(u)
			return
		}
		switch rc := a.Rcode(); rc {
		case dns.RcodeServerFailure, dns.RcodeNotImplemented, dns.RcodeFormatError:
			f.log.Debug("upstream could not answer", "upstream", u.name, "rcode", dns.RcodeToString[rc])
			c.last = fmt.Errorf("%s answered %s", u.name, dns.RcodeToString[rc])
			c.step()
			return
		case dns.RcodeRefused:
			err = errors.New("answered REFUSED: it does not serve us")
		default:
			f.answered(u)
			c.finish(a, nil)
			return
		}
	}
	err = fmt.Errorf("%s: %w", u.name, err)
	f.failed(u, err)
	c.last = err
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		c.again = append(c.again, u)
	}
	c.step()
}

// finish tells the waiter and returns the call to the pool.
func (c *call) finish(a *Answer, err error) {
	if err != nil && !c.single {
		c.f.noteAllFailed()
	}
	c.f.inflight.Add(-1)
	c.w.Done(a, err)
	c.release()
}
