//go:build !windows

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/miekg/dns"
)

// trialSettings are settings for a trial run of the real binary, with
// its own state and control socket.
func trialSettings(t *testing.T) (cfg, sock string) {
	t.Helper()
	up := upstreamZone(t).String()
	dir := t.TempDir()
	cfg, sock = filepath.Join(dir, "nocontact.toml"), filepath.Join(dir, "c.sock")
	writeConfig(t, cfg, "# my notes\n[pact]\ntrial = true\nblock = [\"all\"]\nlength = \"30d\"\n"+
		"[dns]\nlisten = [\"127.0.0.1:0\"]\nupstreams = [\""+up+"\"]\n"+
		"[daemon]\nstate_dir = \""+filepath.Join(dir, "state")+"\"\ncontrol_socket = \""+sock+"\"\n")
	return cfg, sock
}

// whenRE finds the end start says, "until Mon 11 Jan 2027 at 20:47".
var whenRE = regexp.MustCompile(`until ((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d+ \w+ \d{4} at \d\d:\d\d)`)

func parseWhen(t *testing.T, s string) time.Time {
	t.Helper()
	m := whenRE.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no end date in %q", s)
	}
	at, err := time.ParseInLocation("Mon 2 Jan 2006 at 15:04", m[1], time.Local)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// TestStartWithFlagsEndToEnd: start, given every answer by flag, writes
// the settings of a trial run in the foreground; the running filter reads
// them at once and holds the very pact start showed. Then extend makes it
// longer at once, start refuses to replace it, and "1m" is refused.
func TestStartWithFlagsEndToEnd(t *testing.T) {
	t.Parallel()
	cfg, sock := trialSettings(t)
	d := startDaemon(t, cfg)
	if st := statusJSON(t, sock); !st.Pact.Trial {
		t.Fatalf("the settings are not a trial: %+v", st.Pact)
	}
	// Quiet hours far from now, so that WhatsApp is open when asked.
	quiet := time.Now().Add(8*time.Hour).Format("15:04") + "-" + time.Now().Add(9*time.Hour).Format("15:04")
	code, out, errs := cli(t, nil, binary, "start", "--config", cfg, "--length", "30d", "--keep-open", "whatsapp",
		"--reason", "I deserve peace.", "--quiet", quiet, "--yes")
	if code != 0 {
		t.Fatalf("start: %d\n%s\n%s", code, out, errs)
	}
	shown := parseWhen(t, out)
	if !strings.Contains(out, "Your pact has begun. It ends on") {
		t.Errorf("start does not say the pact began:\n%s", out)
	}
	st := statusJSON(t, sock)
	if st.Pact.Trial || !st.Pact.Active || st.Pact.End == nil || !st.Pact.End.Equal(shown) ||
		!st.Pact.End.Equal(st.Pact.Start.Add(30*24*time.Hour)) || st.Pact.Reason != "I deserve peace." ||
		!slices.Equal(st.Pact.KeepOpen, []string{"whatsapp"}) || !st.Pact.ConfirmAfterCooldown || len(st.QuietHours) != 1 {
		t.Errorf("the daemon's pact is not the one shown (ends %v):\n%+v", shown, st.Pact)
	}
	if isBlocked(d.query(t, "www.whatsapp.com.", dns.TypeA)) || !isBlocked(d.query(t, "www.instagram.com.", dns.TypeA)) {
		t.Error("WhatsApp blocked or Instagram open after start")
	}
	text, _ := os.ReadFile(cfg)
	if !strings.HasPrefix(string(text), "# my notes\n") || !strings.Contains(string(text), "control_socket") {
		t.Errorf("start did not keep the rest of the settings:\n%s", text)
	}
	code, out, errs = cli(t, nil, binary, "check", "--socket", sock, "web.whatsapp.com")
	if code != 0 || !strings.Contains(out, "kept open on purpose: WhatsApp") {
		t.Errorf("check of the kept-open channel: %d %q %s", code, out, errs)
	}

	// extend: a later end, at once.
	code, out, errs = cli(t, nil, binary, "extend", "2w", "--socket", sock)
	if code != 0 || !strings.Contains(out, "2 weeks later than before") || !strings.Contains(out, "applies at once") {
		t.Fatalf("extend: %d\n%s\n%s", code, out, errs)
	}
	if after := statusJSON(t, sock); after.Pact.End == nil || !after.Pact.End.Equal(shown.Add(14*24*time.Hour)) || len(after.Pending) != 0 {
		t.Errorf("after extend 2w: end %v, pending %+v; want %v and nothing waiting", after.Pact.End, after.Pending, shown.Add(14*24*time.Hour))
	}
	code, _, errs = cli(t, nil, binary, "extend", "1m", "--socket", sock)
	if code != 2 || !strings.Contains(errs, `did you mean 1 month ("1mo") or 1 minute ("1min")?`) {
		t.Errorf("extend 1m: %d %q", code, errs)
	}

	// start again while the pact is on: refused, nothing written.
	before, _ := os.ReadFile(cfg)
	code, out, _ = cli(t, nil, binary, "start", "--config", cfg, "--length", "2d", "--yes")
	if code != 1 || !strings.Contains(out, "A pact is already on") {
		t.Errorf("start during a pact: %d\n%s", code, out)
	}
	if now, _ := os.ReadFile(cfg); !bytes.Equal(now, before) {
		t.Error("a refused start changed the settings")
	}

	// unlock from a script: the sentence by flag, and still the cooldown.
	code, out, errs = cli(t, nil, binary, "unlock", "--socket", sock)
	if code != 1 || !strings.Contains(errs, `--sentence "I choose to end my pact early"`) {
		t.Errorf("unlock without a terminal or --sentence: %d %q %q", code, out, errs)
	}
	if st := statusJSON(t, sock); len(st.Pending) != 0 {
		t.Errorf("unlock without the sentence queued %+v", st.Pending)
	}
}

