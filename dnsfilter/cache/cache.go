// Package cache keeps upstream answers, positive and negative (RFC 2308),
// for as long as their TTLs allow, and expired ones for a day more so they
// can be served stale (RFC 8767) when no upstream answers.
//
// Answers are kept packed, in wire form, with the offset of every TTL, so
// that a hit costs one map probe under a shard lock and can be written out
// with the ID and TTLs patched in place (AppendWire) without unpacking.
// The wire form is uncompressed, as miekg/dns packs an answer that fits
// its UDP size, so that the filter's fast path can send it as it is. The
// package knows nothing of what is blocked and never asks an upstream: the
// caller decides what to store and checks what it serves.
package cache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/wire"
)

// StaleFor is how long after it expired an answer may still be served
// stale (RFC 8767 suggests one to three days).
const StaleFor = 24 * time.Hour

// StaleTTL is the TTL of every record in a stale answer (RFC 8767's
// recommended 30 s), so that clients ask again soon.
const StaleTTL = 30

// DefaultSize is the number of answers kept when Options.Size is zero.
const DefaultSize = 10000

// Key identifies an answer: the question and the DNSSEC bits that change
// what an upstream answers.
type Key struct {
	Name   string // lower-case, fully qualified
	Qtype  uint16
	Qclass uint16
	DO     bool // the DNSSEC OK bit: answers with signatures
	CD     bool // checking disabled: the answer may be unvalidated
}

// KeyOf returns the key of question q. It allocates only when the name
// has upper-case letters.
func KeyOf(q *dns.Msg) Key {
	qq := q.Question[0]
	k := Key{Name: strings.ToLower(qq.Name), Qtype: qq.Qtype, Qclass: qq.Qclass, CD: q.CheckingDisabled}
	if o := q.IsEdns0(); o != nil {
		k.DO = o.Do()
	}
	return k
}

// Options configure a Cache. The zero value of each field is documented.
type Options struct {
	// Size bounds the number of answers kept, fresh and stale together;
	// the least recently used goes first. Zero: DefaultSize.
	Size int
	// MinTTL raises shorter TTLs to it. Zero: TTLs are not raised.
	MinTTL time.Duration
	// MaxTTL lowers longer TTLs to it. Zero: 24 hours.
	MaxTTL time.Duration
	// Now tells the time. Nil: time.Now.
	Now func() time.Time
}

// Cache is a bounded set of answers, safe for concurrent use. Lookups of
// different names rarely share a lock: the entries are spread over shards.
type Cache struct {
	shards []shard
	mask   uint64
	seed   maphash.Seed
	min    uint32
	max    uint32
	now    func() time.Time
}

type shard struct {
	mu    sync.Mutex
	m     map[Key]*entry
	limit int
	lru   entry // sentinel: lru.next is the most recently used
}

// entry is one answer. Everything but the list links is immutable once
// stored, so a Hit may read it without the lock.
type entry struct {
	key        Key
	wire       []byte   // the packed answer, ID 0, no OPT record, uncompressed
	ttls       []uint16 // offset in wire of each record's TTL
	exact      bool     // unpacking wire and packing it again gives wire
	redirects  []string // CNAME, DNAME, HTTPS and SVCB targets in the answer
	stored     time.Time
	ttl        uint32 // seconds the answer is fresh
	prev, next *entry
}

