package browsers

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockName is the file Apply and Restore hold a lock on in the state
// directory, so that install (one process) and the running service
// (another), which both call Apply, never interleave: the second one
// finds the record the first saved, and so never takes nocontact's own
// policy for the person's original.
const lockName = "browsers.lock"

// lockRecord takes the lock, waiting for it, and returns how to let go.
func lockRecord(stateDir string) (func(), error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the state folder %s: %w", stateDir, err)
	}
	p := filepath.Join(stateDir, lockName)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", p, err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", p, err)
	}
	return func() {
		_ = unlockFile(f) // closing lets go of it anyway
		f.Close()
	}, nil
}
