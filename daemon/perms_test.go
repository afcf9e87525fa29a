//go:build !windows

package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPermissionProblems(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nocontact.toml")
	state := filepath.Join(dir, "state")
	if err := os.WriteFile(cfg, []byte("\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "state"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := PermissionProblems(cfg, state); len(got) != 0 {
		t.Errorf("safe modes: %q, want nothing", got)
	}
	if err := os.Chmod(cfg, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(state, "state"), 0o646); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(PermissionProblems(cfg, state), "\n")
	for _, want := range []string{"config file " + cfg + " can be changed by other users", "chmod 644",
		"state folder " + state + " can be read by other users", "chmod 700", "can be changed by anyone", "chmod 600"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
	if os.Geteuid() == 0 {
		if err := os.Chmod(cfg, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(cfg, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(PermissionProblems(cfg, state), "\n"); !strings.Contains(got, "belongs to user 65534") {
			t.Errorf("a config owned by another user as root: %q", got)
		}
	}
}
