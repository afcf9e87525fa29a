package firewall

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/nocontact/installer/command/commandtest"
	"github.com/nocontact/nocontact/internal/golden"
)

// sample are rules as the daemon gives them: a plain upstream, an IPv6
// bootstrap, and encrypted-DNS addresses, one of which is the upstream
// itself (left out where the exception is by address).
func sample() Rules {
	a := netip.MustParseAddr
	return Rules{
		Upstreams: []netip.Addr{a("192.0.2.53"), a("2001:db8::53"), a("192.0.2.53")},
		DoH: []Entry{
			{a("198.51.100.1"), time.Hour},
			{a("192.0.2.53"), time.Hour},
			{a("2001:db8:1::1"), time.Hour},
			{a("::ffff:198.51.100.2"), time.Hour},
		},
	}
}

func TestRenderPF(t *testing.T) {
	golden.Check(t, "pf.conf", RenderPF(sample()))
	golden.Check(t, "pf-empty.conf", RenderPF(Rules{}))
}

func TestRenderWindows(t *testing.T) {
	golden.Check(t, "windows-apply.ps1", []byte(RenderWindows(sample())+"\n"))
	// Without encrypted-DNS addresses there is no 443 rule at all: one
	// with no remote address would block HTTPS everywhere.
	s := RenderWindows(Rules{})
	golden.Check(t, "windows-apply-no-doh.ps1", []byte(s+"\n"))
	if strings.Contains(s, "443") {
		t.Error("a 443 rule without addresses")
	}
}

