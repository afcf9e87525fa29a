package dnsfilter

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/wire"
)

// maxUDPSockets bounds the sockets that share one address (one per core,
// where the OS lets them share it).
const maxUDPSockets = 16

// udpServer serves DNS over UDP on one address in place of miekg/dns's
// UDP server: on Linux one socket per core sharing the port through
// SO_REUSEPORT, elsewhere one. Each socket has one reading goroutine that
// answers what the fast path can at once, in batches where the OS has
// them, and gives every other query a goroutine of its own on the slow
// path, as miekg/dns does for each query.
type udpServer struct {
	s      *Server
	conns  []*net.UDPConn
	closed atomic.Bool
	wg     sync.WaitGroup // readers, and slow-path workers
	// jobs hands a slow-path query to an idle worker; stop ends the idle
	// ones at shutdown.
	jobs chan slowJob
	stop chan struct{}
}

// slowJob is one query for the slow path.
type slowJob struct {
	c    *net.UDPConn
	pkt  []byte
	from netip.AddrPort
}

// workerIdle is how long a slow-path worker waits for another query
// before it ends. Workers are kept for a while because a new goroutine
// for each query grows its stack afresh through miekg/dns and the
// upstream exchange, which cost ~8% of the CPU of a cache-miss-heavy load;
// they end when idle so that a burst leaves no crowd of goroutines behind.
const workerIdle = 2 * time.Second

// udpSockets is how many sockets to open on one address.
func udpSockets() int {
	if !reusePort {
		return 1
	}
	return min(max(runtime.GOMAXPROCS(0), 1), maxUDPSockets)
}

func (s *Server) newUDPServer(conns []*net.UDPConn) *udpServer {
	u := &udpServer{s: s, conns: conns, jobs: make(chan slowJob), stop: make(chan struct{})}
	for _, c := range conns {
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			u.serve(c)
		}()
	}
	return u
}

// shutdown closes the sockets and waits, up to ctx, for the queries being
// answered.
func (u *udpServer) shutdown(ctx context.Context) error {
	if !u.closed.Swap(true) {
		close(u.stop)
	}
	for _, c := range u.conns {
		c.Close()
	}
	done := make(chan struct{})
	go func() { u.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readFailed decides what a failed read means: the end when the server
// is shutting down; otherwise another try, since giving up would leave the
// clients the kernel sends to this socket unanswered (Windows, for one,
// reports an ICMP "port unreachable" from an earlier answer as a read
// error). failures counts the reads in a row that failed: after a few, it
// pauses so that a lasting error does not spin.
func (u *udpServer) readFailed(c *net.UDPConn, err error, failures int) (stop bool) {
	if u.closed.Load() {
		return true
	}
	u.s.log.Debug("reading a UDP query failed; trying again", "addr", c.LocalAddr().String(), "err", err)
	if failures > 3 {
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// slow answers pkt on a goroutine of its own, since it may wait for an
// upstream: an idle worker if there is one, else a new one. pkt is
// copied: the caller reuses its buffer.
func (u *udpServer) slow(c *net.UDPConn, pkt []byte, from netip.AddrPort) {
	if len(pkt) < wire.HeaderLen {
		return // too short for a header: miekg/dns drops these too
	}
	if !u.s.slowSlot() {
		return
	}
	j := slowJob{c: c, pkt: append([]byte(nil), pkt...), from: from}
	select {
	case u.jobs <- j:
		return
	default:
	}
	u.wg.Add(1)
	go u.worker(j)
}

// worker answers j, then further queries handed to it, until it has been
// idle for workerIdle or the server shuts down. There are at most as many
// workers as slow-path places (maxSlow).
func (u *udpServer) worker(j slowJob) {
	defer u.wg.Done()
	var idle *time.Timer
	for {
		u.s.serveSlow(j.pkt, &udpWriter{c: j.c, to: j.from})
		u.s.slowDone()
		if idle == nil {
			idle = time.NewTimer(workerIdle)
		} else {
			idle.Reset(workerIdle)
		}
		select {
		case j = <-u.jobs:
		case <-idle.C:
			return
		case <-u.stop:
			idle.Stop()
			return
		}
	}
}

// serveSlow answers one query packet the way miekg/dns's server does
// before it calls a handler (its DefaultMsgAcceptFunc, FORMERR for what it
// cannot parse), then with ServeDNS.
func (s *Server) serveSlow(pkt []byte, w dns.ResponseWriter) {
	if len(pkt) < wire.HeaderLen {
		return
	}
	dh := dns.Header{
		Id:      binary.BigEndian.Uint16(pkt),
		Bits:    binary.BigEndian.Uint16(pkt[2:]),
		Qdcount: binary.BigEndian.Uint16(pkt[4:]),
		Ancount: binary.BigEndian.Uint16(pkt[6:]),
		Nscount: binary.BigEndian.Uint16(pkt[8:]),
		Arcount: binary.BigEndian.Uint16(pkt[10:]),
	}
	req := new(dns.Msg)
	action := dns.DefaultMsgAcceptFunc(dh)
	switch action {
	case dns.MsgIgnore:
		return
	case dns.MsgAccept:
		if err := req.Unpack(pkt); err == nil {
			s.ServeDNS(w, req)
			return
		}
		// Unpack set the header (and maybe part of the question) before
		// it failed: answered FORMERR as miekg/dns does.
	default:
		setHeader(req, dh)
	}
	opcode := req.Opcode
	req.SetRcodeFormatError(req)
	req.Zero = false
	if action == dns.MsgRejectNotImplemented {
		req.Opcode = opcode
		req.Rcode = dns.RcodeNotImplemented
	}
	req.Ns, req.Answer, req.Extra = nil, nil, nil
	w.WriteMsg(req)
}

// setHeader fills m's header from dh, as miekg/dns's unexported setHdr.
func setHeader(m *dns.Msg, dh dns.Header) {
	m.Id = dh.Id
	m.Response = dh.Bits&(1<<15) != 0
	m.Opcode = int(dh.Bits>>11) & 0xF
	m.Authoritative = dh.Bits&(1<<10) != 0
	m.Truncated = dh.Bits&(1<<9) != 0
	m.RecursionDesired = dh.Bits&(1<<8) != 0
	m.RecursionAvailable = dh.Bits&(1<<7) != 0
	m.Zero = dh.Bits&(1<<6) != 0
	m.AuthenticatedData = dh.Bits&(1<<5) != 0
	m.CheckingDisabled = dh.Bits&(1<<4) != 0
	m.Rcode = int(dh.Bits & 0xF)
}

// udpWriter writes one slow-path answer back to the client.
type udpWriter struct {
	c  *net.UDPConn
	to netip.AddrPort
}

func (w *udpWriter) LocalAddr() net.Addr  { return w.c.LocalAddr() }
func (w *udpWriter) RemoteAddr() net.Addr { return net.UDPAddrFromAddrPort(w.to) }
func (w *udpWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
func (w *udpWriter) Write(b []byte) (int, error) { return w.c.WriteToUDPAddrPort(b, w.to) }
func (w *udpWriter) Close() error                { return nil }
func (w *udpWriter) TsigStatus() error           { return nil }
func (w *udpWriter) TsigTimersOnly(bool)         {}
func (w *udpWriter) Hijack()                     {}
