//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly && !windows

package main

import "os"

// isTerminal reports false where nocontact cannot tell: questions then
// need their flags.
func isTerminal(*os.File) bool { return false }
