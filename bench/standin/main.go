// Command standin is the upstream resolver the benchmark harness
// (bench/run.sh) puts behind nocontact, unbound and dnsmasq: a tiny DNS
// server on 127.0.0.1 that answers every A question with 192.0.2.1 and every
// AAAA question with 2001:db8::1 (documentation addresses, RFC 5737 and
// RFC 3849), with a day-long TTL so that a caching server keeps them, and
// NODATA for every other type. It never answers NXDOMAIN, so every name of a
// generated query file resolves.
//
// It also counts the questions it has answered; a TXT question for
// "queries.standin." returns the count, so the harness can tell how many
// queries a server under test passed upstream.
//
// It listens on 127.0.0.1 (or another IPv4 loopback address given with
// -addr; any other address is refused), over UDP and TCP, and never sends a
// query anywhere. It is a benchmark and test tool, not part of nocontact:
// the harness and the systemd walk (.ci/systemd-walk) use it.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/miekg/dns"
)

const (
	// ttl is a day: longer than any benchmark run, so cached answers never
	// expire during one.
	ttl = 86400
	// udpSize is the EDNS0 payload size advertised in answers that carry an
	// OPT record, the same as nocontact's.
	udpSize = 1232
	// countName is the name whose TXT record carries the query count.
	countName = "queries.standin."
)

var (
	answerA    = net.IPv4(192, 0, 2, 1).To4()
	answerAAAA = net.ParseIP("2001:db8::1")
)

// handler answers every question; see the package comment.
type handler struct {
	queries atomic.Uint64
}

// answer builds the reply to q; it never returns nil.
func (h *handler) answer(q *dns.Msg) *dns.Msg {
	r := new(dns.Msg)
	if q.Opcode != dns.OpcodeQuery {
		return r.SetRcode(q, dns.RcodeNotImplemented)
	}
	if len(q.Question) != 1 {
		return r.SetRcode(q, dns.RcodeFormatError)
	}
	r.SetReply(q)
	r.RecursionAvailable = true
	qq := q.Question[0]
	hdr := dns.RR_Header{Name: qq.Name, Rrtype: qq.Qtype, Class: dns.ClassINET, Ttl: ttl}
	n := h.queries.Add(1)
	switch {
	case qq.Qclass != dns.ClassINET:
		// NODATA: nothing lives outside class IN.
	case qq.Qtype == dns.TypeA:
		r.Answer = []dns.RR{&dns.A{Hdr: hdr, A: answerA}}
	case qq.Qtype == dns.TypeAAAA:
		r.Answer = []dns.RR{&dns.AAAA{Hdr: hdr, AAAA: answerAAAA}}
	case qq.Qtype == dns.TypeTXT && strings.EqualFold(qq.Name, countName):
		hdr.Ttl = 0
		r.Answer = []dns.RR{&dns.TXT{Hdr: hdr, Txt: []string{strconv.FormatUint(n-1, 10)}}}
	}
	if o := q.IsEdns0(); o != nil {
		r.SetEdns0(udpSize, o.Do())
	}
	return r
}

// ServeDNS implements dns.Handler.
func (h *handler) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	if q.Response {
		return
	}
	w.WriteMsg(h.answer(q))
}

// server is a running stand-in.
type server struct {
	addr netip.AddrPort
	srvs []*dns.Server
}

// listen starts h over UDP and TCP on ip:port (0 picks a free port) and
// returns once both serve. ip must be an IPv4 loopback address.
func listen(ip netip.Addr, port uint16, h dns.Handler) (*server, error) {
	if !ip.Is4() || !ip.IsLoopback() {
		return nil, fmt.Errorf("%s is not an IPv4 loopback address: the stand-in answers on 127.0.0.0/8 only", ip)
	}
	at := netip.AddrPortFrom(ip, port)
	pc, err := net.ListenPacket("udp4", at.String())
	if err != nil {
		return nil, fmt.Errorf("listening on UDP %s: %w", at, err)
	}
	addr := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	ln, err := net.Listen("tcp4", addr.String())
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("listening on TCP %s: %w", addr, err)
	}
	s := &server{addr: addr, srvs: []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}}}
	var wg sync.WaitGroup
	errs := make(chan error, len(s.srvs))
	for _, srv := range s.srvs {
		wg.Add(1)
		srv.NotifyStartedFunc = wg.Done
		go func() {
			if err := srv.ActivateAndServe(); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		s.close()
		return nil, err
	default:
	}
	return s, nil
}

func (s *server) close() {
	for _, srv := range s.srvs {
		_ = srv.Shutdown() // exiting anyway
	}
}

func main() {
	port := flag.Uint("port", 0, "the `port` to answer on (0 picks a free one)")
	addr := flag.String("addr", "127.0.0.1", "the IPv4 loopback `address` to answer on, in 127.0.0.0/8")
	flag.Parse()
	ip, perr := netip.ParseAddr(*addr)
	if flag.NArg() > 0 || *port > 65535 || perr != nil {
		fmt.Fprintln(os.Stderr, "usage: standin [-addr 127.x.y.z] [-port N]")
		os.Exit(2)
	}
	s, err := listen(ip, uint16(*port), new(handler))
	if err != nil {
		fmt.Fprintln(os.Stderr, "standin:", err)
		os.Exit(1)
	}
	// The harness waits for this line before it starts a server under test.
	fmt.Printf("standin: answering on %s\n", s.addr)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	s.close()
}
