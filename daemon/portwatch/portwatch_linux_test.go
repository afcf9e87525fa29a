package portwatch

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// listenReusePort binds a UDP socket to addr with SO_REUSEPORT.
func listenReusePort(t *testing.T, addr string) (*net.UDPConn, error) {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(t.Context(), "udp", addr)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { pc.Close() })
	return pc.(*net.UDPConn), nil
}

// reusePort is listenReusePort that fails the test on an error.
func reusePort(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	c, err := listenReusePort(t, addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// inode returns the inode of a socket.
func inode(t *testing.T, c syscall.Conn) uint64 {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	return st.Ino
}

// TestStrangersOnThisMachine reads the real /proc: two sockets share a
// port through SO_REUSEPORT, as the filter's do, and a third joins them;
// with the first two counted as ours, the third is the stranger, named
// by this test's own process.
func TestStrangersOnThisMachine(t *testing.T) {
	// A TCP port, then UDP on the same number, as the filter binds them.
	var (
		ln   net.Listener
		a    *net.UDPConn
		addr netip.AddrPort
	)
	for try := 0; a == nil; try++ {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		addr = ln.Addr().(*net.TCPAddr).AddrPort()
		if a, err = listenReusePort(t, addr.String()); err != nil {
			ln.Close()
			if try == 20 {
				t.Fatalf("no port free for both TCP and UDP in 20 tries: %v", err)
			}
		}
	}
	defer ln.Close()
	b := reusePort(t, addr.String())
	joiner := reusePort(t, addr.String())

	var p Proc
	own, err := p.Own()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []syscall.Conn{a, b, ln.(*net.TCPListener), joiner} {
		if ino := inode(t, c); !own[ino] {
			t.Fatalf("Own misses this process's socket %d", ino)
		}
	}
	socks, err := p.Bound([]netip.AddrPort{addr})
	if err != nil {
		t.Fatal(err)
	}
	if len(socks) != 4 {
		t.Errorf("Bound(%s) = %v, want the 3 UDP sockets and the TCP listener", addr, socks)
	}
	theirs := inode(t, joiner)
	delete(own, theirs)
	got, err := p.Strangers([]netip.AddrPort{addr}, own)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Inode != theirs || got[0].Proto != "udp" || got[0].Addr != addr || got[0].UID != os.Geteuid() {
		t.Fatalf("Strangers = %+v, want the joiner %d on udp %s", got, theirs, addr)
	}
	if len(got[0].Procs) != 1 || got[0].Procs[0].PID != os.Getpid() || !strings.Contains(got[0].Procs[0].Command, filepath.Base(os.Args[0])) {
		t.Errorf("the joiner's process: %+v, want pid %d running %s", got[0].Procs, os.Getpid(), os.Args[0])
	}
	if exe, _ := os.Executable(); got[0].Procs[0].Exe != exe {
		t.Errorf("the joiner's program: %q, want %q", got[0].Procs[0].Exe, exe)
	}
}
