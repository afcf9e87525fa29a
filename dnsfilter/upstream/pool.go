package upstream

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/wire"
)

// The pooled UDP sockets of a plain upstream. A socket per query (what
// nocontact did before, and what unbound does) gives every query a fresh
// random source port, but costs a socket, a bind and a close each time,
// the largest single share of the CPU of forwarding. Instead each plain
// upstream gets a few long-lived connected sockets, each on a random port
// the kernel picks, and each is replaced by a fresh one after rotateAfter
// queries or rotateEvery, whichever comes first, so that an off-path
// attacker who has learnt a port has little use of it. Every query gets a
// random ID (math/rand/v2's ChaCha8, seeded by the OS), unique among the
// queries in flight on its socket. An answer is taken only from the
// upstream's address (the socket is connected: the kernel delivers
// nothing else), with the ID of a query in flight and that query's
// question; anything else is dropped and counted.
const (
	// poolSockets is how many sockets a plain upstream has at once.
	poolSockets = 4
	// rotateAfter is how many queries a socket sends before it is
	// replaced, and rotateEvery how long it is used at most.
	rotateAfter = 1024
	rotateEvery = 30 * time.Second
	// readSize is the largest answer read over UDP, as miekg/dns's
	// client read (larger datagrams are cut short and then dropped as
	// unreadable).
	readSize = 4096
)

// errClosed ends the queries in flight when the forwarder is closed.
var errClosed = errors.New("forwarder closed")

// udpPool is the set of sockets to one plain upstream.
type udpPool struct {
	f    *Forwarder
	u    *up
	addr *net.UDPAddr
	// control marks each socket (see Options.Control).
	control func(network, address string, c syscall.RawConn) error

	mu     sync.Mutex
	socks  [poolSockets]*poolSock
	closed bool
}

func newUDPPool(f *Forwarder, u *up, addr netip.AddrPort, control func(network, address string, c syscall.RawConn) error) *udpPool {
	return &udpPool{f: f, u: u, addr: net.UDPAddrFromAddrPort(addr), control: control}
}

// pick returns a socket for one more query, replacing a worn-out one.
func (p *udpPool) pick() (*poolSock, error) {
	i := rand.IntN(poolSockets)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errClosed
	}
	s := p.socks[i]
	if s == nil || s.used >= rotateAfter || p.f.now().Sub(s.born) >= rotateEvery {
		ns, err := p.open()
		if err != nil {
			if s != nil && !s.isClosed() {
				return s, nil // a worn socket beats none
			}
			return nil, err
		}
		if s != nil {
			s.retire()
		}
		p.socks[i], s = ns, ns
	}
	s.used++
	return s, nil
}

// pickIn returns the socket batch b uses for this upstream, picking one
// on its first query here.
func (p *udpPool) pickIn(b *SendBatch) (*poolSock, error) {
	for _, pk := range b.picks {
		if pk.pool == p {
			p.mu.Lock()
			pk.sock.used++
			p.mu.Unlock()
			return pk.sock, nil
		}
	}
	s, err := p.pick()
	if err == nil {
		b.picks = append(b.picks, pick{p, s})
	}
	return s, err
}

// open makes a new connected socket and starts reading it.
func (p *udpPool) open() (*poolSock, error) {
	// Dialed with the Options' Control, so the firewall layer knows the
	// daemon's own questions to its upstreams by their socket mark.
	d := net.Dialer{Control: p.control}
	nc, err := d.Dial("udp", p.addr.String())
	if err != nil {
		return nil, err
	}
	c := nc.(*net.UDPConn)
	s := &poolSock{pool: p, conn: c, born: p.f.now(), calls: map[uint16]*call{}}
	s.timer = time.AfterFunc(time.Hour, s.expire)
	s.timer.Stop()
	go s.read()
	return s, nil
}

// close closes every socket; the queries in flight on them fail.
func (p *udpPool) close() {
	p.mu.Lock()
	p.closed = true
	socks := p.socks
	p.socks = [poolSockets]*poolSock{}
	p.mu.Unlock()
	for _, s := range socks {
		if s != nil {
			s.retire()
			s.shut(errClosed)
		}
	}
}

