package dnsfilter

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"unsafe"

	"github.com/nocontact/nocontact/dnsfilter/upstream"
	"golang.org/x/sys/unix"
)

// batchSize is how many datagrams one read or write call moves at most
// (recvmmsg and sendmmsg).
const batchSize = 32

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

// mmsgs is one batch of datagrams for recvmmsg or sendmmsg: the kernel's
// message headers, one buffer and one socket address per message, all
// allocated once and reused, so a batch costs no allocation and no
// translation between Go values and the kernel's structures. It must live
// on the heap (the headers point into it), which newMmsgs sees to.
type mmsgs struct {
	hdrs  [batchSize]unix.Mmsghdr
	iovs  [batchSize]unix.Iovec
	addrs [batchSize]unix.RawSockaddrInet6 // room for either family
	bufs  [batchSize][]byte
}

// newMmsgs returns a batch whose headers point at its own addresses and
// buffers of UDPSize bytes; withBufs false leaves the buffers for the
// caller to set (the answers, written elsewhere).
func newMmsgs(withBufs bool) *mmsgs {
	b := new(mmsgs)
	for i := range b.hdrs {
		h := &b.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&b.addrs[i]))
		h.Namelen = unix.SizeofSockaddrInet6
		h.Iov = &b.iovs[i]
		h.SetIovlen(1)
		if withBufs {
			b.bufs[i] = make([]byte, UDPSize)
			b.setBuf(i, b.bufs[i])
		}
	}
	return b
}

// setBuf points message i at p, which must not be empty.
func (b *mmsgs) setBuf(i int, p []byte) {
	b.iovs[i].Base = unsafe.SliceData(p)
	b.iovs[i].SetLen(len(p))
}

// from returns the sender of received message i. A zone (an IPv6 scope)
// is written as the interface's number, which package net accepts as
// well as its name.
func (b *mmsgs) from(i int) (netip.AddrPort, bool) {
	sa := &b.addrs[i]
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), netPort(sa4.Port)), true
	case unix.AF_INET6:
		a := netip.AddrFrom16(sa.Addr)
		if sa.Scope_id != 0 {
			a = a.WithZone(strconv.FormatUint(uint64(sa.Scope_id), 10))
		}
		return netip.AddrPortFrom(a, netPort(sa.Port)), true
	}
	return netip.AddrPort{}, false
}

// netPort reads a port kept in network byte order in a uint16.
func netPort(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// serve reads batches of datagrams from c with recvmmsg, answers those the
// fast path can, writes those answers with one sendmmsg, and hands the
// rest to the slow path.
//
// The system calls are made through c's syscall.RawConn, so that a read
// with nothing to read waits in the runtime's poller like any other read
// of a socket. They are raw system calls (the runtime is not told of
// them, and keeps this goroutine's P meanwhile): the socket is
// non-blocking, so recvmmsg and sendmmsg return at once, with EAGAIN
// when there is nothing to read or no room to write, and the runtime
// would otherwise hand the P to another thread whenever a batch took
// longer than its syscall threshold, which a batch of answers on loopback
// does (each one delivered to its client within the call).
func (u *udpServer) serve(c *net.UDPConn) {
	rc, err := c.SyscallConn()
	if err != nil {
		u.s.log.Error("cannot read UDP queries", "addr", c.LocalAddr().String(), "err", err)
		return
	}
	in, out := newMmsgs(true), newMmsgs(false)
	outBufs := make([][]byte, batchSize)
	for i := range outBufs {
		outBufs[i] = make([]byte, 0, UDPSize)
	}
	// The callbacks are made once: a closure made per call would be
	// allocated per call.
	var (
		n, nout, sent int
		serr          error
	)
	recv := func(fd uintptr) bool {
		for i := range in.hdrs {
			in.hdrs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		}
		r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&in.hdrs[0])), batchSize, 0, 0, 0)
		switch e {
		case 0:
			n, serr = int(r), nil
		case unix.EAGAIN:
			return false // wait in the poller until there is something
		case unix.EINTR:
			n, serr = 0, nil // nothing read: read again
		default:
			n, serr = 0, e
		}
		return true
	}
	send := func(fd uintptr) bool {
		r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&out.hdrs[sent])), uintptr(nout-sent), 0, 0, 0)
		switch e {
		case 0:
			sent += int(r)
			if r == 0 {
				sent++ // nothing sent and no error: do not try for ever
			}
		case unix.EAGAIN:
			return false // the socket's send buffer is full: wait for room
		case unix.EINTR:
			// nothing sent: the caller sends the rest again
		default:
			// The first one could not be sent (its client went away, say):
			// it is lost, as a datagram may be.
			sent++
		}
		return true
	}
	failures := 0
	var m miss
	var sb upstream.SendBatch
	for {
		if err := rc.Read(recv); err != nil || serr != nil {
			if err == nil {
				err = serr
			}
			failures++
			if u.readFailed(c, err, failures) {
				return
			}
			continue
		}
		failures = 0
		nout = 0
		for i := range n {
			from, ok := in.from(i)
			if !ok {
				continue
			}
			pkt := in.bufs[i][:in.hdrs[i].Len]
			src := from.Addr().Unmap()
			if !u.s.admit(src) {
				continue
			}
			a, res := u.s.fastPath(outBufs[nout][:0], pkt, src, &m)
			switch {
			case res == fastAnswered && len(a) > 0:
				out.setBuf(nout, a)
				out.addrs[nout] = in.addrs[i]
				out.hdrs[nout].Hdr.Namelen = in.hdrs[i].Hdr.Namelen
				nout++
				continue
			case res == fastMiss && u.s.forward(c, pkt, from, &m, &sb):
				continue
			}
			u.slow(c, pkt, from)
		}
		sb.Flush()
		for sent = 0; sent < nout; {
			if err := rc.Write(send); err != nil {
				break // closed: the answers go with the socket
			}
		}
	}
}

