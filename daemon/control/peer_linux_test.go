package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestMain lets the test binary act as a control client in a child
// process run as another user.
func TestMain(m *testing.M) {
	if path := os.Getenv("NOCONTACT_CONTROL_CHILD"); path != "" {
		os.Exit(childClient(path))
	}
	os.Exit(m.Run())
}

// childClient reads status, then tries every change; it prints one line
// per call: "status ok" or "unlock refused" and so on.
func childClient(path string) int {
	c := NewClient(path)
	ctx := context.Background()
	report := func(name string, err error) {
		switch {
		case err == nil:
			fmt.Println(name, "ok")
		case errors.Is(err, ErrNotAllowed):
			fmt.Println(name, "refused")
		default:
			fmt.Println(name, "error:", err)
		}
	}
	_, err := c.Status(ctx)
	report("status", err)
	_, err = c.Check(ctx, []string{"instagram.com"})
	report("check", err)
	_, err = c.Unlock(ctx)
	report("unlock", err)
	_, err = c.Cancel(ctx, "")
	report("cancel", err)
	_, err = c.Reload(ctx)
	report("reload", err)
	_, err = c.Uninstall(ctx)
	report("uninstall", err)
	return 0
}

// TestPeerCredentialsOfAnotherUser runs a real client as the user nobody:
// it may read status and check names, and is refused every change.
func TestPeerCredentialsOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a client as another user: run `sudo go test ./daemon/control/` (CI runs it as root)")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody on this machine: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)

	b := &fakeBackend{}
	path, _ := serve(t, b, nil)
	// The child must be able to run the test binary: copy it somewhere
	// every user can read.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(filepath.Dir(path), "client.test")
	copyFile(t, self, exe)

	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "NOCONTACT_CONTROL_CHILD="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child as nobody: %v\n%s", err, out)
	}
	want := "status ok\ncheck ok\nunlock refused\ncancel refused\nreload refused\nuninstall refused"
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("as nobody:\n%s\nwant:\n%s", got, want)
	}
	if got := b.Calls(); len(got) != 2 {
		t.Errorf("backend saw %v, want only status and check", got)
	}
}

func copyFile(t *testing.T, from, to string) {
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
