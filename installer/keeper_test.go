package installer

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/nocontact/installer/command/commandtest"
	"github.com/nocontact/nocontact/installer/hosts"
	"github.com/nocontact/nocontact/installer/osdns"
)

func TestKeeper(t *testing.T) {
	root, state := t.TempDir(), filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "run", "systemd", "resolve"), 0o755); err != nil {
		t.Fatal(err)
	}
	resolv := filepath.Join(root, "etc", "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "hosts"), []byte("127.0.0.1 localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := &commandtest.Fake{}
	k := &Keeper{Root: root, StateDir: state, Run: run, GOOS: "linux",
		Hosts: hosts.File{Path: filepath.Join(root, "etc", "hosts"), EOL: "\n"}}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	k.Watch(ctx)
	if k.Installed() {
		t.Fatal("Installed before any takeover")
	}
	c, _ := osdns.NewFor(osdns.ModeFile, osdns.Env{Root: root, StateDir: state})
	if err := c.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if !k.Installed() {
		t.Fatal("not Installed after the takeover")
	}
	if re, err := k.KeepDNS(ctx); re || err != nil {
		t.Errorf("KeepDNS with nothing changed = %v, %v", re, err)
	}
	if got, err := k.OriginalResolvers(); err != nil || len(got) != 1 || got[0].String() != "192.0.2.1:53" {
		t.Errorf("OriginalResolvers = %v, %v", got, err)
	}
	// Drain what the takeover itself triggered, then a DHCP client
	// rewrites the file: the watch sees it, KeepDNS puts ours back.
	if runtime.GOOS == "linux" {
		drain(k.Changes())
	}
	if err := os.WriteFile(resolv, []byte("nameserver 10.9.9.9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" {
		select {
		case <-k.Changes():
		case <-time.After(5 * time.Second):
			t.Error("the watch did not see resolv.conf rewritten")
		}
	}
	if re, err := k.KeepDNS(ctx); !re || err != nil {
		t.Errorf("KeepDNS after a rewrite = %v, %v; want a re-assert", re, err)
	}
	if b, _ := os.ReadFile(resolv); !strings.Contains(string(b), "nameserver 127.0.0.1") {
		t.Errorf("resolv.conf not put back:\n%s", b)
	}
	if changed, err := k.SetHosts(ctx, []string{"instagram.com"}); !changed || err != nil {
		t.Errorf("SetHosts = %v, %v", changed, err)
	}
	if changed, _ := k.SetHosts(ctx, []string{"instagram.com"}); changed {
		t.Error("SetHosts with the same names changed the file")
	}
	if changed, _ := k.SetHosts(ctx, nil); !changed {
		t.Error("SetHosts(nil) did not remove the section")
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc", "hosts")); string(b) != "127.0.0.1 localhost\n" {
		t.Errorf("hosts after removing the section: %q", b)
	}
	// One flush per change: the re-assert, the section added, removed.
	want := commandtest.Lines("resolvectl flush-caches", "resolvectl flush-caches", "resolvectl flush-caches")
	if d := commandtest.Diff(want, run.Ran()); d != "" {
		t.Error(d)
	}
}

func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		case <-time.After(200 * time.Millisecond):
			return
		}
	}
}
