//go:build !windows

package main

import (
	"log/slog"

	"github.com/kardianos/service"

	daemonpkg "github.com/nocontact/nocontact/daemon"
	"github.com/nocontact/nocontact/installer"
)

// runAsService: only Windows has nocontact's own service handler
// (winsvc_windows.go); elsewhere kardianos/service drives the service.
func runAsService(*program, *daemonpkg.Daemon, *slog.Logger) (bool, error) { return false, nil }

// withRecovery: systemd (Restart=always) and launchd (KeepAlive) restart
// the service whatever way it ended.
func withRecovery(s service.Service) installer.Service { return s }
