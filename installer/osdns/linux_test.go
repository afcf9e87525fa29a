package osdns

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nocontact/nocontact/installer/command/commandtest"
)

// machine is a Linux filesystem under a temporary root.
type machine struct {
	t     *testing.T
	root  string
	state string
	run   *commandtest.Fake
}

func newMachine(t *testing.T, files map[string]string) *machine {
	m := &machine{t: t, root: t.TempDir(), state: filepath.Join(t.TempDir(), "state"), run: &commandtest.Fake{}}
	for rel, data := range files {
		m.write(rel, data)
	}
	return m
}

func (m *machine) path(rel string) string { return filepath.Join(m.root, filepath.FromSlash(rel)) }

func (m *machine) write(rel, data string) {
	m.t.Helper()
	if err := os.MkdirAll(filepath.Dir(m.path(rel)), 0o755); err != nil {
		m.t.Fatal(err)
	}
	if err := os.WriteFile(m.path(rel), []byte(data), 0o644); err != nil {
		m.t.Fatal(err)
	}
}

func (m *machine) read(rel string) string {
	m.t.Helper()
	b, err := os.ReadFile(m.path(rel))
	if errors.Is(err, os.ErrNotExist) {
		return "<missing>"
	}
	if err != nil {
		m.t.Fatal(err)
	}
	return string(b)
}

func (m *machine) env() Env { return Env{Root: m.root, StateDir: m.state, Run: m.run} }

func (m *machine) backend(mode Mode) Configurator {
	m.t.Helper()
	c, err := NewFor(mode, m.env())
	if err != nil {
		m.t.Fatal(err)
	}
	return c
}

// snapshot returns every file under the root, for comparing before and
// after.
func (m *machine) snapshot() map[string]string {
	out := map[string]string{}
	err := filepath.Walk(m.root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(m.root, p)
		if fi.Mode()&os.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			out[rel] = "-> " + l
			return nil
		}
		b, _ := os.ReadFile(p)
		out[rel] = fmt.Sprintf("%v %s", fi.Mode().Perm(), b)
		return nil
	})
	if err != nil {
		m.t.Fatal(err)
	}
	return out
}

func sameFiles(t *testing.T, want, got map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s:\n--- want\n%s\n--- got\n%s", k, v, got[k])
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: left behind: %q", k, got[k])
		}
	}
}

const dhcpResolvConf = "# written by dhclient\nsearch lan\nnameserver 192.168.1.1\noptions edns0\n"

