package statefile

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestLockIsExclusive(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	l, err := TakeLock(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != DirMode && runtime.GOOS != "windows" {
		t.Errorf("state folder: %v, %v; want it created with mode %v", fi, err, DirMode)
	}
	// flock locks belong to the open file, so a second open in this
	// process is refused like another process would be.
	if _, err := TakeLock(dir); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), dir) {
		t.Errorf("second TakeLock: %v, want ErrLocked naming the folder", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := TakeLock(dir)
	if err != nil {
		t.Fatalf("TakeLock after Release: %v", err)
	}
	if err := l2.Release(); err != nil {
		t.Fatal(err)
	}
}

// TestLockHeldByAnotherProcess holds the lock in a child process (this
// test binary, run again) and checks that this one cannot take it, and
// can once the child is killed.
func TestLockHeldByAnotherProcess(t *testing.T) {
	if dir := os.Getenv("STATEFILE_LOCK_CHILD"); dir != "" {
		if _, err := TakeLock(dir); err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("locked\n")
		select {} // hold it until killed
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHeldByAnotherProcess$")
	cmd.Env = append(os.Environ(), "STATEFILE_LOCK_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := out.Read(buf); err != nil || string(buf) != "locked\n" {
		t.Fatalf("the child did not take the lock: %q, %v", buf, err)
	}
	if _, err := TakeLock(dir); !errors.Is(err, ErrLocked) {
		t.Errorf("TakeLock while another process holds it: %v, want ErrLocked", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := TakeLock(dir)
	if err != nil {
		t.Fatalf("TakeLock after the holder was killed: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
}
