package clock

import (
	"context"
	"errors"
	"math"

	"golang.org/x/sys/unix"
)

// WatchWall returns a channel that receives a value whenever the wall
// clock is set (not when it merely runs), until ctx is done: a timerfd
// with TFD_TIMER_CANCEL_ON_SET, whose read fails with ECANCELED when the
// clock is set. Nil when the system cannot say; the daemon then compares
// the wall clock with the boot clock at each wake.
func WatchWall(ctx context.Context) <-chan struct{} {
	fd, err := unix.TimerfdCreate(unix.CLOCK_REALTIME, unix.TFD_CLOEXEC)
	if err != nil {
		return nil
	}
	arm := func() error {
		// An absolute expiry far in the future: it never fires; only a
		// change of the clock wakes the read.
		spec := unix.ItimerSpec{Value: unix.Timespec{Sec: math.MaxInt32}}
		return unix.TimerfdSettime(fd, unix.TFD_TIMER_ABSTIME|unix.TFD_TIMER_CANCEL_ON_SET, &spec, nil)
	}
	if err := arm(); err != nil {
		unix.Close(fd)
		return nil
	}
	ch := make(chan struct{}, 1)
	go func() {
		<-ctx.Done()
		unix.Close(fd) // ends the read below
	}()
	go func() {
		var buf [8]byte
		for {
			_, err := unix.Read(fd, buf[:])
			switch {
			case errors.Is(err, unix.ECANCELED):
				select {
				case ch <- struct{}{}:
				default:
				}
				if arm() != nil {
					return
				}
			case errors.Is(err, unix.EINTR):
			case err != nil:
				return // closed
			}
		}
	}()
	return ch
}
