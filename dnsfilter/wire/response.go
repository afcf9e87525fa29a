package wire

import "encoding/binary"

// Record types the response reader understands well enough to copy: their
// data is an address, one name or an SOA, so it can be written out again
// uncompressed exactly as miekg/dns would pack it after unpacking it.
const (
	TypeA     = 1
	TypeNS    = 2
	TypeCNAME = 5
	TypeSOA   = 6
	TypeAAAA  = 28
	TypeOPT   = typeOPT
)

// MaxRecords is how many records a response may hold for ParseResponse;
// a longer one is left to miekg/dns.
const MaxRecords = 32

// maxPointers bounds the compression pointers followed in one name
// (miekg/dns allows 126; every pointer must also point backwards here, so
// a name cannot loop). Honest names need one or two.
const maxPointers = 32

// Section is where in a message a record lies.
type Section uint8

// The sections of a message after the question.
const (
	Answer Section = iota
	Authority
	Additional
)

// Record is where one record of a response lies in the packet.
type Record struct {
	Name    int // offset of the owner name, which may be compressed
	Type    uint16
	Class   uint16
	TTL     uint32
	TTLAt   int // offset of the TTL
	Data    int // offset of the record data
	DataEnd int // just past it
	Section Section
}

// Response is an upstream answer read by ParseResponse.
type Response struct {
	ID    uint16
	Flags uint16 // the header's second 16 bits; the rcode is Flags&0xf
	// QuestionEnd is the offset just past the question; the question's
	// name starts at HeaderLen.
	QuestionEnd int
	Qtype       uint16
	Qclass      uint16
	// Records are the records in the order of the message; the first
	// Counts[Answer] are the answer section, and so on.
	Records [MaxRecords]Record
	N       int
	Counts  [3]int
	// OPT is the index in Records of the OPT record, or -1.
	OPT int
}

// Rcode returns the response code of the header (ParseResponse accepts
// only responses whose OPT record, if any, extends it with zero).
func (r *Response) Rcode() int { return int(r.Flags & rcodeMask) }

// Truncated reports the TC bit.
func (r *Response) Truncated() bool { return r.Flags&FlagTC != 0 }

// ParseResponse reads the response in pkt into r without building a
// dns.Msg and without allocating. It reports false for anything it is not
// sure miekg/dns would read and write back the same way, and the caller
// then leaves the response to miekg/dns: a query, a header whose counts do
// not match the records, more than MaxRecords records, a record type other
// than A, AAAA, CNAME, NS and SOA (OPT in the additional section), data
// that does not fill its length exactly, a name with bytes miekg/dns would
// escape (anything but printable ASCII other than . ; ( ) @ " ' \ and
// space), a compression pointer that does not point backwards, an OPT
// record with options or an extended rcode, more than one OPT record, or
// bytes after the last record. Whatever it accepts, miekg/dns unpacks too,
// to records that pack back to the bytes AppendRecord writes (FuzzResponse
// checks this).
func ParseResponse(pkt []byte, r *Response) bool {
	if len(pkt) < HeaderLen {
		return false
	}
	r.ID = binary.BigEndian.Uint16(pkt)
	r.Flags = binary.BigEndian.Uint16(pkt[2:])
	if r.Flags&FlagQR == 0 || binary.BigEndian.Uint16(pkt[4:]) != 1 {
		return false
	}
	an := int(binary.BigEndian.Uint16(pkt[6:]))
	ns := int(binary.BigEndian.Uint16(pkt[8:]))
	ar := int(binary.BigEndian.Uint16(pkt[10:]))
	if an+ns+ar > MaxRecords {
		return false
	}
	r.Counts = [3]int{an, ns, ar}
	r.N = 0
	r.OPT = -1
	off, ok := skipName(pkt, HeaderLen)
	if !ok || off+4 > len(pkt) {
		return false
	}
	r.Qtype = binary.BigEndian.Uint16(pkt[off:])
	r.Qclass = binary.BigEndian.Uint16(pkt[off+2:])
	off += 4
	r.QuestionEnd = off
	for sec, n := range r.Counts {
		for range n {
			rec := &r.Records[r.N]
			rec.Name = off
			rec.Section = Section(sec)
			if off, ok = skipName(pkt, off); !ok || off+10 > len(pkt) {
				return false
			}
			rec.Type = binary.BigEndian.Uint16(pkt[off:])
			rec.Class = binary.BigEndian.Uint16(pkt[off+2:])
			rec.TTLAt = off + 4
			rec.TTL = binary.BigEndian.Uint32(pkt[off+4:])
			rdlen := int(binary.BigEndian.Uint16(pkt[off+8:]))
			off += 10
			rec.Data = off
			rec.DataEnd = off + rdlen
			if rec.DataEnd > len(pkt) || !dataOK(pkt, rec) {
				return false
			}
			if rec.Type == typeOPT {
				// Only one, in the additional section, without options
				// and without an extended rcode: miekg/dns folds that
				// into the rcode, which the caller would have to carry.
				if r.OPT >= 0 || rec.Section != Additional || rdlen != 0 || pkt[rec.TTLAt] != 0 {
					return false
				}
				r.OPT = r.N
			}
			off = rec.DataEnd
			r.N++
		}
	}
	return off == len(pkt)
}

