package firewall

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/nocontact/internal/netnstest"
	"github.com/nocontact/nocontact/internal/wait"
)

// nftChildEnv marks the copy of the test binary that runs in a network
// namespace of its own.
const nftChildEnv = "NOCONTACT_NFT_TEST_CHILD"

// TestNftables builds the table for real, in a network namespace of its
// own (the test re-runs itself under `unshare --net`): a table another
// program made is left alone, the rules refuse what they should and let
// the marked socket through, a table someone edited or deleted is found
// and built again, and Remove leaves the rule set as it was.
func TestNftables(t *testing.T) {
	if os.Getenv(nftChildEnv) == "" {
		if os.Geteuid() != 0 {
			t.Skip("needs root to create a network namespace and program nftables: run `sudo go test ./installer/firewall -run TestNftables` (CI runs it as root)")
		}
		for _, tool := range []string{"unshare", "nft", "ip"} {
			if _, err := exec.LookPath(tool); err != nil {
				t.Skipf("needs the %s command (util-linux, nftables, iproute2)", tool)
			}
		}
		cmd := exec.Command("unshare", "--net", os.Args[0], "-test.run", "^TestNftables$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), nftChildEnv+"=1")
		out, err := cmd.CombinedOutput()
		t.Logf("in the namespace:\n%s", out)
		if err != nil {
			t.Errorf("the test in the namespace failed: %v", err)
		}
		return
	}
	ctx := context.Background()
	nft := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("nft", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("nft %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// The far side: another namespace behind a veth link, with a TCP
	// and UDP echo on 10.66.0.2 (ports 53, 853) and 10.66.0.9 (443).
	far := fmt.Sprintf("nc-far-%d", os.Getpid())
	ip("netns", "add", far)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", far).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", far, err, out)
		}
	})
	ip("link", "set", "lo", "up")
	ip("link", "add", "nc0", "type", "veth", "peer", "name", "nc1", "netns", far)
	ip("addr", "add", "10.66.0.1/24", "dev", "nc0")
	ip("link", "set", "nc0", "up")
	ip("-n", far, "addr", "add", "10.66.0.2/24", "dev", "nc1")
	ip("-n", far, "addr", "add", "10.66.0.9/24", "dev", "nc1")
	ip("-n", far, "link", "set", "nc1", "up")
	netnstest.In(t, far, func() {
		for _, a := range []string{"10.66.0.2:53", "10.66.0.2:853", "10.66.0.9:443"} {
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
			pc, err := net.ListenPacket("udp", a)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { pc.Close() })
			go func() {
				buf := make([]byte, 512)
				for {
					n, from, err := pc.ReadFrom(buf)
					if err != nil {
						return
					}
					_, _ = pc.WriteTo(buf[:n], from) // a lost echo shows as the test's failure
				}
			}()
		}
	})
	nft("add", "table", "ip", "theirs")
	nft("add", "chain", "ip", "theirs", "out", "{ type filter hook output priority 10; policy accept; }")
	nft("add", "rule", "ip", "theirs", "out", "tcp", "dport", "22", "counter", "accept")
	before := nft("list", "ruleset")

	fw, err := New(Env{})
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.Check(ctx); !errors.Is(err, ErrRemoved) {
		t.Fatalf("Check before Apply: %v, want ErrRemoved", err)
	}
	r := Rules{DoH: []Entry{{netip.MustParseAddr("10.66.0.9"), time.Hour}, {netip.MustParseAddr("2001:db8::9"), time.Hour}}}
	if err := fw.Apply(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := fw.Check(ctx); err != nil {
		t.Fatalf("Check after Apply: %v", err)
	}
	listed := nft("list", "table", "inet", "nocontact")
	t.Logf("nft list table inet nocontact:\n%s", listed)
	for _, want := range []string{"meta mark 0x00006e63 accept", `oifname "lo" accept`, "udp dport 53", "tcp dport 853", "@doh4", "@doh6", "10.66.0.9", "2001:db8::9"} {
		if !strings.Contains(listed, want) {
			t.Errorf("the table lacks %q", want)
		}
	}
	if got := nft("list", "table", "ip", "theirs"); !strings.Contains(before, strings.TrimSpace(got)) {
		t.Errorf("the other table changed:\n%s", got)
	}

	// What the rules refuse, and what they let through: a TCP connection
	// is accepted, a UDP packet echoed, unless refused.
	through := func(network, addr string, mark bool) bool {
		t.Helper()
		d := net.Dialer{Timeout: wait.Timeout}
		if mark {
			d.Control = Control
		}
		c, err := d.Dial(network, addr)
		if err != nil {
			return false
		}
		defer c.Close()
		if network == "tcp" {
			return true
		}
		c.SetDeadline(time.Now().Add(wait.Timeout))
		if _, err := c.Write([]byte("x")); err != nil {
			return false
		}
		_, err = c.Read(make([]byte, 16))
		return err == nil
	}
	for _, tt := range []struct {
		network, addr string
		mark          bool
		through       bool
	}{
		{"tcp", "10.66.0.2:53", false, false},
		{"tcp", "10.66.0.2:853", false, false},
		{"udp", "10.66.0.2:53", false, false},
		{"udp", "10.66.0.2:853", false, false},
		{"tcp", "10.66.0.9:443", false, false},
		{"udp", "10.66.0.9:443", false, false},
		{"tcp", "10.66.0.9:443", true, true}, // nocontact's own
		{"udp", "10.66.0.2:53", true, true},
		{"tcp", "10.66.0.2:853", true, true},
	} {
		if got := through(tt.network, tt.addr, tt.mark); got != tt.through {
			t.Errorf("%s %s (marked %v): through %v, want %v", tt.network, tt.addr, tt.mark, got, tt.through)
		}
	}

	// An update changes only the addresses.
	r.DoH = []Entry{{netip.MustParseAddr("10.66.0.10"), time.Hour}}
	if err := fw.Apply(ctx, r); err != nil {
		t.Fatal(err)
	}
	if listed := nft("list", "set", "inet", "nocontact", "doh4"); strings.Contains(listed, "10.66.0.9") || !strings.Contains(listed, "10.66.0.10") {
		t.Errorf("doh4 after the update:\n%s", listed)
	}

	// Someone deletes a rule, then the table: found, and built again.
	handle := ""
	for _, l := range strings.Split(nft("-a", "list", "chain", "inet", "nocontact", "output"), "\n") {
		if strings.Contains(l, "dport 53") {
			handle = l[strings.LastIndex(l, " ")+1:]
			break
		}
	}
	nft("delete", "rule", "inet", "nocontact", "output", "handle", handle)
	if err := fw.Check(ctx); !errors.Is(err, ErrRemoved) {
		t.Errorf("Check with a rule deleted: %v, want ErrRemoved", err)
	}
	if err := fw.Apply(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := fw.Check(ctx); err != nil {
		t.Errorf("Check after building it again: %v", err)
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	changes := make(chan struct{}, 1)
	if !Watch(watchCtx, changes, slog.New(slog.DiscardHandler)) {
		t.Fatal("cannot watch nftables")
	}
	nft("add", "table", "ip", "passing") // not ours: no news
	nft("delete", "table", "ip", "passing")
	select {
	case <-changes:
		t.Error("news of another table")
	default:
	}
	nft("delete", "table", "inet", "nocontact")
	select {
	case <-changes:
	case <-time.After(wait.Timeout):
		t.Error("no news of the table's deletion")
	}
	if err := fw.Check(ctx); !errors.Is(err, ErrRemoved) {
		t.Errorf("Check with the table deleted: %v, want ErrRemoved", err)
	}
	if err := fw.Apply(ctx, r); err != nil {
		t.Fatal(err)
	}

	if err := fw.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if err := fw.Remove(ctx); err != nil {
		t.Errorf("a second Remove: %v", err)
	}
	if after := nft("list", "ruleset"); after != before {
		t.Errorf("the rule set after Remove:\n%s\nwant, as before:\n%s", after, before)
	}
}
