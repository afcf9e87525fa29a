package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/kardianos/service"

	"github.com/nocontact/nocontact/config"
	daemonpkg "github.com/nocontact/nocontact/daemon"
	"github.com/nocontact/nocontact/daemon/control"
	"github.com/nocontact/nocontact/dnsfilter"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/examples"
	"github.com/nocontact/nocontact/installer"
	syscmd "github.com/nocontact/nocontact/installer/command"
	"github.com/nocontact/nocontact/installer/osdns"
	"github.com/nocontact/nocontact/installer/unit"
)

// systemDeps are the edges install and uninstall touch; tests replace
// them (see installDeps).
type systemDeps struct {
	root    string
	paths   unit.Paths
	service func(unit.Paths) (installer.Service, error)
	run     syscmd.Runner
	isAdmin func() bool
	answers func(ctx context.Context, cfg *config.Config) error
	exe     func() (string, error)
	// dns returns the system's DNS settings; nil means osdns.New.
	dns func(ctx context.Context, env osdns.Env) (osdns.Configurator, error)
	// wait bounds the waits for the filter and its control socket.
	wait time.Duration
}

// installDeps is the real machine. A variable so that the end-to-end test
// can install into a private namespace with a stand-in service manager.
var installDeps = func() systemDeps {
	return systemDeps{
		root:    "/",
		paths:   unit.Default(),
		service: kardianosService,
		run:     syscmd.Exec{},
		isAdmin: isAdmin,
		answers: installer.Answers,
		exe:     os.Executable,
		wait:    20 * time.Second,
	}
}

// kardianosService is the system's service manager for the installed
// service (systemd, launchd, the Windows service manager).
func kardianosService(p unit.Paths) (installer.Service, error) {
	return serviceFor(service.Platform(), p, syscmd.Exec{}, "/")
}

// serviceFor returns the service of platform (kardianos/service's name
// for the service manager it found), refusing the ones install does not
// support before anything is changed. On systemd it stops the service
// despite the unit's RefuseManualStop (installer.Systemd).
func serviceFor(platform string, p unit.Paths, run syscmd.Runner, root string) (installer.Service, error) {
	if err := supportedServiceManager(platform); err != nil {
		return nil, err
	}
	cfg, err := unit.Config(p)
	if err != nil {
		return nil, err
	}
	svc, err := service.New(noProgram{}, cfg)
	if err != nil {
		return nil, err
	}
	if platform == "linux-systemd" {
		return installer.Systemd{Service: svc, Run: run, Root: root}, nil
	}
	return withRecovery(svc), nil
}

// supportedServiceManager refuses the service managers nocontact cannot
// install itself with. Without systemd as PID 1, kardianos/service falls
// back to SysV init scripts (or OpenRC, upstart, ...), for which
// nocontact has no tested definition: no restart when killed, no refused
// stop, no ordering before name lookups. Refusing at once, before any
// step, leaves the computer as it was.
func supportedServiceManager(platform string) error {
	switch platform {
	case "linux-systemd", "darwin-launchd", "windows-service":
		return nil
	}
	found := platform
	if found == "" {
		found = "none that nocontact knows"
	}
	return fmt.Errorf("nocontact can install itself only with systemd (Linux), launchd (macOS) or the Windows service manager, "+
		"and this computer uses another service manager (%s), so nothing was changed. "+
		"On Linux, install it on a system that boots with systemd; you can still run the filter in a terminal with: nocontact run --config FILE", found)
}

// noProgram stands for the service's program when install and uninstall
// only register, start and stop it.
type noProgram struct{}

func (noProgram) Start(service.Service) error { return nil }
func (noProgram) Stop(service.Service) error  { return nil }

func (d systemDeps) installer(e *env, cat *catalog.Catalog) (*installer.Installer, error) {
	svc, err := d.service(d.paths)
	if err != nil {
		return nil, fmt.Errorf("finding the service manager: %w", err)
	}
	log, _ := newLogger(e.stderr, "warn")
	in := &installer.Installer{
		Root: d.root, Paths: d.paths, Service: svc, Run: d.run, Catalog: cat,
		Log: log, Out: e.stdout, IsAdmin: d.isAdmin, Executable: d.exe,
		Answers: d.answers, Wait: d.wait, DNS: d.dns,
	}
	in.HostsNames = func(ctx context.Context) ([]string, error) {
		c, err := d.client(cat)
		if err != nil {
			return nil, err
		}
		st, err := statusWhenUp(ctx, c, d.wait)
		if err != nil {
			return nil, err
		}
		return daemonpkg.HostsNames(cat, dnsfilter.Spec{Platforms: st.Blocked, Domains: st.Domains, Allow: st.Allow}), nil
	}
	return in, nil
}

// client talks to the installed service's control socket, which is fixed
// (whatever the settings say).
func (d systemDeps) client(*catalog.Catalog) (*control.Client, error) {
	return control.NewClient(d.paths.ControlSocket), nil
}

func sysPath(root, p string) string {
	if root == "" || root == "/" {
		return p
	}
	return root + p
}

