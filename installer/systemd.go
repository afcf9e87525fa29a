package installer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/nocontact/nocontact/installer/atomicfile"
	"github.com/nocontact/nocontact/installer/command"
	"github.com/nocontact/nocontact/installer/unit"
)

// Systemd is the Service of nocontact's systemd unit, which refuses a
// manual stop (RefuseManualStop=yes, see unit.Systemd). Its Stop takes the
// unit down nocontact's own way: a runtime drop-in (unit.StopDropIn)
// lifts the refusal, systemd re-reads the units, the service is stopped,
// and the drop-in is removed again (and the units re-read), whether the
// stop worked or not. The drop-in lives under /run, so even a Stop that
// is killed half-way leaves no hole that outlasts a reboot.
//
// Install calls Stop for an upgrade and Uninstall only after the system's
// DNS settings are given back (see Installer.Uninstall), so the machine
// is never left pointing at a stopped filter.
type Systemd struct {
	// Service is the service manager's own view of the unit (kardianos').
	Service
	// Run runs systemctl.
	Run command.Runner
	// Root is prefixed to the drop-in's path: "/" on a real system.
	Root string
}

// Stop stops the service despite RefuseManualStop; see Systemd.
func (s Systemd) Stop() (err error) {
	ctx := context.Background()
	path := filepath.Join(s.root(), filepath.FromSlash(unit.StopDropIn))
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("allowing nocontact's own stop of its service: %w", err)
	}
	defer func() {
		if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = fmt.Errorf("removing %s after the stop: %w (remove it by hand; a reboot removes it too)", path, rerr)
		}
		os.Remove(dir) // only if empty
		if _, _, rerr := s.Run.Run(ctx, "systemctl", "daemon-reload"); rerr != nil && err == nil {
			err = fmt.Errorf("re-reading the units after the stop: %w", rerr)
		}
	}()
	if err := atomicfile.WriteFile(path, []byte(unit.StopDropInText), 0o644); err != nil {
		return fmt.Errorf("allowing nocontact's own stop of its service: %w", err)
	}
	if _, _, err := s.Run.Run(ctx, "systemctl", "daemon-reload"); err != nil {
		return fmt.Errorf("allowing nocontact's own stop of its service: %w", err)
	}
	return s.Service.Stop()
}

func (s Systemd) root() string {
	if s.Root == "" {
		return "/"
	}
	return s.Root
}
