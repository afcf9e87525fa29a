// Package wire reads a DNS query straight from the packet, without
// building a dns.Msg, for the filter's fast path.
//
// It accepts only the plain shape that stub resolvers send: one question,
// no answer or authority records, at most one OPT record without options,
// a name of letters, digits, '-' and '_' written without compression
// pointers. For anything else Parse reports false and the caller hands the
// packet to miekg/dns, which stays the parser for everything unusual. Parse
// never panics and never allocates; it knows nothing of what is blocked or
// cached.
package wire

import "encoding/binary"

// Header flag bits in the second 16 bits of a DNS header.
const (
	FlagQR = 1 << 15 // a response
	FlagAA = 1 << 10 // authoritative answer
	FlagTC = 1 << 9  // truncated
	FlagRD = 1 << 8  // recursion desired
	FlagRA = 1 << 7  // recursion available
	FlagZ  = 1 << 6  // reserved, must be zero
	FlagAD = 1 << 5  // authentic data
	FlagCD = 1 << 4  // checking disabled

	opcodeMask = 0xf << 11
	rcodeMask  = 0xf
)

// HeaderLen is the length of a DNS header.
const HeaderLen = 12

// MaxName is the longest name in wire form (RFC 1035 section 3.1), and so
// also the room Parse needs for a name in presentation form.
const MaxName = 255

const typeOPT = 41

// Query is a query read by Parse.
type Query struct {
	ID    uint16
	Flags uint16 // the header's second 16 bits, as sent
	// Name is the question's name in presentation form, lower-case, with
	// the trailing dot: the bytes of the buffer given to Parse.
	Name   []byte
	Qtype  uint16
	Qclass uint16
	// NameEnd and QuestionEnd are the offsets in the packet just past the
	// question's name and just past the whole question: the client's
	// spelling of the question is packet[HeaderLen:QuestionEnd].
	NameEnd     int
	QuestionEnd int
	// EDNS reports an OPT record; UDPSize, DO and Version are its payload
	// size, DNSSEC OK bit and EDNS version (the caller answers BADVERS to
	// any but 0, RFC 6891 section 6.1.3).
	EDNS    bool
	UDPSize uint16
	DO      bool
	Version uint8
}

// RD reports whether the client asked for recursion.
func (q *Query) RD() bool { return q.Flags&FlagRD != 0 }

// CD reports whether the client disabled DNSSEC checking.
func (q *Query) CD() bool { return q.Flags&FlagCD != 0 }

// Parse reads the query in pkt, writing the lower-case name into buf. (The
// query is returned, not written through a pointer, so that a buf on the
// caller's stack can stay there.) It reports false for anything that is
// not a plain query as described in the package comment: a response, an
// opcode other than QUERY, the TC, AA or Z bits or an rcode set, another
// number of records, a compressed or unusual name, an OPT record with
// options or an extended rcode, or bytes after the
// last record.
func Parse(pkt []byte, buf *[MaxName]byte) (q Query, ok bool) {
	if len(pkt) < HeaderLen {
		return q, false
	}
	flags := binary.BigEndian.Uint16(pkt[2:])
	if flags&(FlagQR|opcodeMask|FlagTC|FlagAA|FlagZ|rcodeMask) != 0 {
		return q, false
	}
	qd := binary.BigEndian.Uint16(pkt[4:])
	an := binary.BigEndian.Uint16(pkt[6:])
	ns := binary.BigEndian.Uint16(pkt[8:])
	ar := binary.BigEndian.Uint16(pkt[10:])
	if qd != 1 || an != 0 || ns != 0 || ar > 1 {
		return q, false
	}
	q.ID = binary.BigEndian.Uint16(pkt)
	q.Flags = flags

	off, n := HeaderLen, 0
	for {
		if off >= len(pkt) {
			return q, false
		}
		l := int(pkt[off])
		off++
		if l == 0 {
			break
		}
		// l > 63 is a compression pointer or an unknown label type;
		// wire length counts each label's length byte and the final 0.
		if l > 63 || off+l > len(pkt) || off-HeaderLen+l+1 > MaxName {
			return q, false
		}
		for _, c := range pkt[off : off+l] {
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			default:
				// Anything else is written escaped in presentation
				// form: leave it to miekg/dns.
				return q, false
			}
			buf[n] = c
			n++
		}
		buf[n] = '.'
		n++
		off += l
	}
	if n == 0 { // the root: nothing to filter, leave it to the slow path
		return q, false
	}
	q.Name = buf[:n]
	q.NameEnd = off
	if off+4 > len(pkt) {
		return q, false
	}
	q.Qtype = binary.BigEndian.Uint16(pkt[off:])
	q.Qclass = binary.BigEndian.Uint16(pkt[off+2:])
	off += 4
	q.QuestionEnd = off

	if ar == 1 {
		// The OPT record: root name, type, payload size, extended rcode,
		// version, flags, and no options.
		if off+11 != len(pkt) || pkt[off] != 0 || binary.BigEndian.Uint16(pkt[off+1:]) != typeOPT {
			return q, false
		}
		if pkt[off+5] != 0 || binary.BigEndian.Uint16(pkt[off+9:]) != 0 {
			return q, false
		}
		q.EDNS = true
		q.Version = pkt[off+6]
		q.UDPSize = binary.BigEndian.Uint16(pkt[off+3:])
		q.DO = pkt[off+7]&0x80 != 0
		off += 11
	}
	return q, off == len(pkt)
}