// statusWhenUp asks for the status, waiting up to wait for a service that
// has just started to open its control socket.
func statusWhenUp(ctx context.Context, c *control.Client, wait time.Duration) (control.Status, error) {
	deadline := time.Now().Add(wait)
	for {
		st, err := c.Status(ctx)
		if err == nil || !errors.Is(err, control.ErrNotRunning) || time.Now().After(deadline) {
			return st, err
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// exampleForInstall is the example settings with the installed service's
// listen addresses: the example listens on port 5353 for a trial without
// rights, and the computer's DNS settings can only point at port 53.
func exampleForInstall() []byte {
	return bytes.Replace(examples.Config,
		[]byte("\nlisten = [\"127.0.0.1:5353\", \"[::1]:5353\"]\n"),
		[]byte("\nlisten = [\"127.0.0.1:53\", \"[::1]:53\"]\n"), 1)
}

func cmdInstall(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "install")
	path := fs.String("config", "", "the settings `file` to install (default: the example, a trial that holds you to nothing until 'nocontact start' begins a pact)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	cat, err := catalog.Builtin()
	if err != nil {
		return err
	}
	opt := installer.InstallOptions{Config: exampleForInstall(), Name: "the example settings"}
	if *path != "" {
		b, err := os.ReadFile(*path)
		if err != nil {
			return err
		}
		opt = installer.InstallOptions{Config: b, Name: *path}
	}
	d := installDeps()
	in, err := d.installer(e, cat)
	if err != nil {
		return err
	}
	if err := in.Install(ctx, opt); err != nil {
		return err
	}
	if cfg, err := config.Load(sysPath(d.root, d.paths.Config), cat); err == nil && cfg.Pact.Trial {
		fmt.Fprintln(e.stdout, "These settings are a trial: nocontact blocks what they say, but holds you to nothing, and any change applies at once.")
		fmt.Fprintln(e.stdout, "To begin your pact: sudo nocontact start")
	}
	return nil
}

func cmdUninstall(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "uninstall")
	purge := fs.Bool("purge", false, "also remove the settings and nocontact's memory of the pact")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	d := installDeps()
	if !d.isAdmin() {
		return installer.ErrNotAdmin
	}
	cat, err := catalog.Builtin()
	if err != nil {
		return err
	}
	in, err := d.installer(e, cat)
	if err != nil {
		return err
	}
	ok, err := mayUninstall(ctx, e.stdout, d, in, cat)
	if err != nil || !ok {
		return err
	}
	return in.Uninstall(ctx, installer.UninstallOptions{Purge: *purge})
}

// errNotAllowedYet is uninstall's error while the pact holds: the words
// were printed already.
var errNotAllowedYet = errors.New("not uninstalled")

// mayUninstall asks the running service whether the pact allows
// uninstalling now; asking is itself the request. It prints the plain
// words when it does not. A service that is not running is started to
// ask it: only it knows the pact. With nothing installed to ask (no
// service, no taken-over DNS) what is left may go.
func mayUninstall(ctx context.Context, w io.Writer, d systemDeps, in *installer.Installer, cat *catalog.Catalog) (bool, error) {
	c, cerr := d.client(cat)
	_, serr := in.Service.Status()
	if errors.Is(serr, service.ErrNotInstalled) && !osdns.Installed(sysPath(d.root, d.paths.StateDir)) {
		return true, nil
	}
	if cerr != nil {
		return false, fmt.Errorf("reading the installed settings to reach nocontact: %w", cerr)
	}
	res, err := c.Uninstall(ctx)
	if errors.Is(err, control.ErrNotRunning) {
		// A failed start shows as the service still not answering, and
		// the message below says where to see why.
		_ = in.Service.Start()
		if _, err = statusWhenUp(ctx, c, d.wait); err == nil {
			res, err = c.Uninstall(ctx)
		}
	}
	if errors.Is(err, control.ErrNotRunning) {
		return false, errors.New("nocontact's service is not running, and only it can tell whether your pact allows uninstalling: " +
			"see why it stopped (journalctl -u nocontact on Linux, /var/log/nocontact.log on macOS, the Event Viewer on Windows), then run uninstall again")
	}
	if err != nil {
		return false, explain(err)
	}
	if res.Allowed {
		return true, nil
	}
	renderUninstall(w, res, time.Now(), time.Local)
	if res.Refused {
		return false, errNotAllowedYet
	}
	return false, nil
}

// renderUninstall writes the answer to an uninstall the pact does not
// allow yet.
func renderUninstall(w io.Writer, res control.UninstallResult, now time.Time, loc *time.Location) {
	switch {
	case res.Refused && res.End != nil:
		fmt.Fprintf(w, "Your pact is strict, so nocontact cannot be removed before it ends.\nIt ends by itself on %s, in %s; from then on, 'sudo nocontact uninstall' works at once.\n", when(*res.End, loc), span(res.End.Sub(now)))
	case res.Refused:
		fmt.Fprintln(w, "Your pact is strict, so nocontact cannot be removed before it ends.")
	case res.Pending != nil:
		fmt.Fprintf(w, "Removing nocontact is queued, like any loosening of your pact. It becomes possible on %s, in %s.\n", when(res.Pending.Effective, loc), span(res.Pending.Effective.Sub(now)))
		fmt.Fprintln(w, "Until then nothing changes and everything stays blocked. Then run 'sudo nocontact uninstall' again to remove it.")
		fmt.Fprintf(w, "If you change your mind: nocontact cancel %s\n", res.Pending.ID)
	}
}
