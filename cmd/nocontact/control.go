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
		// The installed settings: the service's socket is fixed, whatever
		// they say (and even when they have a mistake).
		installed := installDeps()
		if *path == installed.paths.Config {
			if _, err := os.Stat(sysPath(installed.root, installed.paths.Config)); err == nil {
				return installed.paths.ControlSocket, nil
			}
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
		// A user without rights looks for their own daemon first; when
		// there is none and no config was named, the installed service's.
		if _, err := os.Stat(s); err != nil && !flagSet(fs, "config") && runtime.GOOS != "windows" {
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

// clientCommand parses the flags of a control command (plus any extra
// flags addFlags adds), checks the number of arguments, finds the socket,
// and hands a client to run.
func clientCommand(e *env, name string, args []string, maxArgs int, addFlags func(*flag.FlagSet),
	run func(c *control.Client, args []string) error) error {
	fs := newFlags(e, name)
	_, socket := controlFlags(fs)
	if addFlags != nil {
		addFlags(fs)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > maxArgs {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(maxArgs))
	}
	path, err := socket()
	if err != nil {
		return err
	}
	return explain(run(control.NewClient(path), fs.Args()))
}

func cmdStatus(ctx context.Context, e *env, args []string) error {
	var asJSON *bool
	return clientCommand(e, "status", args, 0, func(fs *flag.FlagSet) {
		asJSON = fs.Bool("json", false, "print the status as JSON, for scripts")
	}, func(c *control.Client, _ []string) error {
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(st)
		}
		cat, err := catalog.Builtin()
		if err != nil {
			return err
		}
		renderStatus(e.stdout, st, time.Local, cat)
		return nil
	})
}

// cmdCancel cancels the change named by its one argument, or all of them.
func cmdCancel(ctx context.Context, e *env, args []string) error {
	return clientCommand(e, "cancel", args, 1, nil, func(c *control.Client, args []string) error {
		id := ""
		if len(args) == 1 {
			id = args[0]
		}
		res, err := c.Cancel(ctx, id)
		if err == nil {
			renderCancel(e.stdout, res)
		}
		return err
	})
}

func cmdReload(ctx context.Context, e *env, args []string) error {
	return clientCommand(e, "reload", args, 0, nil, func(c *control.Client, _ []string) error {
		res, err := c.Reload(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "Your settings were reloaded. Anything stricter applies now; anything looser waits out the cooldown.")
		for _, p := range res.Pending {
			fmt.Fprintf(e.stdout, "  waiting: %s, on %s. To undo: nocontact cancel %s\n", p.Change, when(p.Effective, time.Local), p.ID)
		}
		return nil
	})
}
