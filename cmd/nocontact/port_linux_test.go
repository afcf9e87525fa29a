package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/daemon/control"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/installer/unit"
	"github.com/nocontact/nocontact/internal/wait"
)

// TestPortStrangerEndToEnd: a trial run of the real binary shares its
// UDP port among its sockets with SO_REUSEPORT; this test, another
// process of the same user, joins the port the same way, as a second DNS
// server would. The daemon finds it (at the latest at its next wake, at
// once when asked for its status), logs it, notes it once in the record
// of attempts and shows it in status; doctor's probe reads it from the
// status and doctor fails naming this process. Once the socket is closed,
// the warning goes (the record keeps the event).
func TestPortStrangerEndToEnd(t *testing.T) {
	t.Parallel()
	up := upstreamZone(t).String()
	dir := t.TempDir()
	cfgPath, state := filepath.Join(dir, "nocontact.toml"), filepath.Join(dir, "state")
	writeConfig(t, cfgPath, pactConfig(t, up, state, `block = ["instagram"]`))
	cmd := exec.Command(binary, "run", "--config", cfgPath)
	// Several sockets per address, whatever the machine's CPUs: the port
	// is shared, so another socket can join it.
	cmd.Env = append(os.Environ(), "GOMAXPROCS=4")
	d := startDaemonCmd(t, cmd, "")
	sock := filepath.Join(state, "c.sock")
	if st := statusJSON(t, sock); len(st.Health.Strangers) != 0 {
		t.Fatalf("strangers before anyone joined: %+v", st.Health.Strangers)
	}

	joiner, err := joinWithReusePort(t.Context(), "udp", d.addr)
	if err != nil {
		t.Fatalf("joining the daemon's port %s with SO_REUSEPORT: %v", d.addr, err)
	}
	defer joiner.Close()

	var st control.Status
	wait.For(t, "status to show the joined socket", func() bool {
		st = statusJSON(t, sock)
		return len(st.Health.Strangers) > 0
	})
	want := control.Stranger{Proto: "udp", Addr: d.addr, PID: os.Getpid()}
	got := st.Health.Strangers
	if len(got) != 1 || got[0].Proto != want.Proto || got[0].Addr != want.Addr || got[0].PID != want.PID ||
		!strings.Contains(got[0].Command, filepath.Base(os.Args[0])) {
		t.Fatalf("status shows strangers %+v, want this test's process %+v", got, want)
	}
	if n := st.Record.Counts["port_stranger"]; n != 1 {
		t.Errorf("the record counts %d port_stranger events, want 1: %v", n, st.Record.Events)
	}
	d.waitFor(t, "another program is bound to nocontact's DNS address")

	_, out, _ := cli(t, nil, binary, "status", "--socket", sock)
	if !strings.Contains(out, "Another program, ") || !strings.Contains(out, "listens on udp "+d.addr) {
		t.Errorf("status does not warn of the other program:\n%s", out)
	}

	// doctor, through its real probe of the service's status.
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath, cat)
	if err != nil {
		t.Fatal(err)
	}
	p := healthy()
	p.strangers = realProbes(systemDeps{paths: unit.Paths{ControlSocket: sock}}, cfg, cat).strangers
	var b bytes.Buffer
	if bad := renderDoctor(&b, doctor(context.Background(), cfg, cfgPath, p)); bad != 1 ||
		!strings.Contains(b.String(), "Another program listens where nocontact answers") ||
		!strings.Contains(b.String(), "sudo kill "+strconv.Itoa(os.Getpid())) {
		t.Errorf("doctor, want one problem naming pid %d:\n%s", os.Getpid(), b.String())
	}

	joiner.Close()
	wait.For(t, "status to stop showing the closed socket", func() bool {
		st = statusJSON(t, sock)
		return len(st.Health.Strangers) == 0
	})
	if n := st.Record.Counts["port_stranger"]; n != 1 {
		t.Errorf("after the socket closed, the record counts %d port_stranger events, want it kept at 1", n)
	}
}

// joinWithReusePort binds a socket of proto ("udp" or "tcp") to addr with
// SO_REUSEPORT and SO_REUSEADDR, as a second DNS server that wants to
// share the port would.
func joinWithReusePort(ctx context.Context, proto, addr string) (io.Closer, error) {
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
		return lc.ListenPacket(ctx, proto, addr)
	}
	return lc.Listen(ctx, proto, addr)
}

// TestPortHolders: when the service does not answer, doctor looks at
// /proc itself: every program bound to the listen addresses, except the
// installed nocontact (here, this test's own binary stands for it).
func TestPortHolders(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("doctor reads every process's sockets only as root: run `sudo go test ./cmd/nocontact -run TestPortHolders` (CI runs it as root)")
	}
	c, err := joinWithReusePort(t.Context(), "udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.(net.PacketConn).LocalAddr().(*net.UDPAddr).AddrPort()
	got, err := portHolders([]netip.AddrPort{addr}, "/usr/local/bin/nocontact")
	if err != nil || len(got) != 1 || got[0].PID != os.Getpid() || got[0].Proto != "udp" || got[0].Addr != addr.String() {
		t.Errorf("portHolders(%s) = %+v, %v; want this test's process", addr, got, err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := portHolders([]netip.AddrPort{addr}, exe); err != nil || len(got) != 0 {
		t.Errorf("portHolders with this binary as the installed one = %+v, %v; want none", got, err)
	}
}
