package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/nocontact/daemon/clock"
	"github.com/nocontact/nocontact/daemon/pact"
	"github.com/nocontact/nocontact/daemon/statefile"
)

// The attacks of issue 12, each with the real daemon code on temporary
// folders: the person loosens the settings and, at the same time, goes
// after the pact's memory, then restarts nocontact. Every time, what was
// blocked stays blocked, the loosening waits out the cooldown (or is
// refused when strict), and the record of attempts shows what happened.

// service returns the options of an installed service on the fixture: the
// state, its copy and the control socket in fixed places of the test's,
// whatever the settings say.
func (f *fixture) service(t *testing.T, sys System) Options {
	f.svc = true
	o := f.options(t, sys)
	o.Service = true
	o.StateDir = filepath.Join(f.dir, "var-lib")
	o.CopyPath = filepath.Join(f.dir, "etc", "pact-copy")
	o.ControlSocket = filepath.Join(f.dir, "sys.sock")
	return o
}

// strictPact is a 30-day strict pact on instagram and tiktok.
const strictPact = `block = ["instagram", "tiktok"]` + "\nlength = \"30d\"\nstrict = true"

// loose is what the person writes at 2 a.m.: nothing blocked.
const loose = `block = []` + "\nlength = \"30d\"\ncooldown = \"1h\""

func counts(d *Daemon) map[pact.EventKind]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.eng.Record().Counts
}

func blocked(d *Daemon, id string) bool { return slices.Contains(d.Status().Blocked, id) }

func TestSettingsCannotMoveTheMemory(t *testing.T) {
	f := newFixture(t)
	f.svc = true
	f.write(t, strictPact)
	d := f.startOpts(t, f.service(t, nil))
	if got := d.StatePath(); got != filepath.Join(f.dir, "var-lib", "state") {
		t.Fatalf("state %s, want the service's fixed folder, not the settings'", got)
	}
	// Stop, point the memory at a new folder and loosen everything.
	moved := filepath.Join(f.dir, "elsewhere")
	text := "[pact]\n" + loose + "\n[dns]\nlisten = [\"127.0.0.1:0\"]\nupstreams = [\"127.0.0.1:9\"]\n[daemon]\nstate_dir = \"" + moved + "\"\ncontrol_socket = \"" + filepath.Join(moved, "c.sock") + "\"\n"
	writeFile(t, f.cfg, text)
	f.clk.set(func(r *clock.Reading) { r.Boot += time.Minute })
	d = f.startOpts(t, f.service(t, nil))
	st := d.Status()
	if !blocked(d, "instagram") || !blocked(d, "tiktok") || !st.StrictNow {
		t.Errorf("after moving the memory: blocked %v, strict %v; want the strict pact held", st.Blocked, st.StrictNow)
	}
	if len(st.Refused) == 0 {
		t.Error("the looser settings were not refused by the strict pact")
	}
	if _, err := os.Stat(moved); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the service created the folder the settings named (%v)", err)
	}
	if n := counts(d)[pact.EventMemoryMoved]; n != 1 {
		t.Errorf("record: %d memory-moved events, want 1", n)
	}
	w := strings.Join(d.Warnings(), "\n")
	if !strings.Contains(w, "state_dir") || !strings.Contains(w, filepath.Join(f.dir, "var-lib")) {
		t.Errorf("warnings %q: want the ignored state_dir and where the memory stays", w)
	}
	// Restarting again with the same lines notes nothing new.
	d = f.startOpts(t, f.service(t, nil))
	if n := counts(d)[pact.EventMemoryMoved]; n != 1 {
		t.Errorf("after another restart: %d memory-moved events, want still 1", n)
	}
}

func TestDamagedCopyIsRestored(t *testing.T) {
	for _, tt := range []struct {
		name   string
		damage func(t *testing.T, d *Daemon)
	}{
		{"state file: garbage appended", func(t *testing.T, d *Daemon) { appendTo(t, d.StatePath(), "\x00garbage") }},
		{"state file: deleted", func(t *testing.T, d *Daemon) { remove(t, d.StatePath()) }},
		{"copy: truncated", func(t *testing.T, d *Daemon) { writeFile(t, d.CopyPath(), readFile(t, d.CopyPath())[:40]) }},
		{"copy: deleted", func(t *testing.T, d *Daemon) { remove(t, d.CopyPath()) }},
		{"state: valid checksum, bad body", func(t *testing.T, d *Daemon) {
			if err := statefile.Write(d.StatePath(), stateVersion, []byte("{not json")); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.svc = true
			f.write(t, `block = ["instagram", "tiktok"]`+"\nlength = \"30d\"\ncooldown = \"1h\"")
			d := f.startOpts(t, f.service(t, nil))
			f.write(t, `block = ["instagram"]`+"\nlength = \"30d\"\ncooldown = \"1h\"")
			if err := d.Reload(); err != nil {
				t.Fatal(err)
			}
			due := d.Status().Pending[0].Effective
			tt.damage(t, d)
			// Loosen further at the same time, and restart.
			f.write(t, loose)
			f.clk.set(func(r *clock.Reading) { r.Boot += time.Minute })
			d = f.startOpts(t, f.service(t, nil))
			st := d.Status()
			if !blocked(d, "instagram") || !blocked(d, "tiktok") {
				t.Errorf("blocked %v after the damage and a restart, want instagram and tiktok", st.Blocked)
			}
			var tiktok *pact.Change
			for i, p := range st.Pending {
				if p.Value == "tiktok" {
					tiktok = &st.Pending[i]
				}
			}
			if tiktok == nil || !tiktok.Effective.Equal(due) {
				t.Errorf("pending %+v: want tiktok's unblocking still due %v", st.Pending, due)
			}
			if n := counts(d)[pact.EventStateRestored]; n != 1 {
				t.Errorf("record: %d state-restored events, want 1", n)
			}
			// Both copies are whole again.
			for _, p := range []string{d.StatePath(), d.CopyPath()} {
				if _, err := statefile.Read(p, stateVersion); err != nil {
					t.Errorf("%s after the restart: %v", p, err)
				}
			}
		})
	}
}

