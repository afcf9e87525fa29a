package dnsfilter

import (
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"unsafe"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/cache"
	"github.com/nocontact/nocontact/dnsfilter/upstream"
	"github.com/nocontact/nocontact/dnsfilter/wire"
)

// The wire-level forwarder: a UDP question the fast path could not
// answer (neither blocked nor cached) is sent to the upstreams straight
// from the packet, and the answer written back to the client straight
// from the upstream's packet, without a dns.Msg, a goroutine of its own
// or, for the common answers, an allocation beyond the cache entry:
//
//   - the fast path reads the question (wire.Parse) and decides, as the
//     slow path would, that it goes upstream (fastMiss);
//   - the question joins the one already in flight for the same cache key,
//     or goes to upstream.Forwarder.Forward, which sends it on a pooled
//     socket;
//   - the socket's reader finds the answer, reads it (wire.ParseResponse)
//     and calls wireJob.Done on its own goroutine, which caches the answer
//     (cache.PutPacket), checks its CNAME targets against the policy, and
//     writes each waiting client its answer (appendForwarded), or the
//     blocked answer when a target is blocked.
//
// What the answer path is not sure of (a record type it does not copy,
// an answer that needs truncating or compressing, an extended rcode, a
// failure) goes through the slow path's own functions (shape,
// checkTarget, failure, Truncate and Pack) for that client, so that every
// answer is what ServeDNS would have written: TestForwardMatchesSlowPath
// and FuzzForward compare the two, byte for byte.

// wireForwarder is an upstream that takes questions at the wire level
// (upstream.Forwarder).
type wireForwarder interface {
	Forward(q upstream.Question, w upstream.Waiter, b *upstream.SendBatch) error
}

// wireClient is one client waiting for a forwarded answer.
type wireClient struct {
	conn *net.UDPConn
	to   netip.AddrPort
	q    wire.Query // Name is nil
	size int
	pkt  []byte // the client's query (buf[:n])
	buf  [wire.HeaderLen + wire.MaxName + 4 + optLen]byte
}

// wireJob is one question in flight for one or more clients.
type wireJob struct {
	s       *Server
	m       miss // of the first client
	clients []*wireClient
	out     [UDPSize]byte // the answer being written (on the stack it would escape)
}

var (
	wireJobs    = sync.Pool{New: func() any { return new(wireJob) }}
	wireClients = sync.Pool{New: func() any { return new(wireClient) }}
)

// forward sends the question pkt (read by the fast path into m) from
// the client at from, which asked on conn, to the upstreams at the wire
// level, the query waiting in b (when not nil) for the caller's Flush; it
// reports false when it cannot (the upstream takes no wire-level
// questions), for the slow path to take it.
func (s *Server) forward(conn *net.UDPConn, pkt []byte, from netip.AddrPort, m *miss, b *upstream.SendBatch) bool {
	fw, ok := (*s.upstream.Load()).(wireForwarder)
	if !ok || len(pkt) > len(wireClient{}.buf) {
		return false
	}
	if !s.slowSlot() {
		return true // dropped, as the slow path drops past its bound
	}
	cl := wireClients.Get().(*wireClient)
	cl.conn, cl.to, cl.q, cl.size = conn, from, m.q, m.size
	cl.pkt = append(cl.buf[:0], pkt...)

	s.wmu.Lock()
	if j := s.wflights[m.k]; j != nil {
		j.clients = append(j.clients, cl)
		s.wmu.Unlock()
		return true
	}
	j := wireJobs.Get().(*wireJob)
	j.s, j.m = s, *m
	j.clients = append(j.clients[:0], cl)
	if s.wflights == nil {
		s.wflights = map[cache.Key]*wireJob{}
	}
	s.wflights[m.k] = j
	s.wmu.Unlock()

	nameEnd := m.q.NameEnd
	err := fw.Forward(upstream.Question{
		Name:    cl.pkt[wire.HeaderLen:nameEnd],
		Qtype:   m.q.Qtype,
		Qclass:  m.q.Qclass,
		CD:      m.q.CD(),
		DO:      m.q.DO,
		UDPSize: UDPSize,
	}, j, b)
	if err != nil {
		j.Done(nil, err)
	}
	return true
}

