package clock

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// System returns the machine's clocks: CLOCK_BOOTTIME, which counts
// suspend, less the boot-time offset of a time namespace the process runs
// in (which another process could have started it in, to move its boot
// clock), and the kernel's random boot id.
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
	off := nsOffset()
	return Reading{BootID: id, Boot: time.Duration(ts.Nano()) - off, Wall: wall, NSOffset: off}, nil
}

var bootID bootIDOnce

// nsOffset returns the boot-time offset of the process's time namespace,
// read once: a process cannot change its own time namespace's offsets
// once it runs in it.
var nsOffset = sync.OnceValue(func() time.Duration {
	b, err := os.ReadFile("/proc/self/timens_offsets")
	if err != nil {
		return 0 // a kernel without time namespaces
	}
	return parseOffsets(b)
})

// parseOffsets reads /proc/PID/timens_offsets ("boottime <s> <ns>").
func parseOffsets(b []byte) time.Duration {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "boottime" {
			continue
		}
		s, err1 := strconv.ParseInt(f[1], 10, 64)
		ns, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			return 0
		}
		return time.Duration(s)*time.Second + time.Duration(ns)
	}
	return 0
}