// dataOK checks a record's data for the types ParseResponse accepts.
func dataOK(pkt []byte, rec *Record) bool {
	n := rec.DataEnd - rec.Data
	switch rec.Type {
	case TypeA:
		return n == 4
	case TypeAAAA:
		return n == 16
	case TypeCNAME, TypeNS:
		end, ok := skipName(pkt[:rec.DataEnd], rec.Data)
		return ok && end == rec.DataEnd
	case TypeSOA:
		end, ok := skipName(pkt[:rec.DataEnd], rec.Data)
		if ok {
			end, ok = skipName(pkt[:rec.DataEnd], end)
		}
		return ok && end+20 == rec.DataEnd
	case typeOPT:
		return true // checked by the caller
	}
	return false
}

// plainByte reports whether miekg/dns writes b as itself in a name's
// presentation form (it escapes the rest).
func plainByte(b byte) bool {
	switch b {
	case '.', ' ', '\'', '@', ';', '(', ')', '"', '\\':
		return false
	}
	return b > ' ' && b <= '~'
}

// skipName returns the offset just past the name at off in pkt, after
// checking it: labels of plain bytes, at most MaxName octets expanded,
// pointers only backwards and within pkt.
func skipName(pkt []byte, off int) (int, bool) {
	end := -1 // where the name ends in place: after its first pointer
	total := 0
	for ptrs := 0; ; {
		if off >= len(pkt) {
			return 0, false
		}
		l := int(pkt[off])
		switch {
		case l == 0:
			if end < 0 {
				end = off + 1
			}
			return end, total+1 <= MaxName
		case l&0xc0 == 0xc0:
			if off+1 >= len(pkt) {
				return 0, false
			}
			target := (l&0x3f)<<8 | int(pkt[off+1])
			if end < 0 {
				end = off + 2
			}
			ptrs++
			if target >= off || ptrs > maxPointers {
				return 0, false
			}
			off = target
		case l > 63:
			return 0, false // 0x40 and 0x80 label types
		default:
			if off+1+l > len(pkt) {
				return 0, false
			}
			for _, c := range pkt[off+1 : off+1+l] {
				if !plainByte(c) {
					return 0, false
				}
			}
			total += l + 1
			if total+1 > MaxName {
				return 0, false
			}
			off += 1 + l
		}
	}
}

// AppendName appends the name at off in pkt, which ParseResponse has
// checked, uncompressed.
func AppendName(dst, pkt []byte, off int) []byte {
	for {
		l := int(pkt[off])
		switch {
		case l == 0:
			return append(dst, 0)
		case l&0xc0 == 0xc0:
			off = (l&0x3f)<<8 | int(pkt[off+1])
		default:
			dst = append(dst, pkt[off:off+1+l]...)
			off += 1 + l
		}
	}
}

// AppendPresentation appends the checked name at off in pkt in
// presentation form, as miekg/dns spells it: labels joined by dots, with
// the trailing dot, the root as ".".
func AppendPresentation(dst, pkt []byte, off int) []byte {
	start := len(dst)
	for {
		l := int(pkt[off])
		switch {
		case l == 0:
			if len(dst) == start {
				dst = append(dst, '.')
			}
			return dst
		case l&0xc0 == 0xc0:
			off = (l&0x3f)<<8 | int(pkt[off+1])
		default:
			dst = append(dst, pkt[off+1:off+1+l]...)
			dst = append(dst, '.')
			off += 1 + l
		}
	}
}

// EqualNameFold reports whether the name at off in pkt (possibly
// compressed) is name, an uncompressed name in wire form, ignoring ASCII
// case. It checks pkt as it goes, so pkt need not have been parsed.
func EqualNameFold(pkt []byte, off int, name []byte) bool {
	i := 0
	for ptrs := 0; ; {
		if off >= len(pkt) || i >= len(name) {
			return false
		}
		l := int(pkt[off])
		switch {
		case l&0xc0 == 0xc0:
			if off+1 >= len(pkt) {
				return false
			}
			target := (l&0x3f)<<8 | int(pkt[off+1])
			ptrs++
			if ptrs > maxPointers || target >= off {
				return false
			}
			off = target
			continue
		case l > 63:
			return false
		}
		if int(name[i]) != l || off+1+l > len(pkt) || i+1+l > len(name) {
			return false
		}
		if l == 0 {
			return true
		}
		for j := 1; j <= l; j++ {
			if lower(pkt[off+j]) != lower(name[i+j]) {
				return false
			}
		}
		off += 1 + l
		i += 1 + l
	}
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// AppendRecord appends the record rec of pkt uncompressed, with its TTL
// replaced by ttl, and returns where in the result the TTL was written.
// Its data length is that of the uncompressed data.
func AppendRecord(dst, pkt []byte, rec *Record, ttl uint32) ([]byte, int) {
	dst = AppendName(dst, pkt, rec.Name)
	dst = binary.BigEndian.AppendUint16(dst, rec.Type)
	dst = binary.BigEndian.AppendUint16(dst, rec.Class)
	ttlAt := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, ttl)
	lenAt := len(dst)
	dst = append(dst, 0, 0)
	switch rec.Type {
	case TypeCNAME, TypeNS:
		dst = AppendName(dst, pkt, rec.Data)
	case TypeSOA:
		off, _ := skipName(pkt, rec.Data)
		dst = AppendName(dst, pkt, rec.Data)
		dst = AppendName(dst, pkt, off)
		off, _ = skipName(pkt, off)
		dst = append(dst, pkt[off:off+20]...)
	default:
		dst = append(dst, pkt[rec.Data:rec.DataEnd]...)
	}
	binary.BigEndian.PutUint16(dst[lenAt:], uint16(len(dst)-lenAt-2))
	return dst, ttlAt
}
