package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kardianos/service"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/installer/command/commandtest"
	"github.com/nocontact/nocontact/installer/firewall/firewalltest"
	"github.com/nocontact/nocontact/installer/osdns"
	"github.com/nocontact/nocontact/installer/unit"
)

// events is the order things happened in, across the fakes.
type events struct{ list []string }

func (e *events) add(s string)   { e.list = append(e.list, s) }
func (e *events) String() string { return strings.Join(e.list, "\n") }

// fakeService is a service manager that records what it is asked.
// definition stands for the unit file or plist the running binary
// renders; Install writes it as written, like kardianos does.
type fakeService struct {
	ev                  *events
	installed, running  bool
	failStart           error
	failInstall         error
	definition, written string
	// onStop, when set, runs as Stop is asked (to see what was already
	// given back at that moment).
	onStop func()
	// onStart, when set, runs as Start is asked.
	onStart func()
}

func (f *fakeService) Install() error {
	f.ev.add("service install")
	if f.installed {
		return errors.New("Init already exists")
	}
	if f.failInstall != nil {
		return f.failInstall
	}
	f.installed = true
	f.written = f.definition
	return nil
}
func (f *fakeService) Uninstall() error {
	f.ev.add("service uninstall")
	f.installed = false
	f.written = ""
	return nil
}
func (f *fakeService) Start() error {
	f.ev.add("service start")
	if f.onStart != nil {
		f.onStart()
	}
	if f.failStart != nil {
		return f.failStart
	}
	f.running = true
	return nil
}
func (f *fakeService) Stop() error {
	f.ev.add("service stop")
	if f.onStop != nil {
		f.onStop()
	}
	f.running = false
	return nil
}
func (f *fakeService) Status() (service.Status, error) {
	switch {
	case !f.installed:
		return service.StatusUnknown, service.ErrNotInstalled
	case f.running:
		return service.StatusRunning, nil
	}
	return service.StatusStopped, nil
}

// failingDNS wraps a real backend, failing Apply after it saved the
// record.
type failingDNS struct {
	osdns.Configurator
	ev *events
}

func (f failingDNS) Apply(ctx context.Context) error {
	f.ev.add("dns apply")
	if err := f.Configurator.Apply(ctx); err != nil {
		return err
	}
	return errors.New("the DNS backend failed")
}

const origResolv = "# from DHCP\nnameserver 192.0.2.1\n"
const origHosts = "127.0.0.1 localhost\n"

