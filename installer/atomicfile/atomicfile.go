// Package atomicfile replaces system files (resolv.conf, hosts, drop-ins,
// the installer's record of the original settings) so that a reader sees
// either the old content or the new, never half of it.
//
// It writes a temporary file beside the target, syncs it and renames it
// over the target. When the target is a bind mount (containers mount
// /etc/resolv.conf and /etc/hosts that way) a rename over it fails with
// EBUSY or EXDEV, and the only way left is to rewrite the file in place,
// which is what WriteFile then does. It must not decide what goes into
// the files.
package atomicfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// WriteFile replaces path with data, with permission bits perm, atomically
// where the filesystem allows it (see the package comment). A symbolic
// link at path is replaced by a regular file, not followed.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return writeFile(path, data, perm, os.Rename)
}

func writeFile(path string, data []byte, perm fs.FileMode, rename func(oldpath, newpath string) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".nocontact-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	name := tmp.Name()
	defer os.Remove(name) // a no-op once renamed
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	err = rename(name, path)
	if err == nil {
		syncDir(filepath.Dir(path))
		return nil
	}
	if !IsBindMount(err) {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := writeInPlace(path, data); err != nil {
		return fmt.Errorf("writing %s in place (it is a mount point, so it cannot be replaced): %w", path, err)
	}
	return nil
}

// IsBindMount reports whether err is what renaming over a mount point
// returns: EBUSY on Linux, EXDEV on some systems and filesystems.
func IsBindMount(err error) bool {
	return errors.Is(err, syscall.EBUSY) || errors.Is(err, syscall.EXDEV)
}

// writeInPlace truncates path and writes data into the same inode, which
// is all a bind-mounted file allows. A reader may see it half written.
func writeInPlace(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Symlink makes path a symbolic link to target, replacing what is there in
// one rename.
func Symlink(target, path string) error {
	for try := 0; ; try++ {
		tmp := filepath.Join(filepath.Dir(path), fmt.Sprintf(".%s.nocontact-link-%d-%d", filepath.Base(path), os.Getpid(), try))
		err := os.Symlink(target, tmp)
		if errors.Is(err, fs.ErrExist) && try < 100 {
			continue
		}
		if err != nil {
			return fmt.Errorf("linking %s to %s: %w", path, target, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("linking %s to %s: %w", path, target, err)
		}
		syncDir(filepath.Dir(path))
		return nil
	}
}

// syncDir makes a rename in dir durable. It is best effort: Windows cannot
// open a directory for syncing, and the rename itself has already
// happened.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort, as said above
		d.Close()
	}
}

// ReadJSON reads the JSON file at path into v, and reports whether there
// was one: no file is false and no error. A file that is not JSON of v's
// shape is an error; callers say what the file is and what to do.
func ReadJSON(path string, v any) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return true, fmt.Errorf("%s is damaged: %w", path, err)
	}
	return true, nil
}

// WriteJSON writes v to path as indented JSON with WriteFile, readable by
// root alone (0600), making its folder (0700) first: the installer's
// records of what it found, which uninstall gives back.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return WriteFile(path, append(b, '\n'), 0o600)
}
