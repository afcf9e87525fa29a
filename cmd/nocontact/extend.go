package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/daemon/control"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/installer/atomicfile"
)

// cmdExtend makes the pact longer: it moves the end of the pact's last
// phase in the settings file (length or until) and has the running filter
// read it. A later end is a tightening, so it applies at once. The file
// stays the one place the pact is written down.
func cmdExtend(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "extend")
	path, socket := controlFlags(fs)
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return fmt.Errorf("%w: say how much longer, like 'nocontact extend 2w' (2 weeks) or 'nocontact extend 1mo' (a month)", errUsage)
	}
	by, err := config.ParseSpan(rest[0])
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	cat, err := catalog.Builtin()
	if err != nil {
		return err
	}
	client, st, err := running(ctx, socket)
	if err != nil {
		return err
	}
	file := settingsFile(fs, *path, st)
	if st != nil && !st.Pact.Active {
		if st.Pact.Completed {
			fmt.Fprintln(e.stdout, "Your pact has ended, so there is nothing to extend. To begin a new one: sudo nocontact start")
		} else {
			fmt.Fprintln(e.stdout, "No pact is on, so there is nothing to extend. To begin one: sudo nocontact start")
		}
		return errQuiet
	}
	text, err := os.ReadFile(file)
	if err != nil {
		return noSettings(err, file, fs)
	}
	out, err := config.Extend(text, file, by, cat, config.Env{})
	if errors.Is(err, config.ErrNoEnd) {
		fmt.Fprintln(e.stdout, "Your pact has no end date: it already lasts until you unlock it, so there is nothing to extend.")
		return errQuiet
	}
	if err != nil {
		return err
	}
	if err := writeSettings(file, out); err != nil {
		return err
	}
	if st == nil {
		fmt.Fprintf(e.stdout, "Your settings in %s now make your pact %s longer.\n", file, by.Words())
		fmt.Fprintln(e.stdout, "nocontact is not running, so it applies when it starts; if it is installed, run: sudo systemctl start nocontact")
		return nil
	}
	if _, err := client.Reload(ctx); err != nil {
		return fmt.Errorf("your settings in %s now make your pact %s longer, but nocontact could not read them: %w", file, by.Words(), explain(err))
	}
	after, err := client.Status(ctx)
	if err != nil {
		return explain(err)
	}
	renderExtended(e.stdout, by, st, after, time.Local)
	return nil
}

// renderExtended says what extend did.
func renderExtended(w interface{ Write([]byte) (int, error) }, by config.Span, before *control.Status, after control.Status, loc *time.Location) {
	if after.Pact.End == nil {
		fmt.Fprintf(w, "Your pact is now %s longer.\n", by.Words())
		return
	}
	fmt.Fprintf(w, "Your pact now ends on %s, %s later than before (in %s from now).\n", when(*after.Pact.End, loc), by.Words(), span(after.Pact.End.Sub(after.Now)))
	fmt.Fprintln(w, "That applies at once: making a pact longer never waits.")
}

// running finds the running filter: its client and status, or nil for
// both when none answers.
func running(ctx context.Context, socket func() (string, error)) (*control.Client, *control.Status, error) {
	sock, err := socket()
	if err != nil {
		return nil, nil, nil // no socket to find: nothing runs, and the settings file is used
	}
	c := control.NewClient(sock)
	st, err := c.Status(ctx)
	switch {
	case errors.Is(err, control.ErrNotRunning):
		return nil, nil, nil
	case err != nil:
		return nil, nil, explain(err)
	}
	return c, &st, nil
}

// settingsFile is the settings file a command changes: --config when
// given, else the one the running filter reads, else the installed one.
func settingsFile(fs *flag.FlagSet, path string, st *control.Status) string {
	if flagSet(fs, "config") || st == nil || st.Settings == "" {
		return path
	}
	return st.Settings
}

// noSettings explains a settings file that cannot be read.
func noSettings(err error, file string, fs *flag.FlagSet) error {
	if errors.Is(err, os.ErrNotExist) && !flagSet(fs, "config") {
		return fmt.Errorf("nocontact is not running, and there are no installed settings in %s: name your settings file with --config FILE", file)
	}
	return err
}

// writeSettings replaces the settings file atomically, keeping its
// permissions (0644 for a new one): a reader sees the old file or the new,
// never half of one.
func writeSettings(file string, data []byte) error {
	perm := os.FileMode(0o644)
	if fi, err := os.Stat(file); err == nil {
		perm = fi.Mode().Perm()
	}
	return atomicfile.WriteFile(file, data, perm)
}

// parseInterleaved parses flags that may come before or after the
// arguments ("extend 2w --config FILE"), and returns the arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