type rig struct {
	t     *testing.T
	root  string
	state string
	ev    *events
	svc   *fakeService
	run   *commandtest.Fake
	fw    *firewalltest.Fake
	in    *Installer
	exe   string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, root: t.TempDir(), ev: &events{}, run: &commandtest.Fake{}, fw: &firewalltest.Fake{}}
	r.state = r.path("var/lib/nocontact")
	r.svc = &fakeService{ev: r.ev}
	r.exe = filepath.Join(t.TempDir(), "nocontact-new")
	if err := os.WriteFile(r.exe, []byte("new binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.write("etc/resolv.conf", origResolv)
	r.write("etc/hosts", origHosts)
	clock := time.Unix(0, 0)
	r.in = &Installer{
		Root: r.root,
		Paths: unit.Paths{Executable: "/usr/local/bin/nocontact", Config: "/etc/nocontact/nocontact.toml",
			StateDir: "/var/lib/nocontact", ControlSocket: "/run/nocontact.sock"},
		Service:    r.svc,
		Run:        r.run,
		Catalog:    cat,
		GOOS:       "linux",
		Executable: func() (string, error) { return r.exe, nil },
		Answers: func(context.Context, *config.Config) error {
			r.ev.add("answers?")
			return nil
		},
		Wait:  time.Second,
		Now:   func() time.Time { return clock },
		Sleep: func(context.Context, time.Duration) error { clock = clock.Add(200 * time.Millisecond); return nil },
		DNS: func(ctx context.Context, env osdns.Env) (osdns.Configurator, error) {
			return osdns.NewFor(osdns.ModeFile, env)
		},
		HostsNames: func(context.Context) ([]string, error) {
			r.ev.add("hosts names")
			return []string{"instagram.com", "www.instagram.com"}, nil
		},
		NewFirewall: r.fw.New,
	}
	return r
}

func (r *rig) path(rel string) string { return filepath.Join(r.root, filepath.FromSlash(rel)) }

func (r *rig) write(rel, data string) {
	r.t.Helper()
	if err := os.MkdirAll(filepath.Dir(r.path(rel)), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(r.path(rel), []byte(data), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) read(rel string) string {
	b, err := os.ReadFile(r.path(rel))
	if err != nil {
		return "<missing>"
	}
	return string(b)
}

func (r *rig) config(extra string) []byte {
	return []byte(fmt.Sprintf("[pact]\nblock = [\"instagram\"]\nlength = \"30d\"\n[dns]\nlisten = [\"127.0.0.1:53\", \"[::1]:53\"]\nupstreams = [\"system\"]\n%s", extra))
}

// untouched checks the machine is as newRig made it.
func (r *rig) untouched() {
	r.t.Helper()
	for rel, want := range map[string]string{
		"etc/resolv.conf":              origResolv,
		"etc/hosts":                    origHosts,
		"usr/local/bin/nocontact":      "<missing>",
		"etc/nocontact/nocontact.toml": "<missing>",
		"../state/" + osdns.RecordFile: "<missing>",
	} {
		if got := r.read(rel); got != want && !strings.HasPrefix(rel, "..") {
			r.t.Errorf("%s = %q, want %q", rel, got, want)
		}
	}
	if osdns.Installed(r.state) {
		r.t.Error("the record of the DNS settings is left behind")
	}
	if r.svc.installed || r.svc.running {
		r.t.Errorf("service installed %v, running %v; want neither", r.svc.installed, r.svc.running)
	}
	if _, err := os.Stat(r.path("etc/nocontact")); !errors.Is(err, os.ErrNotExist) {
		r.t.Errorf("the settings folder is left behind: %v", err)
	}
}

func TestInstallFresh(t *testing.T) {
	r := newRig(t)
	var out bytes.Buffer
	r.in.Out = &out
	// The service's sandbox can only let it write a state folder that
	// exists when it starts.
	stateAtStart := "missing"
	r.svc.onStart = func() {
		if fi, err := os.Stat(r.state); err == nil {
			stateAtStart = fi.Mode().String()
		}
	}
	if err := r.in.Install(t.Context(), InstallOptions{Config: r.config(""), Name: "test.toml"}); err != nil {
		t.Fatal(err)
	}
	if stateAtStart != "drwx------" {
		t.Errorf("state folder when the service started: %s, want drwx------", stateAtStart)
	}
	want := "service install\nservice start\nanswers?\nhosts names"
	if got := r.ev.String(); got != want {
		t.Errorf("steps:\n%s\nwant:\n%s", got, want)
	}
	if got := r.read("usr/local/bin/nocontact"); got != "new binary" {
		t.Errorf("binary = %q", got)
	}
	if fi, err := os.Stat(r.path("usr/local/bin/nocontact")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("binary mode: %v, %v", fi, err)
	}
	if got := r.read("etc/nocontact/nocontact.toml"); got != string(r.config("")) {
		t.Errorf("settings = %q", got)
	}
	if fi, err := os.Stat(r.path("etc/nocontact/nocontact.toml")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("settings mode: %v, %v", fi, err)
	}
	if rc := r.read("etc/resolv.conf"); !strings.Contains(rc, "nameserver 127.0.0.1\nnameserver ::1\n") {
		t.Errorf("resolv.conf not pointed at nocontact:\n%s", rc)
	}
	if h := r.read("etc/hosts"); !strings.Contains(h, "0.0.0.0 instagram.com\n") || !strings.HasPrefix(h, origHosts) {
		t.Errorf("hosts:\n%s", h)
	}
	if !strings.Contains(out.String(), "Installed the settings") || !strings.Contains(out.String(), "installed and running") {
		t.Errorf("words:\n%s", out.String())
	}
}

func TestInstallUndoesEveryStepOnFailure(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(r *rig)
		want   string // in the error
	}{
		{"the service does not start", func(r *rig) { r.svc.failStart = errors.New("unit failed") }, "starting the service"},
		{"the filter never answers", func(r *rig) {
			r.in.Answers = func(context.Context, *config.Config) error { return errors.New("connection refused") }
		}, "did not answer"},
		{"the DNS settings cannot be applied", func(r *rig) {
			r.in.DNS = func(ctx context.Context, env osdns.Env) (osdns.Configurator, error) {
				c, err := osdns.NewFor(osdns.ModeFile, env)
				return failingDNS{c, r.ev}, err
			}
		}, "the DNS backend failed"},
		{"the hosts names cannot be had", func(r *rig) {
			r.in.HostsNames = func(context.Context) ([]string, error) { return nil, errors.New("no daemon") }
		}, "no daemon"},
		{"the hosts file cannot be written", func(r *rig) {
			r.in.HostsPath = r.path("etc/no-such-dir/hosts")
		}, "hosts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			tt.break_(r)
			err := r.in.Install(t.Context(), InstallOptions{Config: r.config(""), Name: "test.toml"})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Install = %v, want an error about %q", err, tt.want)
			}
			r.untouched()
		})
	}
}

