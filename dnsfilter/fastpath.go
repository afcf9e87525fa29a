package dnsfilter

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"net/netip"
	"strings"
	"unsafe"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/cache"
	"github.com/nocontact/nocontact/dnsfilter/match"
	"github.com/nocontact/nocontact/dnsfilter/upstream"
	"github.com/nocontact/nocontact/dnsfilter/wire"
)

// The fast path answers, straight from the packet, the two kinds of UDP
// query that make most of the traffic: names the policy blocks, and
// answers in the cache. It reads the query with package wire and writes
// the answer from bytes (the cache's wire form, or the blocked answer
// assembled in place), without a dns.Msg, a lock of its own or an
// allocation. Whatever it is not sure of (an unusual packet, a client
// outside the access list, a special name, a non-IN class, an answer that
// would need truncating, a cached answer that leads into a blocked domain)
// it leaves to the slow path, ServeDNS.
//
// What it answers must be byte for byte what ServeDNS would write for the
// same packet: TestFastPathMatchesSlowPath and FuzzFastPath compare the
// two. FASTPATH.md explains why it is built this way.

// optLen is the length of our OPT record without options.
const optLen = 11

// blockedSuffix ends the Extended DNS Error text of a blocked answer.
const blockedSuffix = " is blocked by nocontact"

// fastResult says what the fast path did with a packet.
type fastResult uint8

const (
	fastSlow     fastResult = iota // leave it to the slow path
	fastAnswered                   // the answer was appended
	fastMiss                       // a plain question for the upstreams: forward it from the packet
)

// miss is what the fast path learnt of a question it could not answer,
// for the wire-level forwarder (forward.go).
type miss struct {
	q      wire.Query // Name is nil: it pointed into the fast path's buffer
	k      cache.Key
	p      *Policy
	capTTL uint32
	allow  bool // an allow entry decides the name: no answer check
	size   int  // the largest answer the client takes over UDP
}

// fastAnswer appends to dst the answer to the UDP query pkt from src, when
// the fast path can give it, and reports whether it did. On false the
// returned slice is dst unchanged, and pkt goes to the slow path.
func (s *Server) fastAnswer(dst, pkt []byte, src netip.Addr) ([]byte, bool) {
	out, res := s.fastPath(dst, pkt, src, nil)
	return out, res == fastAnswered
}

// fastPath is fastAnswer, also telling (when m is not nil) a question
// that is neither blocked nor cached and can be forwarded straight from
// the packet: fastMiss, with m filled in.
func (s *Server) fastPath(dst, pkt []byte, src netip.Addr, m *miss) ([]byte, fastResult) {
	var buf [wire.MaxName]byte
	q, ok := wire.Parse(pkt, &buf)
	if !ok || q.Qclass != dns.ClassINET || !s.Allowed(src) {
		return dst, fastSlow
	}
	if q.EDNS && q.Version != 0 {
		return appendBadVers(dst, pkt, &q), fastAnswered
	}
	// name aliases buf: it is only looked up, never kept.
	name := unsafe.String(unsafe.SliceData(q.Name), len(q.Name))
	if upstream.IsLoopProbe(name) {
		return dst, fastSlow
	}
	p := s.policy.Load()
	if _, ok := findSpecial(name, p); ok {
		return dst, fastSlow
	}
	size := dns.MinMsgSize
	if q.EDNS {
		size = min(max(int(q.UDPSize), dns.MinMsgSize), UDPSize)
	}
	r, matched := p.Match(name)
	if matched && r.Action == match.Block {
		out, ok := appendBlocked(dst, pkt, &q, r, size)
		if ok {
			if s.log.Enabled(context.Background(), slog.LevelDebug) {
				s.log.Debug("blocked", "name", strings.Clone(name), "platform", r.Platform, "rule", r.Domain)
			}
			if s.opts.OnBlocked != nil {
				s.opts.OnBlocked(src, r)
			}
			return out, fastAnswered
		}
		return dst, fastSlow
	}
	if q.Qtype == dns.TypeANY {
		return dst, fastSlow
	}
	var capTTL uint32
	if matched && r.Action == match.Watch {
		capTTL = WatchedTTL
	}
	out, res := s.appendCached(dst, pkt, &q, name, p, r, matched, capTTL, size)
	if res == fastMiss {
		if m == nil {
			return dst, fastSlow
		}
		*m = miss{
			// Field by field, leaving Name: buf must stay on the stack.
			q: wire.Query{ID: q.ID, Flags: q.Flags, Qtype: q.Qtype, Qclass: q.Qclass, NameEnd: q.NameEnd,
				QuestionEnd: q.QuestionEnd, EDNS: q.EDNS, UDPSize: q.UDPSize, DO: q.DO},
			k:      cache.Key{Name: strings.Clone(name), Qtype: q.Qtype, Qclass: q.Qclass, DO: q.DO, CD: q.CD()},
			p:      p,
			capTTL: capTTL,
			allow:  matched && r.Action == match.Allow,
			size:   size,
		}
	}
	return out, res
}

