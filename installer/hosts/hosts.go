// Package hosts keeps nocontact's section of the system's hosts file: the
// blocked platforms' main names, each pointed at 0.0.0.0 and ::, between
// "# BEGIN nocontact" and "# END nocontact", so that a program that reads
// the hosts file but asks some other DNS server still gets nowhere.
//
// It owns the section and nothing else: every byte outside it is kept as
// it was, and an empty list of names removes the section (and the newline
// the section added, if it added one), giving back the file as it was.
// It must not decide which names are blocked: the caller hands it the
// list.
package hosts

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/nocontact/nocontact/installer/atomicfile"
)

// The markers of the section, each alone on its line.
const (
	Begin = "# BEGIN nocontact"
	End   = "# END nocontact"
)

// note is the line after Begin, for the person who opens the file.
const note = "# Added by nocontact while your pact lasts; it rewrites these lines, so edit the settings instead."

// Section returns the section for names (cleaned as Edit does), each line
// ended by eol ("\n", or "\r\n" on Windows).
func Section(names []string, eol string) ([]byte, error) {
	clean, err := cleanNames(names)
	if err != nil {
		return nil, err
	}
	return section(clean, eol), nil
}

func section(names []string, eol string) []byte {
	var b bytes.Buffer
	b.WriteString(Begin + eol + note + eol)
	for _, n := range names {
		b.WriteString("0.0.0.0 " + n + eol)
		b.WriteString(":: " + n + eol)
	}
	b.WriteString(End + eol)
	return b.Bytes()
}

// cleanNames lower-cases names, drops a trailing dot, sorts them and
// removes duplicates; anything but an ASCII host name is an error, so
// that no name can add a line or an address of its own.
func cleanNames(names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		c := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(n)), ".")
		if c == "" || strings.Trim(c, "abcdefghijklmnopqrstuvwxyz0123456789.-_") != "" || strings.HasPrefix(c, ".") {
			return nil, fmt.Errorf("hosts file: %q is not a host name (letters, digits, '-', '_' and dots; non-ASCII names in their xn-- form)", n)
		}
		out = append(out, c)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Edit returns content with nocontact's section for names in place of the
// one it has (at the same place), or added at the end, or removed when
// names is empty; and whether that changed anything.
//
// A section whose End marker is missing (the file was cut, or edited by
// hand) ends after the last line that nocontact writes (its note, and
// "0.0.0.0 name" and ":: name" lines) that follows Begin without a break:
// the first other line is the user's, and it and everything after it are
// kept. Every section found is removed; the new one takes the place of
// the first.
func Edit(content []byte, names []string, eol string) ([]byte, bool, error) {
	clean, err := cleanNames(names)
	if err != nil {
		return nil, false, err
	}
	var out bytes.Buffer
	placed := false
	put := func(withEOL bool) {
		if placed || len(clean) == 0 {
			return
		}
		s := section(clean, eol)
		if !withEOL {
			s = bytes.TrimSuffix(s, []byte(eol))
		}
		out.Write(s)
		placed = true
	}
	rest := content
	for len(rest) > 0 {
		line, next := cutLine(rest)
		if trimEOL(line) != Begin {
			out.Write(line)
			rest = next
			continue
		}
		// The section: Begin, then our lines, then End if it is there.
		end := next
		for len(end) > 0 {
			l, n := cutLine(end)
			t := trimEOL(l)
			if t == End {
				end = n
				break
			}
			if !ours(t) {
				break
			}
			end = n
		}
		sec := rest[:len(rest)-len(end)]
		atEOF := len(end) == 0
		endsLine := bytes.HasSuffix(sec, []byte("\n"))
		if atEOF && !endsLine && !placed && len(clean) == 0 {
			// The section was added to a file that did not end with a
			// newline, and Edit wrote that newline before Begin: take it
			// away again.
			if b := out.Bytes(); bytes.HasSuffix(b, []byte(eol)) {
				out.Truncate(len(b) - len(eol))
			}
		}
		put(endsLine || !atEOF)
		rest = end
	}
	if !placed && len(clean) > 0 {
		if b := out.Bytes(); len(b) > 0 && !bytes.HasSuffix(b, []byte("\n")) {
			// No newline at the end of the file: add one before the
			// section, and leave the section's own last one out, so that
			// removing it gives back the file as it was.
			out.WriteString(eol)
			put(false)
		} else {
			put(true)
		}
	}
	result := out.Bytes()
	return result, !bytes.Equal(result, content), nil
}

// ours reports whether a line (without its end) is one nocontact writes
// inside its section.
func ours(line string) bool {
	if line == note {
		return true
	}
	f := strings.Fields(line)
	return len(f) == 2 && (f[0] == "0.0.0.0" || f[0] == "::") && line == f[0]+" "+f[1]
}

// cutLine returns the first line of b with its end ("\n", "\r\n" or none
// at the end of b), and the rest.
func cutLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i+1], b[i+1:]
	}
	return b, nil
}

func trimEOL(line []byte) string {
	return strings.TrimSuffix(strings.TrimSuffix(string(line), "\n"), "\r")
}

// File is a hosts file on disk.
type File struct {
	// Path is the file: Path(root) for the system's.
	Path string
	// EOL ends each line of the section: LineEnding for the system's.
	EOL string
	// Log receives a line for each change. Nil means quiet.
	Log *slog.Logger
}

// Ensure makes the file's section list exactly names (none: no section),
// writing the file only when that changes it, atomically, or in place
// when the file is a bind mount. It reports whether it wrote. A missing
// file is created when there are names to list.
func (f File) Ensure(names []string) (changed bool, err error) {
	content, err := os.ReadFile(f.Path)
	perm := fs.FileMode(0o644)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		content = nil
	case err != nil:
		return false, fmt.Errorf("reading the hosts file: %w", err)
	default:
		if fi, err := os.Stat(f.Path); err == nil {
			perm = fi.Mode().Perm()
		}
	}
	eol := f.EOL
	if eol == "" {
		eol = "\n"
	}
	updated, changed, err := Edit(content, names, eol)
	if err != nil || !changed {
		return false, err
	}
	if err := atomicfile.WriteFile(f.Path, updated, perm); err != nil {
		return false, fmt.Errorf("updating the hosts file: %w", err)
	}
	if f.Log != nil {
		f.Log.Info("updated the hosts file", "file", f.Path, "names", len(names))
	}
	return true, nil
}

// Present reports whether the file holds nocontact's section. A missing
// file holds none.
func (f File) Present() (bool, error) {
	content, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading the hosts file: %w", err)
	}
	for len(content) > 0 {
		var line []byte
		line, content = cutLine(content)
		if trimEOL(line) == Begin {
			return true, nil
		}
	}
	return false, nil
}