func TestInstallChecksTheSettingsFirst(t *testing.T) {
	for _, tt := range []struct{ name, text, want string }{
		{"a mistake", "[pact]\nblok = 1\n", "unknown key"},
		{"the trial's port", "[dns]\nlisten = [\"127.0.0.1:5353\", \"[::1]:5353\"]\n", `listen must include 127.0.0.1:53`},
		{"no IPv6", "[dns]\nlisten = [\"127.0.0.1:53\"]\n", `listen must include [::1]:53`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			err := r.in.Install(t.Context(), InstallOptions{Config: []byte(tt.text), Name: "mine.toml"})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Install = %v, want %q", err, tt.want)
			}
			if r.ev.String() != "" {
				t.Errorf("steps taken before the settings were checked:\n%s", r.ev)
			}
			r.untouched()
		})
	}
	// Wildcards on port 53 cover the loopback.
	r := newRig(t)
	if err := r.in.Install(t.Context(), InstallOptions{Config: []byte(strings.Replace(string(r.config("")), `listen = ["127.0.0.1:53", "[::1]:53"]`, `listen = ["0.0.0.0:53", "[::]:53"]`, 1))}); err != nil {
		t.Errorf("wildcard listen: %v", err)
	}
}

func TestInstallNeedsAdmin(t *testing.T) {
	r := newRig(t)
	r.in.IsAdmin = func() bool { return false }
	if err := r.in.Install(t.Context(), InstallOptions{Config: r.config("")}); !errors.Is(err, ErrNotAdmin) {
		t.Errorf("Install = %v, want ErrNotAdmin", err)
	}
	if err := r.in.Uninstall(t.Context(), UninstallOptions{}); !errors.Is(err, ErrNotAdmin) {
		t.Errorf("Uninstall = %v, want ErrNotAdmin", err)
	}
	r.untouched()
}

// TestInstallTheSettingsStartWrote: start writes the pact into the
// installed settings file and then installs that very text; install uses
// it without calling it a file it kept from before.
func TestInstallTheSettingsStartWrote(t *testing.T) {
	r := newRig(t)
	text := r.config("")
	if err := os.MkdirAll(filepath.Dir(r.path("etc/nocontact/nocontact.toml")), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.path("etc/nocontact/nocontact.toml"), text, 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r.in.Out = &out
	if err := r.in.Install(t.Context(), InstallOptions{Config: text, Name: "/etc/nocontact/nocontact.toml"}); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "nocontact uses your settings in ") || strings.Contains(s, "Kept your settings") {
		t.Errorf("words:\n%s", s)
	}
	if got := r.read("etc/nocontact/nocontact.toml"); got != string(text) {
		t.Errorf("settings after install: %q", got)
	}
}

