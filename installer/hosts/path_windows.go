package hosts

import (
	"os"
	"path/filepath"
)

// LineEnding ends the lines of the system's hosts file.
const LineEnding = "\r\n"

// Path returns the system's hosts file, %SystemRoot%\System32\drivers\etc\hosts,
// below root ("" or `\` on a real system).
func Path(root string) string {
	sys := os.Getenv("SystemRoot")
	if sys == "" {
		sys = `C:\Windows`
	}
	if root == "" || root == `\` || root == "/" {
		return filepath.Join(sys, "System32", "drivers", "etc", "hosts")
	}
	return filepath.Join(root, "Windows", "System32", "drivers", "etc", "hosts")
}
