package installer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nocontact/nocontact/installer/command/commandtest"
	"github.com/nocontact/nocontact/installer/unit"
)

// TestSystemdStop: the refusal of a manual stop is lifted by a runtime
// drop-in only around nocontact's own stop, and the drop-in is gone
// afterwards, also when the stop fails.
func TestSystemdStop(t *testing.T) {
	for _, fail := range []bool{false, true} {
		root := t.TempDir()
		run := &commandtest.Fake{}
		ev := &events{}
		inner := &fakeService{ev: ev, installed: true, running: true}
		dropIn := filepath.Join(root, filepath.FromSlash(unit.StopDropIn))
		var atStop string
		inner.onStop = func() {
			b, err := os.ReadFile(dropIn)
			if err != nil {
				atStop = err.Error()
				return
			}
			atStop = string(b)
			// Stands for kardianos' own "systemctl stop", to show the order.
			if _, _, err := run.Run(t.Context(), "systemctl", "stop", "nocontact.service"); err != nil {
				t.Error(err)
			}
		}
		svc := Systemd{Service: inner, Run: run, Root: root}
		if fail {
			svc.Service = failingStop{inner}
		}
		err := svc.Stop()
		if fail != (err != nil) {
			t.Errorf("fail=%v: Stop = %v", fail, err)
		}
		if atStop != unit.StopDropInText {
			t.Errorf("fail=%v: the drop-in when the service was stopped: %q", fail, atStop)
		}
		if d := commandtest.Diff(commandtest.Lines("systemctl daemon-reload", "systemctl stop nocontact.service", "systemctl daemon-reload"), run.Ran()); d != "" {
			t.Errorf("fail=%v: %s", fail, d)
		}
		if _, err := os.Stat(filepath.Dir(dropIn)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("fail=%v: the drop-in folder is left: %v", fail, err)
		}
	}
}

type failingStop struct{ *fakeService }

func (f failingStop) Stop() error {
	if err := f.fakeService.Stop(); err != nil {
		return err
	}
	return errors.New("Job for nocontact.service failed")
}

// TestSystemdStopCannotWriteTheDropIn: no stop is attempted, and the
// error says what failed.
func TestSystemdStopCannotWriteTheDropIn(t *testing.T) {
	root := t.TempDir()
	// /run/systemd/system is a file: the drop-in folder cannot be made.
	if err := os.MkdirAll(filepath.Join(root, "run", "systemd"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "run", "systemd", "system"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ev := &events{}
	svc := Systemd{Service: &fakeService{ev: ev, installed: true, running: true}, Run: &commandtest.Fake{}, Root: root}
	err := svc.Stop()
	if err == nil || !strings.Contains(err.Error(), "allowing nocontact's own stop") {
		t.Errorf("Stop = %v", err)
	}
	if ev.String() != "" {
		t.Errorf("the service was asked: %s", ev)
	}
}
