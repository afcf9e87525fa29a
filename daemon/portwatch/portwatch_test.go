package portwatch

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// kernelAddr writes a as the kernel's socket tables do: 32-bit words in
// the machine's byte order, in hex, then the port.
func kernelAddr(ap netip.AddrPort) string {
	raw := ap.Addr().AsSlice()
	var b strings.Builder
	for i := 0; i < len(raw); i += 4 {
		fmt.Fprintf(&b, "%08X", binary.NativeEndian.Uint32(raw[i:]))
	}
	return fmt.Sprintf("%s:%04X", b.String(), ap.Port())
}

const heading = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"

// line is one row of a socket table.
func line(local, remote string, state, uid int, inode uint64) string {
	return fmt.Sprintf("   0: %s %s %02X 00000000:00000000 00:00000000 00000000 %5d        0 %d 2 0000000000000000 0\n",
		kernelAddr(netip.MustParseAddrPort(local)), kernelAddr(netip.MustParseAddrPort(remote)), state, uid, inode)
}

func TestParseTable(t *testing.T) {
	if got := kernelAddr(netip.MustParseAddrPort("127.0.0.1:53")); binary.NativeEndian.Uint16([]byte{1, 0}) == 1 && got != "0100007F:0035" {
		t.Fatalf("the test's own encoding is wrong on this little-endian machine: %s", got)
	}
	udp := heading +
		line("127.0.0.1:53", "0.0.0.0:0", 7, 0, 1001) +
		line("0.0.0.0:5353", "0.0.0.0:0", 7, 104, 1002) +
		line("127.0.0.1:40000", "9.9.9.9:53", 1, 1000, 1003) +
		line("127.0.0.1:53", "0.0.0.0:0", 7, 0, 0) // no inode: skipped
	got, err := ParseTable(strings.NewReader(udp), "udp")
	if err != nil {
		t.Fatal(err)
	}
	want := []Socket{
		{"udp", netip.MustParseAddrPort("127.0.0.1:53"), 1001, 0},
		{"udp", netip.MustParseAddrPort("0.0.0.0:5353"), 1002, 104},
		{"udp", netip.MustParseAddrPort("127.0.0.1:40000"), 1003, 1000},
	}
	if !slices.Equal(got, want) {
		t.Errorf("udp:\n got %v\nwant %v", got, want)
	}

	tcp6 := heading +
		line("[::1]:53", "[::]:0", 0x0A, 0, 2001) +
		line("[::ffff:127.0.0.1]:53", "[::]:0", 0x0A, 0, 2002) +
		line("[::1]:53", "[::1]:41000", 0x01, 0, 2003) + // a connection: not listening
		line("[2001:db8::1]:853", "[::]:0", 0x0A, 0, 2004)
	got, err = ParseTable(strings.NewReader(tcp6), "tcp")
	if err != nil {
		t.Fatal(err)
	}
	want = []Socket{
		{"tcp", netip.MustParseAddrPort("[::1]:53"), 2001, 0},
		{"tcp", netip.MustParseAddrPort("127.0.0.1:53"), 2002, 0},
		{"tcp", netip.MustParseAddrPort("[2001:db8::1]:853"), 2004, 0},
	}
	if !slices.Equal(got, want) {
		t.Errorf("tcp6:\n got %v\nwant %v", got, want)
	}
}

func TestParseTableErrors(t *testing.T) {
	for _, bad := range []string{
		heading + "   0: 0100007F:0035 00000000:0000 07\n",                                                                               // too short
		heading + "   0: 0100007F 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 1 2 0 0\n",                                 // no port
		heading + "   0: 0100007G:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 1 2 0 0\n",                            // not hex
		heading + "   0: 0100007F00:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 1 2 0 0\n",                          // 5 bytes
		heading + "   0: 0100007F:35 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 1 2 0 0\n",                              // short port
		heading + "   0: 0100007F:0035 00000000:0000 0X 00000000:00000000 00:00000000 00000000 0 0 1 2 0 0\n",                            // state
		heading + "   0: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000 -1 0 1 2 0 0\n",                           // uid
		heading + "   0: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 inode 2 0 0\n",                        // inode
		heading + "   0: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 1 2 0 0" + strings.Repeat(" x", 3000), // too long
	} {
		if s, err := ParseTable(strings.NewReader(bad), "udp"); err == nil {
			t.Errorf("ParseTable(%.90q) = %v, want an error", bad, s)
		}
	}
	if _, err := ParseTable(strings.NewReader(heading), "sctp"); err == nil {
		t.Error("protocol sctp: no error")
	}
}

func TestOverlap(t *testing.T) {
	for _, tt := range []struct {
		ours, theirs string
		want         bool
	}{
		{"127.0.0.1:53", "127.0.0.1:53", true},
		{"127.0.0.1:53", "127.0.0.1:54", false},
		{"127.0.0.1:53", "127.0.0.2:53", false},
		{"127.0.0.1:53", "0.0.0.0:53", true},
		{"127.0.0.1:53", "[::]:53", true}, // dual-stack
		{"127.0.0.1:53", "[::1]:53", false},
		{"[::1]:53", "0.0.0.0:53", false}, // an IPv4 wildcard takes no IPv6
		{"[::1]:53", "[::]:53", true},
		{"[::1]:53", "[::ffff:127.0.0.1]:53", false},
		{"0.0.0.0:53", "192.168.1.2:53", true},
		{"0.0.0.0:53", "[fe80::1%2]:53", false},
		{"[::]:53", "192.168.1.2:53", true},
		{"[fe80::1%eth0]:53", "[fe80::1]:53", true},
	} {
		if got := Overlap(netip.MustParseAddrPort(tt.ours), netip.MustParseAddrPort(tt.theirs)); got != tt.want {
			t.Errorf("Overlap(%s, %s) = %v, want %v", tt.ours, tt.theirs, got, tt.want)
		}
	}
}

