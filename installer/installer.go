// Package installer puts nocontact on a machine and takes it off again:
// `nocontact install` copies the binary and the settings to their system
// places, registers and starts the service, waits until the filter
// answers, points the system's DNS at it, writes the hosts layer and the
// browsers' policies; `nocontact uninstall` gives all of that back, and
// takes the firewall layer out. Keeper is the part the running daemon
// uses to keep the system's DNS settings, the hosts layer, the firewall
// layer and the browsers' policies true while the pact binds.
//
// Every edge is injected (the filesystem root, the command runner, the
// service manager, the clock, the "does the filter answer" probe), so the
// steps, their order and the undoing of the ones done when a later one
// fails are tested without touching the system. The mechanisms live in
// the subpackages (osdns, hosts, unit, firewall, browsers); this package
// only orders them.
// It must not decide whether uninstalling is allowed: that is the pact's
// business, asked through the daemon before Uninstall is called.
package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kardianos/service"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/daemon/statefile"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/installer/atomicfile"
	"github.com/nocontact/nocontact/installer/browsers"
	"github.com/nocontact/nocontact/installer/command"
	"github.com/nocontact/nocontact/installer/firewall"
	"github.com/nocontact/nocontact/installer/hosts"
	"github.com/nocontact/nocontact/installer/osdns"
	"github.com/nocontact/nocontact/installer/unit"
)

// Service is the service manager's view of nocontact's service: the
// methods of kardianos/service's service.Service that install and
// uninstall use, so that tests can hand in a fake.
type Service interface {
	Install() error
	Uninstall() error
	Start() error
	Stop() error
	// Status returns service.ErrNotInstalled when there is no such
	// service.
	Status() (service.Status, error)
}

// ErrNotAdmin means install or uninstall was run without administrator
// rights.
var ErrNotAdmin = errors.New("installing and uninstalling change the whole computer, so they need administrator rights: run it again with sudo (Linux, macOS) or from an Administrator prompt (Windows)")

// Installer holds the edges install and uninstall touch. Root, Paths,
// Service, Catalog and (for Install) Answers are required; the rest have
// defaults.
type Installer struct {
	// Root is prefixed to every system path: "/" on a real system, a
	// temporary directory in tests.
	Root string
	// Paths are where the binary and the settings go (system paths,
	// without Root).
	Paths unit.Paths
	// Service registers, starts and stops the service.
	Service Service
	// Run runs the system's tools (DNS settings, cache flushes).
	Run command.Runner
	// Catalog resolves the platform names of the settings file.
	Catalog *catalog.Catalog
	// Log receives each step; nil means quiet. Out receives the plain
	// words for the person at the terminal; nil means none.
	Log *slog.Logger
	Out io.Writer
	// GOOS picks the cache-flush commands and the hosts file's line
	// ending; "" means the running system's.
	GOOS string

	// IsAdmin reports whether the process has administrator rights;
	// nil means it has (tests).
	IsAdmin func() bool
	// Executable returns the binary to install; nil means os.Executable.
	Executable func() (string, error)
	// Answers reports whether the filter answers on its listen address,
	// with a real DNS question (see FilterAnswers). Required by Install.
	Answers func(ctx context.Context, cfg *config.Config) error
	// Wait bounds the wait for Answers; zero means 20 s. Now and Sleep
	// are the clock of that wait; nil means the real ones.
	Wait  time.Duration
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// DNS returns the system's DNS settings; nil means osdns.New.
	DNS func(ctx context.Context, env osdns.Env) (osdns.Configurator, error)
	// HostsNames returns what the hosts layer should list now (the
	// running daemon's blocked platforms); nil means nothing.
	HostsNames func(ctx context.Context) ([]string, error)
	// HostsPath is the hosts file; "" means hosts.Path(Root).
	HostsPath string
	// NewFirewall returns the firewall layer's backend, for uninstall
	// (the running daemon puts the layer in force); nil means
	// firewall.New.
	NewFirewall func(firewall.Env) (firewall.Firewall, error)
}