// Done takes the end of the job's question: it caches the answer, as the
// slow path does inside its flight, then answers every client waiting.
func (j *wireJob) Done(a *upstream.Answer, err error) {
	s := j.s
	m := &j.m
	if err == nil && s.opts.Cache != nil {
		if a.Parsed != nil {
			s.opts.Cache.PutPacket(m.k, a.Pkt, a.Parsed, m.capTTL)
		} else {
			s.opts.Cache.Put(m.k, a.Msg, m.capTTL)
		}
	}
	s.wmu.Lock()
	delete(s.wflights, m.k)
	s.wmu.Unlock()
	var sink *answerSink
	if a != nil && a.Batch != nil {
		// Answers read together are written together, at the end of the
		// reader's batch.
		if sink, _ = a.Batch.Local.(*answerSink); sink == nil {
			sink = &answerSink{s: s}
			a.Batch.Local = sink
		}
		a.Batch.Defer(sink)
	}
	for _, cl := range j.clients {
		if sink != nil {
			if buf := sink.next(); buf != nil {
				if out := s.wireAnswer(buf, cl, m, a, err); len(out) > 0 {
					sink.add(cl.conn, cl.to, out)
				}
				s.slowDone()
				*cl = wireClient{}
				wireClients.Put(cl)
				continue
			}
		}
		if out := s.wireAnswer(j.out[:0], cl, m, a, err); len(out) > 0 {
			s.writeAnswer(cl.conn, cl.to, out)
		}
		s.slowDone()
		*cl = wireClient{}
		wireClients.Put(cl)
	}
	clear(j.clients)
	j.s, j.m, j.clients = nil, miss{}, j.clients[:0]
	wireJobs.Put(j)
}

// wireAnswer appends the answer for cl: from the upstream's packet when
// appendForwarded can write it, else through the slow path's functions.
func (s *Server) wireAnswer(dst []byte, cl *wireClient, m *miss, a *upstream.Answer, err error) []byte {
	if err == nil && a.Parsed != nil {
		if out, ok := s.appendForwarded(dst, cl, m, a.Pkt, a.Parsed); ok {
			return out
		}
	}
	q := new(dns.Msg)
	if uerr := q.Unpack(cl.pkt); uerr != nil {
		return dst // cannot happen: wire.Parse read it
	}
	var resp *dns.Msg
	if err != nil {
		resp = s.failure(q, m.k, m.capTTL, err)
	} else {
		msg := a.Msg
		if msg == nil {
			msg = new(dns.Msg)
			if uerr := msg.Unpack(a.Pkt); uerr != nil {
				return dst // cannot happen: the forwarder read it
			}
		} else {
			msg = msg.Copy() // shared by the job's clients
		}
		resp = shape(q, msg, m.capTTL)
	}
	resp = s.checkTarget(cl.to.Addr().Unmap(), q, resp, m.p, m.allow)
	resp.Truncate(cl.size)
	out, perr := resp.PackBuffer(dst[:cap(dst)])
	if perr != nil {
		s.log.Debug("packing an answer failed", "name", q.Question[0].Name, "err", perr)
		return dst
	}
	return out
}