func TestBothCopiesLostWithATrace(t *testing.T) {
	for _, tt := range []struct {
		name  string
		sys   func() *fakeSystem
		trace string // what the log names
	}{
		{"install record", func() *fakeSystem { return &fakeSystem{installed: true} }, "the record of the DNS settings"},
		{"hosts section only", func() *fakeSystem { return &fakeSystem{hosts: []string{"instagram.com"}} }, "hosts file"},
		{"the lock of an earlier run", func() *fakeSystem { return &fakeSystem{} }, "the lock of an earlier nocontact"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.svc = true
			f.write(t, strictPact)
			d := f.startOpts(t, f.service(t, nil))
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			f.last = nil
			remove(t, d.StatePath())
			remove(t, d.CopyPath())
			if tt.name != "the lock of an earlier run" {
				remove(t, filepath.Join(filepath.Dir(d.StatePath()), "lock"))
			}
			f.write(t, loose)
			f.clk.set(func(r *clock.Reading) { r.Boot += time.Minute })
			d = f.startOpts(t, f.service(t, tt.sys()))
			st := d.Status()
			for _, id := range []string{"instagram", "tiktok", "whatsapp", "facebook", "tinder"} {
				if !blocked(d, id) {
					t.Errorf("%s not blocked after both copies were lost", id)
				}
			}
			if st.Active.End.IsZero() == false || st.Active.Cooldown != 24*time.Hour {
				t.Errorf("active end %v cooldown %v: want open-ended, the default cooldown at least", st.Active.End, st.Active.Cooldown)
			}
			var queued []string
			for _, p := range st.Pending {
				queued = append(queued, p.What)
			}
			if len(st.Pending) < 3 || !slices.ContainsFunc(queued, func(s string) bool { return strings.Contains(s, "stop blocking") }) {
				t.Errorf("pending %q: want the looser settings queued behind the cooldown", queued)
			}
			if n := counts(d)[pact.EventStateLost]; n != 1 {
				t.Errorf("record: %d state-lost events, want 1", n)
			}
			if !strings.Contains(f.log.String(), tt.trace) {
				t.Errorf("the log does not name the trace %q:\n%s", tt.trace, f.log)
			}
		})
	}
}

func TestBothCopiesMissingWithoutATraceIsAFirstStart(t *testing.T) {
	f := newFixture(t)
	f.svc = true
	f.write(t, `block = ["instagram"]`+"\nlength = \"30d\"")
	d := f.startOpts(t, f.service(t, &fakeSystem{}))
	st := d.Status()
	if !blocked(d, "instagram") || blocked(d, "tiktok") || len(st.Pending) != 0 {
		t.Errorf("first start: blocked %v pending %v; want the settings' pact as written", st.Blocked, st.Pending)
	}
	if len(d.eng.Record().Counts) != 0 {
		t.Errorf("first start: record %+v, want empty", d.eng.Record())
	}
}

func TestBothCopiesDamaged(t *testing.T) {
	f := newFixture(t)
	f.svc = true
	f.write(t, strictPact)
	d := f.startOpts(t, f.service(t, nil))
	appendTo(t, d.StatePath(), "x")
	appendTo(t, d.CopyPath(), "x")
	f.write(t, loose)
	d = f.startOpts(t, f.service(t, nil))
	if !blocked(d, "instagram") || !blocked(d, "whatsapp") {
		t.Errorf("blocked %v after both copies were damaged: want everything", d.Status().Blocked)
	}
	if n := counts(d)[pact.EventStateLost]; n != 1 {
		t.Errorf("record: %d state-lost events, want 1", n)
	}
	for _, p := range []string{d.StatePath(), d.CopyPath()} {
		if m, _ := filepath.Glob(p + ".damaged-*"); len(m) != 1 {
			t.Errorf("%s: damaged copies kept %v, want one", p, m)
		}
	}
}

