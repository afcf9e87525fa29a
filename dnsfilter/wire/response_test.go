package wire

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"

	"github.com/miekg/dns"
)

// rebuild writes the response r read from pkt back out uncompressed, the
// way a caller of AppendRecord does.
func rebuild(pkt []byte, r *Response) []byte {
	out := binary.BigEndian.AppendUint16(nil, r.ID)
	out = binary.BigEndian.AppendUint16(out, r.Flags)
	out = binary.BigEndian.AppendUint16(out, 1)
	for _, n := range r.Counts {
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	}
	out = AppendName(out, pkt, HeaderLen)
	out = binary.BigEndian.AppendUint16(out, r.Qtype)
	out = binary.BigEndian.AppendUint16(out, r.Qclass)
	for i := range r.N {
		out, _ = AppendRecord(out, pkt, &r.Records[i], r.Records[i].TTL)
	}
	return out
}

func response(t testing.TB, q string, qtype uint16, edit func(m *dns.Msg), rrs ...string) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(q, qtype)
	m.Response = true
	m.RecursionAvailable = true
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		if rr.Header().Rrtype == dns.TypeSOA {
			m.Ns = append(m.Ns, rr)
		} else {
			m.Answer = append(m.Answer, rr)
		}
	}
	if edit != nil {
		edit(m)
	}
	return m
}

func TestParseResponse(t *testing.T) {
	for _, tt := range []struct {
		name     string
		msg      *dns.Msg
		compress bool
		raw      func([]byte) []byte
		ok       bool
	}{
		{name: "A", msg: response(t, "www.Example.org.", dns.TypeA, nil, "www.example.org. 300 IN A 192.0.2.1", "www.example.org. 300 IN A 192.0.2.2"), ok: true},
		{name: "AAAA with EDNS", msg: response(t, "example.org.", dns.TypeAAAA, func(m *dns.Msg) { m.SetEdns0(1232, true) }, "example.org. 300 IN AAAA 2001:db8::1"), ok: true},
		{name: "CNAME chain compressed", compress: true, msg: response(t, "a.example.org.", dns.TypeA, nil,
			"a.example.org. 60 IN CNAME b.example.org.", "b.example.org. 60 IN CNAME c.cdn.example.net.", "c.cdn.example.net. 20 IN A 192.0.2.3"), ok: true},
		{name: "NXDOMAIN with SOA compressed", compress: true, msg: response(t, "nx.example.org.", dns.TypeA, func(m *dns.Msg) { m.Rcode = dns.RcodeNameError },
			"example.org. 300 IN SOA ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 60"), ok: true},
		{name: "NS in authority", compress: true, msg: response(t, "example.org.", dns.TypeA, func(m *dns.Msg) {
			ns, _ := dns.NewRR("example.org. 300 IN NS ns1.example.org.")
			glue, _ := dns.NewRR("ns1.example.org. 300 IN A 192.0.2.53")
			m.Ns = append(m.Ns, ns)
			m.Extra = append(m.Extra, glue)
		}, "example.org. 300 IN A 192.0.2.1"), ok: true},
		{name: "underscore and star", msg: response(t, "_x.example.org.", dns.TypeCNAME, nil, "_x.example.org. 60 IN CNAME *.example.org."), ok: true},
		{name: "MX", msg: response(t, "example.org.", dns.TypeMX, nil, "example.org. 300 IN MX 10 mail.example.org.")},
		{name: "HTTPS", msg: response(t, "example.org.", dns.TypeHTTPS, nil, "example.org. 300 IN HTTPS 1 . alpn=h2")},
		{name: "escaped name", msg: response(t, `a\.b.example.org.`, dns.TypeA, nil, `a\.b.example.org. 300 IN A 192.0.2.1`)},
		{name: "OPT with option", msg: response(t, "example.org.", dns.TypeA, func(m *dns.Msg) {
			m.SetEdns0(1232, false)
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: "abcd"})
		}, "example.org. 300 IN A 192.0.2.1")},
		{name: "extended rcode", msg: response(t, "example.org.", dns.TypeA, func(m *dns.Msg) { m.SetEdns0(1232, false); m.Rcode = dns.RcodeBadVers })},
		{name: "query", msg: new(dns.Msg).SetQuestion("example.org.", dns.TypeA)},
		{name: "trailing byte", msg: response(t, "example.org.", dns.TypeA, nil, "example.org. 300 IN A 192.0.2.1"), raw: func(b []byte) []byte { return append(b, 0) }},
		{name: "count too high", msg: response(t, "example.org.", dns.TypeA, nil, "example.org. 300 IN A 192.0.2.1"), raw: func(b []byte) []byte { b[7]++; return b }},
		{name: "cut short", msg: response(t, "example.org.", dns.TypeA, nil, "example.org. 300 IN A 192.0.2.1"), raw: func(b []byte) []byte { return b[:len(b)-1] }},
		{name: "forward pointer", msg: response(t, "example.org.", dns.TypeA, nil, "example.org. 300 IN A 192.0.2.1"), raw: func(b []byte) []byte {
			// The answer's owner name points at itself.
			end := HeaderLen + len("\x07example\x03org\x00") + 4
			b = append(b[:end], append([]byte{0xc0, byte(end)}, b[end+len("\x07example\x03org\x00"):]...)...)
			return b
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.msg.Compress = tt.compress
			pkt, err := tt.msg.Pack()
			if err != nil {
				t.Fatal(err)
			}
			if tt.raw != nil {
				pkt = tt.raw(pkt)
			}
			var r Response
			if got := ParseResponse(pkt, &r); got != tt.ok {
				t.Fatalf("ParseResponse = %v, want %v\n%x", got, tt.ok, pkt)
			}
			if !tt.ok {
				return
			}
			tt.msg.Compress = false
			want, _ := tt.msg.Pack()
			if got := rebuild(pkt, &r); !bytes.Equal(got, want) {
				t.Errorf("rebuilt\n%x\nwant\n%x", got, want)
			}
			upper := bytes.Map(func(r rune) rune {
				if 'a' <= r && r <= 'z' {
					return r - 'a' + 'A'
				}
				return r
			}, AppendName(nil, pkt, HeaderLen))
			if !EqualNameFold(pkt, HeaderLen, upper) || EqualNameFold(pkt, HeaderLen, []byte("\x01x\x00")) {
				t.Error("the question's name is not equal to itself in upper case")
			}
		})
	}
}

