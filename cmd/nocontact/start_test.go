package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kardianos/service"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/installer"
	"github.com/nocontact/nocontact/installer/unit"
	"github.com/nocontact/nocontact/internal/golden"
)

// notInstalled is a service manager on which nocontact is not installed.
type notInstalled struct{}

func (notInstalled) Install() error   { return nil }
func (notInstalled) Uninstall() error { return nil }
func (notInstalled) Start() error     { return nil }
func (notInstalled) Stop() error      { return nil }
func (notInstalled) Status() (service.Status, error) {
	return service.StatusUnknown, service.ErrNotInstalled
}

// withoutInstall makes installDeps a machine where nocontact is not
// installed and the user is no administrator, for the test's length.
func withoutInstall(t *testing.T) {
	old := installDeps
	installDeps = func() systemDeps {
		return systemDeps{root: "/", paths: unit.Default(), isAdmin: func() bool { return false },
			service: func(unit.Paths) (installer.Service, error) { return notInstalled{}, nil }}
	}
	t.Cleanup(func() { installDeps = old })
}

// startAt is 20:47 on Monday 30 November 2026, UTC.
var startAt = time.Date(2026, 11, 30, 20, 47, 31, 0, time.UTC)

// runStart runs start in-process at startAt, answering from input as a
// person at a terminal would, and returns the transcript.
func runStart(t *testing.T, input string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, stdin: strings.NewReader(input), interactive: true, echo: true,
		now: func() time.Time { return startAt }}
	code := mainWithEnv(context.Background(), e, append([]string{"start"}, args...))
	return code, out.String(), errb.String()
}

// TestStartInteractive walks the questions as a person would answer them,
// mistakes included, and checks every word of the transcript and the
// file written.
func TestStartInteractive(t *testing.T) {
	withoutInstall(t)
	file := filepath.Join(t.TempDir(), "nocontact.toml")
	// Settings ready to be installed, from an earlier trial.
	if err := os.WriteFile(file, exampleForInstall(), 0o644); err != nil {
		t.Fatal(err)
	}
	answers := strings.Join([]string{
		"1",             // why: to heal
		"",              // the reason suggested
		"6", "1m", "6w", // another length: "1m" is refused, then 6 weeks
		"whatsap", "whatsapp", // a typo, then the name
		"vidoe", "video", // a typo, then the group
		"22:00-07:00", // quiet hours
		"",            // not strict
		"",            // the usual cooldown
		"y",           // begin
		"n",           // do not install now
	}, "\n") + "\n"
	code, out, errs := runStart(t, answers, "--config", file)
	if code != 0 {
		t.Fatalf("start: %d\n%s\n%s", code, out, errs)
	}
	golden.Check(t, "start-interactive"+".golden", []byte(strings.ReplaceAll(out, file, "FILE")))

	// The file reads back as the pact shown.
	c, err := config.Load(file, builtin(t))
	if err != nil {
		t.Fatal(err)
	}
	start := startAt.Truncate(time.Minute)
	if !c.Pact.Start.Equal(start) || c.Pact.LengthDur != 6*7*24*time.Hour || c.Pact.Trial || c.Pact.Strict ||
		!slices.Equal(c.Pact.KeptOpen, []string{"whatsapp"}) || !slices.Contains(c.Pact.Platforms, "youtube") ||
		slices.Contains(c.Pact.Platforms, "whatsapp") || c.Pact.Reason != "I want to heal." || len(c.QuietHours) != 1 {
		t.Errorf("the file written:\n%+v\n%+v", c.Pact, c.QuietHours)
	}
	// The rest of the file is kept: it listens where the computer asks.
	if c.DNS.Listen[0] != "127.0.0.1:53" {
		t.Errorf("listen %v", c.DNS.Listen)
	}
}

// TestStartDeclined: saying no writes nothing; a closed input begins
// nothing.
func TestStartDeclined(t *testing.T) {
	withoutInstall(t)
	file := filepath.Join(t.TempDir(), "nocontact.toml")
	code, out, _ := runStart(t, "2\n\n3\n\n\n\n\n\nn\n", "--config", file)
	if code != 0 || !strings.Contains(out, "Nothing was written") {
		t.Errorf("declined: %d\n%s", code, out)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("a declined start wrote %s (%v)", file, err)
	}
	code, out, _ = runStart(t, "1\n", "--config", file)
	if code != 1 || !strings.Contains(out, "Nothing was written") {
		t.Errorf("input ended: %d\n%s", code, out)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("an unanswered start wrote %s (%v)", file, err)
	}
}

