package dnsfilter

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// joinPort binds a socket of proto to addr with SO_REUSEPORT and
// SO_REUSEADDR, as another DNS server that wants to share the port would.
func joinPort(ctx context.Context, proto, addr string) (func(), error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = errors.Join(unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1),
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1))
		}); err != nil {
			return err
		}
		return serr
	}}
	if proto == "udp" {
		c, err := lc.ListenPacket(ctx, proto, addr)
		if err != nil {
			return nil, err
		}
		return func() { c.Close() }, nil
	}
	l, err := lc.Listen(ctx, proto, addr)
	if err != nil {
		return nil, err
	}
	return func() { l.Close() }, nil
}

// TestExclusiveKeepsOthersOff: with Exclusive, no other socket can bind
// the filter's address, over UDP or TCP, on it or on the wildcard of its
// port, even with SO_REUSEPORT; without it, a UDP socket with
// SO_REUSEPORT can join the filter's (which is why the installed service
// sets it).
func TestExclusiveKeepsOthersOff(t *testing.T) {
	for _, exclusive := range []bool{false, true} {
		p, err := NewPolicy(testCatalog(t), Spec{Platforms: []string{"instagram"}})
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewServer(Options{Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}, Exclusive: exclusive}, p)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		port := s.Addrs()[0].Port()
		for _, tt := range []struct{ proto, host string }{
			{"udp", "127.0.0.1"}, {"udp", "0.0.0.0"}, {"tcp", "127.0.0.1"}, {"tcp", "0.0.0.0"},
		} {
			addr := netip.AddrPortFrom(netip.MustParseAddr(tt.host), port).String()
			done, err := joinPort(t.Context(), tt.proto, addr)
			if err == nil {
				done()
			}
			// A UDP socket joins a shared port, on its address or on the
			// wildcard.
			wantJoin := !exclusive && tt.proto == "udp" && udpSockets() > 1
			switch {
			case wantJoin && err != nil:
				t.Errorf("shared port: joining %s %s: %v, want it to succeed (the test is wrong)", tt.proto, addr, err)
			case !wantJoin && !errors.Is(err, syscall.EADDRINUSE):
				t.Errorf("exclusive %v: joining %s %s: %v, want EADDRINUSE", exclusive, tt.proto, addr, err)
			}
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}
