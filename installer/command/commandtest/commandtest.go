// Package commandtest is a fake command.Runner for tests: it answers from
// a script of expected commands and records what was run, so a test can
// assert the exact command lines of an operation. It must never be
// imported by non-test code.
package commandtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/nocontact/nocontact/installer/command"
)

// Reply is what the fake answers for one command line.
type Reply struct {
	Stdout, Stderr string
	Err            error // returned wrapped in a *command.Error
}

// Fake answers each command line from Replies (by the line as
// command.Line formats it); a line with no entry succeeds with no output.
// Commands lists, in order, every line run.
type Fake struct {
	mu       sync.Mutex
	Replies  map[string]Reply
	Commands []string
	// Handle, when set, is called for every command before Replies is
	// consulted; it returns ok=false to fall through. Tests use it for
	// commands whose answer depends on earlier ones.
	Handle func(line string) (r Reply, ok bool)
}

// Run implements command.Runner.
func (f *Fake) Run(ctx context.Context, name string, args ...string) (stdout, stderr []byte, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	all := append([]string{name}, args...)
	line := command.Line(all...)
	f.mu.Lock()
	f.Commands = append(f.Commands, line)
	handle := f.Handle
	r := f.Replies[line]
	f.mu.Unlock()
	if handle != nil {
		if hr, ok := handle(line); ok {
			r = hr
		}
	}
	if r.Err != nil {
		return []byte(r.Stdout), []byte(r.Stderr), &command.Error{Args: all, Stderr: r.Stderr, Err: r.Err}
	}
	return []byte(r.Stdout), []byte(r.Stderr), nil
}

// Reset forgets the commands run so far.
func (f *Fake) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Commands = nil
}

// Ran returns the commands run so far, one per line, for comparing with a
// want in a test message.
func (f *Fake) Ran() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.Commands, "\n")
}

// ErrExit stands for a non-zero exit status in a Reply.
var ErrExit = errors.New("exit status 1")

// Lines joins want lines the way Ran does.
func Lines(lines ...string) string { return strings.Join(lines, "\n") }

// Diff returns "" when got equals want, or a message showing both.
func Diff(want, got string) string {
	if want == got {
		return ""
	}
	return fmt.Sprintf("commands:\n--- want\n%s\n--- got\n%s", want, got)
}