// fakeProc writes a /proc tree: the socket tables given, and for each
// process its fds (inodes of sockets, and one file) and command line.
func fakeProc(t *testing.T, tables map[string]string, procs map[string]fakeProcess) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range tables {
		if err := os.WriteFile(filepath.Join(dir, "net", name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for pid, p := range procs {
		fd := filepath.Join(dir, pid, "fd")
		if err := os.MkdirAll(fd, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/dev/null", filepath.Join(fd, "0")); err != nil {
			t.Fatal(err)
		}
		for i, ino := range p.sockets {
			if err := os.Symlink(fmt.Sprintf("socket:[%d]", ino), filepath.Join(fd, fmt.Sprint(i+3))); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, pid, "cmdline"), []byte(p.cmdline), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, pid, "comm"), []byte(p.comm+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type fakeProcess struct {
	sockets       []uint64
	cmdline, comm string
}

func TestStrangersFromAFakeProc(t *testing.T) {
	dir := fakeProc(t, map[string]string{
		"udp": heading +
			line("127.0.0.1:53", "0.0.0.0:0", 7, 0, 11) + // ours
			line("127.0.0.1:53", "0.0.0.0:0", 7, 0, 12) + // ours, a second socket of the group
			line("127.0.0.1:53", "0.0.0.0:0", 7, 0, 20) + // unbound's, joined
			line("127.0.0.53:53", "0.0.0.0:0", 7, 101, 30), // resolved's stub, elsewhere: fine
		"tcp": heading +
			line("127.0.0.1:53", "0.0.0.0:0", 0x0A, 0, 13) + // ours
			line("0.0.0.0:53", "0.0.0.0:0", 0x0A, 0, 40), // a wildcard listener with no process to be found
		// no udp6 or tcp6: IPv6 turned off
	}, map[string]fakeProcess{
		"100": {sockets: []uint64{11, 12, 13}, cmdline: "nocontact\x00run\x00--service\x00", comm: "nocontact"},
		"200": {sockets: []uint64{20}, cmdline: "/usr/sbin/unbound\x00-d\x00", comm: "unbound"},
		"201": {sockets: []uint64{20}, cmdline: "", comm: "kworker"}, // shares it, has no command line
		"300": {sockets: []uint64{30}, cmdline: "/lib/systemd/systemd-resolved\x00", comm: "systemd-resolve"},
	})
	p := Proc{Dir: dir, Self: "100"}
	own, err := p.Own()
	if err != nil {
		t.Fatal(err)
	}
	if len(own) != 3 || !own[11] || !own[12] || !own[13] {
		t.Fatalf("Own = %v, want 11, 12, 13", own)
	}
	got, err := p.Strangers([]netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:53")}, own)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("Strangers = %+v, want unbound's socket and the wildcard listener", got)
	}
	slices.SortFunc(got[0].Procs, func(a, b Process) int { return a.PID - b.PID })
	if s := got[0]; s.Inode != 20 || s.Proto != "udp" || s.Who() != "/usr/sbin/unbound -d (pid 200), kworker (pid 201)" {
		t.Errorf("first stranger: %+v, who %q", s, s.Who())
	}
	if s := got[1]; s.Inode != 40 || s.Proto != "tcp" || len(s.Procs) != 0 || !strings.Contains(s.Who(), "could not find") {
		t.Errorf("second stranger: %+v, who %q", s, s.Who())
	}
	// Nobody else: nothing found.
	got, err = p.Strangers([]netip.AddrPort{netip.MustParseAddrPort("[::1]:53")}, own)
	if err != nil || got != nil {
		t.Errorf("on [::1]:53: %v, %v; want none", got, err)
	}
	// A table that cannot be read is an error, never "nobody".
	if err := os.WriteFile(filepath.Join(dir, "net", "udp6"), []byte(heading+"garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Strangers([]netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:53")}, own); err == nil || !strings.Contains(err.Error(), "udp6") {
		t.Errorf("a damaged table: %v, want an error naming it", err)
	}
}

func FuzzParseTable(f *testing.F) {
	f.Add(heading+line("127.0.0.1:53", "0.0.0.0:0", 7, 0, 1001), true)
	f.Add(heading+line("[::1]:53", "[::]:0", 0x0A, 0, 2001), false)
	f.Add(heading+"   0: 0100007F:0035 00000000:0000 07 0 0 0 0 0 1\n", true)
	f.Fuzz(func(t *testing.T, text string, udp bool) {
		proto := "tcp"
		if udp {
			proto = "udp"
		}
		socks, err := ParseTable(strings.NewReader(text), proto)
		if err != nil {
			return
		}
		for _, s := range socks {
			if s.Inode == 0 || !s.Addr.IsValid() || s.Addr.Addr().Is4In6() || s.Proto != proto {
				t.Errorf("ParseTable gave %+v", s)
			}
			// What it read, written back the kernel's way, reads the same.
			back, err := parseAddr(kernelAddr(s.Addr))
			if err != nil || back != s.Addr {
				t.Errorf("%s read back as %s, %v", s.Addr, back, err)
			}
		}
	})
}