// InstallOptions says which settings file to install.
type InstallOptions struct {
	// Config is the settings file to install when none is there yet,
	// and Name what messages call it.
	Config []byte
	Name   string
}

func (in *Installer) log() *slog.Logger {
	if in.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return in.Log
}

func (in *Installer) say(format string, args ...any) {
	if in.Out != nil {
		fmt.Fprintf(in.Out, format+"\n", args...)
	}
}

// sys returns a system path under Root.
func (in *Installer) sys(p string) string {
	if in.Root == "" || in.Root == "/" {
		return p
	}
	return filepath.Join(in.Root, strings.TrimPrefix(p, filepath.VolumeName(p)))
}

func (in *Installer) osdnsEnv(stateDir string) osdns.Env {
	return osdns.Env{Root: in.Root, StateDir: stateDir, Run: in.Run, Log: in.Log}
}

func (in *Installer) hostsFile() hosts.File {
	p := in.HostsPath
	if p == "" {
		p = hosts.Path(in.Root)
	}
	eol := "\n"
	if in.goos() == "windows" {
		eol = "\r\n"
	}
	return hosts.File{Path: p, EOL: eol, Log: in.Log}
}

// step is one undo function, named for the log.
type step struct {
	name string
	undo func() error
}

// Install puts nocontact on the machine, or upgrades it in place: the
// settings are checked first, then, in order, the running service (if
// any) is stopped, the binary copied, the settings written (unless a file
// is there already, which is kept), the service registered (an installed
// one is removed and registered again, so that its definition is the
// current rendering) and started, the filter's answers awaited, the system's DNS pointed at
// it, the hosts layer written and the browsers' own encrypted DNS turned
// off by their machine policies (the running daemon puts the firewall
// layer in force once the DNS settings are taken over). If a step fails, every step before it
// is undone, last first, and the error says which failed.
func (in *Installer) Install(ctx context.Context, opt InstallOptions) (err error) {
	if in.IsAdmin != nil && !in.IsAdmin() {
		return ErrNotAdmin
	}
	var done []step
	defer func() {
		if err == nil {
			return
		}
		for i := len(done) - 1; i >= 0; i-- {
			in.log().Info("undoing", "step", done[i].name)
			if uerr := done[i].undo(); uerr != nil {
				in.log().Error("could not undo a step of the install", "step", done[i].name, "err", uerr)
				err = fmt.Errorf("%w; and undoing %q failed too: %v", err, done[i].name, uerr)
			}
		}
		in.say("Nothing was changed: every step done so far has been undone.")
	}()
	did := func(name string, undo func() error) { done = append(done, step{name, undo}) }

	// The settings, checked before anything changes.
	cfgPath := in.sys(in.Paths.Config)
	text, name := opt.Config, opt.Name
	existing, rerr := os.ReadFile(cfgPath)
	keep := rerr == nil
	switch {
	case keep:
		text, name = existing, in.Paths.Config
	case !errors.Is(rerr, fs.ErrNotExist):
		return fmt.Errorf("reading the installed settings: %w", rerr)
	}
	cfg, err := config.Parse(bytes.NewReader(text), name, in.Catalog)
	if err != nil {
		return fmt.Errorf("the settings are not installed, because they have a mistake: %w", err)
	}
	if err := ListensForTheSystem(cfg); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if in.Paths.StateDir == "" {
		return errors.New("installer: no state folder in Paths")
	}
	stateDir := in.stateDir()

	// An installed service is stopped for the upgrade, and started again
	// if anything fails.
	_, serr := in.Service.Status()
	registered := !errors.Is(serr, service.ErrNotInstalled)
	if registered {
		in.log().Info("nocontact is installed already: upgrading in place")
		if err := in.Service.Stop(); err != nil {
			in.log().Info("stopping the installed service", "err", err)
		}
		did("stop the running service", in.Service.Start)
	}

	// The binary.
	undo, err := in.copyBinary()
	if err != nil {
		return err
	}
	did("copy the binary", undo)

	// The settings.
	switch {
	case keep && bytes.Equal(existing, opt.Config):
		// start wrote them there a moment ago.
		in.say("nocontact uses your settings in %s.", in.Paths.Config)
	case keep:
		in.say("Kept your settings in %s (they were there already). To change them, edit that file and run: nocontact reload", in.Paths.Config)
	default:
		undo, err := writeNew(cfgPath, text, 0o644)
		if err != nil {
			return fmt.Errorf("installing the settings: %w", err)
		}
		did("install the settings", undo)
		in.say("Installed the settings in %s.", in.Paths.Config)
	}

	// The state folder, before the service starts: its sandbox (the
	// systemd unit's ReadWritePaths) can only let it write a folder that
	// exists when it starts.
	if _, err := os.Stat(stateDir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(stateDir, statefile.DirMode); err != nil {
			return fmt.Errorf("creating the state folder: %w", err)
		}
		did("create the state folder", func() error {
			os.Remove(stateDir) // only if empty: what the service wrote there stays
			return nil
		})
	}

	// The service. On an upgrade its definition (systemd unit, launchd
	// plist, Windows service) is the old version's rendering: it is
	// removed and registered again, so that it is the current one. If
	// registering again fails, undoing tries once more, so that the
	// service the undo starts again exists; once it succeeded there is no
	// older definition to put back (the service manager renders only the
	// current one), and it runs the same binary path.
	if registered {
		in.log().Info("replacing the service definition with the current one")
		did("remove the old service definition", in.Service.Install)
		if err := in.Service.Uninstall(); err != nil {
			return fmt.Errorf("removing the old service definition to write the current one: %w", err)
		}
		if err := in.Service.Install(); err != nil {
			return fmt.Errorf("registering the service again with the current definition: %w", err)
		}
		done[len(done)-1] = step{"replace the service definition", func() error { return nil }}
	} else {
		if err := in.Service.Install(); err != nil {
			return fmt.Errorf("registering the service: %w", err)
		}
		did("register the service", in.Service.Uninstall)
	}
	if err := in.Service.Start(); err != nil {
		return fmt.Errorf("starting the service: %w", err)
	}
	did("start the service", in.Service.Stop)
	if err := in.waitAnswers(ctx, cfg); err != nil {
		return err
	}

	// The system's DNS. An upgrade keeps the record of the first install:
	// undoing gives back the settings only if this install took them.
	had := osdns.Installed(stateDir)
	newDNS := in.DNS
	if newDNS == nil {
		newDNS = osdns.New
	}
	env := in.osdnsEnv(stateDir)
	c, err := newDNS(ctx, env)
	if err != nil {
		return fmt.Errorf("finding who manages DNS on this computer: %w", err)
	}
	if err := c.Apply(ctx); err != nil {
		if !had {
			// Apply saves the record first: give back what it may have
			// changed before failing.
			if rerr := osdns.Restore(context.WithoutCancel(ctx), env); rerr != nil {
				err = fmt.Errorf("%w; and restoring the DNS settings failed too: %v", err, rerr)
			}
		}
		return fmt.Errorf("pointing the system's DNS at nocontact: %w", err)
	}
	if !had {
		did("point the system's DNS at nocontact", func() error { return osdns.Restore(context.WithoutCancel(ctx), env) })
	}
	in.flush(ctx)

	// The hosts layer.
	if cfg.HostsFile.Enabled {
		undo, err := in.writeHosts(ctx)
		if err != nil {
			return err
		}
		did("write the hosts layer", undo)
	}

	// The browsers' policies.
	undo, err = in.applyBrowsers(ctx, stateDir)
	if err != nil {
		return err
	}
	did("turn off the browsers' own encrypted DNS", undo)
	in.say("nocontact is installed and running: every lookup on this computer goes through it.")
	return nil
}

