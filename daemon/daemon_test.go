package daemon

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nocontact/nocontact/daemon/clock"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
)

// fakeClock is the daemons' clock in tests. The daemon's goroutines (the
// witness, the encrypted-DNS lookups) read it while a test moves it, so
// every access goes through the lock.
type fakeClock struct {
	mu sync.Mutex
	r  clock.Reading
}

func (f *fakeClock) Read() (clock.Reading, error) { return f.reading(), nil }

func (f *fakeClock) reading() clock.Reading {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.r
}

// set changes the reading with fn.
func (f *fakeClock) set(fn func(r *clock.Reading)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.r)
}

// advance moves the boot clock and the wall clock on by d, as time passing.
func (f *fakeClock) advance(d time.Duration) {
	f.set(func(r *clock.Reading) { r.Boot += d; r.Wall = r.Wall.Add(d) })
}

type fixture struct {
	dir, cfg string
	clk      *fakeClock
	log      *bytes.Buffer
	// last is the daemon started last: starting another one first lets
	// go of it, as a process that died would (nothing more is saved).
	last *Daemon
	// svc is set for an installed service's settings: no [daemon] lines.
	svc bool
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	return &fixture{dir: dir, cfg: filepath.Join(dir, "nocontact.toml"), log: new(bytes.Buffer),
		clk: &fakeClock{r: clock.Reading{BootID: "a", Boot: time.Hour, Wall: time.Date(2026, 11, 22, 21, 0, 0, 0, time.UTC)}}}
}

func (f *fixture) write(t *testing.T, pact string) {
	t.Helper()
	text := "[pact]\n" + pact + "\n[dns]\nlisten = [\"127.0.0.1:0\"]\nupstreams = [\"127.0.0.1:9\"]\n"
	if !f.svc {
		text += "[daemon]\nstate_dir = \"" + filepath.Join(f.dir, "state") + "\"\ncontrol_socket = \"" + filepath.Join(f.dir, "c.sock") + "\"\n"
	}
	if err := os.WriteFile(f.cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) start(t *testing.T) *Daemon {
	t.Helper()
	return f.startWith(t, nil)
}

// options are the fixture's daemon options, for tests that change some.
func (f *fixture) options(t *testing.T, sys System) Options {
	t.Helper()
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	o := Options{ConfigPath: f.cfg, Catalog: cat, Clock: f.clk, Location: time.UTC,
		Logger: slog.New(slog.NewTextHandler(f.log, nil)),
		// Tests talk to loopback only: no witness answers unless a test
		// hands in its own.
		Witness: func(url string) clock.Witness { return offline{url} }}
	if sys != nil {
		o.System = sys
	}
	return o
}

func (f *fixture) startOpts(t *testing.T, o Options) *Daemon {
	t.Helper()
	if f.last != nil {
		if err := f.last.Close(); err != nil {
			t.Fatal(err)
		}
	}
	d, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.last = d
	t.Cleanup(func() { d.Close() })
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
	f.clk.set(func(r *clock.Reading) { r.Boot += time.Minute; r.Wall = r.Wall.AddDate(0, 1, 0) })
	d2 := f.start(t)
	st := d2.Status()
	if len(st.Pending) != 1 || !st.Pending[0].Effective.Equal(due) {
		t.Fatalf("pending after restart: %+v, want one due %v", st.Pending, due)
	}
	if !slices.Contains(st.Blocked, "tiktok") || !st.PactOn {
		t.Errorf("after the wall clock moved a month: blocked %v, pact on %v", st.Blocked, st.PactOn)
	}
}

// offline is a time witness that never answers.
type offline struct{ url string }

func (o offline) Name() string { return o.url }
func (o offline) Time(context.Context) (time.Time, error) {
	return time.Time{}, errors.New("offline (a test)")
}
