package dnsfilter

import (
	"context"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// reusePort: Linux spreads the datagrams sent to one port over the
// sockets bound to it with SO_REUSEPORT (by a hash of the client's address
// and port), so each core can read its own socket.
const reusePort = true

// listenUDP binds n sockets to addr; with n > 1 they share the port
// through SO_REUSEPORT. With port 0 the first one picks the port, the
// others join it.
func listenUDP(addr netip.AddrPort, n int) ([]*net.UDPConn, error) {
	if n <= 1 {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
		if err != nil {
			return nil, err
		}
		return []*net.UDPConn{c}, nil
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	var conns []*net.UDPConn
	for range n {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr.String())
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, err
		}
		c := pc.(*net.UDPConn)
		conns = append(conns, c)
		addr = netip.AddrPortFrom(addr.Addr(), uint16(c.LocalAddr().(*net.UDPAddr).Port))
	}
	return conns, nil
}

// batchConn reads and writes several datagrams per call (recvmmsg and
// sendmmsg); ipv4.PacketConn and ipv6.PacketConn both are one.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// serve reads batches of datagrams from c, answers those the fast path
// can, writes those answers in one batch, and hands the rest to the slow
// path.
func (u *udpServer) serve(c *net.UDPConn) {
	var bc batchConn = ipv4.NewPacketConn(c)
	if a, ok := netip.AddrFromSlice(c.LocalAddr().(*net.UDPAddr).IP); ok && !a.Unmap().Is4() {
		bc = ipv6.NewPacketConn(c)
	}
	in := make([]ipv4.Message, batchSize)
	out := make([]ipv4.Message, batchSize)
	outBufs := make([][]byte, batchSize)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, UDPSize)}
		out[i].Buffers = [][]byte{nil}
		outBufs[i] = make([]byte, 0, UDPSize)
	}
	failures := 0
	for {
		n, err := bc.ReadBatch(in, 0)
		if err != nil {
			failures++
			if u.readFailed(c, err, failures) {
				return
			}
			continue
		}
		failures = 0
		nout := 0
		for i := range n {
			m := &in[i]
			ua, ok := m.Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			from := ua.AddrPort()
			pkt := m.Buffers[0][:m.N]
			if !u.s.admit(from.Addr().Unmap()) {
				continue
			}
			if a, ok := u.s.fastAnswer(outBufs[nout][:0], pkt, from.Addr().Unmap()); ok {
				out[nout].Buffers[0] = a
				out[nout].Addr = m.Addr
				nout++
				continue
			}
			u.slow(c, pkt, from)
		}
		for sent := 0; sent < nout; {
			k, err := bc.WriteBatch(out[sent:nout], 0)
			if err != nil || k == 0 {
				// The first one could not be sent (its client went away,
				// a full buffer): it is lost, as a datagram may be.
				k = 1
			}
			sent += k
		}
	}
}