// ListensForTheSystem checks that the filter answers where the system's
// DNS settings will point: 127.0.0.1 and ::1, port 53 (a resolv.conf
// cannot name another port).
func ListensForTheSystem(cfg *config.Config) error {
	for _, want := range []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:53"), netip.MustParseAddrPort("[::1]:53")} {
		ok := false
		for _, l := range cfg.DNS.ListenAddrs {
			if l == want || (l.Port() == 53 && l.Addr().IsUnspecified() && l.Addr().Is4() == want.Addr().Is4()) {
				ok = true
			}
		}
		if !ok {
			return fmt.Errorf(`[dns] listen must include %s, where the computer's DNS settings will point (they cannot name another port): write listen = ["127.0.0.1:53", "[::1]:53"]`, want)
		}
	}
	return nil
}

// copyBinary copies the running binary to its system place, atomically,
// and returns how to put back what was there.
func (in *Installer) copyBinary() (func() error, error) {
	exe := in.Executable
	if exe == nil {
		exe = os.Executable
	}
	src, err := exe()
	if err != nil {
		return nil, fmt.Errorf("finding this program to install it: %w", err)
	}
	dst := in.sys(in.Paths.Executable)
	if a, err := os.Stat(src); err == nil {
		if b, err := os.Stat(dst); err == nil && os.SameFile(a, b) {
			in.log().Info("the binary is already in place", "path", dst)
			return func() error { return nil }, nil
		}
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return nil, fmt.Errorf("reading this program to install it: %w", err)
	}
	undo, err := writeNew(dst, data, 0o755)
	if err != nil {
		return nil, fmt.Errorf("installing the binary: %w", err)
	}
	in.log().Info("installed the binary", "path", dst)
	return undo, nil
}

