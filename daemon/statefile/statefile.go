// Package statefile keeps one small file safe from crashes and damage: it
// writes atomically (a temporary file in the same directory, fsync, rename,
// fsync of the directory), with a header that carries the format version and
// a checksum of the body, and it reads back either exactly what was written
// or an error that says the file is damaged, after moving the damaged file
// aside for inspection.
//
// It knows nothing of what the body means; the daemon decides what a missing
// or damaged file implies (it fails closed). It must not be used for files
// larger than a few megabytes: everything is held in memory.
package statefile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// File and directory modes: the state says what the person is fighting
// against, and nobody else on the machine needs to read it.
const (
	FileMode fs.FileMode = 0o600
	DirMode  fs.FileMode = 0o700
)

// maxSize bounds what Read accepts.
const maxSize = 16 << 20

// magic starts the header line: "nocontact-state v1 sha256=HEX\n".
const magic = "nocontact-state"

// ErrDamaged is matched (errors.Is) by every error of Read about a file that
// exists but cannot be trusted: truncated, corrupt, unreadable, or of a
// format version this program does not know. The error is a *DamagedError.
var ErrDamaged = errors.New("state file damaged")

// DamagedError says why a state file was not trusted and where it was
// moved.
type DamagedError struct {
	Path   string // the state file
	Aside  string // where it was moved for inspection; "" when it could not be moved
	Reason string
}

func (e *DamagedError) Error() string {
	if e.Aside == "" {
		return fmt.Sprintf("state file %s is damaged (%s), and could not be moved aside", e.Path, e.Reason)
	}
	return fmt.Sprintf("state file %s is damaged (%s); it was moved to %s for inspection", e.Path, e.Reason, e.Aside)
}

func (e *DamagedError) Is(target error) bool { return target == ErrDamaged }

// Write replaces the file at path with body, tagged with version, so that
// after a crash at any moment the file holds either the old content or the
// new one, whole. It creates the directory (mode 0700) when missing.
func Write(path string, version int, body []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return fmt.Errorf("creating the state directory: %w", err)
	}
	sum := sha256.Sum256(body)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%s v%d sha256=%s\n", magic, version, hex.EncodeToString(sum[:]))
	buf.Write(body)

	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing the state: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(FileMode); err != nil && !isUnsupported(err) {
		return fmt.Errorf("writing the state: %w", err)
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("writing the state: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("writing the state: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing the state: %w", err)
	}
	ok = true
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("writing the state: %w", err)
	}
	return nil
}

// Read returns the body of the file at path, written by Write with version.
// A missing file gives an error matching fs.ErrNotExist. A file that exists
// but is damaged (or whose version is not version) is renamed to
// path.damaged-TIME, and the error is a *DamagedError. Temporary files left
// by a Write that was interrupted are removed.
func Read(path string, version int) ([]byte, error) {
	removeTemps(path)
	data, err := readLimited(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	reason := ""
	var body []byte
	if err != nil {
		reason = err.Error()
	} else {
		body, reason = check(data, version)
	}
	if reason == "" {
		return body, nil
	}
	aside := fmt.Sprintf("%s.damaged-%s", path, time.Now().UTC().Format("20060102T150405.000000000Z"))
	if err := os.Rename(path, aside); err != nil {
		aside = ""
	} else {
		_ = syncDir(filepath.Dir(path)) // best effort: the rename happened
	}
	return nil, &DamagedError{Path: path, Aside: aside, Reason: reason}
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	n, err := buf.ReadFrom(&limited{f, maxSize + 1})
	if err != nil {
		return nil, err
	}
	if n > maxSize {
		return nil, fmt.Errorf("larger than %d bytes", maxSize)
	}
	return buf.Bytes(), nil
}

type limited struct {
	f *os.File
	n int64
}

func (l *limited) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errors.New("too large")
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.f.Read(p)
	l.n -= int64(n)
	return n, err
}

// check verifies the header of data and returns the body, or a reason.
func check(data []byte, version int) ([]byte, string) {
	head, body, ok := bytes.Cut(data, []byte("\n"))
	if !ok {
		if len(data) == 0 {
			return nil, "empty"
		}
		return nil, "no header line"
	}
	f := strings.Fields(string(head))
	if len(f) != 3 || f[0] != magic || !strings.HasPrefix(f[1], "v") || !strings.HasPrefix(f[2], "sha256=") {
		return nil, "not a nocontact state file"
	}
	v, err := strconv.Atoi(f[1][1:])
	if err != nil {
		return nil, "not a nocontact state file"
	}
	if v != version {
		return nil, fmt.Sprintf("format version %d, but this nocontact reads version %d", v, version)
	}
	sum := sha256.Sum256(body)
	if f[2] != "sha256="+hex.EncodeToString(sum[:]) {
		return nil, "checksum mismatch: truncated or changed"
	}
	return body, ""
}

// removeTemps removes what interrupted Writes left in the directory.
func removeTemps(path string) {
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "."+globEscape(filepath.Base(path))+".*.tmp"))
	for _, m := range matches {
		os.Remove(m)
	}
}

func globEscape(s string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`)
	return r.Replace(s)
}
