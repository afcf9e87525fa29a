//go:build !windows

package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// PermissionProblems says, in plain words with the fix, what about the
// config file and the state folder lets someone other than an
// administrator change the pact's request or read its state. Only a
// daemon running as root can expect root-owned files; a trial run as a
// user is checked for group and world access only.
func PermissionProblems(configPath, stateDir string) []string {
	var out []string
	asRoot := os.Geteuid() == 0
	if fi, err := os.Stat(configPath); err == nil {
		if fi.Mode().Perm()&0o022 != 0 {
			out = append(out, fmt.Sprintf("the config file %s can be changed by other users (mode %04o): run 'sudo chmod 644 %s'",
				configPath, fi.Mode().Perm(), configPath))
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && asRoot && st.Uid != 0 {
			out = append(out, fmt.Sprintf("the config file %s belongs to user %d, not root, so that user can change the pact's request: run 'sudo chown root:root %s'",
				configPath, st.Uid, configPath))
		}
	}
	if fi, err := os.Stat(stateDir); err == nil {
		if fi.Mode().Perm()&0o077 != 0 {
			out = append(out, fmt.Sprintf("the state folder %s can be read by other users (mode %04o): run 'sudo chmod 700 %s'",
				stateDir, fi.Mode().Perm(), stateDir))
		}
		entries, _ := os.ReadDir(stateDir)
		for _, e := range entries {
			if info, err := e.Info(); err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o002 != 0 {
				p := filepath.Join(stateDir, e.Name())
				out = append(out, fmt.Sprintf("%s can be changed by anyone (mode %04o): run 'sudo chmod 600 %s'", p, info.Mode().Perm(), p))
			}
		}
	}
	return out
}
