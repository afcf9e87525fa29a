package clock

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// System returns the machine's clocks: CLOCK_MONOTONIC, which on macOS
// counts sleep (mach_continuous_time), and the boot session's UUID, or
// the boot time when that is missing.
func System() Source { return darwinSource{} }

type darwinSource struct{}

func (darwinSource) Read() (Reading, error) {
	wall := time.Now()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return Reading{Wall: wall}, err
	}
	id, err := bootSession.get(func() (string, error) { return unix.Sysctl("kern.bootsessionuuid") })
	if err != nil || id == "" {
		// kern.boottime moves when the wall clock is set, so it is only
		// a fallback: a changed id reads as a reboot, which trusts the
		// wall clock no further than the ledger allows.
		tv, terr := unix.SysctlTimeval("kern.boottime")
		if terr != nil {
			return Reading{Wall: wall}, terr
		}
		id = fmt.Sprintf("boottime-%d", tv.Sec)
	}
	return Reading{BootID: id, Boot: time.Duration(ts.Nano()), Wall: wall}, nil
}

// bootSession keeps kern.bootsessionuuid; the boottime fallback is read
// each time, as before.
var bootSession bootIDOnce
