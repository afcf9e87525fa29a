package upstream

import (
	"errors"
	"net"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// readBatch is how many answers one recvmmsg call reads at most.
const readBatch = 16

// batch is the kernel's message headers and the buffers of one recvmmsg
// call, allocated once per socket (the headers point into it, so it lives
// on the heap).
type batch struct {
	hdrs [readBatch]unix.Mmsghdr
	iovs [readBatch]unix.Iovec
	bufs [readBatch][readSize]byte
}

// read reads answers from s in batches with recvmmsg until s is closed.
// The socket is connected, so the kernel gives it only datagrams from the
// upstream's address and port. As in the server's loop, the call is a raw
// system call made through the socket's RawConn: the socket is
// non-blocking, and an empty socket waits in the runtime's poller.
func (s *poolSock) read() {
	rc, err := s.conn.SyscallConn()
	if err != nil {
		s.shut(err)
		return
	}
	b := new(batch)
	for i := range b.hdrs {
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(readSize)
		b.hdrs[i].Hdr.Iov = &b.iovs[i]
		b.hdrs[i].Hdr.SetIovlen(1)
	}
	var (
		n    int
		serr error
	)
	recv := func(fd uintptr) bool {
		r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), readBatch, 0, 0, 0)
		switch e {
		case 0:
			n, serr = int(r), nil
		case unix.EAGAIN:
			return false
		case unix.EINTR:
			n, serr = 0, nil
		default:
			n, serr = 0, e
		}
		return true
	}
	rd := new(reader)
	failures := 0
	for {
		if err := rc.Read(recv); err != nil || serr != nil {
			if err == nil {
				err = serr
			}
			if errors.Is(err, net.ErrClosed) || s.isClosed() {
				s.shut(errClosed)
				return
			}
			// ECONNREFUSED: an ICMP "port unreachable" answered one of
			// the queries; nobody listens there, so all of them fail.
			s.shut(err)
			if failures++; failures > 3 {
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		failures = 0
		for i := range n {
			s.deliver(b.bufs[i][:b.hdrs[i].Len], rd)
		}
		rd.b.end()
	}
}

// writer sends a socket's queued queries with sendmmsg; its arrays are
// made on first use and kept (the kernel reads them; they live on the
// heap).
type writer struct {
	hdrs []unix.Mmsghdr
	iovs []unix.Iovec
}

// writeBatch sends pkts on c, the socket's lock held, and returns how
// many went out before an error. Like the server's loop it calls sendmmsg
// raw through the socket's RawConn.
func (w *writer) writeBatch(c *net.UDPConn, pkts [][]byte) (int, error) {
	if len(pkts) == 0 {
		return 0, nil
	}
	if cap(w.hdrs) < len(pkts) {
		w.hdrs = make([]unix.Mmsghdr, len(pkts))
		w.iovs = make([]unix.Iovec, len(pkts))
	}
	hdrs, iovs := w.hdrs[:len(pkts)], w.iovs[:len(pkts)]
	for i, p := range pkts {
		iovs[i].Base = &p[0]
		iovs[i].SetLen(len(p))
		hdrs[i] = unix.Mmsghdr{}
		hdrs[i].Hdr.Iov = &iovs[i]
		hdrs[i].Hdr.SetIovlen(1)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	sent := 0
	var serr error
	send := func(fd uintptr) bool {
		r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&hdrs[sent])), uintptr(len(pkts)-sent), 0, 0, 0)
		switch e {
		case 0:
			sent += int(r)
		case unix.EAGAIN:
			return false
		case unix.EINTR:
		default:
			serr = e
		}
		return true
	}
	for sent < len(pkts) && serr == nil {
		if err := rc.Write(send); err != nil {
			return sent, err
		}
	}
	clear(iovs) // no pointers into the packets beyond the call
	return sent, serr
}
