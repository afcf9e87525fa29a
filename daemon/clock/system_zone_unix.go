//go:build !windows

package clock

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LocalZone returns the machine's time zone as a Zone: its name when the
// system says it (the TZ variable, or the zoneinfo file /etc/localtime
// points at), and its rules from /etc/localtime when the name does not
// load.
func LocalZone() Zone { return localZone(os.Getenv, "/") }

// localZone is LocalZone on a system whose root is root, for tests.
func localZone(getenv func(string) string, root string) Zone {
	z := Zone{Offset: offsetNow()}
	if tz := strings.TrimPrefix(getenv("TZ"), ":"); tz != "" && !strings.HasPrefix(tz, "/") {
		if _, err := time.LoadLocation(tz); err == nil {
			z.Name = tz
			return z
		}
	}
	localtime := filepath.Join(root, "etc", "localtime")
	if target, err := filepath.EvalSymlinks(localtime); err == nil {
		if i := strings.Index(target, "zoneinfo/"); i >= 0 {
			name := target[i+len("zoneinfo/"):]
			if _, err := time.LoadLocation(name); err == nil {
				z.Name = name
				return z
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(root, "etc", "timezone")); err == nil { // Debian's plain-text name
		if name := strings.TrimSpace(string(b)); name != "" {
			if _, err := time.LoadLocation(name); err == nil {
				z.Name = name
				return z
			}
		}
	}
	if b, err := os.ReadFile(localtime); err == nil && len(b) > 0 {
		if _, err := time.LoadLocationFromTZData("local", b); err == nil {
			z.TZif = b
			return z
		}
	}
	z.Name = "UTC" // no zone configured: the C library and Go both use UTC
	return z
}

func offsetNow() int {
	_, off := time.Now().Zone()
	return off
}
