package osdns

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/nocontact/nocontact/installer/atomicfile"
)

// savedFile is one file under Root as it was before the first Apply:
// missing, a symbolic link (to Link), or a regular file with Data and
// Perm.
type savedFile struct {
	Path   string      `json:"path"` // slash-separated, relative to Root: "etc/resolv.conf"
	Exists bool        `json:"exists"`
	Link   string      `json:"link,omitempty"`
	Data   []byte      `json:"data,omitempty"`
	Perm   fs.FileMode `json:"perm,omitempty"`
}

// sysPath returns rel under env.Root.
func (env Env) sysPath(rel string) string {
	return filepath.Join(env.Root, filepath.FromSlash(rel))
}

// capture reads rel as it is now.
func (env Env) capture(rel string) (savedFile, error) {
	p := env.sysPath(rel)
	sf := savedFile{Path: rel}
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return sf, nil
	}
	if err != nil {
		return sf, fmt.Errorf("saving %s: %w", p, err)
	}
	sf.Exists = true
	if fi.Mode()&fs.ModeSymlink != 0 {
		sf.Link, err = os.Readlink(p)
		if err != nil {
			return sf, fmt.Errorf("saving %s: %w", p, err)
		}
		return sf, nil
	}
	if !fi.Mode().IsRegular() {
		return sf, fmt.Errorf("saving %s: it is not a regular file or a symbolic link (%v)", p, fi.Mode().Type())
	}
	sf.Perm = fi.Mode().Perm()
	sf.Data, err = os.ReadFile(p)
	if err != nil {
		return sf, fmt.Errorf("saving %s: %w", p, err)
	}
	if sf.Data == nil {
		sf.Data = []byte{}
	}
	return sf, nil
}

// put makes the file what sf says, leaving it alone when it already is.
func (env Env) put(sf savedFile) error {
	p := env.sysPath(sf.Path)
	now, err := env.capture(sf.Path)
	if err != nil {
		return err
	}
	switch {
	case !sf.Exists:
		if !now.Exists {
			return nil
		}
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("restoring %s: %w", p, err)
		}
		return nil
	case sf.Link != "":
		if now.Link == sf.Link {
			return nil
		}
		if err := atomicfile.Symlink(sf.Link, p); err != nil {
			if atomicfile.IsBindMount(errors.Unwrap(err)) {
				return fmt.Errorf("restoring %s: it was a symbolic link to %s, and it is now a mount point that cannot be replaced by one: %w", p, sf.Link, err)
			}
			return err
		}
		return nil
	default:
		if now.Exists && now.Link == "" && bytes.Equal(now.Data, sf.Data) && now.Perm == sf.Perm {
			return nil
		}
		return env.write(sf.Path, sf.Data, sf.Perm)
	}
}

// write replaces rel with data, creating its directory if needed.
func (env Env) write(rel string, data []byte, perm fs.FileMode) error {
	p := env.sysPath(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return atomicfile.WriteFile(p, data, perm)
}

// read returns the content of rel, nil when it is missing.
func (env Env) read(rel string) ([]byte, error) {
	b, err := os.ReadFile(env.sysPath(rel))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// saveFiles makes sure the record holds the original of each of rels
// (a file already in it is kept as it was saved first), and saves the
// record if it changed. It returns the record.
func (env Env) saveFiles(mode Mode, rels ...string) (*record, error) {
	rec, err := loadFor(env, mode)
	if err != nil {
		return nil, err
	}
	changed := false
	if rec == nil {
		rec, changed = &record{Mode: mode}, true
	}
	for _, rel := range rels {
		if rec.file(rel) != nil {
			continue
		}
		sf, err := env.capture(rel)
		if err != nil {
			return nil, err
		}
		rec.Files = append(rec.Files, sf)
		changed = true
		env.Log.Info("saved the original", "file", env.sysPath(rel), "exists", sf.Exists, "link", sf.Link)
	}
	if changed {
		if err := saveRecord(env.StateDir, rec); err != nil {
			return nil, err
		}
	}
	return rec, nil
}

func (r *record) file(rel string) *savedFile {
	for i := range r.Files {
		if r.Files[i].Path == rel {
			return &r.Files[i]
		}
	}
	return nil
}
