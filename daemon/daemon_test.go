package daemon

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/nocontact/daemon/clock"
	"github.com/nocontact/nocontact/daemon/statefile"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
)

type fakeClock struct{ r clock.Reading }

func (f *fakeClock) Read() (clock.Reading, error) { return f.r, nil }

type fixture struct {
	dir, cfg string
	clk      *fakeClock
	log      *bytes.Buffer
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	return &fixture{dir: dir, cfg: filepath.Join(dir, "nocontact.toml"), log: new(bytes.Buffer),
		clk: &fakeClock{clock.Reading{BootID: "a", Boot: time.Hour, Wall: time.Date(2026, 11, 22, 21, 0, 0, 0, time.UTC)}}}
}

func (f *fixture) write(t *testing.T, pact string) {
	t.Helper()
	text := "[pact]\n" + pact + "\n[dns]\nlisten = [\"127.0.0.1:0\"]\nupstreams = [\"127.0.0.1:9\"]\n[daemon]\nstate_dir = \"" + filepath.Join(f.dir, "state") + "\"\ncontrol_socket = \"" + filepath.Join(f.dir, "c.sock") + "\"\n"
	if err := os.WriteFile(f.cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) start(t *testing.T) *Daemon {
	t.Helper()
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Options{ConfigPath: f.cfg, Catalog: cat, Clock: f.clk, Location: time.UTC,
		Logger: slog.New(slog.NewTextHandler(f.log, nil))})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d
}

func TestRestartKeepsPendingAndIgnoresWallClock(t *testing.T) {
	f := newFixture(t)
	f.write(t, `block = ["instagram", "tiktok"]`+"\nlength = \"30d\"")
	d := f.start(t)
	f.write(t, `block = ["instagram"]`+"\nlength = \"30d\"")
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	due := d.Status().Pending[0].Effective
	// The daemon is killed (nothing more is saved), the wall clock is set a
	// month ahead, and it starts again in the same boot.
	f.clk.r.Boot += time.Minute
	f.clk.r.Wall = f.clk.r.Wall.AddDate(0, 1, 0)
	d2 := f.start(t)
	st := d2.Status()
	if len(st.Pending) != 1 || !st.Pending[0].Effective.Equal(due) {
		t.Fatalf("pending after restart: %+v, want one due %v", st.Pending, due)
	}
	if !slices.Contains(st.Blocked, "tiktok") || !st.PactOn {
		t.Errorf("after the wall clock moved a month: blocked %v, pact on %v", st.Blocked, st.PactOn)
	}
}

func TestDamagedStateFailsClosed(t *testing.T) {
	for _, damage := range []struct {
		name string
		do   func(path string) error
	}{
		{"truncated", func(p string) error {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(p, data[:len(data)/2], 0o600)
		}},
		{"valid checksum, bad body", func(p string) error { return statefile.Write(p, stateVersion, []byte("{not json")) }},
	} {
		t.Run(damage.name, func(t *testing.T) {
			f := newFixture(t)
			f.write(t, `block = ["instagram", "tiktok"]`+"\nlength = \"30d\"")
			d := f.start(t)
			// Loosen: the pending change is what a damaged file loses.
			f.write(t, `block = ["instagram"]`+"\nlength = \"30d\"")
			if err := d.Reload(); err != nil {
				t.Fatal(err)
			}
			if err := damage.do(d.StatePath()); err != nil {
				t.Fatal(err)
			}
			f.clk.r.Boot += 2 * 24 * time.Hour // past the cooldown
			f.clk.r.Wall = f.clk.r.Wall.Add(2 * 24 * time.Hour)
			d2 := f.start(t)
			st := d2.Status()
			if !st.PactOn || !slices.Contains(st.Blocked, "instagram") || len(st.Pending) != 0 {
				t.Errorf("after a damaged state: %+v", st)
			}
			// The config's pact, read in its tightest form: 30 days from now.
			if want := f.clk.r.Wall.Add(30 * 24 * time.Hour); !st.Active.End.Equal(want) {
				t.Errorf("end %v, want %v", st.Active.End, want)
			}
			if !strings.Contains(f.log.String(), "could not be read") {
				t.Errorf("the log does not say the state was damaged:\n%s", f.log)
			}
			aside, _ := filepath.Glob(d2.StatePath() + ".damaged-*")
			if len(aside) != 1 {
				t.Errorf("damaged files kept aside: %v, want one", aside)
			}
		})
	}
}
