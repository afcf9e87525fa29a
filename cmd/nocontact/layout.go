package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/nocontact/nocontact/installer/osdns"
)

// moveOldLayout moves the memory of a nocontact from before the service's
// state folder was fixed into it. On macOS and Windows that older version
// kept its state in the settings folder, and its state file had the name
// the state folder has now ("state"); dir is the new folder. Nothing is
// done when dir is already a folder, or missing. The files are moved, not
// copied, so a pact is never found twice.
func moveOldLayout(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) || err == nil && fi.IsDir() {
		return nil
	}
	if err != nil {
		return err
	}
	parent := filepath.Dir(dir)
	moving := filepath.Join(parent, ".state-moving")
	if err := os.Rename(dir, moving); err != nil {
		return fmt.Errorf("moving the old state file aside: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the state folder: %w", err)
	}
	if err := os.Rename(moving, filepath.Join(dir, "state")); err != nil {
		return fmt.Errorf("moving the old state file into the state folder: %w", err)
	}
	for _, name := range []string{"attempts", osdns.RecordFile} {
		if err := os.Rename(filepath.Join(parent, name), filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("moving %s into the state folder: %w", name, err)
		}
	}
	return nil
}