// poolSock is one connected socket of a pool with the queries in flight
// on it, by ID, and by deadline in a heap for the timer that ends them.
type poolSock struct {
	pool *udpPool
	conn *net.UDPConn
	born time.Time // by the forwarder's clock
	used int       // queries sent; guarded by pool.mu

	mu      sync.Mutex
	calls   map[uint16]*call
	byTime  callHeap
	timer   *time.Timer
	armed   time.Time // when the timer fires; zero when stopped
	retired bool      // no new queries; closed once the last one ends
	closed  bool
	out     []*call // registered, waiting for flushOut
	outPkts [][]byte
	w       writer // sends batches (pool_linux.go, pool_other.go)
}

func (s *poolSock) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// send registers c's query under a fresh random ID, writes the ID into
// c's packet, and sends it. On an error c is not registered. The write
// is made under the socket's lock, so that whoever ends the try (the
// reader, the timer) runs strictly after it and may reuse the packet.
// A UDP write does not wait: at worst the socket's buffer is full and the
// datagram is lost, as it could be on the way.
func (s *poolSock) send(c *call, deadline time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	id := uint16(rand.Uint32())
	for tries := 0; s.calls[id] != nil; tries++ {
		if tries > 64 {
			return errors.New("no free query ID on the socket")
		}
		id = uint16(rand.Uint32())
	}
	binary.BigEndian.PutUint16(c.pkt, id)
	if _, err := s.conn.Write(c.pkt); err != nil {
		return err
	}
	c.id, c.sock, c.tryDeadline = id, s, deadline
	s.calls[id] = c
	heap.Push(&s.byTime, c)
	if s.armed.IsZero() || deadline.Before(s.armed) {
		s.armed = deadline
		s.timer.Reset(time.Until(deadline))
	}
	return nil
}

// queue registers c's query as send does, but leaves it in s.out for
// flushOut, which b calls.
func (s *poolSock) queue(c *call, deadline time.Time, b *SendBatch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	id := uint16(rand.Uint32())
	for tries := 0; s.calls[id] != nil; tries++ {
		if tries > 64 {
			return errors.New("no free query ID on the socket")
		}
		id = uint16(rand.Uint32())
	}
	binary.BigEndian.PutUint16(c.pkt, id)
	c.id, c.sock, c.tryDeadline = id, s, deadline
	s.calls[id] = c
	heap.Push(&s.byTime, c)
	if s.armed.IsZero() || deadline.Before(s.armed) {
		s.armed = deadline
		s.timer.Reset(time.Until(deadline))
	}
	s.out = append(s.out, c)
	b.add(s)
	return nil
}

// flushOut sends the queries queued on s, those still in flight (a
// query cannot end before it is sent, unless the socket failed), with as
// few system calls as the OS allows; the ones that cannot be sent fail.
func (s *poolSock) flushOut() {
	var failed []*call
	var ferr error
	s.mu.Lock()
	pkts := s.outPkts[:0]
	live := s.out[:0]
	for _, c := range s.out {
		if c.sock == s && s.calls[c.id] == c {
			pkts = append(pkts, c.pkt)
			live = append(live, c)
		}
	}
	sent, err := s.w.writeBatch(s.conn, pkts)
	if err != nil {
		ferr = err
		for _, c := range live[sent:] {
			if c.sock == s && s.calls[c.id] == c {
				s.removeLocked(c)
				failed = append(failed, c)
			}
		}
	}
	clear(s.out)
	s.out = s.out[:0]
	clear(pkts)
	s.outPkts = pkts[:0]
	s.mu.Unlock()
	for _, c := range failed {
		c.after(nil, ferr)
	}
}

func (s *poolSock) removeLocked(c *call) {
	delete(s.calls, c.id)
	heap.Remove(&s.byTime, c.heapAt)
	c.sock = nil
	if s.retired && len(s.calls) == 0 && !s.closed {
		s.closed = true
		s.timer.Stop()
		_ = s.conn.Close() // the reader ends on the error this gives it
	}
}

