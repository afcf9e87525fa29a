package main

import (
	"context"
	"fmt"
	"syscall"

	"github.com/nocontact/nocontact/config"
	daemonpkg "github.com/nocontact/nocontact/daemon"
	"github.com/nocontact/nocontact/dnsfilter"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
)

// defaultConfig is where the installed service finds its config.
const defaultConfig = "/etc/nocontact/nocontact.toml"

func cmdRun(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "run")
	path := fs.String("config", defaultConfig, "the config `file`")
	level := fs.String("log-level", "info", "debug, info, warn or error (debug logs every name looked up)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	log, err := newLogger(e.stderr, *level)
	if err != nil {
		return err
	}
	cat, err := catalog.Builtin()
	if err != nil {
		return err
	}
	d, err := daemonpkg.New(daemonpkg.Options{ConfigPath: *path, Catalog: cat, Logger: log})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	for {
		select {
		case err := <-done:
			return err
		case s := <-e.signals:
			if s == syscall.SIGHUP {
				d.Reload()
				continue
			}
			log.Info("stopping", "signal", s.String())
			cancel()
		}
	}
}

func policyFor(cat *catalog.Catalog, cfg *config.Config) (*dnsfilter.Policy, error) {
	return dnsfilter.NewPolicy(cat, dnsfilter.Spec{
		Platforms: cfg.Pact.Platforms,
		Domains:   cfg.Pact.Domains,
		Allow:     cfg.Pact.Allow,
	})
}
