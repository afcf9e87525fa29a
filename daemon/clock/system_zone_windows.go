package clock

import (
	"time"

	"golang.org/x/sys/windows/registry"
)

// LocalZone returns the machine's time zone. Windows names its zones in
// its own way ("W. Europe Standard Time"), which Go cannot load by name;
// the Zone keeps that name and the offset, and computes times in
// time.Local while the machine's zone is unchanged, in the fixed offset it
// had once the zone has changed.
func LocalZone() Zone {
	_, off := time.Now().Zone()
	z := Zone{Offset: off}
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SYSTEM\CurrentControlSet\Control\TimeZoneInformation`, registry.QUERY_VALUE)
	if err != nil {
		return z
	}
	defer k.Close()
	if name, _, err := k.GetStringValue("TimeZoneKeyName"); err == nil && name != "" {
		z.Name = "windows:" + name
	}
	return z
}
