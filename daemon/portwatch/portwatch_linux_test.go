package portwatch

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// reusePort binds a UDP socket to addr with SO_REUSEPORT.
func reusePort(t *testing.T, addr string) *net.UDPConn {
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
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.(*net.UDPConn)
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
	if runtime.GOOS != "linux" {
		t.Skip("reads Linux's /proc")
	}
	a := reusePort(t, "127.0.0.1:0")
	addr := a.LocalAddr().(*net.UDPAddr).AddrPort()
	b := reusePort(t, addr.String())
	ln, err := net.Listen("tcp", addr.String())
	if err != nil {
		t.Skipf("the TCP port beside the UDP one is taken: %v", err)
	}
	defer ln.Close()
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