// appendForwarded appends the answer to cl from the upstream's packet
// pkt (read into r), as the slow path's checkTarget, shape, Truncate and
// Pack would write it: the blocked answer when a CNAME target in it is
// blocked; else the upstream's header bits with the client's ID and RD
// bit and RA set, the client's question, the upstream's records
// uncompressed with TTLs capped at capTTL, its OPT record dropped and
// ours added when the client sent one. It reports false when the answer
// would not fit the client's size (the slow path truncates it).
func (s *Server) appendForwarded(dst []byte, cl *wireClient, m *miss, pkt []byte, r *wire.Response) ([]byte, bool) {
	if r.Rcode() == dns.RcodeSuccess && !m.allow {
		var tb [wire.MaxName + 1]byte
		for i := range r.Counts[wire.Answer] {
			rec := &r.Records[i]
			if rec.Type != wire.TypeCNAME {
				continue
			}
			t := wire.AppendPresentation(tb[:0], pkt, rec.Data)
			br, blocked := m.p.Blocks(unsafe.String(unsafe.SliceData(t), len(t)))
			if !blocked {
				continue
			}
			out, ok := appendBlocked(dst, cl.pkt, &cl.q, br, cl.size)
			if !ok {
				return dst, false
			}
			if s.log.Enabled(context.Background(), slog.LevelDebug) {
				s.log.Debug("blocked by answer", "name", string(cl.pkt[wire.HeaderLen:cl.q.NameEnd]), "target", br.Domain, "platform", br.Platform)
			}
			if s.opts.OnBlocked != nil {
				s.opts.OnBlocked(cl.to.Addr().Unmap(), br)
			}
			return out, true
		}
	}
	start := len(dst)
	ar := r.Counts[wire.Additional]
	if r.OPT >= 0 {
		ar--
	}
	if cl.q.EDNS {
		ar++
	}
	flags := r.Flags&^(wire.FlagRD|wire.FlagRA) | cl.q.Flags&wire.FlagRD | wire.FlagRA
	out := binary.BigEndian.AppendUint16(dst, cl.q.ID)
	out = binary.BigEndian.AppendUint16(out, flags)
	out = binary.BigEndian.AppendUint16(out, 1)
	out = binary.BigEndian.AppendUint16(out, uint16(r.Counts[wire.Answer]))
	out = binary.BigEndian.AppendUint16(out, uint16(r.Counts[wire.Authority]))
	out = binary.BigEndian.AppendUint16(out, uint16(ar))
	out = append(out, cl.pkt[wire.HeaderLen:cl.q.QuestionEnd]...)
	for i := range r.N {
		rec := &r.Records[i]
		if rec.Type == wire.TypeOPT {
			continue
		}
		ttl := rec.TTL
		if m.capTTL > 0 && ttl > m.capTTL {
			ttl = m.capTTL
		}
		out, _ = wire.AppendRecord(out, pkt, rec, ttl)
		if len(out)-start > cl.size {
			return dst[:start], false
		}
	}
	if cl.q.EDNS {
		out = appendOPT(out, cl.q.DO, 0)
	}
	if len(out)-start > cl.size {
		return dst[:start], false
	}
	return out, true
}

// writeAnswer writes one answer to a UDP client.
func (s *Server) writeAnswer(c *net.UDPConn, to netip.AddrPort, b []byte) {
	if _, err := c.WriteToUDPAddrPort(b, to); err != nil {
		s.log.Debug("writing an answer failed", "client", to.Addr().String(), "err", err)
	}
}

// sinkSize is how many answers an answerSink holds before it writes
// them.
const sinkSize = 32

// answerSink keeps the answers written during one batch of upstream
// answers, for one upstream socket's reader, and writes them to the
// clients when the batch ends: with one sendmmsg per listening socket on
// Linux (sendAnswers). It lasts as long as the reader.
type answerSink struct {
	s     *Server
	n     int
	conns [sinkSize]*net.UDPConn
	to    [sinkSize]netip.AddrPort
	lens  [sinkSize]int
	bufs  [sinkSize][UDPSize]byte
	out   *answerBatch // the OS's batch (udp_linux.go, udp_other.go)
}

// next returns the buffer for the next answer, writing the ones held
// first if the sink is full.
func (k *answerSink) next() []byte {
	if k.n == sinkSize {
		k.Flush()
	}
	return k.bufs[k.n][:0]
}

// add keeps the answer b, written into the buffer next returned.
func (k *answerSink) add(c *net.UDPConn, to netip.AddrPort, b []byte) {
	if len(b) > UDPSize || &b[0] != &k.bufs[k.n][0] {
		k.s.writeAnswer(c, to, b) // it outgrew its buffer: the slow path packed it elsewhere
		return
	}
	k.conns[k.n], k.to[k.n], k.lens[k.n] = c, to, len(b)
	k.n++
}

// Flush writes the answers held, grouped by the socket they leave from.
func (k *answerSink) Flush() {
	for i := 0; i < k.n; {
		j := i + 1
		for j < k.n && k.conns[j] == k.conns[i] {
			j++
		}
		k.sendGroup(i, j)
		i = j
	}
	clear(k.conns[:k.n])
	k.n = 0
}
