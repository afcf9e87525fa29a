//go:build !windows

package hosts

import "path/filepath"

// LineEnding ends the lines of the system's hosts file.
const LineEnding = "\n"

// Path returns the system's hosts file below root ("/" on a real system).
func Path(root string) string { return filepath.Join(root, "etc", "hosts") }
