package atomicfile

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

func TestWriteFileReplacesAndKeepsNoTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "new\n" {
		t.Fatalf("content = %q, %v; want %q", b, err, "new\n")
	}
	if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, want 0640", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only resolv.conf: %v", len(entries), entries)
	}
}

func TestWriteFileReplacesASymlinkNotItsTarget(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "stub-resolv.conf")
	if err := os.WriteFile(target, []byte("nameserver 127.0.0.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "resolv.conf")
	if err := os.Symlink(target, path); err != nil {
		t.Skip("cannot create symbolic links here:", err)
	}
	if err := WriteFile(path, []byte("ours\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(path); fi.Mode()&os.ModeSymlink != 0 {
		t.Error("resolv.conf is still a symbolic link")
	}
	if b, _ := os.ReadFile(target); string(b) != "nameserver 127.0.0.53\n" {
		t.Errorf("link target changed to %q", b)
	}
	if err := Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if got, err := os.Readlink(path); err != nil || got != target {
		t.Errorf("Readlink = %q, %v; want %q", got, err, target)
	}
}

// TestWriteFileInPlaceWhenBindMounted stands in for a bind-mounted file
// with a rename that fails the way Linux fails it (EBUSY); the real thing
// runs in the root-only end-to-end test of installer/osdns.
func TestWriteFileInPlaceWhenBindMounted(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EBUSY, syscall.EXDEV} {
		dir := t.TempDir()
		path := filepath.Join(dir, "hosts")
		if err := os.WriteFile(path, []byte("127.0.0.1 localhost\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		before, _ := os.Stat(path)
		failing := func(o, n string) error { return &os.LinkError{Op: "rename", Old: o, New: n, Err: errno} }
		if err := writeFile(path, []byte("new"), 0o644, failing); err != nil {
			t.Fatalf("%v: %v", errno, err)
		}
		after, _ := os.Stat(path)
		if b, _ := os.ReadFile(path); string(b) != "new" {
			t.Errorf("%v: content = %q, want %q", errno, b, "new")
		}
		if !os.SameFile(before, after) {
			t.Errorf("%v: the file was replaced, want the same file rewritten in place", errno)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("%v: temporary file left behind: %v", errno, entries)
		}
	}
	// Any other rename error is returned, and the file left alone.
	dir := t.TempDir()
	path := filepath.Join(dir, "hosts")
	if err := os.WriteFile(path, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	failing := func(o, n string) error { return &os.LinkError{Op: "rename", Old: o, New: n, Err: syscall.EACCES} }
	if err := writeFile(path, []byte("new"), 0o644, failing); err == nil {
		t.Error("EACCES from rename: no error")
	}
	if b, _ := os.ReadFile(path); string(b) != "keep" {
		t.Errorf("content = %q after a failed write, want it untouched", b)
	}
}

func TestJSONRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "record.json")
	type rec struct{ Servers []string }
	var got rec
	if found, err := ReadJSON(path, &got); found || err != nil {
		t.Fatalf("no file: found %v, %v; want false, nil", found, err)
	}
	if err := WriteJSON(path, rec{Servers: []string{"192.0.2.53"}}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700 | os.ModeDir} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
	if found, err := ReadJSON(path, &got); !found || err != nil || len(got.Servers) != 1 || got.Servers[0] != "192.0.2.53" {
		t.Errorf("read back: %+v, found %v, %v", got, found, err)
	}
	if err := os.WriteFile(path, []byte(`{"Servers": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	if found, err := ReadJSON(path, &got); !found || err == nil || !strings.Contains(err.Error(), path+" is damaged") {
		t.Errorf("a damaged record: found %v, %v; want found and an error naming the file", found, err)
	}
}
