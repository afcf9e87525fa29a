package statefile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "state")
	if _, err := Read(path, 1); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Read of a missing file: %v, want fs.ErrNotExist", err)
	}
	for _, body := range []string{"first", "", "second\nwith lines\n"} {
		if err := Write(path, 1, []byte(body)); err != nil {
			t.Fatalf("Write: %v", err)
		}
		got, err := Read(path, 1)
		if err != nil || string(got) != body {
			t.Fatalf("Read: %q, %v; want %q", got, err, body)
		}
	}
	if runtime.GOOS != "windows" {
		for p, want := range map[string]fs.FileMode{dir: DirMode, path: FileMode} {
			fi, err := os.Stat(p)
			if err != nil || fi.Mode().Perm() != want {
				t.Errorf("%s: mode %v (%v), want %v", p, fi.Mode().Perm(), err, want)
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the directory holds %d entries, want only the state file", len(entries))
	}
}

func TestDamaged(t *testing.T) {
	good := func(t *testing.T, path string) []byte {
		if err := Write(path, 2, []byte(`{"pact":"on"}`)); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	tests := []struct {
		name   string
		damage func(data []byte) []byte
		reason string
	}{
		{"truncated body", func(d []byte) []byte { return d[:len(d)-3] }, "checksum mismatch"},
		{"truncated header", func(d []byte) []byte { return d[:10] }, "no header line"},
		{"empty", func(d []byte) []byte { return nil }, "empty"},
		{"changed byte", func(d []byte) []byte { d[len(d)-2] ^= 1; return d }, "checksum mismatch"},
		{"other file", func(d []byte) []byte { return []byte("hello\nworld") }, "not a nocontact state file"},
		{"newer version", func(d []byte) []byte { return []byte(strings.Replace(string(d), " v2 ", " v3 ", 1)) }, "format version 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state")
			bad := tt.damage(good(t, path))
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Read(path, 2)
			var de *DamagedError
			if !errors.As(err, &de) || !errors.Is(err, ErrDamaged) || !strings.Contains(de.Reason, tt.reason) {
				t.Fatalf("Read: %v, want a DamagedError saying %q", err, tt.reason)
			}
			if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the damaged file is still at %s", path)
			}
			kept, rerr := os.ReadFile(de.Aside)
			if rerr != nil || string(kept) != string(bad) {
				t.Errorf("the damaged file was not kept at %q: %v", de.Aside, rerr)
			}
			if !strings.Contains(err.Error(), de.Aside) {
				t.Errorf("the error %q does not say where the file went", err)
			}
		})
	}
}

func TestReadRemovesTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	if err := Write(path, 1, []byte("x")); err != nil {
		t.Fatal(err)
	}
	leftover := filepath.Join(dir, ".state.12345.tmp")
	if err := os.WriteFile(leftover, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(path, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(leftover); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the temporary file of an interrupted write is still there")
	}
}

// crashChild is set in the environment of the test binary re-executed as a
// writer that TestCrash kills.
const crashChild = "NOCONTACT_STATEFILE_CRASH_CHILD"

// TestCrash re-executes the test binary as a child that writes the state in
// a loop, each body a larger number (a tighter state), and kills it with
// SIGKILL at random moments. After every kill the file must read back whole,
// holding at least the last number the child said it had written.
func TestCrash(t *testing.T) {
	if path := os.Getenv(crashChild); path != "" {
		crashWriter(path)
		return
	}
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL of a child: not on Windows")
	}
	path := filepath.Join(t.TempDir(), "state")
	last := 0
	rng := rand.New(rand.NewPCG(1, 2))
	kills := 50
	if testing.Short() {
		kills = 10
	}
	for i := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrash$")
		cmd.Env = append(os.Environ(), crashChild+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		// Wait until the child has started writing, then let it run a
		// random while: the kill lands anywhere in a write.
		if !sc.Scan() {
			t.Fatalf("kill %d: the child wrote nothing", i)
		}
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		for sc.Scan() {
			if n, err := strconv.Atoi(sc.Text()); err == nil && n > last {
				last = n
			}
		}
		cmd.Wait()

		body, err := Read(path, 1)
		if err != nil {
			t.Fatalf("kill %d: the state is not readable: %v", i, err)
		}
		n, err := strconv.Atoi(string(body))
		if err != nil {
			t.Fatalf("kill %d: body %q", i, body)
		}
		if n < last {
			t.Fatalf("kill %d: the state holds %d, but %d was written before the kill", i, n, last)
		}
		last = n
	}
}

// crashWriter is the child of TestCrash: it continues from the number in
// the state and writes larger ones until killed, saying each one on stdout
// after Write returns.
func crashWriter(path string) {
	n := 0
	if body, err := Read(path, 1); err == nil {
		n, _ = strconv.Atoi(string(body))
	} else if !errors.Is(err, fs.ErrNotExist) {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for {
		n++
		body := strconv.Itoa(n)
		if err := Write(path, 1, []byte(body)); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(n)
	}
}

// FuzzRead feeds arbitrary bytes to the state file reader: it returns the
// body of a file Write could have made, or a DamagedError, never a panic,
// and a file it accepts reads back the same when written again.
func FuzzRead(f *testing.F) {
	dir := f.TempDir()
	good := filepath.Join(dir, "seed")
	if err := Write(good, 1, []byte(`{"pact":{}}`)); err != nil {
		f.Fatal(err)
	}
	seed, _ := os.ReadFile(good)
	f.Add(seed)
	f.Add([]byte{})
	f.Add([]byte("garbage"))
	f.Add(seed[:len(seed)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "state")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		body, err := Read(path, 1)
		if err != nil {
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("error %v does not say the file is damaged", err)
			}
			return
		}
		again := filepath.Join(t.TempDir(), "again")
		if err := Write(again, 1, body); err != nil {
			t.Fatal(err)
		}
		if back, err := Read(again, 1); err != nil || !bytes.Equal(back, body) {
			t.Fatalf("rewritten body reads back as %q, %v; want %q", back, err, body)
		}
	})
}