// appendCached appends the cached answer to q, shaped as the slow path's
// shape and Truncate would: the client's ID, RD bit and spelling of the
// question, RA set, TTLs aged and capped, our OPT record when the client
// sent one, and uncompressed since it fits.
//
// It reports fastMiss when the cache has no answer at all, fresh or
// stale (a stale one is the slow path's, which serves it when the
// upstreams are slow or down).
func (s *Server) appendCached(dst, pkt []byte, q *wire.Query, name string, p *Policy, r match.Rule, matched bool, capTTL uint32, size int) ([]byte, fastResult) {
	c := s.opts.Cache
	if c == nil {
		return dst, fastMiss
	}
	h, ok := c.Stale(cache.Key{Name: name, Qtype: q.Qtype, Qclass: q.Qclass, DO: q.DO, CD: q.CD()})
	if !ok {
		return dst, fastMiss
	}
	if h.Stale() || !h.Exact() {
		return dst, fastSlow
	}
	n := h.Len()
	if q.EDNS {
		n += optLen
	}
	if n > size {
		return dst, fastSlow // the slow path truncates, or compresses to fit
	}
	start := len(dst)
	out := h.AppendWireCapped(dst, q.ID, capTTL)
	a := out[start:]
	qlen := q.QuestionEnd - wire.HeaderLen
	if len(a) < q.QuestionEnd || !bytes.EqualFold(a[wire.HeaderLen:q.QuestionEnd], pkt[wire.HeaderLen:q.QuestionEnd]) {
		return dst, fastSlow
	}
	flags := binary.BigEndian.Uint16(a[2:])
	if flags&0xf == dns.RcodeSuccess && !(matched && r.Action == match.Allow) {
		// The answer check of the slow path: a cached answer must not lead
		// into a domain blocked now. When it does, the slow path gives the
		// blocked answer.
		for _, t := range h.Redirects() {
			if _, blocked := p.Blocks(t); blocked {
				return dst, fastSlow
			}
		}
	}
	copy(a[wire.HeaderLen:], pkt[wire.HeaderLen:wire.HeaderLen+qlen])
	flags = flags&^wire.FlagRD | q.Flags&wire.FlagRD | wire.FlagRA
	binary.BigEndian.PutUint16(a[2:], flags)
	if q.EDNS {
		binary.BigEndian.PutUint16(a[10:], binary.BigEndian.Uint16(a[10:])+1)
		out = appendOPT(out, q.DO, 0)
	}
	return out, fastAnswered
}

// appendOPT appends our OPT record: payload size UDPSize, the DO bit, and
// optLen bytes of options to follow (written by the caller).
func appendOPT(dst []byte, do bool, optLen int) []byte {
	var flags byte
	if do {
		flags = 0x80
	}
	return append(dst,
		0,     // root name
		0, 41, // type OPT
		UDPSize>>8, UDPSize&0xff, // class: payload size
		0, 0, flags, 0, // extended rcode, version, flags
		byte(optLen>>8), byte(optLen))
}

// appendBadVers appends the answer to a query of an EDNS version other
// than 0, as reply(q, RcodeBadVers) packs it: the same header bits as
// any reply, the client's question, and our OPT record (version 0) with
// the extended rcode BADVERS (16: 0 in the header, 1 in the OPT).
func appendBadVers(dst, pkt []byte, q *wire.Query) []byte {
	out := binary.BigEndian.AppendUint16(dst, q.ID)
	out = binary.BigEndian.AppendUint16(out, uint16(wire.FlagQR|wire.FlagRA)|q.Flags&(wire.FlagRD|wire.FlagCD)|dns.RcodeBadVers&0xf)
	out = append(out, 0, 1, 0, 0, 0, 0, 0, 1)
	out = append(out, pkt[wire.HeaderLen:q.QuestionEnd]...)
	out = appendOPT(out, q.DO, 0)
	out[len(out)-6] = dns.RcodeBadVers >> 4
	return out
}

