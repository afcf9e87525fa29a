//go:build !linux

package firewall

import (
	"context"
	"log/slog"
)

// Watch reports false outside Linux: pf and Windows Firewall are checked
// at every wake of the daemon.
func Watch(ctx context.Context, ch chan<- struct{}, log *slog.Logger) bool { return false }
