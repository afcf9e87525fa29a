package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// These tests run the real binary and so wait real seconds; they are few,
// and run in parallel.

func pactConfig(t *testing.T, up, stateDir, pact string) string {
	t.Helper()
	return fmt.Sprintf("[pact]\n%s\n[dns]\nlisten = [\"127.0.0.1:0\"]\nupstreams = [%q]\n[daemon]\nstate_dir = %q\ncontrol_socket = %q\n",
		pact, up, stateDir, filepath.Join(stateDir, "c.sock"))
}

var effectiveRE = regexp.MustCompile(`effective=(\S+)`)

func TestPactCooldownEndToEnd(t *testing.T) {
	t.Parallel()
	up := upstreamZone(t).String()
	dir := t.TempDir()
	cfg, state := filepath.Join(dir, "nocontact.toml"), filepath.Join(dir, "state")
	writeConfig(t, cfg, pactConfig(t, up, state, `block = ["instagram", "tiktok"]`+"\ncooldown = \"4s\""))
	d := startDaemon(t, cfg)
	if !isBlocked(d.query(t, "www.tiktok.com.", dns.TypeA)) {
		t.Fatal("tiktok not blocked at the start")
	}

	// A loosening (tiktok out) and a tightening (whatsapp in) in one edit.
	// The binary runs on the machine's real clocks, so the test measures
	// real time too, but only to check that nothing happened early: it
	// waits for the daemon to say that the change applied, never sleeps.
	writeConfig(t, cfg, pactConfig(t, up, state, `block = ["instagram", "whatsapp"]`+"\ncooldown = \"4s\""))
	asked := time.Now()
	d.cmd.Process.Signal(syscall.SIGHUP)
	queued := d.waitFor(t, "change queued")
	d.waitFor(t, "config reloaded")
	if !isBlocked(d.query(t, "www.whatsapp.com.", dns.TypeA)) {
		t.Error("whatsapp, a tightening, is not blocked at once")
	}
	if !isBlocked(d.query(t, "www.tiktok.com.", dns.TypeA)) && time.Since(asked) < 4*time.Second {
		t.Error("tiktok, a loosening, is not blocked during its cooldown")
	}

	// kill -9 and restart: the queued change keeps its time.
	d.cmd.Process.Kill()
	d.cmd.Wait()
	d = startDaemonLog(t, cfg, "change pending")
	if got, want := effectiveRE.FindStringSubmatch(d.pending), effectiveRE.FindStringSubmatch(queued); got == nil || want == nil || got[1] != want[1] {
		t.Errorf("after kill -9 and restart the change is due %v, want %v (log %q)", got, want, d.pending)
	}
	if !isBlocked(d.query(t, "www.tiktok.com.", dns.TypeA)) && time.Since(asked) < 4*time.Second {
		t.Error("tiktok unblocked by the restart, before its cooldown")
	}
	d.waitFor(t, "change applied")
	if waited := time.Since(asked); waited < 4*time.Second {
		t.Errorf("the loosening applied %v after it was asked for, before its 4 s cooldown", waited)
	}
	if r := d.query(t, "www.tiktok.com.", dns.TypeA); isBlocked(r) || len(r.Answer) != 1 {
		t.Errorf("tiktok once the loosening applied: %v, want the upstream's answer", r)
	}
	if !isBlocked(d.query(t, "www.instagram.com.", dns.TypeA)) || !isBlocked(d.query(t, "www.whatsapp.com.", dns.TypeA)) {
		t.Error("instagram or whatsapp unblocked")
	}
}

func TestPactLengthEndsByItself(t *testing.T) {
	t.Parallel()
	up := upstreamZone(t).String()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nocontact.toml")
	writeConfig(t, cfg, pactConfig(t, up, filepath.Join(dir, "state"), `block = ["tiktok"]`+"\nlength = \"3s\""))
	d := startDaemon(t, cfg)
	if !isBlocked(d.query(t, "www.tiktok.com.", dns.TypeA)) {
		t.Fatal("tiktok not blocked during the pact")
	}
	d.waitFor(t, "the pact's period has ended")
	if r := d.query(t, "www.tiktok.com.", dns.TypeA); isBlocked(r) {
		t.Errorf("tiktok after the pact's end: %v, want the upstream's answer", r)
	}
}
