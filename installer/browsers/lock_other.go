//go:build !unix && !windows

package browsers

import "os"

// Elsewhere nocontact installs nothing, so there is nothing to lock.
func lockFile(f *os.File) error   { return nil }
func unlockFile(f *os.File) error { return nil }
