package export_test

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/nocontact/nocontact/dnsfilter"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/dnsfilter/dnstest"
	"github.com/nocontact/nocontact/dnsfilter/export"
	"github.com/nocontact/nocontact/internal/wait"
)

// testList is what a pact on Instagram with one domain of the person's
// own and one allow entry blocks.
func testList(t *testing.T) export.List {
	t.Helper()
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	p, err := dnsfilter.NewPolicy(cat, dnsfilter.Spec{
		Platforms: []string{"instagram"},
		Domains:   []string{"their-blog.example"},
		Allow:     []string{"help.instagram.com"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p.Blocklist()
}

// The stand-in upstream's answers: what a name gets when the exported
// list does not block it.
var upstreamRecords = []string{
	"example.org. 300 IN A 192.0.2.10",
	"help.instagram.com. 300 IN A 192.0.2.11",
	"x.help.instagram.com. 300 IN A 192.0.2.12",
	"instagram.com. 300 IN A 192.0.2.13",
	"www.instagram.com. 300 IN A 192.0.2.13",
	"i.cdninstagram.com. 300 IN A 192.0.2.13",
	"their-blog.example. 300 IN A 192.0.2.14",
	"deep.sub.their-blog.example. 300 IN A 192.0.2.14",
	"mask.icloud.com. 300 IN A 192.0.2.15",
}

// TestExportLoadedIntoRealServers loads each format into the program that
// reads it (dnsmasq for hosts and dnsmasq, unbound, BIND's named for the
// response policy zone), on loopback in front of a stand-in upstream, and
// asks it with dig: blocked names get 0.0.0.0 (or NXDOMAIN for Private
// Relay's), allowed ones the upstream's answer.
func TestExportLoadedIntoRealServers(t *testing.T) {
	list := testList(t)
	up := dnstest.Serve(t, dnstest.NewZone(t, upstreamRecords...))
	dig := need(t, "dig", "bind9-dnsutils")

	type want struct {
		name, qtype, status, answer string
	}
	blocked := func(name string) want { return want{name, "A", "NOERROR", "0.0.0.0"} }
	passed := func(name, addr string) want { return want{name, "A", "NOERROR", addr} }
	common := []want{
		blocked("instagram.com"),
		blocked("www.instagram.com"),
		{"instagram.com", "AAAA", "NOERROR", "::"},
		blocked("their-blog.example"),
		passed("example.org", "192.0.2.10"),
		passed("help.instagram.com", "192.0.2.11"),
		passed("x.help.instagram.com", "192.0.2.12"),
	}
	everySubdomain := []want{
		blocked("i.cdninstagram.com"),
		blocked("deep.sub.their-blog.example"),
		{"mask.icloud.com", "A", "NXDOMAIN", ""},
		{"use-application-dns.net", "A", "NXDOMAIN", ""},
	}
	for _, tt := range []struct {
		format string
		start  func(t *testing.T, file string, up netip.AddrPort) int
		wants  []want
	}{
		{"hosts", startDnsmasqHosts, append(common,
			// A hosts file names whole names: deeper subdomains pass.
			passed("i.cdninstagram.com", "192.0.2.13"),
			passed("deep.sub.their-blog.example", "192.0.2.14"),
			blocked("mask.icloud.com"),
			want{"use-application-dns.net", "A", "NXDOMAIN", ""})}, // the stand-in does not know it
		{"dnsmasq", startDnsmasq, append(common, everySubdomain...)},
		{"unbound", startUnbound, append(common, everySubdomain...)},
		{"rpz", startNamed, append(common, everySubdomain...)},
	} {
		t.Run(tt.format, func(t *testing.T) {
			var b bytes.Buffer
			if err := export.Write(&b, tt.format, list, export.Options{Serial: 7, Source: "a test"}); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "nocontact."+tt.format)
			if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			port := tt.start(t, file, up)
			for _, w := range tt.wants {
				status, answers := digAsk(t, dig, port, w.name, w.qtype)
				got := strings.Join(answers, " ")
				if status != w.status || got != w.answer {
					t.Errorf("dig %s %s: %s %q, want %s %q", w.name, w.qtype, status, got, w.status, w.answer)
				}
			}
		})
	}
}

// need finds a program, or skips the test saying which Debian package
// has it (CI installs them all).
func need(t *testing.T, prog, pkg string) string {
	t.Helper()
	for _, p := range []string{prog, "/usr/sbin/" + prog, "/usr/bin/" + prog} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Skipf("needs %s (Debian package %s; CI installs it): apt-get install %s", prog, pkg, pkg)
	return ""
}

// freePort returns a port free on 127.0.0.1 for both UDP and TCP, for a
// program that cannot be handed a socket.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		pc.Close()
		if err == nil {
			ln.Close()
			return port
		}
	}
	t.Fatal("no free port on 127.0.0.1")
	return 0
}

