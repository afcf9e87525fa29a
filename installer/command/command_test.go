package command

import (
	"context"
	"errors"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

func TestLineQuotesWhatAShellWouldSplit(t *testing.T) {
	got := Line("networksetup", "-setdnsservers", "Wi-Fi", "127.0.0.1", "::1")
	if want := "networksetup -setdnsservers Wi-Fi 127.0.0.1 ::1"; got != want {
		t.Errorf("Line = %s, want %s", got, want)
	}
	got = Line("networksetup", "-getdnsservers", "USB 10/100/1000 LAN", "")
	if want := `networksetup -getdnsservers "USB 10/100/1000 LAN" ""`; got != want {
		t.Errorf("Line = %s, want %s", got, want)
	}
}

func TestExecErrorCarriesCommandLineAndStderr(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses sh")
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	_, _, err := Exec{}.Run(context.Background(), "sh", "-c", "echo no such service >&2; exit 4")
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *command.Error", err)
	}
	for _, want := range []string{`sh -c "echo no such service >&2; exit 4"`, "exit status 4", "no such service"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if _, _, err := (Exec{}).Run(context.Background(), "nocontact-no-such-command"); !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("missing command: err = %v, want exec.ErrNotFound", err)
	}
}