// ptySession runs the binary in a pseudo-terminal, as a person at a
// terminal would, writing each answer once the output shows its prompt.
type ptySession struct {
	t    *testing.T
	f    *os.File
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	seen int // the output before this has been matched
	done chan struct{}
}

func startPTY(t *testing.T, args ...string) *ptySession {
	t.Helper()
	cmd := exec.Command(binary, args...)
	f, err := pty.Start(cmd)
	if err != nil {
		t.Fatalf("pty: %v", err)
	}
	s := &ptySession{t: t, f: f, cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			s.mu.Lock()
			s.out.Write(buf[:n])
			s.mu.Unlock()
			if err != nil {
				return // EIO once the process has gone
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		f.Close()
		if t.Failed() {
			t.Logf("terminal:\n%s", s.text())
		}
	})
	return s
}

func (s *ptySession) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// answer waits for prompt in the output not yet matched, then types line.
func (s *ptySession) answer(prompt, line string) {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		txt := s.text()
		if i := strings.Index(txt[s.seen:], prompt); i >= 0 {
			s.seen += i + len(prompt)
			break
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the terminal never showed %q", prompt)
		}
		select {
		case <-s.done:
			if !strings.Contains(s.text()[s.seen:], prompt) {
				s.t.Fatalf("the program ended before showing %q", prompt)
			}
		case <-time.After(10 * time.Millisecond):
		}
	}
	if _, err := s.f.Write([]byte(line + "\r")); err != nil {
		s.t.Fatal(err)
	}
}

// wait waits for the program to end and returns its exit status and
// everything the terminal showed.
func (s *ptySession) wait() (int, string) {
	s.t.Helper()
	err := s.cmd.Wait()
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.t.Fatal("the terminal output did not end")
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), s.text()
	}
	if err != nil {
		s.t.Fatal(err)
	}
	return 0, s.text()
}

// TestStartThroughATerminal answers start's questions through a
// pseudo-terminal, as a person would, against a trial in the foreground;
// then unlock, also at the terminal, asks for the sentence before it
// queues anything.
func TestStartThroughATerminal(t *testing.T) {
	t.Parallel()
	cfg, sock := trialSettings(t)
	startDaemon(t, cfg)
	s := startPTY(t, "start", "--config", cfg)
	s.answer("Your answer [1]: ", "3")                          // after abuse or cheating
	s.answer("[I was hurt, and I deserve peace.] ", "")         // the suggested words
	s.answer("Your answer [4]: ", "")                           // 90 days, the suggestion for it
	s.answer("Type their names, or press Enter for none: ", "") // nothing open
	s.answer("(or press Enter for none): ", "payments")         // he shows up in payments too
	s.answer("Type them like 22:00-07:00, or press Enter for none: ", "")
	s.answer("Make it strict? [Y/n] ", "n") // not strict after all
	s.answer("[24h] ", "2d")
	s.answer("Begin this pact? [y/N] ", "y")
	code, out := s.wait()
	if code != 0 {
		t.Fatalf("start at a terminal: %d", code)
	}
	for _, want := range []string{"Every social network, messaging app, dating app, forum and payment app,", "(90 days)",
		"Changing your mind takes 2 days", `Why: "I was hurt, and I deserve peace."`, "Your pact has begun. It ends on"} {
		if !strings.Contains(out, want) {
			t.Errorf("the terminal did not show %q", want)
		}
	}
	shown := parseWhen(t, out)
	st := statusJSON(t, sock)
	if st.Pact.Trial || st.Pact.End == nil || !st.Pact.End.Equal(shown) || st.Pact.Strict || st.Pact.CooldownSeconds != 2*86400 ||
		!slices.Contains(st.Blocked, "venmo") || st.Pact.Reason != "I was hurt, and I deserve peace." {
		t.Errorf("the daemon's pact is not the one shown (ends %v): %+v, blocked %v", shown, st.Pact, st.Blocked)
	}

	// unlock at the terminal: the reason and the time left, then the
	// sentence; anything else asks for nothing.
	u := startPTY(t, "unlock", "--socket", sock)
	u.answer("I choose to end my pact early", "i want to see his profile")
	code, out = u.wait()
	if code != 1 || !strings.Contains(out, `When you made it, you wrote: "I was hurt, and I deserve peace."`) ||
		!strings.Contains(out, "That is not the sentence, so nothing was asked") {
		t.Errorf("unlock with the wrong sentence: %d", code)
	}
	if st := statusJSON(t, sock); len(st.Pending) != 0 {
		t.Fatalf("a wrong sentence queued %+v", st.Pending)
	}
	u = startPTY(t, "unlock", "--socket", sock)
	u.answer("I choose to end my pact early", "I choose to end my pact early.")
	code, out = u.wait()
	if code != 0 || !strings.Contains(out, "Ending your pact is asked for. It can happen from") {
		t.Errorf("unlock with the sentence: %d", code)
	}
	st = statusJSON(t, sock)
	if len(st.Pending) != 1 || !st.Pending[0].Confirm || !st.Pending[0].Ending || !st.Pact.Active ||
		st.Pending[0].Effective.Before(time.Now().Add(2*24*time.Hour-time.Minute)) {
		t.Errorf("after the sentence: %+v", st.Pending)
	}
}
