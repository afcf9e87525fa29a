package installer

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/nocontact/installer/browsers"
	"github.com/nocontact/nocontact/installer/firewall"
	"github.com/nocontact/nocontact/installer/firewall/firewalltest"
)

// TestInstallWritesTheBrowsersPoliciesAndUninstallGivesThemBack: a
// Chrome on the machine gets its policy at install; uninstall removes the
// firewall layer (before it gives the DNS settings back) and gives the
// policy folder back as it was.
func TestInstallWritesTheBrowsersPoliciesAndUninstallGivesThemBack(t *testing.T) {
	r := newRig(t)
	r.write("opt/google/chrome/chrome", "")
	if err := r.in.Install(t.Context(), InstallOptions{Config: r.config("")}); err != nil {
		t.Fatal(err)
	}
	if got := r.read("etc/opt/chrome/policies/managed/" + browsers.ChromiumFile); got != string(browsers.ChromiumPolicy) {
		t.Errorf("Chrome's policy after install: %q", got)
	}
	if !browsers.Installed(r.state) {
		t.Error("no record of the browsers' policies")
	}
	// The daemon turned the layer on.
	if err := r.fw.Apply(t.Context(), firewall.Rules{}); err != nil {
		t.Fatal(err)
	}
	if err := r.in.Uninstall(t.Context(), UninstallOptions{}); err != nil {
		t.Fatal(err)
	}
	if on, _, _, removes := r.fw.State(); on || removes != 1 {
		t.Errorf("the firewall layer after uninstall: on %v, %d removals", on, removes)
	}
	if _, err := os.Stat(r.path("etc/opt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the policy folders nocontact made are left: %v", err)
	}
	if browsers.Installed(r.state) {
		t.Error("the record of the browsers' policies is left")
	}
}

// TestInstallUndoesTheBrowsersPolicies: a later step cannot fail after
// the policies (they are the last), so a failing policy write undoes
// everything before it, and leaves no policy behind.
func TestInstallUndoesTheBrowsersPolicies(t *testing.T) {
	r := newRig(t)
	r.write("usr/lib/firefox/application.ini", "")
	r.write("usr/lib/firefox/distribution/policies.json", "{ not json")
	err := r.in.Install(t.Context(), InstallOptions{Config: r.config("")})
	if err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Fatalf("Install = %v, want the broken policies.json named", err)
	}
	r.untouched()
	if got := r.read("usr/lib/firefox/distribution/policies.json"); got != "{ not json" {
		t.Errorf("the broken policies.json was changed: %q", got)
	}
}

func TestKeepFirewall(t *testing.T) {
	ctx := context.Background()
	fw := &firewalltest.Fake{}
	k := &Keeper{StateDir: t.TempDir(), NewFirewall: fw.New}
	r := &firewall.Rules{DoH: []firewall.Entry{{Addr: netip.MustParseAddr("192.0.2.9"), Keep: time.Hour}}}

	// Off at start: removed once (a leftover of a crash), then left alone.
	for range 2 {
		if removed, err := k.KeepFirewall(ctx, nil); removed || err != nil {
			t.Fatalf("off: %v, %v", removed, err)
		}
	}
	if _, _, applies, removes := fw.State(); applies != 0 || removes != 1 {
		t.Errorf("off twice: %d applies, %d removals, want 0 and 1", applies, removes)
	}
	if removed, err := k.KeepFirewall(ctx, r); removed || err != nil {
		t.Fatalf("on: %v, %v", removed, err)
	}
	if removed, err := k.KeepFirewall(ctx, r); removed || err != nil {
		t.Fatalf("on again: %v, %v", removed, err)
	}
	if _, _, applies, _ := fw.State(); applies != 1 {
		t.Errorf("the same rules twice: %d applies, want 1 (then only checked)", applies)
	}
	fw.RemoveBySomeoneElse()
	if removed, err := k.KeepFirewall(ctx, r); !removed || err != nil {
		t.Errorf("after someone removed it: %v, %v, want removed", removed, err)
	}
	if on, _, _, _ := fw.State(); !on {
		t.Error("not put back")
	}
	r2 := &firewall.Rules{DoH: append(r.DoH, firewall.Entry{Addr: netip.MustParseAddr("192.0.2.10"), Keep: time.Hour})}
	if removed, err := k.KeepFirewall(ctx, r2); removed || err != nil {
		t.Fatalf("new addresses: %v, %v", removed, err)
	}
	if _, got, applies, _ := fw.State(); applies != 3 || len(got.DoH) != 2 {
		t.Errorf("new addresses: %d applies, %d addresses; want them applied", applies, len(got.DoH))
	}
	if _, err := k.KeepFirewall(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if on, _, _, _ := fw.State(); on {
		t.Error("still on once nothing is blocked")
	}
}

func TestKeepBrowsers(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "opt/brave.com/brave"), 0o755); err != nil {
		t.Fatal(err)
	}
	k := &Keeper{Root: root, StateDir: t.TempDir(), GOOS: "linux"}
	if back, err := k.KeepBrowsers(t.Context()); err != nil || len(back) != 0 {
		t.Fatalf("first: %v, %v", back, err)
	}
	p := filepath.Join(root, "etc/brave/policies/managed", browsers.ChromiumFile)
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if back, err := k.KeepBrowsers(t.Context()); err != nil || len(back) != 1 || !strings.Contains(back[0], "Brave") {
		t.Errorf("after a removal: %v, %v", back, err)
	}
}
