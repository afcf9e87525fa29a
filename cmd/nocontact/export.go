package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/daemon/control"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/dnsfilter/export"
	"github.com/nocontact/nocontact/installer/atomicfile"
)

// cmdExport writes what is blocked, for a router, a Pi-hole or a home DNS
// server: by default what the running nocontact blocks right now (its
// period, quiet hours and waiting changes included); with --config and no
// nocontact running, or --from-config, what the settings file blocks as
// if its pact were on.
func cmdExport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "export")
	path, socket := controlFlags(fs)
	format := fs.String("format", "", "the format: "+strings.Join(export.Formats, ", "))
	out := fs.String("o", "", "write to this `file` instead of the standard output")
	fromConfig := fs.Bool("from-config", false, "what the settings file blocks, even when nocontact runs")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *format == "" {
		return fmt.Errorf("%w: choose a format with --format: %s", errUsage, strings.Join(export.Formats, ", "))
	}
	var list export.List
	source := ""
	if !*fromConfig {
		if sock, err := socket(); err == nil {
			l, err := control.NewClient(sock).Blocklist(ctx)
			switch {
			case err == nil:
				list, source = l, "the running nocontact"
			case !errors.Is(err, control.ErrNotRunning):
				return explain(err)
			}
		}
	}
	if source == "" {
		cat, err := catalog.Builtin()
		if err != nil {
			return err
		}
		cfg, err := config.Load(*path, cat)
		if err != nil {
			return err
		}
		p, err := policyFor(cat, cfg)
		if err != nil {
			return err
		}
		list, source = p.Blocklist(), "the settings file "+*path
		if !*fromConfig {
			fmt.Fprintln(e.stderr, "nocontact is not running: this is what the settings file blocks, as if its pact were on now.")
		}
	}
	opts := export.Options{Source: source, Serial: uint32(time.Now().Unix())} // the zone's serial grows with each export
	if *out == "" {
		return export.Write(e.stdout, *format, list, opts)
	}
	var b strings.Builder
	if err := export.Write(&b, *format, list, opts); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "Wrote %d blocked domains to %s. Export again when your pact changes: the file does not follow it.\n", len(list.Blocked), *out)
	return nil
}