func TestComplement(t *testing.T) {
	a := netip.MustParseAddr
	for _, tt := range []struct {
		keep []netip.Addr
		want []string
	}{
		{nil, []string{"0.0.0.0-126.255.255.255", "128.0.0.0-255.255.255.255", "::", "::2-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}},
		{[]netip.Addr{a("0.0.0.0"), a("255.255.255.255"), a("127.0.0.5"), a("128.0.0.0")},
			[]string{"0.0.0.1-126.255.255.255", "128.0.0.1-255.255.255.254", "::", "::2-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}},
		{[]netip.Addr{a("::"), a("::2"), a("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")},
			[]string{"0.0.0.0-126.255.255.255", "128.0.0.0-255.255.255.255", "::3-ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"}},
	} {
		if got := complement(tt.keep); !slices.Equal(got, tt.want) {
			t.Errorf("complement(%v):\n\twant %q\n\t got %q", tt.keep, tt.want, got)
		}
	}
}

// TestPF drives the pf backend with a fake pfctl: pf off at first, so
// Apply turns it on and keeps the token; Check sees the rules; pf turned
// off by hand is drift; Remove flushes the anchor and gives the
// reference back.
func TestPF(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pfOn, rules := false, false
	run := &commandtest.Fake{Handle: func(line string) (commandtest.Reply, bool) {
		switch {
		case line == "pfctl -s info":
			if pfOn {
				return commandtest.Reply{Stdout: "Status: Enabled for 0 days 00:00:01           Debug: Urgent\n"}, true
			}
			return commandtest.Reply{Stdout: "Status: Disabled for 0 days 00:10:00           Debug: Urgent\n"}, true
		case line == "pfctl -E":
			pfOn = true
			return commandtest.Reply{Stderr: "No ALTQ support in kernel\nALTQ related functions disabled\npf enabled\nToken : 16045932912098384137\n"}, true
		case strings.HasPrefix(line, "pfctl -a com.apple/nocontact -f "):
			rules = true
		case line == "pfctl -a com.apple/nocontact -s rules":
			if rules {
				return commandtest.Reply{Stdout: "block return out quick on ! lo0 proto tcp from any to ! <nocontact_upstreams> port = domain\n" +
					"block return out quick on ! lo0 proto udp from any to ! <nocontact_upstreams> port = domain\n" +
					"block return out quick proto tcp from any to <nocontact_doh> port = https\n"}, true
			}
		case line == "pfctl -a com.apple/nocontact -F all":
			rules = false
		}
		return commandtest.Reply{}, false
	}}
	fw, err := NewFor(ModePF, Env{StateDir: dir, Run: run})
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.Check(ctx); !errors.Is(err, ErrRemoved) {
		t.Errorf("Check before Apply: %v, want ErrRemoved", err)
	}
	run.Reset()
	if err := fw.Apply(ctx, sample()); err != nil {
		t.Fatal(err)
	}
	rulesPath := filepath.Join(dir, pfRulesFile)
	want := commandtest.Lines("pfctl -a com.apple/nocontact -f "+rulesPath, "pfctl -s info", "pfctl -E")
	if d := commandtest.Diff(want, run.Ran()); d != "" {
		t.Error(d)
	}
	if b, _ := os.ReadFile(rulesPath); string(b) != string(RenderPF(sample())) {
		t.Errorf("the rules file:\n%s", b)
	}
	if err := fw.Check(ctx); err != nil {
		t.Errorf("Check after Apply: %v", err)
	}
	// A second Apply with pf on takes no second reference.
	run.Reset()
	if err := fw.Apply(ctx, sample()); err != nil {
		t.Fatal(err)
	}
	if d := commandtest.Diff(commandtest.Lines("pfctl -a com.apple/nocontact -f "+rulesPath, "pfctl -s info"), run.Ran()); d != "" {
		t.Error(d)
	}
	pfOn = false // pfctl -d
	if err := fw.Check(ctx); !errors.Is(err, ErrRemoved) || !strings.Contains(err.Error(), "turned off") {
		t.Errorf("Check with pf off: %v, want ErrRemoved", err)
	}
	if err := fw.Apply(ctx, sample()); err != nil {
		t.Fatal(err)
	}
	rules = false // pfctl -a com.apple/nocontact -F rules
	if err := fw.Check(ctx); !errors.Is(err, ErrRemoved) {
		t.Errorf("Check with the anchor flushed: %v, want ErrRemoved", err)
	}
	if err := fw.Apply(ctx, sample()); err != nil {
		t.Fatal(err)
	}
	run.Reset()
	if err := fw.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	want = commandtest.Lines("pfctl -a com.apple/nocontact -F all", "pfctl -X 16045932912098384137", "pfctl -X 16045932912098384137")
	if d := commandtest.Diff(want, run.Ran()); d != "" {
		t.Error(d)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left in the state folder: %v", ents)
	}
	run.Reset()
	if err := fw.Remove(ctx); err != nil || run.Ran() != "" {
		t.Errorf("a second Remove: %v, ran %q", err, run.Ran())
	}
}

// TestWindowsFirewall drives the Windows backend with a fake PowerShell.
func TestWindowsFirewall(t *testing.T) {
	ctx := context.Background()
	var present []string
	off := ""
	run := &commandtest.Fake{Handle: func(line string) (commandtest.Reply, bool) {
		switch {
		case strings.Contains(line, "New-NetFirewallRule"):
			present = nil
			for _, id := range []string{"dns-udp", "dns-tcp", "doh-udp", "doh-tcp"} {
				if strings.Contains(line, "-Name 'nocontact-"+id+"'") {
					present = append(present, "nocontact-"+id)
				}
			}
		case strings.HasPrefix(line, "powershell.exe -NoProfile -NonInteractive -Command \"Remove-NetFirewallRule"):
			present = nil
		case strings.Contains(line, "Get-NetFirewallRule"):
			list := `"` + strings.Join(present, `","`) + `"`
			if len(present) == 0 {
				list = ""
			}
			offs := ""
			if off != "" {
				offs = `"` + off + `"`
			}
			return commandtest.Reply{Stdout: `{"Rules":[` + list + `],"Off":[` + offs + `]}`}, true
		}
		return commandtest.Reply{}, false
	}}
	fw, err := NewFor(ModeWindowsFirewall, Env{Run: run})
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.Apply(ctx, sample()); err != nil {
		t.Fatal(err)
	}
	script := strings.ReplaceAll(RenderWindows(sample()), "\n", "; ")
	if d := commandtest.Diff(commandtest.Lines("powershell.exe -NoProfile -NonInteractive -Command "+quoteLine(script)), run.Ran()); d != "" {
		t.Error(d)
	}
	if err := fw.Check(ctx); err != nil {
		t.Errorf("Check after Apply: %v", err)
	}
	present = present[:1]
	if err := fw.Check(ctx); !errors.Is(err, ErrRemoved) {
		t.Errorf("Check with a rule deleted: %v, want ErrRemoved", err)
	}
	if err := fw.Apply(ctx, sample()); err != nil {
		t.Fatal(err)
	}
	off = "Public"
	if err := fw.Check(ctx); err == nil || errors.Is(err, ErrRemoved) || !strings.Contains(err.Error(), "Set-NetFirewallProfile -Profile Public -Enabled True") {
		t.Errorf("Check with the Public profile off: %v, want the fix", err)
	}
	off = ""
	if err := fw.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if len(present) != 0 {
		t.Errorf("rules left after Remove: %v", present)
	}
}

// quoteLine quotes one argument as command.Line does.
func quoteLine(s string) string {
	return strings.TrimPrefix(commandLine("x", s), "x ")
}