func TestFileApplyCheckRestore(t *testing.T) {
	m := newMachine(t, map[string]string{"etc/resolv.conf": dhcpResolvConf})
	before := m.snapshot()
	c := m.backend(ModeFile)
	if err := c.Check(t.Context()); !errors.Is(err, ErrDrifted) {
		t.Errorf("Check before Apply = %v, want ErrDrifted", err)
	}
	for range 2 { // the second Apply changes nothing and keeps the record
		if err := c.Apply(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	want := "# Written by nocontact: every lookup on this machine goes through its filter.\n" +
		"# `nocontact uninstall` puts back the file that was here before.\n" +
		"nameserver 127.0.0.1\nnameserver ::1\nsearch lan\noptions edns0\n"
	if got := m.read("etc/resolv.conf"); got != want {
		t.Errorf("resolv.conf after Apply:\n%s\nwant:\n%s", got, want)
	}
	if err := c.Check(t.Context()); err != nil {
		t.Errorf("Check after Apply = %v", err)
	}

	// DHCP renews the lease and rewrites the file: Check sees it, Apply
	// undoes it, and the record still holds the original.
	m.write("etc/resolv.conf", "nameserver 10.9.9.9\n")
	if err := c.Check(t.Context()); !errors.Is(err, ErrDrifted) || !strings.Contains(err.Error(), "10.9.9.9") {
		t.Errorf("Check after a rewrite = %v, want ErrDrifted naming 10.9.9.9", err)
	}
	if err := c.Apply(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(t.Context()); err != nil {
		t.Errorf("Check after re-Apply = %v", err)
	}

	for range 2 { // Restore is idempotent
		if err := Restore(t.Context(), m.env()); err != nil {
			t.Fatal(err)
		}
	}
	sameFiles(t, before, m.snapshot())
	if _, err := os.Stat(filepath.Join(m.state, RecordFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("record left after Restore: %v", err)
	}
	if m.run.Ran() != "" {
		t.Errorf("ModeFile ran commands:\n%s", m.run.Ran())
	}
}

func TestFileRestoresASymlinkAndAMissingFile(t *testing.T) {
	for _, name := range []string{"symlink", "missing"} {
		t.Run(name, func(t *testing.T) {
			m := newMachine(t, map[string]string{"run/systemd/resolve/stub-resolv.conf": "nameserver 127.0.0.53\n"})
			if err := os.MkdirAll(m.path("etc"), 0o755); err != nil {
				t.Fatal(err)
			}
			if name == "symlink" {
				if err := os.Symlink("../run/systemd/resolve/stub-resolv.conf", m.path("etc/resolv.conf")); err != nil {
					t.Skip("no symbolic links here:", err)
				}
			}
			before := m.snapshot()
			c := m.backend(ModeFile)
			if err := c.Apply(t.Context()); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Lstat(m.path("etc/resolv.conf")); err != nil || !fi.Mode().IsRegular() {
				t.Fatalf("resolv.conf after Apply: %v, %v; want a regular file", fi, err)
			}
			if err := c.Restore(t.Context()); err != nil {
				t.Fatal(err)
			}
			sameFiles(t, before, m.snapshot())
		})
	}
}

func TestNetworkManager(t *testing.T) {
	m := newMachine(t, map[string]string{
		"etc/resolv.conf":                                          "# Generated by NetworkManager\nsearch lan\nnameserver 192.168.1.1\n",
		"etc/NetworkManager/NetworkManager.conf":                   "[main]\nplugins=ifupdown,keyfile\n",
		"etc/NetworkManager/conf.d/default-wifi-powersave-on.conf": "[connection]\nwifi.powersave = 3\n",
	})
	before := m.snapshot()
	c := m.backend(ModeNetworkManager)
	if err := c.Apply(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := m.read(nmDropInPath); got != string(nmDropIn) || !strings.Contains(got, "dns=none") {
		t.Errorf("drop-in = %q", got)
	}
	if got := m.read("etc/resolv.conf"); !strings.Contains(got, "nameserver 127.0.0.1\nnameserver ::1\n") || strings.Contains(got, "192.168.1.1") {
		t.Errorf("resolv.conf = %q", got)
	}
	if d := commandtest.Diff("systemctl reload NetworkManager.service", m.run.Ran()); d != "" {
		t.Error(d)
	}
	if err := c.Check(t.Context()); err != nil {
		t.Errorf("Check = %v", err)
	}
	os.Remove(m.path(nmDropInPath))
	if err := c.Check(t.Context()); !errors.Is(err, ErrDrifted) {
		t.Errorf("Check without the drop-in = %v, want ErrDrifted", err)
	}
	m.run.Reset()
	if err := c.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d := commandtest.Diff("systemctl reload NetworkManager.service", m.run.Ran()); d != "" {
		t.Error(d)
	}
	sameFiles(t, before, m.snapshot())
}

// TestResolvedRoutesEverythingToTheFilter checks the drop-in against the
// routing rules of systemd-resolved.service(8) ("Protocols and routing"):
// the global scope must carry the route-only domain "~." so that links
// that are only a "DNS default route" (DHCP servers) are never asked, and
// the DNS= list must be reset so that no server of resolved.conf stays
// beside ours.
func TestResolvedRoutesEverythingToTheFilter(t *testing.T) {
	m := newMachine(t, map[string]string{
		"etc/resolv.conf":           "# managed by man:systemd-resolved(8)\nnameserver 127.0.0.53\n",
		"etc/systemd/resolved.conf": "[Resolve]\nDNS=9.9.9.9\n",
	})
	before := m.snapshot()
	global := "Global: 127.0.0.1 ::1\nLink 2 (eth0): 192.168.1.1\n"
	m.run.Handle = func(line string) (commandtest.Reply, bool) {
		if line == "resolvectl dns" {
			return commandtest.Reply{Stdout: global}, true
		}
		return commandtest.Reply{}, false
	}
	c := m.backend(ModeResolved)
	if err := c.Apply(t.Context()); err != nil {
		t.Fatal(err)
	}
	dropIn := m.read(resolvedDropInPath)
	var lines []string
	for _, l := range strings.Split(dropIn, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	if got, want := strings.Join(lines, "|"), "[Resolve]|DNS=|DNS=127.0.0.1 ::1|Domains=~.|DNSOverTLS=no"; got != want {
		t.Errorf("drop-in settings = %s, want %s", got, want)
	}
	if got := m.read("etc/resolv.conf"); !strings.Contains(got, "127.0.0.53") {
		t.Errorf("resolv.conf changed in resolved mode: %q", got)
	}
	if d := commandtest.Diff(commandtest.Lines("systemctl reload-or-restart systemd-resolved.service", "resolvectl flush-caches"), m.run.Ran()); d != "" {
		t.Error(d)
	}
	if err := c.Check(t.Context()); err != nil {
		t.Errorf("Check = %v", err)
	}
	// resolved has not read the drop-in (or something else set servers).
	global = "Global: 9.9.9.9 127.0.0.1 ::1\nLink 2 (eth0): 192.168.1.1\n"
	if err := c.Check(t.Context()); !errors.Is(err, ErrDrifted) {
		t.Errorf("Check with 9.9.9.9 among the global servers = %v, want ErrDrifted", err)
	}
	m.run.Reset()
	if err := c.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d := commandtest.Diff(commandtest.Lines("systemctl reload-or-restart systemd-resolved.service", "resolvectl flush-caches"), m.run.Ran()); d != "" {
		t.Error(d)
	}
	// The drop-in directory Apply created may stay; every file is back.
	sameFiles(t, before, m.snapshot())
}

func TestResolvconf(t *testing.T) {
	head := "# Dynamic resolv.conf(5) file for glibc resolver(3) generated by resolvconf(8)\n"
	m := newMachine(t, map[string]string{
		"etc/resolv.conf":                   head + "nameserver 192.168.1.1\n",
		"etc/resolvconf/resolv.conf.d/head": head,
	})
	before := m.snapshot()
	// resolvconf -u regenerates resolv.conf: head, then the interfaces.
	m.run.Handle = func(line string) (commandtest.Reply, bool) {
		if line == "resolvconf -u" {
			m.write("etc/resolv.conf", m.read("etc/resolvconf/resolv.conf.d/head")+"nameserver 192.168.1.1\n")
		}
		return commandtest.Reply{}, false
	}
	c := m.backend(ModeResolvconf)
	if err := c.Apply(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := nameservers([]byte(m.read("etc/resolv.conf"))); strings.Join(got, " ") != "127.0.0.1 ::1 192.168.1.1" {
		t.Errorf("nameservers after Apply = %q", got)
	}
	if err := c.Check(t.Context()); err != nil {
		t.Errorf("Check = %v", err)
	}
	if err := c.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d := commandtest.Diff(commandtest.Lines("resolvconf -u", "resolvconf -u"), m.run.Ran()); d != "" {
		t.Error(d)
	}
	sameFiles(t, before, m.snapshot())
}

func TestRecordIsWrittenBeforeAnyChange(t *testing.T) {
	m := newMachine(t, map[string]string{"etc/resolv.conf": dhcpResolvConf})
	// A state directory that cannot be created: Apply must fail before
	// touching resolv.conf.
	m.write("blocker", "")
	env := m.env()
	env.StateDir = filepath.Join(m.path("blocker"), "state")
	c, _ := NewFor(ModeFile, env)
	if err := c.Apply(t.Context()); err == nil {
		t.Fatal("Apply with no place for the record: no error")
	}
	if got := m.read("etc/resolv.conf"); !bytes.Equal([]byte(got), []byte(dhcpResolvConf)) {
		t.Errorf("resolv.conf changed although the record could not be saved: %q", got)
	}
}
