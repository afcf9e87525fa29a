package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/nocontact/nocontact/installer/browsers"
	"github.com/nocontact/nocontact/internal/netnstest"
	"github.com/nocontact/nocontact/internal/wait"
)

// fwChildEnv marks the copy of the test binary that runs in the private
// namespaces; its value is the parent's mount namespace.
const fwChildEnv = "NOCONTACT_FIREWALL_E2E_CHILD_OF_MNTNS"

// The test's own two hosts: the filter's (this process, in a network
// namespace of its own) and a "public resolver" in another namespace
// behind a veth link. dohAddr is a second address of the resolver's
// host that the resolver gives for dns.google, so that it is in the
// encrypted-DNS list.
const (
	fwFilterAddr   = "10.53.0.1"
	fwResolverAddr = "10.53.0.2"
	fwDoHAddr      = "10.53.0.3"
)

// TestFirewallEndToEnd installs nocontact for real in private mount and
// network namespaces, with a "public resolver" host of the test's own:
// from the filter's host, a plain query to that resolver, a DNS over TLS
// connection to its port 853 and an HTTPS connection to an address of
// the encrypted-DNS list all fail, while nocontact's own forwarding to
// it (its upstream) works; the nftables rule set has only nocontact's
// table added, which is put back when someone deletes it; the browser
// policies are written; and after uninstall the rule set and every
// policy file are byte-identical to before.
func TestFirewallEndToEnd(t *testing.T) {
	if parentNS := os.Getenv(fwChildEnv); parentNS != "" {
		firewallChild(t, parentNS)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to create mount and network namespaces and program nftables: run `sudo go test ./cmd/nocontact -run TestFirewallEndToEnd` (CI runs it as root)")
	}
	for _, tool := range []string{"unshare", "ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs the %s command (util-linux, iproute2, nftables)", tool)
		}
	}
	ns, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	// Stateless (-s): the machine's own counters may move meanwhile.
	realRuleset, _ := exec.Command("nft", "-s", "list", "ruleset").Output()
	cmd := exec.Command("unshare", "--mount", "--net", "--propagation", "private", os.Args[0],
		"-test.run", "^TestFirewallEndToEnd$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), fwChildEnv+"="+ns)
	out, err := cmd.CombinedOutput()
	t.Logf("in the namespaces:\n%s", out)
	if err != nil {
		t.Errorf("the test in the namespaces failed: %v", err)
	}
	if now, _ := exec.Command("nft", "-s", "list", "ruleset").Output(); !bytes.Equal(now, realRuleset) {
		t.Errorf("the machine's own nftables rule set changed:\n%s", now)
	}
}

// withoutTable returns an `nft list ruleset` without the table whose
// first line is head (up to its closing brace at the start of a line).
func withoutTable(ruleset, head string) string {
	i := strings.Index(ruleset, head+"\n")
	if i < 0 {
		return ruleset
	}
	j := strings.Index(ruleset[i:], "\n}\n")
	if j < 0 {
		return ruleset
	}
	return ruleset[:i] + ruleset[i+j+3:]
}

