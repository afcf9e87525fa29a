package osdns_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nocontact/nocontact/installer/hosts"
	"github.com/nocontact/nocontact/installer/osdns"
)

// childEnv marks the copy of the test binary that runs inside the private
// mount namespace; its value is the parent's mount namespace, which the
// child must not be in.
const childEnv = "NOCONTACT_TAKEOVER_CHILD_OF_MNTNS"

// TestTakeoverInMountNamespace runs the DNS and hosts layers for real on
// /etc/resolv.conf and /etc/hosts, but only inside a private mount
// namespace where copies of both are bind-mounted over the real ones: the
// real files are never written. Bind-mounted files cannot be renamed
// over, so this also runs the in-place fallback that containers need.
func TestTakeoverInMountNamespace(t *testing.T) {
	if parentNS := os.Getenv(childEnv); parentNS != "" {
		takeoverChild(t, parentNS)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a mount namespace: run `sudo go test ./installer/osdns -run TestTakeoverInMountNamespace` (CI runs it as root)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs the unshare command (Debian package util-linux) to create a mount namespace")
	}
	realResolv, errR := os.ReadFile("/etc/resolv.conf")
	realHosts, errH := os.ReadFile("/etc/hosts")
	ns, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", os.Args[0],
		"-test.run", "^TestTakeoverInMountNamespace$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+ns)
	out, err := cmd.CombinedOutput()
	t.Logf("in the mount namespace:\n%s", out)
	if err != nil {
		t.Errorf("the test in the mount namespace failed: %v", err)
	}
	// Outside, nothing moved.
	if b, err := os.ReadFile("/etc/resolv.conf"); !bytes.Equal(b, realResolv) || (err == nil) != (errR == nil) {
		t.Errorf("the real /etc/resolv.conf changed: %q", b)
	}
	if b, err := os.ReadFile("/etc/hosts"); !bytes.Equal(b, realHosts) || (err == nil) != (errH == nil) {
		t.Errorf("the real /etc/hosts changed: %q", b)
	}
}

func takeoverChild(t *testing.T, parentNS string) {
	ns, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil || ns == parentNS {
		t.Fatalf("not in a private mount namespace (%s, %v): refusing to touch /etc", ns, err)
	}
	// A copy of the parts of /etc that name lookups read is mounted over
	// /etc, so that even the temporary files a write creates beside its
	// target land in this test's directory; then stand-ins for resolv.conf
	// and hosts are bind-mounted over their copies, as a container's are.
	dir := t.TempDir()
	etc := filepath.Join(dir, "etc")
	if err := os.Mkdir(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"resolv.conf", "hosts", "nsswitch.conf", "host.conf", "gai.conf"} {
		b, err := os.ReadFile(filepath.Join("/etc", name))
		if errors.Is(err, os.ErrNotExist) && name != "resolv.conf" && name != "hosts" {
			continue
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(etc, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mount(etc, "/etc", "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind-mounting a copy of /etc over /etc: %v", err)
	}
	// Unmounted before TempDir's cleanup removes the directory (cleanups
	// run last first); the namespace goes away with the process anyway.
	t.Cleanup(func() { unix.Unmount("/etc", unix.MNT_DETACH) })
	for _, name := range []string{"resolv.conf", "hosts"} {
		b, _ := os.ReadFile(filepath.Join(etc, name))
		standIn := filepath.Join(dir, name)
		if err := os.WriteFile(standIn, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount(standIn, filepath.Join("/etc", name), "", unix.MS_BIND, ""); err != nil {
			t.Fatalf("bind-mounting a stand-in over /etc/%s: %v", name, err)
		}
		t.Cleanup(func() { unix.Unmount(filepath.Join("/etc", name), unix.MNT_DETACH) })
	}
	before := map[string][]byte{}
	for _, p := range []string{"/etc/resolv.conf", "/etc/hosts"} {
		before[p], _ = os.ReadFile(p)
	}

	ctx := context.Background()
	env := osdns.Env{Root: "/", StateDir: filepath.Join(dir, "state"), Run: refuse{}}
	// ModeFile whatever manages DNS on this machine: the others would
	// reload services that live outside this namespace.
	c, err := osdns.NewFor(osdns.ModeFile, env)
	if err != nil {
		t.Fatal(err)
	}
	hf := hosts.File{Path: hosts.Path("/"), EOL: hosts.LineEnding}
	names := []string{"instagram.com", "www.instagram.com"}

	if err := c.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if changed, err := hf.Ensure(names); err != nil || !changed {
		t.Fatalf("hosts Ensure = %v, %v; want a change", changed, err)
	}
	rc, _ := os.ReadFile("/etc/resolv.conf")
	if !bytes.Contains(rc, []byte("\nnameserver 127.0.0.1\nnameserver ::1\n")) || bytes.Count(rc, []byte("nameserver")) != 2 {
		t.Errorf("resolv.conf after Apply:\n%s", rc)
	}
	if err := c.Check(ctx); err != nil {
		t.Errorf("Check after Apply = %v", err)
	}
	if out, err := exec.Command("getent", "hosts", "instagram.com").Output(); err == nil {
		t.Logf("getent hosts instagram.com: %s", out)
		if f := strings.Fields(string(out)); len(f) == 0 || (f[0] != "0.0.0.0" && f[0] != "::") {
			t.Errorf("getent hosts instagram.com = %q, want 0.0.0.0 or ::", out)
		}
	} else {
		t.Logf("getent hosts instagram.com: %v (not checked)", err)
	}

	if entries, _ := os.ReadDir(etc); len(entries) > 5 {
		t.Errorf("temporary files left in /etc: %v", entries)
	}

	// A DHCP client rewrites resolv.conf (in place: it is a mount point).
	if err := os.WriteFile("/etc/resolv.conf", []byte("# dhclient\nnameserver 10.9.9.9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(ctx); !errors.Is(err, osdns.ErrDrifted) {
		t.Errorf("Check after the DHCP rewrite = %v, want ErrDrifted", err)
	}
	if err := c.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(ctx); err != nil {
		t.Errorf("Check after re-Apply = %v", err)
	}

	// Uninstall: everything back, byte for byte.
	if err := osdns.Restore(ctx, env); err != nil {
		t.Fatal(err)
	}
	if _, err := hf.Ensure(nil); err != nil {
		t.Fatal(err)
	}
	for p, want := range before {
		if got, _ := os.ReadFile(p); !bytes.Equal(got, want) {
			t.Errorf("%s after restore:\n%q\nwant:\n%q", p, got, want)
		}
	}
	// Still the stand-ins: restore wrote in place, it did not replace the
	// mount points (which would have failed) or anything under them.
	for _, name := range []string{"resolv.conf", "hosts"} {
		a, _ := os.Stat(filepath.Join("/etc", name))
		b, _ := os.Stat(filepath.Join(dir, name))
		if !os.SameFile(a, b) {
			t.Errorf("/etc/%s is no longer the bind-mounted stand-in", name)
		}
	}
}

// refuse is a command runner for ModeFile, which runs no commands.
type refuse struct{}

func (refuse) Run(ctx context.Context, name string, args ...string) ([]byte, []byte, error) {
	return nil, nil, fmt.Errorf("unexpected command %s %v", name, args)
}
