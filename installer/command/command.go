// Package command runs the system's configuration tools (networksetup,
// PowerShell, systemctl, resolvectl…) for the installer.
//
// It owns one small interface, Runner, so that the code that decides which
// commands to run can be tested with a fake that records them
// (commandtest), and one real implementation, Exec. A failed command comes
// back as an *Error carrying the command line and what it printed on
// stderr, because that is what a person needs to fix it. This package must
// not decide anything itself: no retries, no parsing of output.
package command

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// Runner runs one command and returns what it printed. A command that could
// not be started or exited non-zero returns an error, an *Error for the
// commands Exec runs.
type Runner interface {
	Run(ctx context.Context, name string, args ...string) (stdout, stderr []byte, err error)
}

// Exec runs commands for real, with os/exec, without a shell.
type Exec struct{}

// Run implements Runner.
func (Exec) Run(ctx context.Context, name string, args ...string) (stdout, stderr []byte, err error) {
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout = &out
	cmd.Stderr = &errOut
	if err := cmd.Run(); err != nil {
		return out.Bytes(), errOut.Bytes(), &Error{Args: append([]string{name}, args...), Stderr: errOut.String(), Err: err}
	}
	return out.Bytes(), errOut.Bytes(), nil
}

// Error is a command that failed: it could not be started, or it exited
// with a non-zero status.
type Error struct {
	Args   []string // the command line, name first
	Stderr string   // what it printed on stderr, as is
	Err    error    // from os/exec: *exec.ExitError, exec.ErrNotFound…
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s: %v", Line(e.Args...), e.Err)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Line formats a command line for messages and logs, quoting the words
// that a shell would split or that are empty, so that it can be copied
// into a terminal.
func Line(args ...string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`*?[]{}()<>|&;#~") {
			b.WriteString(strconv.Quote(a))
		} else {
			b.WriteString(a)
		}
	}
	return b.String()
}
