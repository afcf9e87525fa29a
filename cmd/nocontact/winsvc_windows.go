package main

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kardianos/service"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"

	daemonpkg "github.com/nocontact/nocontact/daemon"
	"github.com/nocontact/nocontact/installer"
	"github.com/nocontact/nocontact/installer/unit"
)

// runAsService runs prg as the installed Windows service with nocontact's
// own handler (see winsvc.go) when this process is that service; ran is
// false otherwise (started from a console), and the caller runs it its
// usual way.
func runAsService(prg *program, d *daemonpkg.Daemon, log *slog.Logger) (ran bool, err error) {
	is, err := svc.IsWindowsService()
	if err != nil || !is {
		return false, nil
	}
	h := &winHandler{prg: prg, d: d, log: log}
	if err := svc.Run(unit.Name, h); err != nil {
		return true, err
	}
	return true, h.err
}

// winHandler answers the Windows service manager for the daemon.
type winHandler struct {
	prg *program
	d   *daemonpkg.Daemon
	log *slog.Logger
	err error
}

// recheck is how often the handler asks whether the pact lets the service
// stop, to offer Stop or not.
const recheck = time.Second

// Execute implements svc.Handler.
func (h *winHandler) Execute(_ []string, r <-chan svc.ChangeRequest, changes chan<- svc.Status) (bool, uint32) {
	changes <- svc.Status{State: svc.StartPending}
	if err := h.prg.Start(nil); err != nil {
		h.err = err
		return true, exitCode(false, err)
	}
	may := h.d.MayStop()
	running := func() svc.Status {
		accepts := svc.AcceptShutdown
		if acceptsStop(may) {
			accepts |= svc.AcceptStop
		}
		return svc.Status{State: svc.Running, Accepts: accepts}
	}
	changes <- running()
	tick := time.NewTicker(recheck)
	defer tick.Stop()
	for {
		select {
		case c := <-r:
			if c.Cmd == svc.Stop {
				may = h.d.MayStop() // the latest word, not the last second's
			}
			switch answerControl(winControlOf(c.Cmd), may) {
			case winReport:
				changes <- c.CurrentStatus
			case winStopNow:
				changes <- svc.Status{State: svc.StopPending}
				_ = h.prg.Stop(nil) // its error is in prg.err
				h.err = h.prg.err
				code := exitCode(true, h.err)
				return code != 0, code
			case winKeepRunning:
				h.log.Warn("a request to stop nocontact was refused: the pact holds; the service can be stopped once it ends or uninstalling is allowed")
				changes <- running()
			case winIgnore:
			}
		case <-tick.C:
			if m := h.d.MayStop(); m != may {
				may = m
				changes <- running()
			}
		case err := <-h.prg.done:
			h.prg.done = nil
			h.err = err
			if h.err == nil {
				h.err = errors.New("the filter stopped by itself")
			}
			h.log.Error("the filter stopped by itself; the service manager starts it again in 5 s", "err", h.err)
			return true, exitCode(false, h.err)
		}
	}
}

func winControlOf(c svc.Cmd) winControl {
	switch c {
	case svc.Interrogate:
		return winInterrogate
	case svc.Stop:
		return winStop
	case svc.Shutdown:
		return winShutdown
	}
	return winOther
}

// withRecovery wraps the installed service as kardianos/service drives it:
// Install also makes the recovery actions kardianos sets (restart after
// 5 s, unit.Config) apply when the service ends with an error code, not
// only when its process crashes; Stop waits a little for the service to
// offer Stop, which it does again within a second of uninstalling being
// allowed (see winHandler).
func withRecovery(s service.Service) installer.Service { return recovering{s} }

type recovering struct{ service.Service }

func (r recovering) Install() error {
	if err := r.Service.Install(); err != nil {
		return err
	}
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("turning on the service's restart after a failure: %w", err)
	}
	defer func() { _ = m.Disconnect() }() // nothing to do if letting go fails
	s, err := m.OpenService(unit.Name)
	if err != nil {
		return fmt.Errorf("turning on the service's restart after a failure: %w", err)
	}
	defer s.Close()
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		return fmt.Errorf("turning on the service's restart after a failure: %w", err)
	}
	return nil
}

// stopTries and stopPause bound Stop's wait for the service to offer Stop.
const (
	stopTries = 20
	stopPause = 250 * time.Millisecond
)

func (r recovering) Stop() error {
	var err error
	for range stopTries {
		if err = r.Service.Stop(); !errors.Is(err, windows.ERROR_INVALID_SERVICE_CONTROL) {
			return err
		}
		time.Sleep(stopPause)
	}
	return fmt.Errorf("the service does not take a stop request while your pact holds: %w", err)
}
