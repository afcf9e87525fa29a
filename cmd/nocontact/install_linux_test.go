package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kardianos/service"
	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/nocontact/nocontact/daemon/control"
	"github.com/nocontact/nocontact/installer"
	"github.com/nocontact/nocontact/installer/command/commandtest"
	"github.com/nocontact/nocontact/installer/osdns"
	"github.com/nocontact/nocontact/installer/unit"
	"github.com/nocontact/nocontact/internal/wait"
)

// e2eChildEnv marks the copy of the test binary that runs inside the
// private namespaces; its value is the parent's mount namespace.
const e2eChildEnv = "NOCONTACT_INSTALL_E2E_CHILD_OF_MNTNS"

// TestInstallEndToEnd installs nocontact for real, but only inside a
// private mount and network namespace: a copy of /etc is mounted over
// /etc, port 53 on the namespace's own loopback is free, and a stand-in
// upstream answers there. The service manager is a stand-in that runs the
// daemon in this process (CI has no systemd). The real /etc is never
// written.
func TestInstallEndToEnd(t *testing.T) {
	if parentNS := os.Getenv(e2eChildEnv); parentNS != "" {
		installChild(t, parentNS)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to create mount and network namespaces: run `sudo go test ./cmd/nocontact -run TestInstallEndToEnd` (CI runs it as root)")
	}
	for _, tool := range []string{"unshare", "ip", "getent"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs the %s command (util-linux, iproute2, libc-bin)", tool)
		}
	}
	realResolv, errR := os.ReadFile("/etc/resolv.conf")
	realHosts, errH := os.ReadFile("/etc/hosts")
	ns, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "--mount", "--net", "--propagation", "private", os.Args[0],
		"-test.run", "^TestInstallEndToEnd$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), e2eChildEnv+"="+ns)
	out, err := cmd.CombinedOutput()
	t.Logf("in the namespaces:\n%s", out)
	if err != nil {
		t.Errorf("the test in the namespaces failed: %v", err)
	}
	if b, err := os.ReadFile("/etc/resolv.conf"); !bytes.Equal(b, realResolv) || (err == nil) != (errR == nil) {
		t.Errorf("the real /etc/resolv.conf changed: %q", b)
	}
	if b, err := os.ReadFile("/etc/hosts"); !bytes.Equal(b, realHosts) || (err == nil) != (errH == nil) {
		t.Errorf("the real /etc/hosts changed: %q", b)
	}
}

// inProcessService stands in for systemd: Start runs `nocontact run` in
// this process, Stop stops it.
type inProcessService struct {
	t         *testing.T
	cfg       string
	mu        sync.Mutex
	installed bool
	cancel    context.CancelFunc
	done      chan struct{}
	log       bytes.Buffer
}

func (s *inProcessService) Install() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.installed {
		return errors.New("Init already exists")
	}
	s.installed = true
	return nil
}

func (s *inProcessService) Uninstall() error {
	s.mu.Lock()
	s.installed = false
	s.mu.Unlock()
	return nil
}

func (s *inProcessService) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		w := &lockedWriter{w: &s.log, mu: &s.mu}
		code := mainWithEnv(ctx, &env{stdout: w, stderr: w}, append([]string{}, unit.Paths{Config: s.cfg}.Args()...))
		if code != 0 {
			fmt.Fprintf(w, "run exited with %d\n", code)
		}
	}()
	return nil
}

func (s *inProcessService) Stop() error {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.cancel = nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return nil
}