// TestStartKeepsTheRestOfTheFile: an existing file keeps its notes at
// the top and its other tables; its pact tables are written anew.
func TestStartKeepsTheRestOfTheFile(t *testing.T) {
	withoutInstall(t)
	file := filepath.Join(t.TempDir(), "nocontact.toml")
	old := "# my notes\n\n[pact]\nblock = [\"instagram\"]\ntrial = true\n\n[[quiet_hours]]\nfrom = \"01:00\"\nto = \"02:00\"\n\n" +
		"[dns]\n# my resolver\nupstreams = [\"9.9.9.9\"]\nlisten = [\"127.0.0.1:53\"]\n\n[[phase]]\nblock = []\n"
	if err := os.WriteFile(file, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runStart(t, "", "--config", file, "--length", "2w", "--yes")
	if code != 0 {
		t.Fatalf("start: %d %s %s", code, out, errs)
	}
	b, _ := os.ReadFile(file)
	text := string(b)
	for _, want := range []string{"# my notes\n", "[dns]\n# my resolver\nupstreams = [\"9.9.9.9\"]\n", "length = \"14d\"", "start = 2026-11-30T20:47:00Z"} {
		if !strings.Contains(text, want) {
			t.Errorf("the file lacks %q:\n%s", want, text)
		}
	}
	for _, gone := range []string{"trial", "01:00", "[[phase]]", "instagram"} {
		if strings.Contains(text, gone) {
			t.Errorf("the file still has %q:\n%s", gone, text)
		}
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("permissions %v, want the file's own 0600 kept", fi.Mode().Perm())
	}
}

func TestStartFlagErrors(t *testing.T) {
	withoutInstall(t)
	file := filepath.Join(t.TempDir(), "nocontact.toml")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--length", "1m", "--yes"}, `--length: "1m": did you mean 1 month ("1mo") or 1 minute ("1min")?`},
		{[]string{"--keep-open", "whatsap", "--yes"}, `did you mean "whatsapp"?`},
		{[]string{"--keep-open", "spotify", "--yes"}, `"spotify" is not among the platforms a pact blocks`},
		{[]string{"--also", "social", "--yes"}, `"social" is not one of the groups`},
		{[]string{"--quiet", "10pm-7am", "--yes"}, `write the hours like 22:00-07:00`},
		{[]string{"--cooldown", "31d", "--yes"}, `longer than 30 days`},
		{[]string{"--until", "2020-01-01", "--yes"}, `is not in the future`},
		{[]string{"--why", "revenge", "--yes"}, `write heal, clarity or hurt`},
	} {
		code, _, errs := runStart(t, "", append([]string{"--config", file}, tt.args...)...)
		if code != 2 || !strings.Contains(errs, tt.want) {
			t.Errorf("start %v: %d %q, want usage error with %q", tt.args, code, errs, tt.want)
		}
	}
	// Without a terminal, start wants --yes.
	var out, errb bytes.Buffer
	code := mainWithEnv(context.Background(), &env{stdout: &out, stderr: &errb}, []string{"start", "--config", file})
	if code != 2 || !strings.Contains(errb.String(), "add --yes") {
		t.Errorf("start without a terminal: %d %q", code, errb.String())
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("a refused start wrote %s", file)
	}
}

// TestStartSummaryGolden: the pact in words, for a strict pact after
// abuse and for one until a date.
func TestStartSummaryGolden(t *testing.T) {
	withoutInstall(t)
	var b bytes.Buffer
	for _, args := range [][]string{
		{"--why", "hurt", "--strict", "--length", "3mo", "--also", "video, payments", "--reason", "I was hurt, and I deserve peace."},
		{"--until", "2027-01-31", "--keep-open", "whatsapp,telegram", "--cooldown", "3d", "--quiet", "23:00-06:00"},
		{"--length", "48h", "--keep-open", "messaging"},
	} {
		file := filepath.Join(t.TempDir(), "nocontact.toml")
		code, out, errs := runStart(t, "", append([]string{"--config", file, "--yes"}, args...)...)
		if code != 0 {
			t.Fatalf("start %v: %d %s %s", args, code, out, errs)
		}
		b.WriteString("-- start " + strings.Join(args, " ") + "\n")
		b.WriteString(strings.ReplaceAll(out, file, "FILE"))
	}
	golden.Check(t, "start-summaries"+".golden", b.Bytes())
}