func TestAppendPresentation(t *testing.T) {
	m := response(t, "a.example.org.", dns.TypeA, nil, "a.example.org. 60 IN CNAME Www.Instagram.com.", "www.instagram.com. 60 IN A 192.0.2.9")
	m.Compress = true
	pkt, _ := m.Pack()
	var r Response
	if !ParseResponse(pkt, &r) {
		t.Fatal("not parsed")
	}
	if got := string(AppendPresentation(nil, pkt, r.Records[0].Data)); got != "Www.Instagram.com." {
		t.Errorf("CNAME target %q", got)
	}
	root := []byte{0}
	if got := string(AppendPresentation(nil, root, 0)); got != "." {
		t.Errorf("root %q", got)
	}
}

func TestParseResponseDoesNotAllocate(t *testing.T) {
	m := response(t, "a.example.org.", dns.TypeA, func(m *dns.Msg) { m.SetEdns0(1232, false) },
		"a.example.org. 60 IN CNAME b.example.org.", "b.example.org. 60 IN A 192.0.2.3")
	m.Compress = true
	pkt, _ := m.Pack()
	var r Response
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() {
		if !ParseResponse(pkt, &r) {
			t.Fatal("not parsed")
		}
		out := buf[:0]
		for i := range r.N {
			out, _ = AppendRecord(out, pkt, &r.Records[i], 30)
		}
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// FuzzResponse checks ParseResponse against miekg/dns: whatever it
// accepts, miekg unpacks, with the same header and question, and packs
// uncompressed to exactly what AppendName and AppendRecord write.
func FuzzResponse(f *testing.F) {
	for _, m := range []*dns.Msg{
		response(f, "a.example.org.", dns.TypeA, nil, "a.example.org. 60 IN CNAME b.example.org.", "b.example.org. 60 IN A 192.0.2.3"),
		response(f, "nx.example.org.", dns.TypeAAAA, func(m *dns.Msg) { m.Rcode = dns.RcodeNameError; m.SetEdns0(1232, true) },
			"example.org. 300 IN SOA ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 60"),
		response(f, "example.org.", dns.TypeNS, func(m *dns.Msg) {
			ns, _ := dns.NewRR("example.org. 300 IN NS ns1.example.org.")
			m.Answer = append(m.Answer, ns)
			m.Extra = append(m.Extra, &dns.A{Hdr: dns.RR_Header{Name: "ns1.example.org.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1}, A: net.IPv4(192, 0, 2, 1)})
		}),
	} {
		for _, c := range []bool{false, true} {
			m.Compress = c
			b, err := m.Pack()
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		var r Response
		if !ParseResponse(pkt, &r) {
			return
		}
		var m dns.Msg
		if err := m.Unpack(pkt); err != nil {
			t.Fatalf("ParseResponse accepted what miekg/dns cannot unpack: %v\n%x", err, pkt)
		}
		if m.Id != r.ID || m.Rcode != r.Rcode() || !m.Response || len(m.Question) != 1 ||
			m.Question[0].Qtype != r.Qtype || m.Question[0].Qclass != r.Qclass {
			t.Fatalf("header or question differ: %v\n%+v", &m, r)
		}
		if got := string(AppendPresentation(nil, pkt, HeaderLen)); got != m.Question[0].Name {
			t.Fatalf("question name %q, miekg %q", got, m.Question[0].Name)
		}
		m.Compress = false
		want, err := m.Pack()
		if err != nil {
			t.Fatalf("miekg/dns cannot pack what it unpacked: %v", err)
		}
		if got := rebuild(pkt, &r); !bytes.Equal(got, want) {
			t.Fatalf("rebuilt\n%x\nmiekg\n%x", got, want)
		}
	})
}
