package installer

import (
	"context"
	"os"
	"path/filepath"
	"runtime"

	"github.com/nocontact/nocontact/installer/command"
)

// FlushCommands returns the commands that make the operating system forget
// the answers it cached, so that a change of the DNS settings or the hosts
// file applies at once: systemd-resolved's cache on Linux when resolved
// runs (its runtime directory exists under root), the directory service
// and mDNSResponder on macOS, the DNS client's cache on Windows.
func FlushCommands(goos, root string) [][]string {
	switch goos {
	case "darwin":
		return [][]string{{"dscacheutil", "-flushcache"}, {"killall", "-HUP", "mDNSResponder"}}
	case "windows":
		return [][]string{{"ipconfig", "/flushdns"}}
	case "linux":
		if root == "" {
			root = "/"
		}
		if fi, err := os.Stat(filepath.Join(root, "run", "systemd", "resolve")); err == nil && fi.IsDir() {
			return [][]string{{"resolvectl", "flush-caches"}}
		}
	}
	return nil
}

func (in *Installer) goos() string {
	if in.GOOS == "" {
		return runtime.GOOS
	}
	return in.GOOS
}

// flush runs FlushCommands; a failure is logged, not fatal: the caches
// expire on their own within minutes.
func (in *Installer) flush(ctx context.Context) {
	flush(ctx, in.Run, in.goos(), in.Root, in.log())
}

func flush(ctx context.Context, run command.Runner, goos, root string, log interface {
	Warn(msg string, args ...any)
}) {
	if run == nil {
		return
	}
	for _, c := range FlushCommands(goos, root) {
		if _, _, err := run.Run(ctx, c[0], c[1:]...); err != nil {
			log.Warn("could not flush the system's DNS cache; it expires by itself within minutes", "err", err)
		}
	}
}
