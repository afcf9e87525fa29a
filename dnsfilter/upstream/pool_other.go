//go:build !linux

package upstream

import (
	"errors"
	"net"
	"time"
)

// read reads answers from s one at a time until s is closed. The socket
// is connected, and the source is checked again where the OS would not.
func (s *poolSock) read() {
	buf := make([]byte, readSize)
	rd := new(reader)
	want := s.pool.addr.AddrPort()
	failures := 0
	for {
		n, from, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.isClosed() {
				s.shut(errClosed)
				return
			}
			s.shut(err)
			if failures++; failures > 3 {
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		failures = 0
		if from.Addr().Unmap() != want.Addr().Unmap() || from.Port() != want.Port() {
			s.pool.f.dropped.n.Add(1)
			continue
		}
		s.deliver(buf[:n], rd)
		rd.b.end()
	}
}

// writer sends a socket's queued queries one by one.
type writer struct{}

func (writer) writeBatch(c *net.UDPConn, pkts [][]byte) (int, error) {
	for i, p := range pkts {
		if _, err := c.Write(p); err != nil {
			return i, err
		}
	}
	return len(pkts), nil
}
