// Package portwatch finds the sockets of other programs bound to the
// addresses the DNS filter answers on, and names the processes that hold
// them, from Linux's /proc: the socket tables (/proc/net/udp, udp6, tcp,
// tcp6) say which sockets are bound where, by inode; a process's fd
// folder says which sockets it holds ("socket:[INODE]").
//
// It only reads, and it decides nothing: the daemon calls it at start and
// every minute, logs and records what it finds, and `doctor` reports it.
// It must not bind, close or signal anything. Elsewhere than Linux there is
// no /proc to read (Supported is false).
package portwatch

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// Supported reports whether this OS has the /proc this package reads.
const Supported = runtime.GOOS == "linux"

// Socket is one socket of the kernel's tables that is bound to a local
// address: a UDP socket, or a TCP socket that listens.
type Socket struct {
	Proto string         // "udp" or "tcp"
	Addr  netip.AddrPort // where it is bound; IPv4-mapped addresses are unmapped
	Inode uint64         // the socket's inode, as in "socket:[INODE]"
	UID   int            // the user that made it
}

// Process is a process that holds a socket.
type Process struct {
	PID     int
	Command string // its command line, shortened; its name when that is empty
	Exe     string // the program it runs, when /proc says
}

// Stranger is a socket bound to one of the filter's addresses that the
// filter does not own, with the processes that hold it (none when no
// process could be found: one in another container, or a socket in
// flight between processes).
type Stranger struct {
	Socket
	Procs []Process
}

// Who names the program behind s in plain words, like
// "unbound -d (pid 1234)".
func (s Stranger) Who() string {
	if len(s.Procs) == 0 {
		return fmt.Sprintf("a program nocontact could not find (its socket belongs to user %d)", s.UID)
	}
	var out []string
	for _, p := range s.Procs {
		out = append(out, fmt.Sprintf("%s (pid %d)", p.Command, p.PID))
	}
	return strings.Join(out, ", ")
}

// Proc reads a /proc tree. The zero value reads this machine's.
type Proc struct {
	// Dir is the /proc tree; "" means "/proc".
	Dir string
	// Self is the folder of the process whose sockets are "ours", inside
	// Dir; "" means "self" (this process).
	Self string
}

func (p Proc) dir() string {
	if p.Dir == "" {
		return "/proc"
	}
	return p.Dir
}

// tables are the socket tables read, with their protocol.
var tables = []struct{ file, proto string }{
	{"net/udp", "udp"}, {"net/udp6", "udp"}, {"net/tcp", "tcp"}, {"net/tcp6", "tcp"},
}

