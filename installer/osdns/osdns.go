// Package osdns points the system's DNS settings at nocontact's filter
// (127.0.0.1 and ::1) and gives back exactly what was there before.
//
// It owns one interface, Configurator, with one backend per mechanism:
// a plain /etc/resolv.conf, NetworkManager, systemd-resolved and Debian's
// resolvconf on Linux (which one is in charge is found by Detector),
// networksetup on macOS and the DNS client's per-adapter settings on
// Windows. Every backend works the same way: before it changes anything
// it saves a record of the original settings in the state directory
// (atomically, once: a later Apply never overwrites it with our own
// settings), Restore puts back exactly what the record says and then
// deletes it, and both are idempotent. Check says whether our settings
// are still in force, for the daemon's re-assert loop.
//
// The backends are plain code over three injected edges: a filesystem
// root (Env.Root: "/" on a real system, t.TempDir() in tests), a
// command.Runner, and a logger. So they all build, and their tests run,
// on every OS; only the choice of the default backend (New) depends on
// the OS the binary runs on. This package must not decide *whether* DNS
// should be taken over: that is the pact's business.
package osdns

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/nocontact/nocontact/installer/atomicfile"
	"github.com/nocontact/nocontact/installer/command"
)

// Configurator is the system's DNS settings, as one mechanism manages
// them.
type Configurator interface {
	// Mode names the mechanism this backend programs.
	Mode() Mode
	// Apply points the system's DNS at 127.0.0.1 and ::1. The first Apply
	// saves a record of the original settings before it changes anything;
	// later ones (the re-assert loop's) keep that record and only add to
	// it what was not there before (a network service or adapter that
	// appeared since).
	Apply(ctx context.Context) error
	// Check returns nil when our settings are in force, an error wrapping
	// ErrDrifted when something else has changed them (or they were never
	// applied), and any other error when it could not tell.
	Check(ctx context.Context) error
	// Restore puts back the settings the record holds, exactly, and
	// deletes the record. Without a record it does nothing.
	Restore(ctx context.Context) error
}

// Mode names a mechanism that manages the system's DNS settings. It is
// stored in the record, so the values must not change.
type Mode string

// The mechanisms.
const (
	ModeFile           Mode = "resolv.conf"      // a plain /etc/resolv.conf that nothing rewrites, or something we cannot program (DHCP clients)
	ModeNetworkManager Mode = "networkmanager"   // NetworkManager writes /etc/resolv.conf
	ModeResolved       Mode = "systemd-resolved" // resolv.conf points at resolved's stub, 127.0.0.53
	ModeResolvconf     Mode = "resolvconf"       // Debian's resolvconf generates resolv.conf
	ModeNetworksetup   Mode = "networksetup"     // macOS, per network service
	ModeDNSClient      Mode = "dnsclient"        // Windows, per network adapter
)

// Env is what a backend may touch.
type Env struct {
	// Root is prefixed to every system path (/etc/...): "/" on a real
	// system, a temporary directory in tests. Empty means "/".
	Root string
	// StateDir is where the record of the original settings is kept, as a
	// full path (not under Root). Required.
	StateDir string
	// Run runs the system's tools. Required for every backend but
	// ModeFile.
	Run command.Runner
	// Log receives what each step does. Nil means quiet.
	Log *slog.Logger
}

// ErrDrifted means our DNS settings are not (or no longer) in force:
// something else rewrote them, or they were never applied. Apply puts
// them back.
var ErrDrifted = errors.New("the system's DNS settings do not point at nocontact")

// ErrUnsupported means there is no backend for this operating system.
var ErrUnsupported = errors.New("nocontact cannot set the DNS servers on this operating system")

// Servers are the addresses Apply points the system at, in order.
var Servers = []string{"127.0.0.1", "::1"}

// RecordFile is the name of the record in Env.StateDir.
const RecordFile = "dns-original.json"

