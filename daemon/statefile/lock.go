package statefile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrLocked means another process holds the state directory's lock: a
// second nocontact on the same state.
var ErrLocked = errors.New("another nocontact is running with this state folder")

// lockName is the lock file's name in the state directory.
const lockName = "lock"

// Lock is an exclusive hold on a state directory: while one process holds
// it, no other can take it, so only one process ever reads and writes the
// state there. The operating system lets go of it when the process ends,
// however it ends.
type Lock struct{ f *os.File }

// TakeLock takes the lock of dir, creating dir (mode 0700) and the lock
// file when missing. It does not wait: when another process holds it, the
// error matches ErrLocked.
func TakeLock(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return nil, fmt.Errorf("creating the state folder %s: %w", dir, err)
	}
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, FileMode)
	if err != nil {
		return nil, fmt.Errorf("opening the state folder's lock %s: %w", path, err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, ErrLocked) {
			return nil, fmt.Errorf("%w (%s): stop the other one first ('nocontact status' shows it), or give this one another state folder", ErrLocked, dir)
		}
		return nil, fmt.Errorf("locking the state folder %s: %w", dir, err)
	}
	return &Lock{f: f}, nil
}

// Release lets go of the lock. The lock file stays.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unlockFile(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
