package clock

import (
	"strconv"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// System returns the machine's clocks: the tick count (GetTickCount64,
// which counts sleep and hibernation) and the boot counter Windows keeps
// in the registry. Without that counter a reboot is seen only when the
// tick count goes back; a missed reboot then counts less time, never more.
func System() Source { return windowsSource{} }

type windowsSource struct{}

func (windowsSource) Read() (Reading, error) {
	boot := windows.DurationSinceBoot()
	wall := time.Now()
	id, _ := bootIDKept.get(func() (string, error) { return bootID(), nil })
	return Reading{BootID: id, Boot: boot, Wall: wall}, nil
}

// bootIDKept keeps the boot counter once read ("" is read again).
var bootIDKept bootIDOnce

func bootID() string {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE,
		`SYSTEM\CurrentControlSet\Control\Session Manager\Memory Management\PrefetchParameters`, registry.QUERY_VALUE)
	if err != nil {
		return ""
	}
	defer k.Close()
	n, _, err := k.GetIntegerValue("BootId")
	if err != nil {
		return ""
	}
	return "bootid-" + strconv.FormatUint(n, 10)
}
