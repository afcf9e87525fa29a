package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/daemon/control"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
)

// cmdCheck answers from the running daemon's live policy (its period,
// quiet hours and waiting changes included); when no daemon runs, from the
// config file as if its pact were on.
func cmdCheck(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "check")
	path, socket := controlFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: name at least one domain to check, like instagram.com", errUsage)
	}
	names := fs.Args()
	if sock, err := socket(); err == nil {
		res, err := control.NewClient(sock).Check(ctx, names)
		if err == nil {
			for _, r := range res {
				printVerdict(e, r.Name, r.Blocked, r.Why)
			}
			return nil
		}
		if !errors.Is(err, control.ErrNotRunning) {
			return explain(err)
		}
	}
	cat, err := catalog.Builtin()
	if err != nil {
		return err
	}
	cfg, err := config.Load(*path, cat)
	if errors.Is(err, os.ErrNotExist) && !flagSet(fs, "config") {
		return fmt.Errorf("nocontact is not running, and no settings are installed in %s: to check what a settings file blocks, name it: nocontact check --config FILE %s", *path, strings.Join(names, " "))
	}
	if err != nil {
		return err
	}
	p, err := policyFor(cat, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "nocontact is not running: these answers come from %s, as if its pact were on now.\n", *path)
	for _, name := range names {
		blocked, why := p.Explain(name)
		if r, ok := p.Match(name); ok && !blocked && slices.Contains(cfg.Pact.KeptOpen, r.Platform) {
			why = "kept open on purpose: " + cat.DisplayName(r.Platform)
		}
		printVerdict(e, name, blocked, why)
	}
	return nil
}

func printVerdict(e *env, name string, blocked bool, why string) {
	verdict := "allowed"
	if blocked {
		verdict = "blocked"
	}
	fmt.Fprintf(e.stdout, "%s  %s  %s\n", verdict, name, why)
}