// answerBatch is the kernel's side of an answerSink: message headers
// and socket addresses for sendmmsg.
type answerBatch = mmsgs

// setTo writes a as the destination of message i.
func (b *mmsgs) setTo(i int, a netip.AddrPort) {
	sa := &b.addrs[i]
	*sa = unix.RawSockaddrInet6{}
	if a.Addr().Is4() {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		sa4.Family = unix.AF_INET
		sa4.Addr = a.Addr().As4()
		putNetPort(&sa4.Port, a.Port())
		b.hdrs[i].Hdr.Namelen = unix.SizeofSockaddrInet4
		return
	}
	sa.Family = unix.AF_INET6
	sa.Addr = a.Addr().As16()
	putNetPort(&sa.Port, a.Port())
	if z := a.Addr().Zone(); z != "" {
		if n, err := strconv.ParseUint(z, 10, 32); err == nil {
			sa.Scope_id = uint32(n)
		} else if ifi, err := net.InterfaceByName(z); err == nil {
			sa.Scope_id = uint32(ifi.Index)
		}
	}
	b.hdrs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
}

// putNetPort stores port in network byte order in *p.
func putNetPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// sendGroup writes answers i..j-1, which all leave from the same socket,
// with sendmmsg (raw, through the socket's RawConn, as the server's loop).
func (k *answerSink) sendGroup(i, j int) {
	c := k.conns[i]
	if c.LocalAddr().(*net.UDPAddr).IP.To4() == nil && k.to[i].Addr().Is4() {
		for x := i; x < j; x++ {
			k.s.writeAnswer(c, k.to[x], k.bufs[x][:k.lens[x]])
		}
		return
	}
	if k.out == nil {
		k.out = newMmsgs(false)
	}
	m := k.out
	for x := i; x < j; x++ {
		m.setBuf(x-i, k.bufs[x][:k.lens[x]])
		m.setTo(x-i, k.to[x])
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	n, sent := j-i, 0
	send := func(fd uintptr) bool {
		r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&m.hdrs[sent])), uintptr(n-sent), 0, 0, 0)
		switch e {
		case 0:
			sent += int(r)
			if r == 0 {
				sent++
			}
		case unix.EAGAIN:
			return false
		case unix.EINTR:
		default:
			sent++ // that answer is lost, as a datagram may be
		}
		return true
	}
	for sent < n {
		if err := rc.Write(send); err != nil {
			return // closed: the answers go with the socket
		}
	}
}
