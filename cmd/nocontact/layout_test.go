package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nocontact/nocontact/installer/osdns"
)

func TestMoveOldLayout(t *testing.T) {
	parent := t.TempDir()
	files := map[string]string{"state": "the pact", "attempts": "counts", osdns.RecordFile: "record", "nocontact.toml": "settings"}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(parent, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(parent, "state")
	if err := moveOldLayout(dir); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		where := filepath.Join(dir, name)
		if name == "nocontact.toml" {
			where = filepath.Join(parent, name) // the settings stay
		}
		if b, err := os.ReadFile(where); err != nil || string(b) != body {
			t.Errorf("%s: %q, %v; want %q", where, b, err, body)
		}
	}
	// Again: a folder already, nothing to do.
	if err := moveOldLayout(dir); err != nil {
		t.Errorf("second run: %v", err)
	}
	if err := moveOldLayout(filepath.Join(parent, "missing")); err != nil {
		t.Errorf("missing folder: %v", err)
	}
}
