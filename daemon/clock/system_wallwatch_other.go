//go:build !linux

package clock

import "context"

// WatchWall returns nil where the system cannot say when its wall clock is
// set: the daemon compares the wall clock with the boot clock at each
// wake instead.
func WatchWall(ctx context.Context) <-chan struct{} { return nil }