// appendBlocked appends blockedAnswer's answer to q, as the slow path
// packs it uncompressed: the same header bits as reply (SetReply, RA), the
// client's question, an A or AAAA record of 0.0.0.0 or :: or an SOA of the
// blocked domain, and the OPT record with the Extended DNS Error when the
// client sent EDNS. It reports false when the answer would not fit size,
// or the domain is not one it can write without escapes.
func appendBlocked(dst, pkt []byte, q *wire.Query, r match.Rule, size int) ([]byte, bool) {
	what := r.Platform
	if what == "" {
		what = r.Domain
	}
	var an, ns uint16
	n := q.QuestionEnd
	var rdata int
	switch q.Qtype {
	case dns.TypeA:
		an, rdata = 1, 4
	case dns.TypeAAAA:
		an, rdata = 1, 16
	default:
		ns = 1
	}
	nameLen := q.NameEnd - wire.HeaderLen
	if an == 1 {
		n += nameLen + 10 + rdata
	} else {
		dl, ok := nameWireLen(r.Domain)
		if !ok {
			return dst, false
		}
		n += dl + 10 + soaRdataLen
	}
	var ar uint16
	edeLen := 4 + 2 + len(what) + len(blockedSuffix)
	if q.EDNS {
		ar = 1
		n += optLen + edeLen
	}
	if n > size {
		return dst, false
	}

	flags := uint16(wire.FlagQR|wire.FlagRA) | q.Flags&(wire.FlagRD|wire.FlagCD)
	out := binary.BigEndian.AppendUint16(dst, q.ID)
	out = binary.BigEndian.AppendUint16(out, flags)
	out = binary.BigEndian.AppendUint16(out, 1)
	out = binary.BigEndian.AppendUint16(out, an)
	out = binary.BigEndian.AppendUint16(out, ns)
	out = binary.BigEndian.AppendUint16(out, ar)
	out = append(out, pkt[wire.HeaderLen:q.QuestionEnd]...)
	if an == 1 {
		out = append(out, pkt[wire.HeaderLen:q.NameEnd]...)
		out = binary.BigEndian.AppendUint16(out, q.Qtype)
		out = binary.BigEndian.AppendUint16(out, dns.ClassINET)
		out = binary.BigEndian.AppendUint32(out, BlockedTTL)
		out = binary.BigEndian.AppendUint16(out, uint16(rdata))
		for range rdata {
			out = append(out, 0)
		}
	} else {
		out, _ = appendName(out, r.Domain)
		out = binary.BigEndian.AppendUint16(out, dns.TypeSOA)
		out = binary.BigEndian.AppendUint16(out, dns.ClassINET)
		out = binary.BigEndian.AppendUint32(out, BlockedTTL)
		out = binary.BigEndian.AppendUint16(out, uint16(soaRdataLen))
		out, _ = appendName(out, soaNS)
		out, _ = appendName(out, soaMbox)
		for _, v := range [...]uint32{1, 3600, 600, 86400, BlockedTTL} { // serial, refresh, retry, expire, minimum
			out = binary.BigEndian.AppendUint32(out, v)
		}
	}
	if q.EDNS {
		out = appendOPT(out, q.DO, edeLen)
		out = binary.BigEndian.AppendUint16(out, dns.EDNS0EDE)
		out = binary.BigEndian.AppendUint16(out, uint16(edeLen-4))
		out = binary.BigEndian.AppendUint16(out, dns.ExtendedErrorCodeBlocked)
		out = append(out, what...)
		out = append(out, blockedSuffix...)
	}
	return out, true
}

// soaRdataLen is the length of the blocked SOA's data: two names and five
// numbers.
var soaRdataLen = func() int {
	a, _ := nameWireLen(soaNS)
	b, _ := nameWireLen(soaMbox)
	return a + b + 20
}()

// nameWireLen returns the length of name (presentation form, trailing dot
// or not) in wire form, and false for a name appendName cannot write.
func nameWireLen(name string) (int, bool) {
	var buf [wire.MaxName]byte
	out, ok := appendName(buf[:0], name)
	return len(out), ok
}

// appendName appends name, in presentation form with or without the
// trailing dot, in wire form. It reports false, for the slow path to
// handle, for a name with escapes, an empty or too long label, or longer
// than 255 octets.
func appendName(dst []byte, name string) ([]byte, bool) {
	name = strings.TrimSuffix(name, ".")
	start := len(dst)
	for len(name) > 0 {
		label := name
		if i := strings.IndexByte(name, '.'); i >= 0 {
			label, name = name[:i], name[i+1:]
			if name == "" {
				return dst[:start], false // "a..": an empty label
			}
		} else {
			name = ""
		}
		if len(label) == 0 || len(label) > 63 || strings.IndexByte(label, '\\') >= 0 {
			return dst[:start], false
		}
		dst = append(dst, byte(len(label)))
		dst = append(dst, label...)
	}
	dst = append(dst, 0)
	if len(dst)-start > wire.MaxName || len(dst)-start == 1 {
		return dst[:start], false
	}
	return dst, true
}