// New returns an empty cache.
func New(o Options) *Cache {
	size := o.Size
	if size <= 0 {
		size = DefaultSize
	}
	maxTTL := o.MaxTTL
	if maxTTL <= 0 {
		maxTTL = 24 * time.Hour
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	// Shards keep concurrent lookups apart; a small cache keeps one so the
	// bound is an exact least-recently-used order.
	n := 1
	for n < 32 && size/(n*2) >= 256 {
		n *= 2
	}
	c := &Cache{
		shards: make([]shard, n),
		mask:   uint64(n - 1),
		seed:   maphash.MakeSeed(),
		min:    seconds(o.MinTTL),
		max:    seconds(maxTTL),
		now:    now,
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.m = make(map[Key]*entry)
		s.limit = size / n
		if i < size%n {
			s.limit++
		}
		s.lru.next, s.lru.prev = &s.lru, &s.lru
	}
	return c
}

func seconds(d time.Duration) uint32 {
	s := d / time.Second
	if s > 1<<31-1 {
		return 1<<31 - 1
	}
	return uint32(max(s, 0))
}

func (c *Cache) shard(k Key) *shard {
	h := maphash.String(c.seed, k.Name) ^ uint64(k.Qtype)*0x9e3779b97f4a7c15
	return &c.shards[h&c.mask]
}

// Len returns the number of answers kept, fresh or stale.
func (c *Cache) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// Hit is an answer found in the cache. Its zero value is no answer.
type Hit struct {
	e     *entry
	age   uint32
	stale bool
}

// Get returns the fresh answer for k, if there is one.
func (c *Cache) Get(k Key) (Hit, bool) {
	return c.get(k, false)
}

// Stale returns the answer for k if it expired less than StaleFor ago (or
// is still fresh), with every TTL set to StaleTTL when expired. Call it
// only when no upstream could answer.
func (c *Cache) Stale(k Key) (Hit, bool) {
	return c.get(k, true)
}

func (c *Cache) get(k Key, stale bool) (Hit, bool) {
	now := c.now()
	s := c.shard(k)
	s.mu.Lock()
	e := s.m[k]
	if e == nil {
		s.mu.Unlock()
		return Hit{}, false
	}
	age := now.Sub(e.stored)
	if age < 0 {
		age = 0
	}
	fresh := age < time.Duration(e.ttl)*time.Second
	if !fresh && age >= time.Duration(e.ttl)*time.Second+StaleFor {
		s.remove(e)
		s.mu.Unlock()
		return Hit{}, false
	}
	if !fresh && !stale {
		s.mu.Unlock()
		return Hit{}, false
	}
	s.touch(e)
	s.mu.Unlock()
	return Hit{e: e, age: uint32(age / time.Second), stale: !fresh}, true
}

// Stale reports whether the hit is an expired answer served stale.
func (h Hit) Stale() bool { return h.stale }

// TTL returns the seconds the answer stays fresh, or StaleTTL for a stale
// one.
func (h Hit) TTL() uint32 {
	if h.stale {
		return StaleTTL
	}
	return h.e.ttl - h.age
}

// AppendWire appends the answer in wire form to dst with ID id and every
// TTL lowered by the time it spent in the cache (StaleTTL when stale). The
// question is spelled as the first client that asked; the answer has no
// OPT record and no compressed names. It does not allocate when dst has
// room.
func (h Hit) AppendWire(dst []byte, id uint16) []byte {
	return h.AppendWireCapped(dst, id, 0)
}

// AppendWireCapped is AppendWire with every TTL also lowered to capTTL
// when capTTL is not zero.
func (h Hit) AppendWireCapped(dst []byte, id uint16, capTTL uint32) []byte {
	start := len(dst)
	dst = append(dst, h.e.wire...)
	out := dst[start:]
	binary.BigEndian.PutUint16(out, id)
	for _, off := range h.e.ttls {
		ttl := uint32(StaleTTL)
		if !h.stale {
			ttl = uint32(max(int64(binary.BigEndian.Uint32(out[off:]))-int64(h.age), 0))
		}
		if capTTL > 0 {
			ttl = min(ttl, capTTL)
		}
		binary.BigEndian.PutUint32(out[off:], ttl)
	}
	return dst
}

// Len returns the length of the answer in wire form.
func (h Hit) Len() int { return len(h.e.wire) }

// Exact reports whether the wire form is exactly what miekg/dns packs,
// uncompressed, for the message unpacked from it: only then may the wire
// form be sent in place of an unpacked and repacked answer.
func (h Hit) Exact() bool { return h.e.exact }

// Redirects returns the targets of the CNAME, DNAME, HTTPS and SVCB
// records in the answer section, as miekg/dns spells them. The slice is
// shared: do not modify it.
func (h Hit) Redirects() []string { return h.e.redirects }

// Msg returns the answer unpacked, as AppendWire would write it. The
// caller owns the message.
func (h Hit) Msg(id uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	if err := m.Unpack(h.AppendWire(make([]byte, 0, len(h.e.wire)), id)); err != nil {
		return nil, err
	}
	return m, nil
}

// Put stores the answer m to the question k, if it can be cached: a
// NOERROR answer with records, or a negative answer (NXDOMAIN or NODATA)
// whose authority section carries an SOA. Its TTLs are clamped to the
// cache's bounds and to capTTL when capTTL is not zero, and every record's
// TTL is raised to the answer's if lower, so that no record outlives the
// answer. m is not modified. Put reports whether it stored the answer.
func (c *Cache) Put(k Key, m *dns.Msg, capTTL uint32) bool {
	if m.Truncated || len(m.Question) != 1 {
		return false
	}
	ttl, ok := answerTTL(m)
	if !ok {
		return false
	}
	ttl = min(max(ttl, c.min), c.max)
	if capTTL > 0 {
		ttl = min(ttl, capTTL)
	}
	if ttl == 0 {
		return false
	}
	cp := m.Copy()
	cp.Id = 0
	cp.Compress = false
	extra := cp.Extra[:0]
	for _, rr := range cp.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			extra = append(extra, rr)
		}
	}
	cp.Extra = extra
	for _, sec := range [][]dns.RR{cp.Answer, cp.Ns, cp.Extra} {
		for _, rr := range sec {
			h := rr.Header()
			t := max(h.Ttl, ttl)
			t = min(t, c.max)
			if capTTL > 0 {
				t = min(t, capTTL)
			}
			if _, isSOA := rr.(*dns.SOA); isSOA && negative(m) {
				t = ttl // RFC 2308: the SOA's TTL is the negative TTL
			}
			h.Ttl = t
		}
	}
	wire, err := cp.Pack()
	if err != nil || len(wire) > 65535 {
		return false
	}
	offs, err := ttlOffsets(wire)
	if err != nil {
		return false
	}
	c.store(&entry{key: k, wire: wire, ttls: offs, exact: repacks(wire), redirects: redirects(cp), stored: c.now(), ttl: ttl})
	return true
}