// Bound lists the sockets that are bound where they could take questions
// meant for one of addrs: the same port and the same address, or a
// wildcard address (0.0.0.0, ::) on either side. A table that does not
// exist (IPv6 turned off) is skipped.
func (p Proc) Bound(addrs []netip.AddrPort) ([]Socket, error) {
	var out []Socket
	// /proc/net is the network namespace of the process's main thread,
	// which a goroutine locked to it may have moved (setns); the calling
	// thread's own view is the one its sockets live in.
	net := ""
	if p.Dir == "" {
		if _, err := os.Stat("/proc/thread-self/net"); err == nil {
			net = "/proc/thread-self"
		}
	}
	for _, t := range tables {
		path := filepath.Join(p.dir(), t.file)
		if net != "" {
			path = filepath.Join(net, t.file)
		}
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		socks, err := ParseTable(f, t.proto)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for _, s := range socks {
			if slices.ContainsFunc(addrs, func(a netip.AddrPort) bool { return Overlap(a, s.Addr) }) {
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// Overlap reports whether a socket bound to b could receive what is sent
// to a: the same port, and the same address or a wildcard on either side
// (:: taken as dual-stack, since the tables do not say whether it is
// IPv6-only).
func Overlap(a, b netip.AddrPort) bool {
	if a.Port() != b.Port() {
		return false
	}
	x, y := a.Addr().Unmap().WithZone(""), b.Addr().Unmap().WithZone("")
	switch {
	case x == y:
		return true
	case x.IsUnspecified():
		return x.Is6() || y.Is4()
	case y.IsUnspecified():
		return y.Is6() || x.Is4()
	}
	return false
}

// Own returns the inodes of the sockets the process at p.Self holds.
func (p Proc) Own() (map[uint64]bool, error) {
	self := p.Self
	if self == "" {
		self = "self"
	}
	own := map[uint64]bool{}
	err := p.sockets(filepath.Join(p.dir(), self, "fd"), func(ino uint64) bool {
		own[ino] = true
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("reading this process's sockets: %w", err)
	}
	return own, nil
}

// Strangers lists the sockets bound to addrs (see Bound) that are not
// among own, with the processes that hold them.
func (p Proc) Strangers(addrs []netip.AddrPort, own map[uint64]bool) ([]Stranger, error) {
	socks, err := p.Bound(addrs)
	if err != nil {
		return nil, err
	}
	var out []Stranger
	want := map[uint64]bool{}
	for _, s := range socks {
		if !own[s.Inode] {
			out = append(out, Stranger{Socket: s})
			want[s.Inode] = true
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	owners := p.Owners(want)
	for i := range out {
		out[i].Procs = owners[out[i].Inode]
	}
	return out, nil
}

// Owners finds the processes that hold the sockets with the given inodes.
// Processes that end meanwhile, or whose fds cannot be read, are skipped.
func (p Proc) Owners(inodes map[uint64]bool) map[uint64][]Process {
	out := map[uint64][]Process{}
	ents, err := os.ReadDir(p.dir())
	if err != nil {
		return out
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		dir := filepath.Join(p.dir(), e.Name())
		var found []uint64
		_ = p.sockets(filepath.Join(dir, "fd"), func(ino uint64) bool { // a process that ended: skipped
			if inodes[ino] && !slices.Contains(found, ino) {
				found = append(found, ino)
			}
			return true
		})
		if len(found) == 0 {
			continue
		}
		proc := Process{PID: pid, Command: command(dir)}
		proc.Exe, _ = os.Readlink(filepath.Join(dir, "exe")) // "" when it cannot be read
		for _, ino := range found {
			out[ino] = append(out[ino], proc)
		}
	}
	return out
}

// maxCommand bounds the command line kept for a process.
const maxCommand = 120

// command reads a process's command line, or its name when it has none
// (a kernel thread) or it cannot be read.
func command(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "cmdline"))
	s := strings.TrimSpace(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
	if err != nil || s == "" {
		b, _ = os.ReadFile(filepath.Join(dir, "comm"))
		s = strings.TrimSpace(string(b))
	}
	if s == "" {
		s = "an unnamed program"
	}
	if len(s) > maxCommand {
		s = s[:maxCommand] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// sockets calls fn with the inode of every socket among the fds in dir,
// until fn returns false.
func (p Proc) sockets(dir string, fn func(uint64) bool) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		rest, ok := strings.CutPrefix(target, "socket:[")
		if !ok {
			continue
		}
		ino, err := strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64)
		if err != nil {
			continue
		}
		if !fn(ino) {
			return nil
		}
	}
	return nil
}

// tcpListen is the state of a listening TCP socket in /proc/net/tcp.
const tcpListen = 0x0A

// maxLine bounds a line of a socket table (they are about 150 bytes).
const maxLine = 4096

// ParseTable reads one of Linux's socket tables (/proc/net/udp, udp6,
// tcp, tcp6) and returns its bound sockets: for "tcp", only those that
// listen (a connection's socket takes no new questions), and never one
// without an inode (a connection in TIME_WAIT). Lines it cannot read are
// an error: a table it misreads must not look empty.
func ParseTable(r io.Reader, proto string) ([]Socket, error) {
	if proto != "udp" && proto != "tcp" {
		return nil, fmt.Errorf("portwatch: protocol %q: want udp or tcp", proto)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxLine)
	var out []Socket
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if n == 1 || len(f) == 0 {
			continue // the heading
		}
		if len(f) < 10 {
			return nil, fmt.Errorf("line %d: %d fields, want at least 10", n, len(f))
		}
		addr, err := parseAddr(f[1])
		if err != nil {
			return nil, fmt.Errorf("line %d: local address %q: %w", n, f[1], err)
		}
		st, err := strconv.ParseUint(f[3], 16, 8)
		if err != nil {
			return nil, fmt.Errorf("line %d: state %q: %w", n, f[3], err)
		}
		uid, err := strconv.ParseUint(f[7], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("line %d: uid %q: %w", n, f[7], err)
		}
		ino, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: inode %q: %w", n, f[9], err)
		}
		if ino == 0 || (proto == "tcp" && st != tcpListen) {
			continue
		}
		out = append(out, Socket{Proto: proto, Addr: addr, Inode: ino, UID: int(uid)})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// parseAddr reads "0100007F:0035": the address as the kernel keeps it,
// 32-bit words in the machine's byte order printed in hex, then the port.
func parseAddr(s string) (netip.AddrPort, error) {
	host, port, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, errors.New("no port")
	}
	pn, err := strconv.ParseUint(port, 16, 16)
	if err != nil || len(port) != 4 {
		return netip.AddrPort{}, fmt.Errorf("port %q: want 4 hex digits", port)
	}
	raw, err := hex.DecodeString(host)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("address %q: want 8 or 32 hex digits", host)
	}
	b := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(b[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	a, _ := netip.AddrFromSlice(b) // 4 or 16 bytes: always an address
	return netip.AddrPortFrom(a.Unmap(), uint16(pn)), nil
}
