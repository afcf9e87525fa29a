package config

import "golang.org/x/sys/windows"

// privileged reports whether the process runs with an elevated
// Administrator token (as a service does).
func privileged() bool { return windows.GetCurrentProcessToken().IsElevated() }
