// Package dnstest runs real DNS servers on the loopback interface for
// tests: stand-in upstreams that answer from a small table of records, or
// misbehave on purpose. It must never be imported by non-test code, and
// never listens anywhere but 127.0.0.1.
package dnstest

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Serve runs h over UDP and TCP on one free port of 127.0.0.1 until the
// test ends, and returns the address once both listeners serve.
func Serve(t testing.TB, h dns.Handler) netip.AddrPort {
	t.Helper()
	for try := 0; ; try++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			if try < 20 {
				continue
			}
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
			wg.Add(1)
			srv.NotifyStartedFunc = wg.Done
			go srv.ActivateAndServe()
			t.Cleanup(func() { srv.Shutdown() })
		}
		wg.Wait()
		return pc.LocalAddr().(*net.UDPAddr).AddrPort()
	}
}

// Zone answers from records in presentation format, like
// "example.org. 300 IN A 192.0.2.1". A name with records of other types
// gets NODATA; an unknown name NXDOMAIN. A CNAME record is returned for
// any type, followed by its target's records. Over UDP the answer is
// truncated to what the question allows, as a real server does.
type Zone struct {
	mu      sync.Mutex
	records map[string][]dns.RR // lower-case owner name → records
	queries int
}

// NewZone parses records; a bad record fails the test.
func NewZone(t testing.TB, records ...string) *Zone {
	t.Helper()
	z := &Zone{records: map[string][]dns.RR{}}
	for _, s := range records {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("dnstest: record %q: %v", s, err)
		}
		name := strings.ToLower(rr.Header().Name)
		z.records[name] = append(z.records[name], rr)
	}
	return z
}

// Queries returns how many questions the zone has answered.
func (z *Zone) Queries() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.queries
}

// ServeDNS implements dns.Handler.
func (z *Zone) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	z.mu.Lock()
	z.queries++
	z.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(q)
	m.RecursionAvailable = true
	qq := q.Question[0]
	name := strings.ToLower(qq.Name)
	rrs, ok := z.records[name]
	if !ok {
		m.Rcode = dns.RcodeNameError
	}
	for _, rr := range rrs {
		h := rr.Header()
		switch {
		case h.Rrtype == qq.Qtype || qq.Qtype == dns.TypeANY:
			m.Answer = append(m.Answer, dns.Copy(rr))
		case h.Rrtype == dns.TypeCNAME:
			m.Answer = append(m.Answer, dns.Copy(rr))
			for _, t := range z.records[strings.ToLower(rr.(*dns.CNAME).Target)] {
				if t.Header().Rrtype == qq.Qtype {
					m.Answer = append(m.Answer, dns.Copy(t))
				}
			}
		}
	}
	for _, rr := range m.Answer {
		if strings.EqualFold(rr.Header().Name, qq.Name) {
			rr.Header().Name = qq.Name // echo the client's spelling
		}
	}
	if o := q.IsEdns0(); o != nil {
		m.SetEdns0(o.UDPSize(), o.Do())
	}
	if w.LocalAddr().Network() == "udp" {
		size := dns.MinMsgSize
		if o := q.IsEdns0(); o != nil {
			size = int(o.UDPSize())
		}
		m.Truncate(size)
	}
	w.WriteMsg(m)
}
