package main

import "golang.org/x/sys/windows"

// isAdmin reports whether the process runs with an elevated
// Administrator token.
func isAdmin() bool { return windows.GetCurrentProcessToken().IsElevated() }
