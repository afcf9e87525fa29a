package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/daemon/control"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
)

// systemSocket is where the installed service listens, for a user whose
// own default differs (a user without rights looks in their runtime
// directory first).
func systemSocket() string {
	switch runtime.GOOS {
	case "windows":
		return `\\.\pipe\nocontact`
	case "darwin":
		return "/var/run/nocontact.sock"
	}
	return "/run/nocontact.sock"
}

// controlFlags adds --config and --socket to fs and returns the config
// path flag and a function that finds the control socket from them.
func controlFlags(fs *flag.FlagSet) (*string, func() (string, error)) {
	path := fs.String("config", defaultConfig, "the config `file` that names the control socket")
	sock := fs.String("socket", "", "the control socket `path` (default: from the config)")
	return path, func() (string, error) {
		if *sock != "" {
			return *sock, nil
		}
		cat, err := catalog.Builtin()
		if err != nil {
			return "", err
		}
		cfg, err := config.Load(*path, cat)
		switch {
		case errors.Is(err, os.ErrNotExist) && !flagSet(fs, "config"):
			// No config installed: the defaults say where a daemon of
			// ours would listen.
			cfg, err = config.Parse(strings.NewReader(""), "defaults", cat)
			if err != nil {
				return "", err
			}
		case err != nil:
			return "", err
		}
		s := cfg.Daemon.ControlSocket
		if _, err := os.Stat(s); err != nil && runtime.GOOS != "windows" {
			if _, serr := os.Stat(systemSocket()); serr == nil {
				return systemSocket(), nil
			}
		}
		return s, nil
	}
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// explain turns control errors into words for the person at the terminal.
func explain(err error) error {
	switch {
	case errors.Is(err, control.ErrNotRunning):
		return fmt.Errorf("%w. Start it with 'sudo systemctl start nocontact' if it is installed, or 'nocontact run --config FILE'", err)
	case errors.Is(err, control.ErrNotAllowed):
		return fmt.Errorf("%w: run the command as an administrator, like 'sudo nocontact ...'", err)
	}
	return err
}

func cmdStatus(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "status")
	_, socket := controlFlags(fs)
	asJSON := fs.Bool("json", false, "print the status as JSON, for scripts")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	path, err := socket()
	if err != nil {
		return err
	}
	st, err := control.NewClient(path).Status(ctx)
	if err != nil {
		return explain(err)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	renderStatus(e.stdout, st, time.Local)
	return nil
}

func cmdUnlock(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "unlock")
	_, socket := controlFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	path, err := socket()
	if err != nil {
		return err
	}
	res, err := control.NewClient(path).Unlock(ctx)
	if err != nil {
		return explain(err)
	}
	renderUnlock(e.stdout, res, time.Now(), time.Local)
	return nil
}

func cmdCancel(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "cancel")
	_, socket := controlFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return fmt.Errorf("%w: name one change to cancel, or none to cancel them all", errUsage)
	}
	path, err := socket()
	if err != nil {
		return err
	}
	res, err := control.NewClient(path).Cancel(ctx, fs.Arg(0))
	if err != nil {
		return explain(err)
	}
	renderCancel(e.stdout, res)
	return nil
}

func cmdReload(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "reload")
	_, socket := controlFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	path, err := socket()
	if err != nil {
		return err
	}
	res, err := control.NewClient(path).Reload(ctx)
	if err != nil {
		return explain(err)
	}
	fmt.Fprintln(e.stdout, "The config was reloaded. Anything stricter applies now; anything looser waits out the cooldown.")
	for _, c := range res.Pending {
		fmt.Fprintf(e.stdout, "  waiting: %s, on %s. To undo: nocontact cancel %s\n", c.Change, when(c.Effective, time.Local), c.ID)
	}
	return nil
}
