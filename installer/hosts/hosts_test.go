package hosts

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nocontact/nocontact/internal/golden"
)

const userHosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n\n# my NAS\n192.168.1.10 nas.lan nas\n"

var names = []string{"www.instagram.com", "instagram.com", "Facebook.com.", "instagram.com"}

func TestEditGolden(t *testing.T) {
	withSection, _, _ := Edit([]byte(userHosts), names, "\n")
	crlfUser := strings.ReplaceAll(userHosts, "\n", "\r\n")
	for _, tt := range []struct {
		golden  string
		in      string
		names   []string
		eol     string
		changed bool
	}{
		{"section.golden", "", names, "\n", true},
		{"added.golden", userHosts, names, "\n", true},
		{"added-crlf.golden", crlfUser, names, "\r\n", true},
		{"added-no-final-newline.golden", strings.TrimSuffix(userHosts, "\n"), names, "\n", true},
		// Replaced in place: the user's line after the section stays after it.
		{"replaced.golden", "# top\n" + Begin + "\n0.0.0.0 old.example\n:: old.example\n" + End + "\n10.0.0.1 after\n", []string{"tiktok.com"}, "\n", true},
		// No END: our lines end at the first line that is not ours.
		{"missing-end.golden", "# top\n" + Begin + "\n" + note + "\n0.0.0.0 old.example\n:: old.example\n10.0.0.1 printer.lan\n# mine\n", []string{"tiktok.com"}, "\n", true},
		{"missing-end-removed.golden", "# top\n" + Begin + "\n0.0.0.0 old.example\n10.0.0.1 printer.lan\n", nil, "\n", true},
		// Two sections (a hand-made copy): one remains, where the first was.
		{"two-sections.golden", Begin + "\n0.0.0.0 a.example\n" + End + "\nmid\n" + Begin + "\n0.0.0.0 b.example\n" + End + "\n", []string{"x.example"}, "\n", true},
		{"unchanged.golden", string(withSection), names, "\n", false},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			got, changed, err := Edit([]byte(tt.in), tt.names, tt.eol)
			if err != nil {
				t.Fatal(err)
			}
			if changed != tt.changed {
				t.Errorf("changed = %v, want %v", changed, tt.changed)
			}
			golden.Check(t, tt.golden, got)
			if tt.eol == "\r\n" && bytes.Contains(bytes.ReplaceAll(got, []byte("\r\n"), nil), []byte("\n")) {
				t.Errorf("a line ends without CR: %q", got)
			}
		})
	}
}

// TestAddThenRemoveGivesBackTheFile: whatever the file, adding the section
// and then removing it gives back every byte.
func TestAddThenRemoveGivesBackTheFile(t *testing.T) {
	for _, in := range []string{"", "\n", userHosts, strings.TrimSuffix(userHosts, "\n"), strings.ReplaceAll(userHosts, "\n", "\r\n"), "x", "a\r\nb"} {
		for _, eol := range []string{"\n", "\r\n"} {
			added, _, err := Edit([]byte(in), names, eol)
			if err != nil {
				t.Fatal(err)
			}
			again, changed, _ := Edit(added, names, eol)
			if changed || !bytes.Equal(again, added) {
				t.Errorf("%q: a second Edit with the same names changed the file", in)
			}
			removed, _, _ := Edit(added, nil, eol)
			if string(removed) != in {
				t.Errorf("%q (eol %q): after add and remove: %q", in, eol, removed)
			}
		}
	}
}

func TestBadNames(t *testing.T) {
	for _, n := range []string{"", "a b", "evil.com\n1.2.3.4 bank.com", "x#y"} {
		if _, _, err := Edit(nil, []string{n}, "\n"); err == nil {
			t.Errorf("name %q: no error", n)
		}
	}
}

func TestEnsure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(path, []byte(userHosts), 0o644); err != nil {
		t.Fatal(err)
	}
	f := File{Path: path, EOL: "\n"}
	for i, tt := range []struct {
		names   []string
		changed bool
	}{{names, true}, {names, false}, {[]string{"tiktok.com"}, true}, {nil, true}, {nil, false}} {
		changed, err := f.Ensure(tt.names)
		if err != nil {
			t.Fatal(err)
		}
		if changed != tt.changed {
			t.Errorf("step %d: Ensure(%v) changed = %v, want %v", i, tt.names, changed, tt.changed)
		}
	}
	if b, _ := os.ReadFile(path); string(b) != userHosts {
		t.Errorf("after Ensure(nil): %q, want the original", b)
	}
	// A missing file with nothing to list stays missing.
	missing := File{Path: filepath.Join(t.TempDir(), "hosts")}
	if changed, err := missing.Ensure(nil); err != nil || changed {
		t.Errorf("Ensure(nil) on a missing file = %v, %v", changed, err)
	}
	if _, err := os.Stat(missing.Path); !os.IsNotExist(err) {
		t.Errorf("Ensure(nil) created the file")
	}
}

func FuzzEdit(f *testing.F) {
	f.Add([]byte(userHosts), "instagram.com", false)
	f.Add([]byte(Begin+"\n0.0.0.0 a\n"), "b", true)
	f.Add([]byte("x\r\n"+Begin+"\r\n"+End), "", true)
	f.Fuzz(func(t *testing.T, in []byte, name string, crlf bool) {
		eol := "\n"
		if crlf {
			eol = "\r\n"
		}
		var list []string
		if name != "" {
			list = []string{name}
		}
		out, _, err := Edit(in, list, eol)
		if err != nil {
			return
		}
		again, changed, err := Edit(out, list, eol)
		if err != nil || changed {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", in, out, again, err)
		}
		if !bytes.Contains(in, []byte(Begin)) {
			back, _, _ := Edit(out, nil, eol)
			if !bytes.Equal(back, in) {
				t.Fatalf("add and remove: %q -> %q -> %q", in, out, back)
			}
		}
	})
}
