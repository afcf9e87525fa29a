package daemon

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nocontact/nocontact/internal/wait"
)

// fakeProcWith writes a /proc tree where this daemon ("self") holds no
// socket and process 500, "dnsmasq -k", holds socket 77, bound to addr
// over UDP when bound is true.
func fakeProcWith(t *testing.T, dir string, addr netip.AddrPort, bound bool) {
	t.Helper()
	for _, d := range []string{"net", "self/fd", "500/fd"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	table := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	if bound {
		a := addr.Addr().As4()
		// The kernel's way: the address as a 32-bit word of this
		// (little-endian) machine, in hex.
		table += fmt.Sprintf("   0: %02X%02X%02X%02X:%04X 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 77 2 0 0\n",
			a[3], a[2], a[1], a[0], addr.Port())
	}
	if err := os.WriteFile(filepath.Join(dir, "net", "udp"), []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "500/fd/3")
	os.Remove(link)
	if err := os.Symlink("socket:[77]", link); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "500/cmdline"), []byte("dnsmasq\x00-k\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWatchPort: a stranger on the filter's address (in a /proc made by
// the test) is shown in status while it is there, logged and recorded
// once however often the daemon looks, and said to be gone when it is.
func TestWatchPort(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the fake /proc is written for a little-endian machine")
	}
	f := newFixture(t)
	f.write(t, `block = ["instagram"]`)
	var logs syncBuffer
	o := f.options(t, nil)
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	proc := t.TempDir()
	o.ProcDir = proc
	fakeProcWith(t, proc, netip.AddrPort{}, false) // nobody yet
	d := f.startOpts(t, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()
	wait.For(t, "the filter to listen", func() bool { return len(d.srv.Addrs()) > 0 })
	addr := d.srv.Addrs()[0]

	fakeProcWith(t, proc, addr, true)
	for range 3 {
		st, err := d.Backend().Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if s := st.Health.Strangers; len(s) != 1 || s[0].PID != 500 || s[0].Command != "dnsmasq -k" || s[0].Addr != addr.String() || s[0].Proto != "udp" {
			t.Fatalf("status shows strangers %+v, want dnsmasq -k (pid 500) on udp %s", s, addr)
		}
		if n := st.Record.Counts["port_stranger"]; n != 1 {
			t.Fatalf("the record counts %d port_stranger events, want 1", n)
		}
	}
	if n := strings.Count(logs.String(), "another program is bound to nocontact's DNS address"); n != 1 {
		t.Errorf("the stranger was logged %d times, want once:\n%s", n, logs.String())
	}
	ev := d.eng.Record().Events
	if last := ev[len(ev)-1]; !strings.Contains(last.What, "dnsmasq -k (pid 500)") || !strings.Contains(last.What, addr.String()) {
		t.Errorf("the record says %q, want the program and the address", last.What)
	}

	fakeProcWith(t, proc, addr, false)
	st, err := d.Backend().Status(context.Background())
	if err != nil || len(st.Health.Strangers) != 0 || st.Record.Counts["port_stranger"] != 1 {
		t.Errorf("after the stranger left: strangers %+v, record %v, %v; want none, and the event kept", st.Health.Strangers, st.Record.Counts, err)
	}
	if !strings.Contains(logs.String(), "is gone") {
		t.Errorf("the log does not say the program is gone:\n%s", logs.String())
	}

	// A /proc that cannot be read is said once, not at every look.
	if err := os.Remove(filepath.Join(proc, "net", "udp")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proc, "net", "tcp"), []byte("heading\ngarbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.watchPort()
	d.watchPort()
	if n := strings.Count(logs.String(), "could not check for other programs"); n != 1 {
		t.Errorf("a failing check was logged %d times, want once", n)
	}
}

// TestAddressInUseNamesTheHolder: when the filter cannot start because
// another program holds its address, the error names that program.
func TestAddressInUseNamesTheHolder(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f := newFixture(t)
	text := fmt.Sprintf("[pact]\nblock = [\"instagram\"]\n[dns]\nlisten = [%q]\nupstreams = [\"127.0.0.1:9\"]\n[daemon]\nstate_dir = %q\ncontrol_socket = %q\n",
		ln.Addr().String(), filepath.Join(f.dir, "state"), filepath.Join(f.dir, "c.sock"))
	if err := os.WriteFile(f.cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	d := f.start(t)
	err = d.Run(context.Background())
	want := fmt.Sprintf("(pid %d) on tcp %s", os.Getpid(), ln.Addr())
	if err == nil || !strings.Contains(err.Error(), "already uses this address") || !strings.Contains(err.Error(), "held by ") || !strings.Contains(err.Error(), want) {
		t.Errorf("Run = %v, want the address in use, held by %q", err, want)
	}
}
