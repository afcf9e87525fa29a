//go:build !linux

package dnsfilter

import (
	"net"
	"net/netip"
)

// reusePort: only Linux spreads one port's datagrams over several
// sockets; elsewhere one socket serves each address.
const reusePort = false

// listenUDP binds one socket to addr.
func listenUDP(addr netip.AddrPort, _ int) ([]*net.UDPConn, error) {
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, err
	}
	return []*net.UDPConn{c}, nil
}

// serve reads one datagram per call: batch calls are Linux's.
func (u *udpServer) serve(c *net.UDPConn) {
	in := make([]byte, UDPSize)
	out := make([]byte, 0, UDPSize)
	failures := 0
	var m miss
	for {
		n, from, err := c.ReadFromUDPAddrPort(in)
		if err != nil {
			failures++
			if u.readFailed(c, err, failures) {
				return
			}
			continue
		}
		failures = 0
		if !u.s.admit(from.Addr().Unmap()) {
			continue
		}
		a, res := u.s.fastPath(out[:0], in[:n], from.Addr().Unmap(), &m)
		switch {
		case res == fastAnswered:
			if _, err := c.WriteToUDPAddrPort(a, from); err != nil {
				u.s.log.Debug("writing an answer failed", "client", from.Addr().String(), "err", err)
			}
			continue
		case res == fastMiss && u.s.forward(c, in[:n], from, &m, nil):
			continue
		}
		u.slow(c, in[:n], from)
	}
}

// answerBatch: other OSes write answers one at a time.
type answerBatch struct{}

// sendGroup writes answers i..j-1 one by one.
func (k *answerSink) sendGroup(i, j int) {
	_ = k.out // no batch here: Linux's sendmmsg only
	for x := i; x < j; x++ {
		k.s.writeAnswer(k.conns[x], k.to[x], k.bufs[x][:k.lens[x]])
	}
}
