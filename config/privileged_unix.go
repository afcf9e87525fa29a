//go:build !windows

package config

import "os"

// privileged reports whether the process runs as root.
func privileged() bool { return os.Geteuid() == 0 }
