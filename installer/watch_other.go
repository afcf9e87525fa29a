//go:build !linux

package installer

import (
	"context"
	"log/slog"
)

// watch does nothing here: the daemon's periodic wake (at least once a
// minute) is the only check.
func watch(ctx context.Context, root string, ch chan<- struct{}, log *slog.Logger) bool { return false }