// NewFor returns the backend for mode, whatever the OS the binary runs on
// (tests program a macOS backend on Linux with a fake runner).
func NewFor(mode Mode, env Env) (Configurator, error) {
	if env.StateDir == "" {
		return nil, errors.New("osdns: no state directory to keep the original DNS settings in")
	}
	if env.Root == "" {
		env.Root = "/"
	}
	if env.Log == nil {
		env.Log = slog.New(slog.DiscardHandler)
	}
	if env.Run == nil && mode != ModeFile {
		return nil, fmt.Errorf("osdns: %s needs a command runner", mode)
	}
	switch mode {
	case ModeFile:
		return &fileBackend{env: env}, nil
	case ModeNetworkManager:
		return &nmBackend{env: env}, nil
	case ModeResolved:
		return &resolvedBackend{env: env}, nil
	case ModeResolvconf:
		return &resolvconfBackend{env: env}, nil
	case ModeNetworksetup:
		return &networksetup{env: env}, nil
	case ModeDNSClient:
		return &dnsClient{env: env}, nil
	}
	return nil, fmt.Errorf("osdns: unknown mode %q", mode)
}

// Restore puts back the settings saved in env.StateDir by whichever
// backend saved them, so that uninstall needs no detection (which may
// answer differently now). Without a record it does nothing.
func Restore(ctx context.Context, env Env) error {
	rec, err := loadRecord(env.StateDir)
	if err != nil || rec == nil {
		return err
	}
	c, err := NewFor(rec.Mode, env)
	if err != nil {
		return err
	}
	return c.Restore(ctx)
}

// record is the saved original settings. Only the fields of its Mode are
// set.
type record struct {
	Mode Mode `json:"mode"`
	// Files holds every file under Root that the backend writes, as it
	// was before the first Apply.
	Files []savedFile `json:"files,omitempty"`
	// Services holds, per macOS network service or Windows adapter, the
	// servers set by hand before the first Apply; none means they came
	// from DHCP.
	Services []savedServers `json:"services,omitempty"`
	// Forward holds, per service, adapter or source file, the servers the
	// system was actually asking at the first Apply, DHCP-given ones
	// included: what "system" upstreams forward to once the live settings
	// name nocontact. It is never used to restore anything (Services and
	// Files are), so it may be a best effort.
	Forward []savedServers `json:"forward,omitempty"`
}

type savedServers struct {
	Name    string   `json:"name"`
	Servers []string `json:"servers"`
}

func recordPath(stateDir string) string { return filepath.Join(stateDir, RecordFile) }

// loadRecord returns nil, nil when there is no record.
func loadRecord(stateDir string) (*record, error) {
	var r record
	found, err := atomicfile.ReadJSON(recordPath(stateDir), &r)
	switch {
	case err != nil && found:
		return nil, fmt.Errorf("the record of the original DNS settings: %w; restore the DNS settings by hand and delete it", err)
	case err != nil:
		return nil, fmt.Errorf("reading the record of the original DNS settings: %w", err)
	case !found:
		return nil, nil
	}
	return &r, nil
}

func saveRecord(stateDir string, r *record) error {
	if err := atomicfile.WriteJSON(recordPath(stateDir), r); err != nil {
		return fmt.Errorf("saving the original DNS settings: %w", err)
	}
	return nil
}

func removeRecord(stateDir string) error {
	if err := os.Remove(recordPath(stateDir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the record of the original DNS settings: %w", err)
	}
	return nil
}

// loadFor returns the record, checking it was written by mode.
// appliedRecord is loadFor for Check: no record means our settings were
// never applied, which Check reports as drift.
func appliedRecord(env Env, mode Mode) (*record, error) {
	rec, err := loadFor(env, mode)
	if err == nil && rec == nil {
		err = fmt.Errorf("%w: they were never applied", ErrDrifted)
	}
	return rec, err
}

func loadFor(env Env, mode Mode) (*record, error) {
	r, err := loadRecord(env.StateDir)
	if err != nil || r == nil {
		return r, err
	}
	if r.Mode != mode {
		return nil, fmt.Errorf("the original DNS settings were saved by the %s backend, not %s: run `nocontact uninstall` to restore them first", r.Mode, mode)
	}
	return r, nil
}
