package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/dnstest"
)

var binary string // the nocontact binary built for the end-to-end tests

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nocontact-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "nocontact")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building nocontact: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runCLI runs a subcommand in-process and returns its exit status and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := mainWithEnv(context.Background(), &env{stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func writeConfig(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func upstreamZone(t *testing.T) netip.AddrPort {
	return dnstest.Serve(t, dnstest.NewZone(t,
		"example.org. 300 IN A 192.0.2.1",
		"www.tiktok.com. 300 IN A 192.0.2.2",
	))
}

// daemon is `nocontact run` started as a real process.
type daemon struct {
	cmd     *exec.Cmd
	lines   chan string
	addr    string
	log     *bytes.Buffer
	pending string // the log line containing startDaemonLog's want
}

func startDaemon(t *testing.T, config string) *daemon {
	t.Helper()
	return startDaemonLog(t, config, "")
}

// startDaemonLog is startDaemon that also waits for a log line containing
// want before the daemon starts listening, and keeps it in pending.
func startDaemonLog(t *testing.T, config, want string) *daemon {
	t.Helper()
	return startDaemonCmd(t, exec.Command(binary, "run", "--config", config), want)
}

// startDaemonCmd starts cmd, a `nocontact run` possibly wrapped in another
// command (unshare), and waits as startDaemonLog does.
func startDaemonCmd(t *testing.T, cmd *exec.Cmd, want string) *daemon {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: cmd, lines: make(chan string, 100), log: new(bytes.Buffer)}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			d.lines <- sc.Text()
		}
		close(d.lines)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.log)
		}
	})
	if want != "" {
		d.pending = d.waitFor(t, want)
	}
	line := d.waitFor(t, "listening")
	m := regexp.MustCompile(`addr=(\S+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no address in %q", line)
	}
	d.addr = m[1]
	d.waitFor(t, "nocontact is filtering")
	return d
}

// waitFor returns the first log line containing s. The deadline only
// catches a hung daemon; it is not a speed requirement.
func (d *daemon) waitFor(t *testing.T, s string) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case line, ok := <-d.lines:
			if !ok {
				t.Fatalf("daemon exited before logging %q", s)
			}
			d.log.WriteString(line + "\n")
			if strings.Contains(line, s) {
				return line
			}
		case <-timeout:
			t.Fatalf("daemon did not log %q", s)
		}
	}
}

func (d *daemon) query(t *testing.T, name string, qtype uint16) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(1232, false)
	// As a stub resolver does: UDP may drop a datagram on a loaded
	// machine (a test floods the daemon on purpose), so ask again, then
	// over TCP, before calling it a failure.
	var err error
	for _, net := range []string{"udp", "udp", "udp", "tcp"} {
		var r *dns.Msg
		if r, _, err = (&dns.Client{Net: net}).Exchange(q, d.addr); err == nil {
			return r
		}
	}
	t.Fatalf("query %s, three times over UDP and once over TCP: %v", name, err)
	return nil
}

func isBlocked(r *dns.Msg) bool {
	return r.Rcode == dns.RcodeSuccess && len(r.Answer) == 1 && r.Answer[0].(*dns.A).A.String() == "0.0.0.0"
}

func TestRunEndToEnd(t *testing.T) {
	up := upstreamZone(t)
	cfg := filepath.Join(t.TempDir(), "nocontact.toml")
	// No cooldown here: this test is about reloading, not the pact.
	dir := t.TempDir()
	dnsPart := fmt.Sprintf("cooldown = \"0s\"\n[dns]\nlisten = [\"127.0.0.1:0\"]\nupstreams = [%q]\n[daemon]\nstate_dir = %q\ncontrol_socket = %q\n",
		up.String(), dir, filepath.Join(dir, "c.sock"))
	writeConfig(t, cfg, "[pact]\nblock = [\"instagram\"]\n"+dnsPart)
	d := startDaemon(t, cfg)

	if r := d.query(t, "www.instagram.com.", dns.TypeA); !isBlocked(r) {
		t.Errorf("instagram: %v, want blocked", r)
	}
	if r := d.query(t, "example.org.", dns.TypeA); len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.1" {
		t.Errorf("example.org: %v, want the upstream's 192.0.2.1", r)
	}

	// SIGHUP reloads the file.
	writeConfig(t, cfg, "[pact]\nblock = [\"tiktok\"]\n"+dnsPart)
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitFor(t, "config reloaded")
	if r := d.query(t, "www.tiktok.com.", dns.TypeA); !isBlocked(r) {
		t.Errorf("after reload, tiktok: %v, want blocked", r)
	}
	if r := d.query(t, "www.instagram.com.", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("after reload, instagram: %v, want forwarded (NXDOMAIN from the upstream)", r)
	}

	// An invalid file is refused, the running policy kept, the line named.
	writeConfig(t, cfg, "[pact]\nblock = [\"tiktok\"]\nblok = 1\n"+dnsPart)
	d.cmd.Process.Signal(syscall.SIGHUP)
	line := d.waitFor(t, "config not reloaded")
	if !strings.Contains(line, ":3") || !strings.Contains(line, "blok") {
		t.Errorf("log line %q does not name line 3 and the key blok", line)
	}
	if r := d.query(t, "www.tiktok.com.", dns.TypeA); !isBlocked(r) {
		t.Errorf("after a bad reload, tiktok: %v, want still blocked", r)
	}

	d.cmd.Process.Signal(syscall.SIGTERM)
	d.waitFor(t, "stopped")
	if err := d.cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0", err)
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runCLI(t, "run", "--config", filepath.Join(dir, "missing.toml"))
	if code != 1 || !strings.Contains(stderr, "missing.toml") {
		t.Errorf("missing config: status %d, %q", code, stderr)
	}
	bad := filepath.Join(dir, "bad.toml")
	writeConfig(t, bad, "[pact]\nblock = [\"myspace-2005\"]\n")
	code, _, stderr = runCLI(t, "run", "--config", bad)
	if code != 1 || !strings.Contains(stderr, "myspace-2005") || !strings.Contains(stderr, "nocontact platforms") {
		t.Errorf("unknown platform: status %d, %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "run", "--bogus")
	if code != 2 || !strings.Contains(stderr, "usage") {
		t.Errorf("bad flag: status %d, %q", code, stderr)
	}
	code, _, _ = runCLI(t, "frobnicate")
	if code != 2 {
		t.Errorf("unknown command: status %d, want 2", code)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nocontact.toml")
	// A control socket of its own: with no daemon on it, check answers
	// from the file, whatever else runs on this machine.
	writeConfig(t, cfg, `[pact]
block = ["instagram", "twitter"]
domains = ["their-blog.example"]
allow = ["help.instagram.com"]
[daemon]
control_socket = "`+filepath.Join(dir, "c.sock")+`"
`)
	code, out, stderr := runCLI(t, "check", "--config", cfg,
		"www.instagram.com", "help.instagram.com", "api.twitter.com", "x.their-blog.example", "example.org", "www.reddit.com", "use-application-dns.net")
	if code != 0 {
		t.Fatalf("status %d: %s", code, stderr)
	}
	want := []string{
		"blocked  www.instagram.com  by Instagram: instagram.com",
		"allowed  help.instagram.com  by your allow list: help.instagram.com",
		"blocked  api.twitter.com  by X (Twitter): twitter.com",
		"blocked  x.their-blog.example  by your domains: their-blog.example",
		"allowed  example.org  no rule covers it: forwarded",
		"allowed  www.reddit.com  Reddit: reddit.com is not blocked now",
		"blocked  use-application-dns.net  answered locally",
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d: got %q, want it to start with %q", i+1, lines[i], w)
		}
	}
	if code, _, _ := runCLI(t, "check", "--config", cfg); code != 2 {
		t.Errorf("check with no names: status %d, want 2", code)
	}
}

func TestPlatformsAndVersion(t *testing.T) {
	code, out, _ := runCLI(t, "platforms")
	if code != 0 {
		t.Fatalf("status %d", code)
	}
	for _, want := range []string{"instagram", "whatsapp", "twitter", "tinder", "messaging", "dating", "Encrypted DNS", "video"} {
		if !strings.Contains(out, want) {
			t.Errorf("platforms output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "nocontact ") {
		t.Errorf("version: status %d, %q", code, out)
	}
	out2, err := exec.Command(binary, "version").Output()
	if err != nil || string(out2) != out {
		t.Errorf("binary version %q (%v), in-process %q", out2, err, out)
	}
}
