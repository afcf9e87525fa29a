package dnsfilter

import (
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
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

// rawUpstream answers every A question on 127.0.0.1 with one record,
// straight from the packet: an upstream that costs the benchmark little.
func rawUpstream(b *testing.B) netip.AddrPort {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if n < 12 {
				continue
			}
			out := append([]byte(nil), buf[:n]...)
			out[2] |= 0x80 // QR
			out[3] = 0x80  // RA, NOERROR
			out[7] = 1     // one answer
			// The answer goes after the question: drop the rest (the OPT
			// record).
			off := 12
			for off < len(out) && out[off] != 0 {
				off += int(out[off]) + 1
			}
			if off+5 > len(out) {
				continue
			}
			out = out[:off+5]
			out[11] = 0
			out = append(out, 0xc0, 12, 0, 1, 0, 1, 0, 1, 0x51, 0x80, 0, 4, 192, 0, 2, 1)
			if _, err := pc.WriteToUDPAddrPort(out, from); err != nil {
				return
			}
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// BenchmarkRoundTripUDPMiss measures questions that miss the cache, each
// a name never asked before, over real UDP on loopback: the fast path,
// the wire-level forwarder, the pooled upstream socket, the answer
// written from the upstream's packet and cached. The client's and the
// stand-in upstream's costs are included.
func BenchmarkRoundTripUDPMiss(b *testing.B) {
	s := startWith(b, forwarder(b, rawUpstream(b)), cache.New(cache.Options{}), nil, nil)
	addr := s.Addrs()[0].String()
	var n atomic.Int64
	ask := func(b *testing.B, c net.Conn, buf []byte) {
		q := new(dns.Msg)
		q.SetQuestion(fmt.Sprintf("q%d.example.org.", n.Add(1)), dns.TypeA)
		q.SetEdns0(1232, false)
		pkt, err := q.Pack()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Write(pkt); err != nil {
			b.Fatal(err)
		}
		m, err := c.Read(buf)
		if err != nil || m < 12 || buf[7] != 1 {
			b.Fatalf("read %d bytes (%x): %v", m, buf[:m], err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		c, err := net.Dial("udp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		buf := make([]byte, 2048)
		b.ReportAllocs()
		for b.Loop() {
			ask(b, c, buf)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			c, err := net.Dial("udp", addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			buf := make([]byte, 2048)
			for pb.Next() {
				ask(b, c, buf)
			}
		})
	})
}
