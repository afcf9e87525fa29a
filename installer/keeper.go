package installer

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"runtime"

	"github.com/nocontact/nocontact/installer/command"
	"github.com/nocontact/nocontact/installer/hosts"
	"github.com/nocontact/nocontact/installer/osdns"
)

// Keeper keeps an installed machine the way the daemon's pact needs it:
// the system's DNS settings pointed at the filter, and the hosts layer
// listing what the daemon asks. It is the daemon's System (daemon.System);
// the daemon decides when to call it, Keeper only how.
type Keeper struct {
	// Root is prefixed to every system path ("/" on a real system).
	Root string
	// StateDir holds the record of the original DNS settings; "installed"
	// means it is there.
	StateDir string
	// Run runs the system's tools.
	Run command.Runner
	// Hosts is the hosts file; the zero File means the system's.
	Hosts hosts.File
	// Log receives each change; nil means quiet.
	Log *slog.Logger
	// GOOS picks the cache-flush commands; "" means the running system's.
	GOOS string

	changes chan struct{}
}

func (k *Keeper) env() osdns.Env {
	return osdns.Env{Root: k.Root, StateDir: k.StateDir, Run: k.Run, Log: k.Log}
}

func (k *Keeper) log() *slog.Logger {
	if k.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return k.Log
}

func (k *Keeper) goos() string {
	if k.GOOS == "" {
		return runtime.GOOS
	}
	return k.GOOS
}

// Installed reports whether the record of the original DNS settings
// exists: never in a trial run.
func (k *Keeper) Installed() bool { return osdns.Installed(k.StateDir) }

// KeepDNS checks the system's DNS settings with the backend that took them
// over, and applies them again (then flushes the caches) when something
// else rewrote them.
func (k *Keeper) KeepDNS(ctx context.Context) (bool, error) {
	c, err := osdns.New(ctx, k.env())
	if err != nil {
		return false, err
	}
	err = c.Check(ctx)
	if err == nil {
		return false, nil
	}
	if !errors.Is(err, osdns.ErrDrifted) {
		return false, err
	}
	k.log().Warn("the system's DNS settings were changed by something else", "why", err)
	if err := c.Apply(ctx); err != nil {
		return false, err
	}
	flush(ctx, k.Run, k.goos(), k.Root, k.log())
	return true, nil
}

func (k *Keeper) hostsFile() hosts.File {
	hf := k.Hosts
	if hf.Path == "" {
		hf.Path, hf.EOL = hosts.Path(k.Root), hosts.LineEnding
	}
	if hf.Log == nil {
		hf.Log = k.Log
	}
	return hf
}

// SetHosts makes the hosts layer list names, and flushes the caches when
// that changed the file.
func (k *Keeper) SetHosts(ctx context.Context, names []string) (bool, error) {
	hf := k.hostsFile()
	changed, err := hf.Ensure(names)
	if changed {
		flush(ctx, k.Run, k.goos(), k.Root, k.log())
	}
	return changed, err
}

// Traces lists what outside the state folder shows that nocontact held a
// pact on this machine: its section of the hosts file.
func (k *Keeper) Traces() []string {
	hf := k.hostsFile()
	if ok, err := hf.Present(); err == nil && ok {
		return []string{"nocontact's section of " + hf.Path}
	}
	return nil
}

// OriginalResolvers returns the resolvers from before nocontact; see
// osdns.OriginalResolvers.
func (k *Keeper) OriginalResolvers() ([]netip.AddrPort, error) {
	return osdns.OriginalResolvers(k.env())
}

// Changes delivers a value when the files the DNS settings and the hosts
// layer live in may have changed; nil until Watch starts, and on systems
// where it cannot watch.
func (k *Keeper) Changes() <-chan struct{} {
	if k.changes == nil {
		return nil
	}
	return k.changes
}

// Watch starts watching, until ctx is done, where the system allows it
// cheaply (inotify on Linux); elsewhere the daemon's periodic wake is the
// only check. Call it before handing the Keeper to the daemon.
func (k *Keeper) Watch(ctx context.Context) {
	ch := make(chan struct{}, 1)
	if watch(ctx, k.Root, ch, k.log()) {
		k.changes = ch
	}
}
