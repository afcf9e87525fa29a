package main

import (
	"context"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// currentWiFi returns the name of the Wi-Fi this computer is on, where a
// tool says it (Linux: iwgetid or NetworkManager's nmcli; macOS:
// networksetup), or "".
func currentWiFi() string {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	run := func(name string, args ...string) string {
		if _, err := exec.LookPath(name); err != nil {
			return ""
		}
		out, err := exec.CommandContext(ctx, name, args...).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	switch runtime.GOOS {
	case "linux":
		if s := run("iwgetid", "-r"); s != "" {
			return s
		}
		for _, line := range strings.Split(run("nmcli", "-t", "-f", "active,ssid", "dev", "wifi"), "\n") {
			if ssid, ok := strings.CutPrefix(line, "yes:"); ok && ssid != "" {
				return strings.ReplaceAll(ssid, `\:`, ":")
			}
		}
	case "darwin":
		for _, dev := range []string{"en0", "en1"} {
			if s, ok := strings.CutPrefix(run("networksetup", "-getairportnetwork", dev), "Current Wi-Fi Network: "); ok {
				return s
			}
		}
	}
	return ""
}
