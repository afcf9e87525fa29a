package wire

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func pack(t testing.TB, m *dns.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	long := strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("b", 61) + "." // 255 octets on the wire
	for _, tt := range []struct {
		name    string
		msg     func() *dns.Msg
		raw     func([]byte) []byte // edits the packed query
		ok      bool
		lower   string
		edns    bool
		do      bool
		version uint8
	}{
		{name: "plain", msg: func() *dns.Msg { return new(dns.Msg).SetQuestion("WwW.Example.org.", dns.TypeA) }, ok: true, lower: "www.example.org."},
		{name: "edns do", msg: func() *dns.Msg { return new(dns.Msg).SetQuestion("a_b-c.example.", dns.TypeHTTPS).SetEdns0(4096, true) }, ok: true, lower: "a_b-c.example.", edns: true, do: true},
		{name: "edns", msg: func() *dns.Msg { return new(dns.Msg).SetQuestion("example.", dns.TypeAAAA).SetEdns0(512, false) }, ok: true, lower: "example.", edns: true},
		{name: "longest name", msg: func() *dns.Msg { return new(dns.Msg).SetQuestion(long, dns.TypeA) }, ok: true, lower: long},
		{name: "root", msg: func() *dns.Msg { return new(dns.Msg).SetQuestion(".", dns.TypeNS) }},
		{name: "escaped dot", msg: func() *dns.Msg { return new(dns.Msg).SetQuestion(`a\.b.example.`, dns.TypeA) }},
		{name: "space", msg: func() *dns.Msg { return new(dns.Msg).SetQuestion(`a\032b.example.`, dns.TypeA) }},
		{name: "response", msg: func() *dns.Msg { m := new(dns.Msg).SetQuestion("example.", dns.TypeA); m.Response = true; return m }},
		{name: "update", msg: func() *dns.Msg {
			m := new(dns.Msg).SetQuestion("example.", dns.TypeA)
			m.Opcode = dns.OpcodeUpdate
			return m
		}},
		{name: "tc", msg: func() *dns.Msg { m := new(dns.Msg).SetQuestion("example.", dns.TypeA); m.Truncated = true; return m }},
		{name: "two questions", msg: func() *dns.Msg {
			m := new(dns.Msg).SetQuestion("example.", dns.TypeA)
			m.Question = append(m.Question, m.Question[0])
			return m
		}},
		{name: "cookie", msg: func() *dns.Msg {
			m := new(dns.Msg).SetQuestion("example.", dns.TypeA).SetEdns0(1232, false)
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
			return m
		}},
		{name: "edns version 1", msg: func() *dns.Msg {
			m := new(dns.Msg).SetQuestion("example.", dns.TypeA).SetEdns0(1232, false)
			m.IsEdns0().SetVersion(1)
			return m
		}, ok: true, lower: "example.", edns: true, version: 1},
		{name: "trailing byte", msg: func() *dns.Msg { return new(dns.Msg).SetQuestion("example.", dns.TypeA) }, raw: func(b []byte) []byte { return append(b, 0) }},
		{name: "short", msg: func() *dns.Msg { return new(dns.Msg).SetQuestion("example.", dns.TypeA) }, raw: func(b []byte) []byte { return b[:len(b)-1] }},
		{name: "pointer", msg: func() *dns.Msg { return new(dns.Msg).SetQuestion("example.", dns.TypeA) }, raw: func(b []byte) []byte {
			return append(b[:12], 0xc0, 12, 0, 1, 0, 1)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := pack(t, tt.msg())
			if tt.raw != nil {
				b = tt.raw(b)
			}
			var buf [MaxName]byte
			q, ok := Parse(b, &buf)
			if ok != tt.ok {
				t.Fatalf("Parse = %v, want %v", ok, tt.ok)
			}
			if !tt.ok {
				return
			}
			if string(q.Name) != tt.lower || q.EDNS != tt.edns || q.DO != tt.do || q.Version != tt.version {
				t.Errorf("got name %q edns %v do %v version %d, want %q %v %v %d", q.Name, q.EDNS, q.DO, q.Version, tt.lower, tt.edns, tt.do, tt.version)
			}
		})
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	b := pack(t, new(dns.Msg).SetQuestion("www.Example.org.", dns.TypeA).SetEdns0(1232, true))
	var buf [MaxName]byte
	if n := testing.AllocsPerRun(100, func() { Parse(b, &buf) }); n != 0 {
		t.Errorf("Parse allocates %v times", n)
	}
}

// FuzzParse checks Parse against miekg/dns: whatever Parse accepts, miekg
// reads the same way.
func FuzzParse(f *testing.F) {
	for _, m := range []*dns.Msg{
		new(dns.Msg).SetQuestion("www.Example.org.", dns.TypeA),
		new(dns.Msg).SetQuestion("instagram.com.", dns.TypeHTTPS).SetEdns0(4096, true),
		new(dns.Msg).SetQuestion("_dns.resolver.arpa.", dns.TypeSVCB).SetEdns0(1232, false),
	} {
		f.Add(pack(f, m))
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		var buf [MaxName]byte
		q, ok := Parse(pkt, &buf)
		if !ok {
			return
		}
		var m dns.Msg
		if err := m.Unpack(pkt); err != nil {
			t.Fatalf("Parse accepted a packet miekg/dns rejects: %v", err)
		}
		if len(m.Question) != 1 || m.Response || m.Opcode != dns.OpcodeQuery || len(m.Answer)+len(m.Ns) != 0 {
			t.Fatalf("Parse accepted %v", &m)
		}
		qq := m.Question[0]
		if strings.ToLower(qq.Name) != string(q.Name) || qq.Qtype != q.Qtype || qq.Qclass != q.Qclass {
			t.Fatalf("Parse read %q %d %d, miekg/dns %q %d %d", q.Name, q.Qtype, q.Qclass, qq.Name, qq.Qtype, qq.Qclass)
		}
		if m.Id != q.ID || m.RecursionDesired != q.RD() || m.CheckingDisabled != q.CD() {
			t.Fatalf("header: Parse %+v, miekg/dns %+v", q, m.MsgHdr)
		}
		o := m.IsEdns0()
		if (o != nil) != q.EDNS || (o != nil && (o.UDPSize() != q.UDPSize || o.Do() != q.DO || o.Version() != q.Version || len(o.Option) != 0)) {
			t.Fatalf("EDNS: Parse %+v, miekg/dns %v", q, o)
		}
		if string(pkt[HeaderLen:q.NameEnd]) == "" || q.QuestionEnd != q.NameEnd+4 {
			t.Fatalf("offsets %d %d", q.NameEnd, q.QuestionEnd)
		}
	})
}
