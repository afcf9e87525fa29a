//go:build !windows

package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/daemon/control"
)

// cli runs the real binary and returns its exit status and output.
func cli(t *testing.T, cred *syscall.Credential, exe string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(exe, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", exe, args, err)
	}
	return code, out.String(), errb.String()
}

// openDir is a directory every local user may enter, for a control
// socket that another user's client must reach.
func openDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "ncctl")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func statusJSON(t *testing.T, sock string) control.Status {
	t.Helper()
	code, out, errs := cli(t, nil, binary, "status", "--json", "--socket", sock)
	if code != 0 {
		t.Fatalf("status --json: %d %s", code, errs)
	}
	var st control.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json does not parse: %v\n%s", err, out)
	}
	return st
}

func TestControlEndToEnd(t *testing.T) {
	t.Parallel()
	up := upstreamZone(t).String()
	dir := t.TempDir()
	sockDir := openDir(t)
	sock := filepath.Join(sockDir, "c.sock")
	cfgPath := filepath.Join(dir, "nocontact.toml")
	cfgText := func(block string) string {
		return "[pact]\nblock = [" + block + "]\nlength = \"30d\"\ncooldown = \"1h\"\n" +
			"[dns]\nlisten = [\"127.0.0.1:0\"]\nupstreams = [\"" + up + "\"]\n" +
			"[daemon]\nstate_dir = \"" + filepath.Join(dir, "state") + "\"\ncontrol_socket = \"" + sock + "\"\n"
	}
	writeConfig(t, cfgPath, cfgText(`"instagram"`))
	d := startDaemon(t, cfgPath)

	// Reaching for instagram: a burst of lookups counts once.
	for range 3 {
		if !isBlocked(d.query(t, "www.instagram.com.", dns.TypeA)) {
			t.Fatal("instagram not blocked")
		}
	}

	// status, for a person and as JSON; --config finds the socket too.
	code, out, errs := cli(t, nil, binary, "status", "--config", cfgPath)
	if code != 0 {
		t.Fatalf("status: %d %s", code, errs)
	}
	for _, want := range []string{"Your pact is on: day 1 of 30.", "30 days left", "Blocked now: Instagram", "You reached for Instagram once today", "Filter: answering on 127.0.0.1:"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	st := statusJSON(t, sock)
	if !st.Blocking || st.Pact.Cooldown != "1h" || st.Pact.End == nil || st.Pact.Strict || st.Pact.Completed ||
		len(st.Blocked) == 0 || st.Blocked[0] != "instagram" || st.Attempts["instagram"].Today != 1 || len(st.Pending) != 0 {
		t.Errorf("status --json: %+v", st)
	}

	// unlock queues the end of the pact for one cooldown from now.
	asked := time.Now()
	code, out, errs = cli(t, nil, binary, "unlock", "--socket", sock, "--sentence", "I choose to end my pact early")
	if code != 0 || !strings.Contains(out, "Ending your pact is asked for") || !strings.Contains(out, "nocontact cancel") {
		t.Fatalf("unlock: %d %q %s", code, out, errs)
	}
	st = statusJSON(t, sock)
	if len(st.Pending) != 1 {
		t.Fatalf("after unlock: pending %+v, want the end of the pact", st.Pending)
	}
	eff := st.Pending[0].Effective
	if eff.Before(asked.Add(time.Hour-2*time.Second)) || eff.After(time.Now().Add(time.Hour+2*time.Second)) {
		t.Errorf("unlock takes effect at %v, want one hour after %v", eff, asked)
	}
	if !isBlocked(d.query(t, "instagram.com.", dns.TypeA)) {
		t.Error("instagram unblocked right after unlock, before the cooldown")
	}

	// cancel undoes it at once.
	code, out, _ = cli(t, nil, binary, "cancel", "--socket", sock, st.Pending[0].ID)
	if code != 0 || !strings.Contains(out, "Cancelled") {
		t.Errorf("cancel: %d %q", code, out)
	}
	if st = statusJSON(t, sock); len(st.Pending) != 0 {
		t.Errorf("after cancel: pending %+v", st.Pending)
	}
	if code, _, errs = cli(t, nil, binary, "cancel", "--socket", sock, "c999"); code == 0 || !strings.Contains(errs, "nocontact status") {
		t.Errorf("cancel of an unknown id: %d %q", code, errs)
	}

	// reload: a tightening (tiktok too) applies at once.
	writeConfig(t, cfgPath, cfgText(`"instagram", "tiktok"`))
	if code, out, errs = cli(t, nil, binary, "reload", "--socket", sock); code != 0 || !strings.Contains(out, "reloaded") {
		t.Fatalf("reload: %d %q %s", code, out, errs)
	}
	if !isBlocked(d.query(t, "www.tiktok.com.", dns.TypeA)) {
		t.Error("tiktok not blocked after reload")
	}

	// check answers from the live policy.
	code, out, _ = cli(t, nil, binary, "check", "--socket", sock, "www.tiktok.com", "example.org")
	if code != 0 || !strings.HasPrefix(out, "blocked  www.tiktok.com  by TikTok: tiktok.com\nallowed  example.org") {
		t.Errorf("check: %d %q", code, out)
	}

	// Another local user may read, and is refused every change.
	if os.Geteuid() != 0 {
		t.Log("not root: skipping the part run as the user nobody (sudo go test ./cmd/nocontact/ runs it; CI does)")
		return
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Logf("no user nobody: %v", err)
		return
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	exe := filepath.Join(sockDir, "nocontact")
	copyExecutable(t, binary, exe)
	if code, out, errs := cli(t, cred, exe, "status", "--socket", sock); code != 0 || !strings.Contains(out, "Your pact is on") {
		t.Errorf("status as nobody: %d %q %s", code, out, errs)
	}
	for _, cmd := range [][]string{{"unlock", "--sentence", "I choose to end my pact early"}, {"cancel"}, {"reload"}} {
		code, _, errs := cli(t, cred, exe, append(cmd, "--socket", sock)...)
		if code != 1 || !strings.Contains(errs, "only an administrator") || !strings.Contains(errs, "sudo") {
			t.Errorf("%s as nobody: status %d, %q; want refused with a hint", cmd[0], code, errs)
		}
	}
	if st = statusJSON(t, sock); len(st.Pending) != 0 {
		t.Errorf("a refused unlock queued something: %+v", st.Pending)
	}
}

func TestControlNotRunning(t *testing.T) {
	code, _, errs := cli(t, nil, binary, "status", "--socket", filepath.Join(t.TempDir(), "none.sock"))
	if code != 1 || !strings.Contains(errs, "nocontact is not running") || !strings.Contains(errs, "nocontact run") {
		t.Errorf("status with no daemon: %d %q", code, errs)
	}
}

// copyExecutable makes from runnable as to. A hard link needs no write of
// an executable file, which a fork in a parallel test could catch open
// ("text file busy"); a copy is the fallback across filesystems.
func copyExecutable(t *testing.T, from, to string) {
	t.Helper()
	if os.Link(from, to) == nil {
		return
	}
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestAttemptsSurviveRestart(t *testing.T) {
	t.Parallel()
	up := upstreamZone(t).String()
	dir := t.TempDir()
	sock := filepath.Join(dir, "c.sock")
	cfgPath := filepath.Join(dir, "nocontact.toml")
	writeConfig(t, cfgPath, "[pact]\nblock = [\"instagram\"]\n[dns]\nlisten = [\"127.0.0.1:0\"]\nupstreams = [\""+up+"\"]\n"+
		"[daemon]\nstate_dir = \""+filepath.Join(dir, "state")+"\"\ncontrol_socket = \""+sock+"\"\n")
	d := startDaemon(t, cfgPath)
	d.query(t, "instagram.com.", dns.TypeA)
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.waitFor(t, "stopped")
	d.cmd.Wait()

	startDaemon(t, cfgPath)
	if got := statusJSON(t, sock).Attempts["instagram"]; got.Today != 1 || got.Week != 1 {
		t.Errorf("after a restart: %+v, want the attempt from before it", got)
	}
}
