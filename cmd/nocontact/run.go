package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"

	"github.com/kardianos/service"

	"github.com/nocontact/nocontact/config"
	daemonpkg "github.com/nocontact/nocontact/daemon"
	"github.com/nocontact/nocontact/dnsfilter"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/installer"
	"github.com/nocontact/nocontact/installer/osdns"
	"github.com/nocontact/nocontact/installer/unit"
)

// defaultConfig is where the installed service finds its config.
var defaultConfig = unit.Default().Config

func cmdRun(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "run")
	path := fs.String("config", defaultConfig, "the config `file`")
	level := fs.String("log-level", "info", "debug, info, warn or error (debug logs every name looked up)")
	asService := fs.Bool("service", false, "run as the installed service: its memory and control socket are in the system's fixed places, whatever the settings say, and a settings mistake does not stop it (the service definition passes this)")
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
	sys := installDeps()
	opts := daemonpkg.Options{ConfigPath: *path, Catalog: cat, Logger: log}
	// The installed machine's DNS settings and hosts layer, kept while
	// the pact binds. The record of the takeover is in the service's
	// state folder; a trial run has none in its own, and the Keeper then
	// touches nothing. The watch starts either way: `install` takes over
	// DNS after it started the service.
	keeper := &installer.Keeper{Root: sys.root, Run: sys.run, Log: log}
	if !*asService && isAdmin() && osdns.Installed(sysPath(sys.root, sys.paths.StateDir)) {
		// An administrator's run on a machine where nocontact is
		// installed is the service, whatever started it: it must not
		// find an empty memory where the settings point, nor leave the
		// machine without the service's DNS (a second one fails on the
		// state folder's lock while the service runs).
		log.Warn("nocontact is installed on this computer: this run keeps the installed service's memory and control socket; to try other settings, run it as yourself, without sudo")
		*asService = true
	}
	if *asService {
		opts.Service = true
		opts.StateDir, opts.ControlSocket = sysPath(sys.root, sys.paths.StateDir), sys.paths.ControlSocket
		opts.CopyPath = filepath.Join(filepath.Dir(*path), installer.CopyName)
		if err := moveOldLayout(opts.StateDir); err != nil {
			log.Error("could not move the memory of an older nocontact into its folder; it is read where it is", "err", err)
		}
		keeper.StateDir = opts.StateDir
	} else {
		cfg, err := config.Load(*path, cat)
		if err != nil {
			return err
		}
		keeper.StateDir = cfg.Daemon.StateDir
	}
	opts.System = keeper
	keepCtx, stopKeeping := context.WithCancel(ctx)
	defer stopKeeping()
	keeper.Watch(keepCtx)
	d, err := daemonpkg.New(opts)
	if err != nil {
		return err
	}
	prg := &program{ctx: ctx, d: d, log: log}
	wait := func() { prg.wait(e.signals) }
	// The same code is the systemd, launchd or Windows service and a
	// foreground process: kardianos/service tells which and, as a
	// service, calls Start and Stop for the service manager. RunWait
	// replaces its own signal handling so SIGHUP can reload.
	svc, err := service.New(prg, &service.Config{Name: unit.Name, Option: service.KeyValue{"RunWait": wait}})
	if err != nil {
		// No service manager on this machine (a container, a minimal
		// system): a plain foreground run.
		log.Debug("no service manager found; running in the foreground", "err", err)
		if err := prg.Start(nil); err != nil {
			return err
		}
		wait()
		if err := prg.Stop(nil); err != nil {
			return err
		}
		return prg.err
	}
	if err := svc.Run(); err != nil {
		return err
	}
	return prg.err
}

// program is the daemon as kardianos/service drives it.
type program struct {
	ctx    context.Context
	d      *daemonpkg.Daemon
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan error
	err    error
}

// Start starts the daemon without blocking.
func (p *program) Start(service.Service) error {
	ctx, cancel := context.WithCancel(p.ctx)
	p.cancel = cancel
	p.done = make(chan error, 1)
	go func() { p.done <- p.d.Run(ctx) }()
	return nil
}

// wait returns on SIGINT or SIGTERM, or when the daemon stops by itself
// (it could not listen, say); SIGHUP reloads the config.
func (p *program) wait(signals <-chan os.Signal) {
	for {
		select {
		case s := <-signals:
			if s == syscall.SIGHUP {
				_ = p.d.Reload() // a mistake in the file is logged, and the filter goes on as it was
				continue
			}
			p.log.Info("stopping", "signal", s.String())
			return
		case err := <-p.done:
			p.err, p.done = err, nil
			return
		case <-p.ctx.Done():
			return
		}
	}
}

// Stop stops the daemon and waits for it to save and close.
func (p *program) Stop(service.Service) error {
	p.cancel()
	if p.done != nil {
		p.err, p.done = <-p.done, nil
	}
	return nil
}

func policyFor(cat *catalog.Catalog, cfg *config.Config) (*dnsfilter.Policy, error) {
	return dnsfilter.NewPolicy(cat, dnsfilter.Spec{
		Platforms: cfg.Pact.Platforms,
		Domains:   cfg.Pact.Domains,
		Allow:     cfg.Pact.Allow,
	})
}