// writeNew writes path atomically, creating its directory, and returns
// how to put back what was there before (the old content, or nothing).
func writeNew(path string, data []byte, perm fs.FileMode) (func() error, error) {
	old, rerr := os.ReadFile(path)
	var oldPerm fs.FileMode
	if fi, err := os.Stat(path); err == nil {
		oldPerm = fi.Mode().Perm()
	}
	dir := filepath.Dir(path)
	created := ""
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		created = dir
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(path, data, perm); err != nil {
		return nil, err
	}
	return func() error {
		if rerr == nil {
			return atomicfile.WriteFile(path, old, oldPerm)
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if created != "" {
			os.Remove(created) // only if empty
		}
		return nil
	}, nil
}

// waitAnswers waits, up to Wait, for the filter to answer.
func (in *Installer) waitAnswers(ctx context.Context, cfg *config.Config) error {
	if in.Answers == nil {
		return errors.New("installer: no probe to tell whether the filter answers")
	}
	now, sleep := in.Now, in.Sleep
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	wait := in.Wait
	if wait <= 0 {
		wait = 20 * time.Second
	}
	deadline := now().Add(wait)
	for {
		err := in.Answers(ctx, cfg)
		if err == nil {
			in.log().Info("the filter answers")
			return nil
		}
		if !now().Before(deadline) {
			return fmt.Errorf("the service started, but the filter did not answer on %v within %v (%v): see its log (journalctl -u nocontact, /var/log/nocontact.log, or the Event Viewer)", cfg.DNS.Listen, wait, err)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// writeHosts writes the hosts layer for what the daemon blocks now, and
// returns how to put back the file as it was.
func (in *Installer) writeHosts(ctx context.Context) (func() error, error) {
	var names []string
	if in.HostsNames != nil {
		var err error
		if names, err = in.HostsNames(ctx); err != nil {
			return nil, fmt.Errorf("asking the filter what it blocks, for the hosts file: %w", err)
		}
	}
	hf := in.hostsFile()
	old, rerr := os.ReadFile(hf.Path)
	var perm fs.FileMode = 0o644
	if fi, err := os.Stat(hf.Path); err == nil {
		perm = fi.Mode().Perm()
	}
	changed, err := hf.Ensure(names)
	if err != nil {
		return nil, err
	}
	if changed {
		in.flush(ctx)
	}
	return func() error {
		if !changed {
			return nil
		}
		if rerr != nil {
			return os.Remove(hf.Path)
		}
		return atomicfile.WriteFile(hf.Path, old, perm)
	}, nil
}

// UninstallOptions are uninstall's choices.
type UninstallOptions struct {
	// Purge removes the state directory (the pact, the attempt counts)
	// and the settings file too.
	Purge bool
}

// Uninstall takes nocontact off the machine; the caller has asked the
// pact first (see the package comment), and asking made the running
// service stand down: it no longer puts the DNS settings or the hosts
// layer back. In order: the firewall layer is removed (so that the DNS
// servers given back are not refused), the system's DNS settings are
// restored exactly from the record, the browsers' policies given back
// from theirs, the hosts layer removed, the caches flushed, and only
// then the service stopped (its own way, see Systemd) and unregistered
// and the binary removed; the settings file and the state directory stay
// unless Purge. The filter keeps answering until the DNS settings no
// longer point at it, so an uninstall that fails or is killed at any
// step never leaves the computer asking a filter that is not there: if
// restoring fails, nothing else is touched, and once it succeeded even a
// restarted service leaves the settings alone (there is no record left
// to keep).
func (in *Installer) Uninstall(ctx context.Context, opt UninstallOptions) error {
	if in.IsAdmin != nil && !in.IsAdmin() {
		return ErrNotAdmin
	}
	stateDir := in.stateDir()
	// The firewall layer first: DNS given back to servers elsewhere must
	// not meet rules that refuse it. The service has stood down, so it
	// does not put the layer back.
	if err := in.removeFirewall(ctx, stateDir); err != nil {
		return fmt.Errorf("%w; nocontact stays installed", err)
	}
	if err := osdns.Restore(ctx, in.osdnsEnv(stateDir)); err != nil {
		return fmt.Errorf("giving back the DNS settings: %w; nocontact stays installed", err)
	}
	in.say("Gave back the DNS settings this computer had before nocontact.")
	if err := browsers.Restore(ctx, in.browsersEnv(stateDir)); err != nil {
		return fmt.Errorf("giving back the browsers' policies: %w", err)
	}
	if _, err := in.hostsFile().Ensure(nil); err != nil {
		return err
	}
	in.flush(ctx)
	_, serr := in.Service.Status()
	if !errors.Is(serr, service.ErrNotInstalled) {
		if err := in.Service.Stop(); err != nil {
			in.log().Info("stopping the service", "err", err)
		}
		if err := in.Service.Uninstall(); err != nil {
			return fmt.Errorf("removing the service: %w", err)
		}
	}
	if err := os.Remove(in.sys(in.Paths.Executable)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the binary: %w", err)
	}
	if opt.Purge {
		if err := os.RemoveAll(stateDir); err != nil {
			return fmt.Errorf("removing the state folder: %w", err)
		}
		cfg := in.sys(in.Paths.Config)
		if err := os.Remove(cfg); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing the settings: %w", err)
		}
		for _, p := range []string{CopyName, CopyName + ".damaged-*"} {
			matches, _ := filepath.Glob(filepath.Join(filepath.Dir(cfg), p))
			for _, m := range matches {
				if err := os.Remove(m); err != nil {
					return fmt.Errorf("removing the copy of the pact: %w", err)
				}
			}
		}
		os.Remove(filepath.Dir(cfg)) // only if empty
		in.say("nocontact is uninstalled, with its settings and its memory of the pact.")
	} else {
		in.say("nocontact is uninstalled. Your settings (%s) and its memory of the pact (%s) are kept; 'nocontact uninstall --purge' removes them too.", in.Paths.Config, in.Paths.StateDir)
	}
	return nil
}

// stateDir is the installed service's state folder: fixed by the binary
// (Paths.StateDir), never by the settings.
func (in *Installer) stateDir() string { return in.sys(in.Paths.StateDir) }

// CopyName is the file name of the pact's second copy, in the settings
// folder (the daemon's copyName).
const CopyName = "pact-copy"