func TestTwoDaemonsOnOneFolder(t *testing.T) {
	f := newFixture(t)
	f.write(t, `block = ["instagram", "tiktok"]`+"\nlength = \"30d\"")
	first := f.start(t)
	before := readFile(t, first.StatePath())
	// The second asks for a loosening: it must not queue, and so write,
	// anything.
	f.write(t, `block = ["instagram"]`+"\nlength = \"30d\"")
	_, err := New(f.options(t, nil))
	if !errors.Is(err, statefile.ErrLocked) {
		t.Fatalf("a second daemon on the same folder: %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), "stop the other one first") {
		t.Errorf("error %q does not say what to do", err)
	}
	if after := readFile(t, first.StatePath()); after != before {
		t.Error("the second daemon wrote the state file")
	}
	if len(first.Status().Pending) != 0 {
		t.Error("the first daemon's pact changed")
	}
}

func TestZoneChangeUnderQuietHours(t *testing.T) {
	f := newFixture(t)
	// 20:00-23:00 every day; the fixture's clock is 21:00 UTC.
	f.write(t, `block = []`+"\nlength = \"30d\"\ncooldown = \"1h\"\n[[quiet_hours]]\nfrom = \"20:00\"\nto = \"23:00\"\nblock = [\"whatsapp\"]")
	utc := clock.Zone{Name: "UTC"}
	o := f.options(t, nil)
	o.Location, o.Zone = nil, func() clock.Zone { return utc }
	d := f.startOpts(t, o)
	if !blocked(d, "whatsapp") {
		t.Fatal("whatsapp not blocked at 21:00 in quiet hours 20:00-23:00 UTC")
	}
	// Restart in Tokyo (21:00 UTC is 06:00 there: outside the window).
	tokyo := clock.Zone{Name: "Asia/Tokyo"}
	o.Zone = func() clock.Zone { return tokyo }
	f.clk.set(func(r *clock.Reading) { r.Boot += time.Minute })
	d = f.startOpts(t, o)
	if !blocked(d, "whatsapp") {
		t.Error("after the zone changed, whatsapp is not blocked: the old quiet hours must hold for the cooldown")
	}
	st := d.Status()
	if len(st.Pending) != 1 || !strings.Contains(st.Pending[0].What, "in the time zone UTC") {
		t.Errorf("pending %+v: want the UTC window's removal queued", st.Pending)
	}
	if counts(d)[pact.EventQueued] != 1 {
		t.Errorf("record %+v: want the queued loosening", d.eng.Record())
	}
	// A change while it runs is seen at the next wake.
	o.Zone = func() clock.Zone { return clock.Zone{Name: "America/New_York"} }
	d.zone = o.Zone
	d.step()
	if got := len(d.Status().Pending); got != 2 {
		t.Errorf("after a second zone change while running: %d pending, want 2 (each old window waits)", got)
	}
}

func TestBrokenSettingsRunOnTheLastThatLoaded(t *testing.T) {
	f := newFixture(t)
	f.svc = true
	f.write(t, `block = ["instagram"]`+"\nlength = \"30d\"")
	f.startOpts(t, f.service(t, nil))
	// A typo, then a reboot.
	writeFile(t, f.cfg, readFile(t, f.cfg)+"\nblokc = 1\n")
	d := f.startOpts(t, f.service(t, nil))
	if !blocked(d, "instagram") {
		t.Error("with a mistake in the settings, the service does not block what the last settings did")
	}
	if w := strings.Join(d.Warnings(), "\n"); !strings.Contains(w, "mistake") || !strings.Contains(w, "last settings that loaded") {
		t.Errorf("warnings %q: want the mistake named", w)
	}
	if len(d.Addrs()) != 0 {
		t.Fatal("not started, yet listening")
	}
	// Fixed: picked up without a reload.
	f.write(t, `block = ["instagram", "tiktok"]`+"\nlength = \"30d\"")
	d.retrySettings()
	if !blocked(d, "tiktok") || len(d.Warnings()) != 0 {
		t.Errorf("after the fix: blocked %v, warnings %v", d.Status().Blocked, d.Warnings())
	}

	// No settings ever loaded: the defaults, every platform blocked.
	g := newFixture(t)
	writeFile(t, g.cfg, "[pact\n")
	d = g.startOpts(t, g.service(t, nil))
	if !blocked(d, "instagram") || !blocked(d, "whatsapp") {
		t.Errorf("with a broken file and nothing kept: blocked %v, want every platform", d.Status().Blocked)
	}
	// A trial run refuses the file instead.
	if _, err := New(g.options(t, nil)); err == nil || !strings.Contains(err.Error(), g.cfg) {
		t.Errorf("a trial run with a broken file: %v, want the mistake", err)
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}
