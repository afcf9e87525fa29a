package dnsfilter

import (
	"net"
	"testing"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/cache"
	"github.com/nocontact/nocontact/dnsfilter/dnstest"
)

// BenchmarkRoundTripUDP measures queries over real UDP on loopback against
// a filter with a cache, for the two answers of the fast path: a blocked
// name, and a name answered from the cache (asked once before the timer
// starts). serial is one client waiting for each answer; parallel is one
// client socket per goroutine (GOMAXPROCS of them), so that the server
// sees several queries at once. The client's own costs are included.
func BenchmarkRoundTripUDP(b *testing.B) {
	up := dnstest.Serve(b, dnstest.NewZone(b, "example.org. 3600 IN A 192.0.2.1"))
	s := startWith(b, forwarder(b, up), cache.New(cache.Options{}), nil, nil)
	addr := s.Addrs()[0].String()
	for _, tt := range []struct{ bench, name string }{{"blocked", "www.instagram.com."}, {"cached", "example.org."}} {
		q := new(dns.Msg)
		q.SetQuestion(tt.name, dns.TypeA)
		q.SetEdns0(1232, false)
		pkt, err := q.Pack()
		if err != nil {
			b.Fatal(err)
		}
		ask := func(b *testing.B, c net.Conn, buf []byte) {
			if _, err := c.Write(pkt); err != nil {
				b.Fatal(err)
			}
			n, err := c.Read(buf)
			if err != nil || n < 12 {
				b.Fatalf("read %d bytes: %v", n, err)
			}
		}
		dial := func(b *testing.B) net.Conn {
			c, err := net.Dial("udp", addr)
			if err != nil {
				b.Fatal(err)
			}
			return c
		}
		warm := dial(b)
		ask(b, warm, make([]byte, 2048))
		warm.Close()
		b.Run(tt.bench+"/serial", func(b *testing.B) {
			c := dial(b)
			defer c.Close()
			buf := make([]byte, 2048)
			b.ReportAllocs()
			for b.Loop() {
				ask(b, c, buf)
			}
		})
		b.Run(tt.bench+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				c := dial(b)
				defer c.Close()
				buf := make([]byte, 2048)
				for pb.Next() {
					ask(b, c, buf)
				}
			})
		})
	}
}