// store keeps e, in place of any answer to the same question, making room
// by dropping the least recently used.
func (c *Cache) store(e *entry) {
	s := c.shard(e.key)
	s.mu.Lock()
	if old := s.m[e.key]; old != nil {
		s.remove(old)
	}
	for len(s.m) >= s.limit && s.lru.prev != &s.lru {
		s.remove(s.lru.prev)
	}
	s.m[e.key] = e
	s.pushFront(e)
	s.mu.Unlock()
}

// PutPacket stores the answer in pkt, which wire.ParseResponse has read
// into r, exactly as Put would store the message miekg/dns unpacks from
// pkt, without unpacking it: the same TTL rules, the same uncompressed
// wire form. It reports whether it stored the answer.
func (c *Cache) PutPacket(k Key, pkt []byte, r *wire.Response, capTTL uint32) bool {
	if r.Truncated() {
		return false
	}
	ttl, ok := packetTTL(pkt, r)
	if !ok {
		return false
	}
	ttl = min(max(ttl, c.min), c.max)
	if capTTL > 0 {
		ttl = min(ttl, capTTL)
	}
	if ttl == 0 {
		return false
	}
	neg := packetNegative(r)
	var buf [4096]byte
	out := binary.BigEndian.AppendUint16(buf[:0], 0)
	out = binary.BigEndian.AppendUint16(out, r.Flags)
	out = binary.BigEndian.AppendUint16(out, 1)
	ar := r.Counts[wire.Additional]
	if r.OPT >= 0 {
		ar--
	}
	out = binary.BigEndian.AppendUint16(out, uint16(r.Counts[wire.Answer]))
	out = binary.BigEndian.AppendUint16(out, uint16(r.Counts[wire.Authority]))
	out = binary.BigEndian.AppendUint16(out, uint16(ar))
	out = wire.AppendName(out, pkt, wire.HeaderLen)
	out = binary.BigEndian.AppendUint16(out, r.Qtype)
	out = binary.BigEndian.AppendUint16(out, r.Qclass)
	offs := make([]uint16, 0, r.N)
	var redir []string
	for i := range r.N {
		rec := &r.Records[i]
		if rec.Type == wire.TypeOPT {
			continue
		}
		t := min(max(rec.TTL, ttl), c.max)
		if capTTL > 0 {
			t = min(t, capTTL)
		}
		if rec.Type == wire.TypeSOA && neg {
			t = ttl // RFC 2308: the SOA's TTL is the negative TTL
		}
		var at int
		out, at = wire.AppendRecord(out, pkt, rec, t)
		if len(out) > 65535 {
			return false
		}
		offs = append(offs, uint16(at))
		if rec.Section == wire.Answer && rec.Type == wire.TypeCNAME {
			var name [wire.MaxName + 1]byte
			redir = append(redir, string(wire.AppendPresentation(name[:0], pkt, rec.Data)))
		}
	}
	c.store(&entry{key: k, wire: bytes.Clone(out), ttls: offs, exact: true, redirects: redir, stored: c.now(), ttl: ttl})
	return true
}

// packetNegative is negative for a parsed response.
func packetNegative(r *wire.Response) bool {
	rc := r.Rcode()
	return rc == dns.RcodeNameError || (rc == dns.RcodeSuccess && r.Counts[wire.Answer] == 0)
}