func TestUpgradeInPlace(t *testing.T) {
	r := newRig(t)
	if err := r.in.Install(t.Context(), InstallOptions{Config: r.config("")}); err != nil {
		t.Fatal(err)
	}
	installedResolv := r.read("etc/resolv.conf")
	r.ev.list = nil
	if err := os.WriteFile(r.exe, []byte("newer binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r.in.Out = &out
	// A different --config: the installed one is kept, and said so.
	if err := r.in.Install(t.Context(), InstallOptions{Config: []byte("[pact]\nblock = [\"tiktok\"]\n")}); err != nil {
		t.Fatal(err)
	}
	want := "service stop\nservice uninstall\nservice install\nservice start\nanswers?\nhosts names"
	if got := r.ev.String(); got != want {
		t.Errorf("upgrade steps:\n%s\nwant:\n%s", got, want)
	}
	if got := r.read("usr/local/bin/nocontact"); got != "newer binary" {
		t.Errorf("binary = %q", got)
	}
	if got := r.read("etc/nocontact/nocontact.toml"); got != string(r.config("")) {
		t.Errorf("settings replaced on upgrade: %q", got)
	}
	if !strings.Contains(out.String(), "Kept your settings") {
		t.Errorf("words:\n%s", out.String())
	}

	// A failed upgrade puts the old binary back, starts the service again
	// and keeps the DNS settings of the first install.
	r.ev.list = nil
	if err := os.WriteFile(r.exe, []byte("broken binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.in.Answers = func(context.Context, *config.Config) error { return errors.New("crashed") }
	if err := r.in.Install(t.Context(), InstallOptions{}); err == nil {
		t.Fatal("Install with a filter that never answers succeeded")
	}
	if got := r.read("usr/local/bin/nocontact"); got != "newer binary" {
		t.Errorf("binary after a failed upgrade = %q, want the one before", got)
	}
	if !r.svc.installed || !r.svc.running {
		t.Errorf("service after a failed upgrade: installed %v, running %v", r.svc.installed, r.svc.running)
	}
	if got := r.read("etc/resolv.conf"); got != installedResolv || !osdns.Installed(r.state) {
		t.Errorf("a failed upgrade gave back the DNS settings:\n%s", got)
	}
}

func TestUninstall(t *testing.T) {
	for _, purge := range []bool{false, true} {
		t.Run(fmt.Sprintf("purge=%v", purge), func(t *testing.T) {
			r := newRig(t)
			if err := r.in.Install(t.Context(), InstallOptions{Config: r.config("")}); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(r.state, "state"), []byte("the pact"), 0o600); err != nil {
				t.Fatal(err)
			}
			r.write("etc/nocontact/"+CopyName, "the pact's copy")
			r.ev.list = nil
			// The filter answers until nothing points at it any more.
			var resolvAtStop, hostsAtStop string
			r.svc.onStop = func() { resolvAtStop, hostsAtStop = r.read("etc/resolv.conf"), r.read("etc/hosts") }
			if err := r.in.Uninstall(t.Context(), UninstallOptions{Purge: purge}); err != nil {
				t.Fatal(err)
			}
			if got, want := r.ev.String(), "service stop\nservice uninstall"; got != want {
				t.Errorf("steps:\n%s\nwant:\n%s", got, want)
			}
			if resolvAtStop != origResolv || hostsAtStop != origHosts {
				t.Errorf("when the service was stopped, resolv.conf was %q and hosts %q: want both given back first", resolvAtStop, hostsAtStop)
			}
			if got := r.read("etc/resolv.conf"); got != origResolv {
				t.Errorf("resolv.conf = %q, want the original", got)
			}
			if got := r.read("etc/hosts"); got != origHosts {
				t.Errorf("hosts = %q, want the original", got)
			}
			if got := r.read("usr/local/bin/nocontact"); got != "<missing>" {
				t.Errorf("binary left: %q", got)
			}
			_, err := os.Stat(filepath.Join(r.state, "state"))
			if purge != errors.Is(err, os.ErrNotExist) {
				t.Errorf("state after uninstall (purge %v): %v", purge, err)
			}
			settings := r.read("etc/nocontact/nocontact.toml")
			if purge != (settings == "<missing>") {
				t.Errorf("settings after uninstall (purge %v): %q", purge, settings)
			}
			if copied := r.read("etc/nocontact/" + CopyName); purge != (copied == "<missing>") {
				t.Errorf("the pact's copy after uninstall (purge %v): %q", purge, copied)
			}
			if r.svc.installed || r.svc.running {
				t.Error("service left")
			}
		})
	}
}

// TestUninstallLeavesItAllWhenDNSCannotBeRestored: the service is not
// even stopped, so the computer keeps a filter where its DNS settings
// point.
func TestUninstallLeavesItAllWhenDNSCannotBeRestored(t *testing.T) {
	r := newRig(t)
	if err := r.in.Install(t.Context(), InstallOptions{Config: r.config("")}); err != nil {
		t.Fatal(err)
	}
	// A damaged record cannot be restored from.
	if err := os.WriteFile(filepath.Join(r.state, osdns.RecordFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.ev.list = nil
	err := r.in.Uninstall(t.Context(), UninstallOptions{})
	if err == nil || !strings.Contains(err.Error(), "stays installed") {
		t.Fatalf("Uninstall = %v, want it to fail and stay installed", err)
	}
	if got := r.ev.String(); got != "" {
		t.Errorf("steps:\n%s\nwant none", got)
	}
	if !r.svc.installed || !r.svc.running {
		t.Errorf("service: installed %v, running %v; want both", r.svc.installed, r.svc.running)
	}
	if got := r.read("usr/local/bin/nocontact"); got == "<missing>" {
		t.Error("the binary was removed though DNS still points at nocontact")
	}
}

func TestFlushCommands(t *testing.T) {
	root := t.TempDir()
	if got := FlushCommands("linux", root); got != nil {
		t.Errorf("linux without resolved: %v", got)
	}
	if err := os.MkdirAll(filepath.Join(root, "run", "systemd", "resolve"), 0o755); err != nil {
		t.Fatal(err)
	}
	for goos, want := range map[string]string{
		"linux":   "[[resolvectl flush-caches]]",
		"darwin":  "[[dscacheutil -flushcache] [killall -HUP mDNSResponder]]",
		"windows": "[[ipconfig /flushdns]]",
	} {
		if got := fmt.Sprint(FlushCommands(goos, root)); got != want {
			t.Errorf("%s: %s, want %s", goos, got, want)
		}
	}
}

func TestInstallFlushesThroughTheRunner(t *testing.T) {
	r := newRig(t)
	if err := os.MkdirAll(r.path("run/systemd/resolve"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := r.in.Install(t.Context(), InstallOptions{Config: r.config("")}); err != nil {
		t.Fatal(err)
	}
	want := commandtest.Lines("resolvectl flush-caches", "resolvectl flush-caches")
	if d := commandtest.Diff(want, r.run.Ran()); d != "" {
		t.Error(d)
	}
}

// TestUpgradeRewritesTheServiceDefinition: a newer binary renders another
// unit file or plist; installing over an existing install replaces the
// registered one with it (stop, unregister, register, start) and leaves
// the record of the original DNS settings byte for byte as it was.
func TestUpgradeRewritesTheServiceDefinition(t *testing.T) {
	r := newRig(t)
	r.svc.definition = "unit v1"
	if err := r.in.Install(t.Context(), InstallOptions{Config: r.config("")}); err != nil {
		t.Fatal(err)
	}
	record, err := os.ReadFile(filepath.Join(r.state, osdns.RecordFile))
	if err != nil {
		t.Fatal(err)
	}
	resolv := r.read("etc/resolv.conf")

	r.svc.definition = "unit v2"
	r.ev.list = nil
	if err := r.in.Install(t.Context(), InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := "service stop\nservice uninstall\nservice install\nservice start"; !strings.HasPrefix(r.ev.String(), want) {
		t.Errorf("upgrade steps:\n%s\nwant them to start with:\n%s", r.ev, want)
	}
	if r.svc.written != "unit v2" || !r.svc.installed || !r.svc.running {
		t.Errorf("after the upgrade: definition %q, installed %v, running %v; want unit v2, running", r.svc.written, r.svc.installed, r.svc.running)
	}
	if got, _ := os.ReadFile(filepath.Join(r.state, osdns.RecordFile)); !bytes.Equal(got, record) {
		t.Errorf("the upgrade changed the DNS record:\n%s\nwas:\n%s", got, record)
	}
	if got := r.read("etc/resolv.conf"); got != resolv {
		t.Errorf("the upgrade changed resolv.conf:\n%s\nwas:\n%s", got, resolv)
	}

	// Registering again fails: the undo tries once more and starts the
	// service, and the DNS settings stay taken over.
	r.svc.definition = "unit v3"
	r.svc.failInstall = errors.New("access denied")
	r.ev.list = nil
	if err := r.in.Install(t.Context(), InstallOptions{}); err == nil || !strings.Contains(err.Error(), "registering the service again") {
		t.Fatalf("Install = %v, want the failed registration", err)
	}
	if !osdns.Installed(r.state) || r.read("etc/resolv.conf") != resolv {
		t.Error("a failed upgrade gave back the DNS settings")
	}
	r.svc.failInstall = nil
	r.ev.list = nil
	if err := r.in.Install(t.Context(), InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	if r.svc.written != "unit v3" || !r.svc.running {
		t.Errorf("after a retried upgrade: definition %q, running %v", r.svc.written, r.svc.running)
	}
}