// fileTree lists every folder and file under dirs with mode and content.
func fileTree(t *testing.T, dirs ...string) string {
	t.Helper()
	var b strings.Builder
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "%s %v", p, fi.Mode())
			if fi.Mode().IsRegular() {
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				fmt.Fprintf(&b, " %q", data)
			}
			b.WriteByte('\n')
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func firewallChild(t *testing.T, parentNS string) {
	if ns, err := os.Readlink("/proc/self/ns/mnt"); err != nil || ns == parentNS {
		t.Fatalf("not in a private mount namespace (%s, %v): refusing to touch /etc and /opt", ns, err)
	}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	nft := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("nft", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("nft %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	// The network: this namespace (the filter's host) and the resolver's.
	resolverNS := fmt.Sprintf("nc-resolver-%d", os.Getpid())
	ip("netns", "add", resolverNS)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", resolverNS).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", resolverNS, err, out)
		}
	})
	ip("link", "set", "lo", "up")
	ip("link", "add", "ncf0", "type", "veth", "peer", "name", "ncr0", "netns", resolverNS)
	ip("addr", "add", fwFilterAddr+"/24", "dev", "ncf0")
	ip("link", "set", "ncf0", "up")
	for _, a := range []string{fwResolverAddr, fwDoHAddr} {
		ip("-n", resolverNS, "addr", "add", a+"/24", "dev", "ncr0")
	}
	ip("-n", resolverNS, "link", "set", "ncr0", "up")
	ip("-n", resolverNS, "link", "set", "lo", "up")

	// The public resolver: plain DNS (UDP and TCP 53), and listeners on
	// 853 and 443 that accept connections, as DoT and DoH servers would.
	zone := map[string]string{"example.org.": "192.0.2.80", "dns.google.": fwDoHAddr}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		if a, ok := zone[strings.ToLower(q.Question[0].Name)]; ok && q.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR(q.Question[0].Name + " 60 IN A " + a)
			m.Answer = append(m.Answer, rr)
		}
		w.WriteMsg(m)
	})
	netnstest.In(t, resolverNS, func() {
		pc, err := net.ListenPacket("udp", fwResolverAddr+":53")
		if err != nil {
			t.Fatal(err)
		}
		tl, err := net.Listen("tcp", fwResolverAddr+":53")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []*dns.Server{{PacketConn: pc, Handler: handler}, {Listener: tl, Handler: handler}} {
			go s.ActivateAndServe()
			t.Cleanup(func() { s.Shutdown() })
		}
		for _, a := range []string{fwResolverAddr + ":853", fwDoHAddr + ":443", fwResolverAddr + ":443"} {
			ln, err := net.Listen("tcp", a)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
		}
	})

	// A copy of /etc over /etc, as in TestInstallEndToEnd, with the
	// resolver as the DNS server DHCP gave; a tmpfs over /opt with a
	// Chrome and a Firefox of the test's own (the Firefox with a policies
	// file of its own).
	dir := t.TempDir()
	privateEtc(t, dir, "# from DHCP\nnameserver "+fwResolverAddr+"\n")
	if err := unix.Mount("tmpfs", "/opt", "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatalf("mounting a tmpfs over /opt: %v", err)
	}
	t.Cleanup(func() { unix.Unmount("/opt", unix.MNT_DETACH) })
	for p, data := range map[string]string{
		"/opt/google/chrome/chrome":               "",
		"/opt/firefox/application.ini":            "[App]\nName=Firefox\n",
		"/opt/firefox/distribution/policies.json": `{"policies": {"DisableTelemetry": true}}` + "\n",
	} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Someone else's table, which nocontact must leave alone.
	nft("add", "table", "ip", "theirs")
	nft("add", "chain", "ip", "theirs", "out", "{ type filter hook output priority 10; policy accept; }")
	nft("add", "rule", "ip", "theirs", "out", "tcp", "dport", "22", "counter", "accept")
	rulesBefore := nft("list", "ruleset")
	filesBefore := fileTree(t, "/opt", "/etc")

	// Before install, the resolver answers this host directly.
	ask := func(network, server, name string) (*dns.Msg, error) {
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		r, _, err := (&dns.Client{Net: network, Timeout: 2 * time.Second}).Exchange(q, server)
		return r, err
	}
	if _, err := ask("udp", fwResolverAddr+":53", "example.org."); err != nil {
		t.Fatalf("the resolver does not answer before install: %v", err)
	}

	paths, settings, _ := inProcessInstall(t, dir, `[pact]
block = ["instagram"]
length = "30d"
cooldown = "3s"
[dns]
listen = ["127.0.0.1:53", "[::1]:53"]
upstreams = ["system"]
`)

	code, out, errs := runCLI(t, "install", "--config", settings)
	if code != 0 {
		t.Fatalf("install: %d\n%s\n%s", code, out, errs)
	}
	t.Logf("install said:\n%s", out)

	// The daemon puts the layer in force, with dns.google's address as
	// its own upstream gave it.
	wait.For(t, "the firewall table with the encrypted-DNS address", func() bool {
		out, err := exec.Command("nft", "list", "set", "inet", "nocontact", "doh4").CombinedOutput()
		return err == nil && strings.Contains(string(out), fwDoHAddr)
	})
	listed := nft("list", "table", "inet", "nocontact")
	t.Logf("nft list table inet nocontact:\n%s", listed)

	// Only nocontact's table was added to the rule set.
	rulesDuring := nft("list", "ruleset")
	if without := withoutTable(rulesDuring, "table inet nocontact {"); without != rulesBefore {
		t.Errorf("the rule set during the pact, without nocontact's table:\n%s\nwant it as before:\n%s", without, rulesBefore)
	}

	// Around the filter, from this host: every way fails.
	if r, err := ask("udp", fwResolverAddr+":53", "example.org."); err == nil {
		t.Errorf("a plain UDP query to the outside resolver was answered: %v", r)
	}
	if r, err := ask("tcp", fwResolverAddr+":53", "example.org."); err == nil {
		t.Errorf("a plain TCP query to the outside resolver was answered: %v", r)
	}
	for _, a := range []string{fwResolverAddr + ":853", fwDoHAddr + ":443"} {
		if c, err := net.DialTimeout("tcp", a, 2*time.Second); err == nil {
			c.Close()
			t.Errorf("a TCP connection to %s (DNS over TLS, or HTTPS to an encrypted-DNS address) went through", a)
		}
	}
	// HTTPS to an address that is not in the list is left alone.
	if c, err := net.DialTimeout("tcp", fwResolverAddr+":443", 5*time.Second); err != nil {
		t.Errorf("HTTPS to an ordinary address was refused: %v", err)
	} else {
		c.Close()
	}

	// Through the filter: nocontact's own forwarding to its upstream works.
	r, err := ask("udp", "127.0.0.1:53", "example.org.")
	if err != nil || len(r.Answer) != 1 || !strings.Contains(r.Answer[0].String(), "192.0.2.80") {
		t.Errorf("example.org through nocontact: %v, %v; want the resolver's 192.0.2.80", r, err)
	}

	// The browsers' policies.
	if b, _ := os.ReadFile("/etc/opt/chrome/policies/managed/" + browsers.ChromiumFile); !bytes.Equal(b, browsers.ChromiumPolicy) {
		t.Errorf("Chrome's policy: %q", b)
	}
	if b, _ := os.ReadFile("/opt/firefox/distribution/policies.json"); !bytes.Contains(b, []byte(`"DNSOverHTTPS"`)) || !bytes.Contains(b, []byte(`"DisableTelemetry": true`)) {
		t.Errorf("Firefox's policies:\n%s", b)
	}

	// Someone deletes the table: the daemon puts it back.
	nft("delete", "table", "inet", "nocontact")
	wait.For(t, "the daemon to put the firewall table back", func() bool {
		return exec.Command("nft", "list", "table", "inet", "nocontact").Run() == nil
	})
	// ... and the record of attempts says so.
	wait.For(t, "the removal in the record of attempts", func() bool {
		return statusJSON(t, paths.ControlSocket).Record.Counts["firewall_removed"] >= 1
	})

	// Uninstall, once the cooldown allows it.
	code, out, errs = runCLI(t, "uninstall")
	if code != 0 || !strings.Contains(out, "Removing nocontact is queued") {
		t.Fatalf("uninstall during the pact: %d\n%s\n%s", code, out, errs)
	}
	// --purge: the settings file goes too, so /etc is as it was.
	if !wait.Within(wait.Timeout, func() bool {
		code, out, errs = runCLI(t, "uninstall", "--purge")
		return code == 0 && strings.Contains(out, "nocontact is uninstalled")
	}) {
		t.Fatalf("uninstall after the cooldown: %d\n%s\n%s", code, out, errs)
	}
	if after := nft("list", "ruleset"); after != rulesBefore {
		t.Errorf("the rule set after uninstall:\n%s\nwant, byte for byte:\n%s", after, rulesBefore)
	}
	if after := fileTree(t, "/opt", "/etc"); after != filesBefore {
		t.Errorf("/opt and /etc after uninstall:\n%s\nwant, byte for byte:\n%s", after, filesBefore)
	}
	// And the resolver answers this host directly again.
	if _, err := ask("udp", fwResolverAddr+":53", "example.org."); err != nil {
		t.Errorf("the resolver does not answer after uninstall: %v", err)
	}
}