func (s *inProcessService) Status() (service.Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.installed:
		return service.StatusUnknown, service.ErrNotInstalled
	case s.cancel != nil:
		return service.StatusRunning, nil
	}
	return service.StatusStopped, nil
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func installChild(t *testing.T, parentNS string) {
	ns, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil || ns == parentNS {
		t.Fatalf("not in a private mount namespace (%s, %v): refusing to touch /etc", ns, err)
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("bringing up the namespace's loopback: %v %s", err, out)
	}
	// Port 53 must be free: a namespace of our own has nothing on it.
	if c, err := net.Listen("tcp", "127.0.0.1:53"); err != nil {
		t.Fatalf("port 53 is taken; not in a fresh network namespace? %v", err)
	} else {
		c.Close()
	}

	dir := t.TempDir()
	privateEtc(t, dir, "# from DHCP\nsearch lan\nnameserver 127.0.0.2\n")
	before := map[string][]byte{}
	for _, p := range []string{"/etc/resolv.conf", "/etc/hosts"} {
		before[p], _ = os.ReadFile(p)
	}

	// The stand-in upstream: example.org is 192.0.2.80.
	up := &dns.Server{Addr: "127.0.0.2:53", Net: "udp", Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		if q.Question[0].Qtype == dns.TypeA && strings.EqualFold(q.Question[0].Name, "example.org.") {
			rr, _ := dns.NewRR("example.org. 60 IN A 192.0.2.80")
			m.Answer = append(m.Answer, rr)
		}
		w.WriteMsg(m)
	})}
	started := make(chan struct{})
	up.NotifyStartedFunc = func() { close(started) }
	go up.ListenAndServe()
	<-started
	defer up.Shutdown()

	// The cooldown is long enough for the attacks below to be checked
	// while their loosenings wait, short enough to wait out at the end.
	const settingsText = `[pact]
block = ["instagram"]
length = "30d"
cooldown = "15s"
[dns]
listen = ["127.0.0.1:53", "[::1]:53"]
upstreams = ["system"]
`
	paths, settings, svc := inProcessInstall(t, dir, settingsText)
	state := paths.StateDir

	code, out, errs := runCLI(t, "install", "--config", settings)
	if code != 0 {
		t.Fatalf("install: %d\n%s\n%s", code, out, errs)
	}
	t.Logf("install said:\n%s", out)
	rc, _ := os.ReadFile("/etc/resolv.conf")
	if !bytes.Contains(rc, []byte("nameserver 127.0.0.1\nnameserver ::1\n")) {
		t.Fatalf("resolv.conf after install:\n%s", rc)
	}

	getent := func(name string) []string {
		out, err := exec.Command("getent", "ahosts", name).Output()
		if err != nil {
			return []string{"error: " + err.Error()}
		}
		var addrs []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if f := strings.Fields(l); len(f) > 0 {
				addrs = append(addrs, f[0])
			}
		}
		return addrs
	}
	nowhere := func(addrs []string) bool {
		for _, a := range addrs {
			if a != "0.0.0.0" && a != "::" {
				return false
			}
		}
		return len(addrs) > 0
	}
	// instagram.com is in the hosts layer; p7.instagram.com only in the
	// filter, so it proves the DNS path.
	for _, name := range []string{"instagram.com", "p7.instagram.com"} {
		got := getent(name)
		t.Logf("getent ahosts %s: %v", name, got)
		if !nowhere(got) {
			t.Errorf("getent ahosts %s = %v, want 0.0.0.0 or ::", name, got)
		}
	}
	got := getent("example.org")
	t.Logf("getent ahosts example.org: %v", got)
	if len(got) == 0 || got[0] != "192.0.2.80" {
		t.Errorf("getent ahosts example.org = %v, want the upstream's 192.0.2.80", got)
	}
	hostsLayer := []string{"instagram.com", "www.instagram.com", "m.instagram.com", "i.instagram.com", "graph.instagram.com", "scontent.cdninstagram.com"}
	if h, _ := os.ReadFile("/etc/hosts"); !bytes.Contains(h, []byte("0.0.0.0 instagram.com\n")) || !bytes.Contains(h, []byte(":: i.instagram.com\n")) {
		t.Errorf("hosts after install:\n%s", h)
	}

	// Nobody else can bind the service's addresses, even with
	// SO_REUSEPORT: it holds them alone (issue 13).
	for _, proto := range []string{"udp", "tcp"} {
		for _, addr := range []string{"127.0.0.1:53", "0.0.0.0:53"} {
			c, err := joinWithReusePort(context.Background(), proto, addr)
			if err == nil {
				c.Close()
			}
			if !errors.Is(err, unix.EADDRINUSE) {
				t.Errorf("binding %s %s beside the installed service: %v, want EADDRINUSE", proto, addr, err)
			}
		}
	}
	if st := statusJSON(t, paths.ControlSocket); len(st.Health.Strangers) != 0 {
		t.Errorf("the installed service sees strangers on its port: %+v", st.Health.Strangers)
	}

	// A DHCP client rewrites resolv.conf: the daemon puts it back.
	if err := os.WriteFile("/etc/resolv.conf", []byte("# dhclient\nnameserver 10.9.9.9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "the daemon to undo the DHCP rewrite of /etc/resolv.conf", func() bool {
		rc, _ := os.ReadFile("/etc/resolv.conf")
		return bytes.Contains(rc, []byte("nameserver 127.0.0.1\n"))
	})
	st := statusJSON(t, paths.ControlSocket)
	t.Logf("re-asserts: %d", st.Health.Reasserts)
	if st.Health.Reasserts < 1 || st.Record.Counts["dns_rewritten"] < 1 {
		t.Errorf("status shows %d re-asserts, %d in the record; want at least 1", st.Health.Reasserts, st.Record.Counts["dns_rewritten"])
	}

	// The attacks of 2 a.m. (issue 12), against the installed service.
	// restart stops the service, does what, and starts it again.
	restart := func(what func()) {
		t.Helper()
		if err := svc.Stop(); err != nil {
			t.Fatal(err)
		}
		what()
		if err := svc.Start(); err != nil {
			t.Fatal(err)
		}
		wait.For(t, "the service to answer again", func() bool {
			_, err := control.NewClient(paths.ControlSocket).Status(context.Background())
			return err == nil
		})
	}
	stillBlocked := func(when string) {
		t.Helper()
		for _, name := range []string{"instagram.com", "p7.instagram.com"} {
			out, err := exec.Command("dig", "+short", "+tries=3", "@127.0.0.1", name, "A").Output()
			if got := strings.TrimSpace(string(out)); err != nil || got != "0.0.0.0" {
				t.Errorf("%s: dig %s = %q, %v; want 0.0.0.0", when, name, got, err)
			}
		}
	}
	// 0. Stop the service and point the DNS settings around it by hand:
	// the hosts layer still leads the platforms' names nowhere, while
	// other names resolve (and a name only the filter knows is left to
	// the upstream, which this stand-in does not answer).
	restart(func() {
		if err := os.WriteFile("/etc/resolv.conf", []byte("nameserver 127.0.0.2\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, name := range hostsLayer {
			if got := getent(name); !nowhere(got) {
				t.Errorf("service stopped, resolv.conf edited: getent ahosts %s = %v, want 0.0.0.0 or :: from the hosts layer", name, got)
			}
		}
		if got := getent("example.org"); len(got) == 0 || got[0] != "192.0.2.80" {
			t.Errorf("service stopped, resolv.conf edited: getent ahosts example.org = %v, want the upstream's answer (the test is wrong)", got)
		}
	})
	stillBlocked("after a stop and a hand-edited resolv.conf")
	wait.For(t, "the daemon to undo the hand edit of /etc/resolv.conf", func() bool {
		rc, _ := os.ReadFile("/etc/resolv.conf")
		return bytes.Contains(rc, []byte("nameserver 127.0.0.1\n"))
	})

	// 1. Point the memory at an empty folder, and loosen everything.
	moved := filepath.Join(dir, "elsewhere")
	restart(func() {
		writeConfig(t, paths.Config, fmt.Sprintf("[pact]\nblock = []\nstrict = false\ncooldown = \"0s\"\n[dns]\nlisten = [\"127.0.0.1:53\", \"[::1]:53\"]\nupstreams = [\"system\"]\n"+
			"[daemon]\nstate_dir = %q\ncontrol_socket = %q\n", moved, filepath.Join(moved, "c.sock")))
	})
	stillBlocked("after the settings moved the memory")
	st = statusJSON(t, paths.ControlSocket)
	if st.Record.Counts["settings_moved_memory"] != 1 || len(st.Pending) == 0 || len(st.Warnings) == 0 {
		t.Errorf("after the settings moved the memory: record %v, pending %v, warnings %q; want the event, the loosenings queued and a warning",
			st.Record.Counts, st.Pending, st.Warnings)
	}
	if _, err := os.Stat(moved); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the service made the folder the settings named: %v", err)
	}
	// 2. Damage the memory too, and restart.
	restart(func() {
		f, err := os.OpenFile(filepath.Join(state, "state"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString("\x00garbage"); err != nil {
			t.Fatal(err)
		}
		f.Close()
	})
	stillBlocked("after the memory was damaged")
	st = statusJSON(t, paths.ControlSocket)
	if st.Record.Counts["state_restored"] != 1 {
		t.Errorf("after the memory was damaged: record %v, want the copy restored", st.Record.Counts)
	}
	code, out, _ = cli(t, nil, binary, "status", "--socket", paths.ControlSocket)
	t.Logf("status after the attacks:\n%s", out)
	if code != 0 || !strings.Contains(out, "Since your pact began:") {
		t.Errorf("status does not sum up the record:\n%s", out)
	}
	// 3. A second nocontact, run by hand as root with settings that keep
	// the memory elsewhere: it is the service's, and the service holds it.
	code, _, errs = runCLI(t, "run", "--config", settings)
	if code == 0 || !strings.Contains(errs, "another nocontact is running") {
		t.Errorf("a second nocontact run by hand: %d, %q; want it refused by the state folder's lock", code, errs)
	}
	// Back to the settings of the pact: the waiting loosenings are
	// dropped.
	if err := os.WriteFile(paths.Config, []byte(settingsText), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runCLI(t, "reload"); code != 0 {
		t.Fatalf("reload: %d\n%s\n%s", code, out, errs)
	}

	// Uninstall is a loosening: queued first, then allowed.
	code, out, errs = runCLI(t, "uninstall")
	t.Logf("uninstall during the pact said:\n%s", out)
	if code != 0 || !strings.Contains(out, "Removing nocontact is queued") || !strings.Contains(out, "nocontact cancel ") {
		t.Fatalf("uninstall during the pact: %d\n%s\n%s", code, out, errs)
	}
	if !osdns.Installed(state) {
		t.Fatal("uninstall went ahead during the cooldown")
	}
	if !wait.Within(wait.Timeout, func() bool {
		code, out, errs = runCLI(t, "uninstall")
		return code == 0 && strings.Contains(out, "nocontact is uninstalled")
	}) {
		t.Fatalf("uninstall after the cooldown: %d\n%s\n%s", code, out, errs)
	}
	t.Logf("uninstall said:\n%s", out)
	for p, want := range before {
		if got, _ := os.ReadFile(p); !bytes.Equal(got, want) {
			t.Errorf("%s after uninstall:\n%q\nwant, byte for byte:\n%q", p, got, want)
		}
	}
	if _, err := os.Stat(paths.Executable); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("binary left after uninstall: %v", err)
	}
	if st, err := svc.Status(); !errors.Is(err, service.ErrNotInstalled) {
		t.Errorf("service after uninstall: %v, %v", st, err)
	}
}

// privateEtc puts a copy of /etc's name-service files over /etc (the
// test runs in a private mount namespace), with names from the hosts
// file and DNS only (not a resolved or nscd outside the namespace) and
// resolv as resolv.conf, as if DHCP had written it. dir holds the copy.
func privateEtc(t *testing.T, dir, resolv string) {
	t.Helper()
	etc := filepath.Join(dir, "etc")
	if err := os.Mkdir(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"hosts", "host.conf", "gai.conf", "passwd", "group"} {
		if b, err := os.ReadFile(filepath.Join("/etc", name)); err == nil {
			if err := os.WriteFile(filepath.Join(etc, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(etc, "nsswitch.conf"), []byte("passwd: files\ngroup: files\nhosts: files dns\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "resolv.conf"), []byte(resolv), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(etc, "/etc", "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind-mounting a copy of /etc over /etc: %v", err)
	}
	t.Cleanup(func() { unix.Unmount("/etc", unix.MNT_DETACH) })
}

// inProcessInstall makes install and uninstall, for the test's length,
// work on this namespace with the daemon run in-process in place of a
// service manager (its state and control socket under dir), no command
// reaching the system outside, and the plain-file DNS backend (the
// others would reload services that live outside). It writes
// settingsText to a settings file for install --config, and logs the
// daemon's log when the test fails.
func inProcessInstall(t *testing.T, dir, settingsText string) (unit.Paths, string, *inProcessService) {
	t.Helper()
	paths := unit.Paths{Executable: filepath.Join(dir, "bin", "nocontact"), Config: "/etc/nocontact/nocontact.toml",
		StateDir: filepath.Join(dir, "state"), ControlSocket: filepath.Join(dir, "c.sock")}
	settings := filepath.Join(dir, "mine.toml")
	if err := os.WriteFile(settings, []byte(settingsText), 0o644); err != nil {
		t.Fatal(err)
	}
	svc := &inProcessService{t: t, cfg: paths.Config}
	old := installDeps
	installDeps = func() systemDeps {
		return systemDeps{
			root: "/", paths: paths, run: &commandtest.Fake{}, isAdmin: func() bool { return true },
			service: func(unit.Paths) (installer.Service, error) { return svc, nil },
			answers: installer.Answers, exe: os.Executable, wait: 20 * time.Second,
			dns: func(ctx context.Context, env osdns.Env) (osdns.Configurator, error) {
				return osdns.NewFor(osdns.ModeFile, env)
			},
		}
	}
	t.Cleanup(func() {
		installDeps = old
		svc.Stop()
		if t.Failed() {
			svc.mu.Lock()
			t.Logf("the daemon's log:\n%s", svc.log.String())
			svc.mu.Unlock()
		}
	})
	return paths, settings, svc
}