// retire stops new queries on s; it closes once the last one ends.
func (s *poolSock) retire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retired = true
	if len(s.calls) == 0 && !s.closed {
		s.closed = true
		s.timer.Stop()
		_ = s.conn.Close() // the reader ends on the error this gives it
	}
}

// expire ends the tries whose deadline has passed.
func (s *poolSock) expire() {
	var late []*call
	s.mu.Lock()
	now := time.Now()
	s.armed = time.Time{}
	for len(s.byTime) > 0 && !s.byTime[0].tryDeadline.After(now) {
		c := s.byTime[0]
		late = append(late, c)
		s.removeLocked(c)
	}
	if len(s.byTime) > 0 && !s.closed {
		s.armed = s.byTime[0].tryDeadline
		s.timer.Reset(time.Until(s.armed))
	}
	s.mu.Unlock()
	for _, c := range late {
		c.after(nil, fmt.Errorf("no answer within %v: %w", c.tryLen, os.ErrDeadlineExceeded))
	}
}

// shut ends every try in flight on s with err (a read error: an ICMP
// "port unreachable" for one of them, or the socket closed).
func (s *poolSock) shut(err error) {
	s.mu.Lock()
	var all []*call
	for _, c := range s.calls {
		all = append(all, c)
	}
	for _, c := range all {
		s.removeLocked(c)
	}
	s.mu.Unlock()
	for _, c := range all {
		c.after(nil, err)
	}
}

// dropped counts the datagrams an upstream socket read and dropped:
// too short, unreadable, not a response, or not an answer to a query in
// flight (ID or question).
type dropped struct{ n atomic.Uint64 }

// reader is what one socket's reading goroutine reuses for every
// datagram.
type reader struct {
	r wire.Response
	a Answer
	b Batch
}

// deliver matches one datagram read from s with its query and ends that
// try. pkt, and rd's contents, are only valid during the call.
func (s *poolSock) deliver(pkt []byte, rd *reader) {
	f := s.pool.f
	if len(pkt) < wire.HeaderLen {
		f.dropped.n.Add(1)
		return
	}
	a := &rd.a
	var qname [wire.MaxName]byte
	var qn []byte
	var qtype, qclass uint16
	if wire.ParseResponse(pkt, &rd.r) {
		*a = Answer{Pkt: pkt, Parsed: &rd.r, Batch: &rd.b}
		qtype, qclass = rd.r.Qtype, rd.r.Qclass
	} else {
		m := new(dns.Msg)
		if err := m.Unpack(pkt); err != nil || !m.Response || len(m.Question) != 1 {
			f.dropped.n.Add(1)
			return
		}
		n, err := dns.PackDomainName(m.Question[0].Name, qname[:], 0, nil, false)
		if err != nil {
			f.dropped.n.Add(1)
			return
		}
		*a = Answer{Pkt: pkt, Msg: m, Batch: &rd.b}
		qn, qtype, qclass = qname[:n], m.Question[0].Qtype, m.Question[0].Qclass
	}
	id := binary.BigEndian.Uint16(pkt)
	s.mu.Lock()
	c := s.calls[id]
	if c == nil || qtype != c.qtype || qclass != c.qclass {
		s.mu.Unlock()
		f.dropped.n.Add(1)
		return
	}
	same := false
	if a.Parsed != nil {
		same = wire.EqualNameFold(pkt, wire.HeaderLen, c.qname())
	} else {
		same = equalFold(qn, c.qname())
	}
	if !same {
		s.mu.Unlock()
		f.dropped.n.Add(1)
		return
	}
	s.removeLocked(c)
	s.mu.Unlock()
	c.after(a, nil)
}

// equalFold compares two uncompressed names in wire form, ignoring ASCII
// case (a length byte is never a letter).
func equalFold(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// callHeap orders the tries in flight on a socket by deadline.
type callHeap []*call

func (h callHeap) Len() int           { return len(h) }
func (h callHeap) Less(i, j int) bool { return h[i].tryDeadline.Before(h[j].tryDeadline) }
func (h callHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapAt, h[j].heapAt = i, j
}
func (h *callHeap) Push(x any) {
	c := x.(*call)
	c.heapAt = len(*h)
	*h = append(*h, c)
}
func (h *callHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return c
}