// startProgram runs a DNS server until the test ends and waits until it
// answers on port.
func startProgram(t *testing.T, port int, name string, args ...string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("%s said:\n%s", filepath.Base(name), out.String())
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	wait.For(t, filepath.Base(name)+" to answer on "+addr, func() bool {
		select {
		case <-exited:
			t.Fatalf("%s exited: %s", name, out.String())
		default:
		}
		q := new(dns.Msg)
		q.SetQuestion("example.org.", dns.TypeA)
		r, _, err := (&dns.Client{Timeout: 500 * time.Millisecond}).Exchange(q, addr)
		return err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0
	})
}

func dnsmasqArgs(port int, up netip.AddrPort) []string {
	return []string{"--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll",
		"--listen-address=127.0.0.1", "--bind-interfaces", fmt.Sprintf("--port=%d", port),
		fmt.Sprintf("--server=127.0.0.1#%d", up.Port()), "--pid-file=", "--user=root", "--cache-size=0"}
}

func startDnsmasqHosts(t *testing.T, file string, up netip.AddrPort) int {
	prog := need(t, "dnsmasq", "dnsmasq-base")
	port := freePort(t)
	startProgram(t, port, prog, append(dnsmasqArgs(port, up), "--addn-hosts="+file)...)
	return port
}

func startDnsmasq(t *testing.T, file string, up netip.AddrPort) int {
	prog := need(t, "dnsmasq", "dnsmasq-base")
	port := freePort(t)
	startProgram(t, port, prog, append(dnsmasqArgs(port, up), "--conf-file="+file)...)
	return port
}

func startUnbound(t *testing.T, file string, up netip.AddrPort) int {
	prog := need(t, "unbound", "unbound")
	port := freePort(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "unbound.conf")
	text := fmt.Sprintf(`server:
  interface: 127.0.0.1
  port: %d
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  num-threads: 1
  chroot: ""
  username: ""
  directory: %q
  pidfile: ""
  use-syslog: no
  logfile: ""
  do-daemonize: no
  do-not-query-localhost: no
  module-config: "iterator"
  qname-minimisation: no
include: %q
forward-zone:
  name: "."
  forward-addr: 127.0.0.1@%d
remote-control:
  control-enable: no
`, port, dir, file, up.Port())
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if check, err := exec.LookPath("unbound-checkconf"); err == nil {
		if out, err := exec.Command(check, conf).CombinedOutput(); err != nil {
			t.Fatalf("unbound-checkconf: %v\n%s", err, out)
		}
	}
	startProgram(t, port, prog, "-d", "-c", conf)
	return port
}

func startNamed(t *testing.T, file string, up netip.AddrPort) int {
	prog := need(t, "named", "bind9")
	if check, err := exec.LookPath("named-checkzone"); err == nil {
		if out, err := exec.Command(check, export.RPZOrigin, file).CombinedOutput(); err != nil {
			t.Fatalf("named-checkzone: %v\n%s", err, out)
		}
	}
	port := freePort(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "named.conf")
	text := fmt.Sprintf(`options {
	directory %[1]q;
	pid-file %[2]q;
	session-keyfile %[3]q;
	listen-on port %[4]d { 127.0.0.1; };
	listen-on-v6 { none; };
	forwarders { 127.0.0.1 port %[5]d; };
	forward only;
	recursion yes;
	allow-query { 127.0.0.1; };
	dnssec-validation no;
	response-policy { zone %[6]q; };
};
controls { };
zone %[6]q { type primary; file %[7]q; };
`, dir, filepath.Join(dir, "named.pid"), filepath.Join(dir, "session.key"), port, up.Port(), export.RPZOrigin, file)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	startProgram(t, port, prog, "-g", "-4", "-c", conf)
	return port
}

var statusRE = regexp.MustCompile(`status: ([A-Z]+)`)

// digAsk asks with dig and returns the status and the answers' data.
func digAsk(t *testing.T, dig string, port int, name, qtype string) (string, []string) {
	t.Helper()
	out, err := exec.Command(dig, "@127.0.0.1", "-p", fmt.Sprint(port), "+tries=1", "+time=5",
		"+noall", "+comments", "+answer", name, qtype).CombinedOutput()
	if err != nil {
		t.Fatalf("dig %s %s: %v\n%s", name, qtype, err, out)
	}
	m := statusRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("dig %s %s: no status in\n%s", name, qtype, out)
	}
	var answers []string
	for _, line := range strings.Split(string(out), "\n") {
		if line == "" || strings.HasPrefix(line, ";") {
			continue
		}
		f := strings.Fields(line)
		if len(f) >= 5 && f[3] == qtype {
			answers = append(answers, f[4])
		}
	}
	slices.Sort(answers)
	return string(m[1]), answers
}