// packetTTL is answerTTL for a parsed response.
func packetTTL(pkt []byte, r *wire.Response) (uint32, bool) {
	if rc := r.Rcode(); rc != dns.RcodeSuccess && rc != dns.RcodeNameError {
		return 0, false
	}
	ttl, any := uint32(1<<31-1), false
	lower := func(t uint32) { ttl, any = min(ttl, t), true }
	an := r.Counts[wire.Answer]
	for i := range an {
		lower(r.Records[i].TTL)
	}
	if packetNegative(r) {
		for i := an; i < an+r.Counts[wire.Authority]; i++ {
			if rec := &r.Records[i]; rec.Type == wire.TypeSOA {
				lower(min(rec.TTL, binary.BigEndian.Uint32(pkt[rec.DataEnd-4:])))
				return ttl, true
			}
		}
		return 0, false
	}
	for i := an; i < r.N; i++ {
		if r.Records[i].Type != wire.TypeOPT {
			lower(r.Records[i].TTL)
		}
	}
	return ttl, any
}

// repacks reports whether wire, unpacked and packed again uncompressed,
// gives the same bytes. It costs an unpack and a pack on each Put (which
// follows an upstream exchange) and buys every hit the right to skip both.
func repacks(wire []byte) bool {
	var m dns.Msg
	if m.Unpack(wire) != nil {
		return false
	}
	again, err := m.Pack()
	return err == nil && bytes.Equal(again, wire)
}

// redirects lists the targets of the records that lead elsewhere.
func redirects(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.CNAME:
			out = append(out, rr.Target)
		case *dns.DNAME:
			out = append(out, rr.Target)
		case *dns.HTTPS:
			out = append(out, rr.Target)
		case *dns.SVCB:
			out = append(out, rr.Target)
		}
	}
	return out
}

func negative(m *dns.Msg) bool {
	return m.Rcode == dns.RcodeNameError || (m.Rcode == dns.RcodeSuccess && len(m.Answer) == 0)
}

// answerTTL returns how long m may be cached before any clamping: the
// lowest TTL of its records, and for a negative answer no longer than its
// SOA's minimum (RFC 2308 section 5).
func answerTTL(m *dns.Msg) (uint32, bool) {
	if m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError {
		return 0, false
	}
	ttl, any := uint32(1<<31-1), false
	lower := func(t uint32) { ttl, any = min(ttl, t), true }
	for _, rr := range m.Answer {
		lower(rr.Header().Ttl)
	}
	if negative(m) {
		var soa *dns.SOA
		for _, rr := range m.Ns {
			if s, ok := rr.(*dns.SOA); ok {
				soa = s
				break
			}
		}
		if soa == nil {
			// Without an SOA there is no negative TTL to honour
			// (RFC 2308 section 5: do not cache it).
			return 0, false
		}
		lower(min(soa.Hdr.Ttl, soa.Minttl))
		return ttl, true
	}
	for _, sec := range [][]dns.RR{m.Ns, m.Extra} {
		for _, rr := range sec {
			if rr.Header().Rrtype != dns.TypeOPT {
				lower(rr.Header().Ttl)
			}
		}
	}
	return ttl, any
}

var errShort = errors.New("cache: answer shorter than its header says")

// ttlOffsets walks a packed message and returns the offset of the TTL of
// every record but OPT.
func ttlOffsets(b []byte) ([]uint16, error) {
	if len(b) < 12 {
		return nil, errShort
	}
	qd := int(binary.BigEndian.Uint16(b[4:]))
	rrs := int(binary.BigEndian.Uint16(b[6:])) + int(binary.BigEndian.Uint16(b[8:])) + int(binary.BigEndian.Uint16(b[10:]))
	off := 12
	var err error
	for range qd {
		if off, err = skipName(b, off); err != nil {
			return nil, err
		}
		off += 4
	}
	out := make([]uint16, 0, rrs)
	for range rrs {
		if off, err = skipName(b, off); err != nil {
			return nil, err
		}
		if off+10 > len(b) {
			return nil, errShort
		}
		typ := binary.BigEndian.Uint16(b[off:])
		if typ != dns.TypeOPT {
			out = append(out, uint16(off+4))
		}
		off += 10 + int(binary.BigEndian.Uint16(b[off+8:]))
	}
	if off > len(b) {
		return nil, errShort
	}
	return out, nil
}

// skipName returns the offset just after the name at off.
func skipName(b []byte, off int) (int, error) {
	for {
		if off >= len(b) {
			return 0, errShort
		}
		l := int(b[off])
		switch {
		case l == 0:
			return off + 1, nil
		case l&0xc0 == 0xc0: // a compression pointer ends the name
			return off + 2, nil
		case l&0xc0 != 0:
			return 0, errors.New("cache: unknown label type")
		}
		off += 1 + l
	}
}

func (s *shard) pushFront(e *entry) {
	e.prev, e.next = &s.lru, s.lru.next
	s.lru.next.prev = e
	s.lru.next = e
}

func (s *shard) touch(e *entry) {
	if s.lru.next == e {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	s.pushFront(e)
}

func (s *shard) remove(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	delete(s.m, e.key)
}
