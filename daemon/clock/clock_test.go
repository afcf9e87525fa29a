package clock

import (
	"errors"
	"runtime"
	"testing"
	"time"
)

// fakeSource is a machine whose clocks a test moves by hand.
type fakeSource struct {
	bootID string
	boot   time.Duration
	wall   time.Time
	err    error
}

func (f *fakeSource) Read() (Reading, error) {
	return Reading{BootID: f.bootID, Boot: f.boot, Wall: f.wall}, f.err
}

// pass lets d of real time pass: both clocks move.
func (f *fakeSource) pass(d time.Duration) {
	f.boot += d
	f.wall = f.wall.Add(d)
}

// reboot starts a new boot after the machine was off for d.
func (f *fakeSource) reboot(id string, off time.Duration) {
	f.bootID, f.boot = id, 0
	f.wall = f.wall.Add(off)
}

var t0 = time.Date(2026, 11, 22, 21, 0, 0, 0, time.UTC)

func TestSameBootIgnoresWallJumps(t *testing.T) {
	src := &fakeSource{bootID: "a", boot: time.Hour, wall: t0}
	c := New(src, Ledger{})
	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("first Now: %v, want the wall clock %v", got, t0)
	}
	src.pass(10 * time.Minute)
	src.wall = src.wall.AddDate(0, 1, 0) // forward a month
	if got, want := c.Now(), t0.Add(10*time.Minute); !got.Equal(want) {
		t.Errorf("after the wall clock went forward a month: %v, want %v", got, want)
	}
	src.pass(5 * time.Minute)
	src.wall = src.wall.AddDate(0, -1, -1) // back a month and a day
	if got, want := c.Now(), t0.Add(15*time.Minute); !got.Equal(want) {
		t.Errorf("after the wall clock went back: %v, want %v", got, want)
	}
	// Sleep counts: the boot clock runs on while suspended.
	src.pass(8 * time.Hour)
	if got, want := c.Now(), t0.Add(8*time.Hour+15*time.Minute); !got.Equal(want) {
		t.Errorf("after 8 hours asleep: %v, want %v", got, want)
	}
}

func TestReboot(t *testing.T) {
	tests := []struct {
		name string
		// before the reboot, within the first boot
		before func(f *fakeSource)
		off    time.Duration
		after  func(f *fakeSource) // the wall clock after the reboot
		want   time.Duration       // trusted time after the reboot, from t0
	}{
		{"honest", func(f *fakeSource) { f.pass(time.Hour) }, 2 * time.Hour, nil, 3 * time.Hour},
		{"clock set back while off", func(f *fakeSource) { f.pass(time.Hour) }, 2 * time.Hour,
			func(f *fakeSource) { f.wall = f.wall.AddDate(0, 0, -1) }, time.Hour},
		{"clock set forward while off (not seen)", func(f *fakeSource) { f.pass(time.Hour) }, 2 * time.Hour,
			func(f *fakeSource) { f.wall = f.wall.AddDate(0, 1, 0) }, 3*time.Hour + 30*24*time.Hour},
		{"clock set forward, then reboot", func(f *fakeSource) {
			f.pass(time.Hour)
			f.wall = f.wall.AddDate(0, 1, 0)
		}, 2 * time.Hour, nil, 3 * time.Hour},
		{"small drift is trusted", func(f *fakeSource) {
			f.pass(time.Hour)
			f.wall = f.wall.Add(2 * time.Minute)
		}, 2 * time.Hour, nil, 3*time.Hour + 2*time.Minute},
		{"clock set back, then reboot, network time fixes it", func(f *fakeSource) {
			f.pass(time.Hour)
			f.wall = f.wall.AddDate(0, 0, -1)
		}, 2 * time.Hour, func(f *fakeSource) { f.wall = f.wall.AddDate(0, 0, 1) }, 3 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &fakeSource{bootID: "a", boot: time.Minute, wall: t0}
			c := New(src, Ledger{})
			c.Now()
			tt.before(src)
			c.Now()
			// The daemon stops; the ledger is what it persisted.
			saved := c.Ledger()
			src.reboot("b", tt.off)
			if tt.after != nil {
				tt.after(src)
			}
			c2 := New(src, saved)
			if got, want := c2.Now(), t0.Add(tt.want); !got.Equal(want) {
				t.Errorf("after the reboot: %v, want %v", got, want)
			}
			// And it runs on with the new boot's clock.
			src.pass(time.Minute)
			if got, want := c2.Now(), t0.Add(tt.want+time.Minute); !got.Equal(want) {
				t.Errorf("a minute later: %v, want %v", got, want)
			}
		})
	}
}

func TestRestartWithinBoot(t *testing.T) {
	src := &fakeSource{bootID: "a", boot: time.Minute, wall: t0}
	c := New(src, Ledger{})
	c.Now()
	saved := c.Ledger()
	src.pass(time.Hour)
	src.wall = src.wall.AddDate(0, 1, 0) // forward a month while the daemon was stopped
	if got, want := New(src, saved).Now(), t0.Add(time.Hour); !got.Equal(want) {
		t.Errorf("after a restart in the same boot: %v, want %v", got, want)
	}
}

func TestNoBootClock(t *testing.T) {
	src := &fakeSource{bootID: "a", boot: time.Minute, wall: t0}
	c := New(src, Ledger{})
	c.Now()
	src.pass(time.Hour)
	src.err = errors.New("no clock")
	src.wall = src.wall.AddDate(0, 0, -1)
	if got, want := c.Now(), t0; !got.Equal(want) {
		t.Errorf("without a boot clock and the wall clock set back: %v, want the last trusted time %v", got, want)
	}
	src.err = nil
	src.boot += time.Minute
	got := c.Now()
	if got.Before(t0) || got.After(t0.Add(2*time.Hour)) {
		t.Errorf("with the boot clock back: %v, want no jump", got)
	}
}

func TestEmptyBootIDRebootSeenByClockGoingBack(t *testing.T) {
	src := &fakeSource{boot: 5 * time.Hour, wall: t0}
	c := New(src, Ledger{})
	c.Now()
	src.reboot("", time.Hour)
	src.boot = time.Minute
	if got, want := c.Now(), t0.Add(time.Hour); !got.Equal(want) {
		t.Errorf("after a reboot seen by the boot clock going back: %v, want %v", got, want)
	}
}

func TestSystem(t *testing.T) {
	switch runtime.GOOS {
	case "linux", "darwin", "windows":
	default:
		t.Skip("no boot clock on " + runtime.GOOS)
	}
	r1, err := System().Read()
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	r2, _ := System().Read()
	if r1.BootID != r2.BootID || r2.Boot < r1.Boot || r1.Boot <= 0 {
		t.Errorf("two readings: %+v then %+v", r1, r2)
	}
	if runtime.GOOS != "windows" && r1.BootID == "" {
		t.Errorf("no boot id on %s", runtime.GOOS)
	}
}

func TestBootIDReadOnce(t *testing.T) {
	var b bootIDOnce
	reads := 0
	fail := errors.New("not yet")
	read := func() (string, error) {
		reads++
		if reads == 1 {
			return "", fail
		}
		return "boot-a", nil
	}
	if _, err := b.get(read); err != fail {
		t.Fatalf("first get: %v, want the read's error", err)
	}
	for range 3 {
		if id, err := b.get(read); id != "boot-a" || err != nil {
			t.Fatalf("get: %q, %v", id, err)
		}
	}
	if reads != 2 {
		t.Errorf("%d reads, want 2: a failed read is tried again, a good one kept", reads)
	}
}
