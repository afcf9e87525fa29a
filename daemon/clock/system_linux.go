package clock

import (
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// System returns the machine's clocks: CLOCK_BOOTTIME, which counts
// suspend, and the kernel's random boot id.
func System() Source { return linuxSource{} }

type linuxSource struct{}

func (linuxSource) Read() (Reading, error) {
	wall := time.Now()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return Reading{Wall: wall}, err
	}
	id, err := bootID.get(func() (string, error) {
		b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
		return strings.TrimSpace(string(b)), err
	})
	if err != nil {
		return Reading{Wall: wall}, err
	}
	return Reading{BootID: id, Boot: time.Duration(ts.Nano()), Wall: wall}, nil
}

var bootID bootIDOnce
