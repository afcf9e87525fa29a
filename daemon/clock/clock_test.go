package clock

import (
	"context"
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

// fakeWitness says a fixed time, or fails.
type fakeWitness struct {
	name string
	t    time.Time
	err  error
}

func (f fakeWitness) Name() string                            { return f.name }
func (f fakeWitness) Time(context.Context) (time.Time, error) { return f.t, f.err }

// TestTimeNobodySaw is issue 13's table: the wall clock moved, a reboot or
// a power cut, and what the trusted time is before and after witnesses
// answer.
func TestTimeNobodySaw(t *testing.T) {
	const day = 24 * time.Hour
	real := func(d time.Duration) time.Time { return t0.Add(d) }
	tests := []struct {
		name string
		// run makes things happen to a clock started at t0 (boot clock 1 min,
		// boot "a") and returns the source and the ledger the daemon saved
		// last, for the restart.
		run func(src *fakeSource, c *Clock) Ledger
		// want is the trusted time right after the restart; waiting whether
		// it waits for witnesses.
		want    time.Time
		waiting bool
		kind    JumpKind
		// witnesses, when given, are asked after the restart; then is the
		// trusted time after they answered.
		witnesses []Witness
		then      time.Time
	}{
		{
			name: "date 60 days ahead, then a reboot: no witness, the pact holds",
			run: func(src *fakeSource, c *Clock) Ledger {
				src.pass(time.Hour)
				c.Now()
				src.wall = src.wall.Add(60 * day)
				c.Now() // the daemon saves at once when the wall clock jumps
				src.reboot("b", 5*time.Minute)
				src.boot = 30 * time.Second
				return c.Ledger()
			},
			want: real(time.Hour + 30*time.Second), waiting: true, kind: JumpReboot,
			witnesses: []Witness{fakeWitness{name: "x", err: errors.New("offline")}},
			then:      real(time.Hour + 30*time.Second),
		},
		{
			name: "an honest reboot: two witnesses agree, time catches up",
			run: func(src *fakeSource, c *Clock) Ledger {
				src.pass(time.Hour)
				c.Now()
				src.reboot("b", 8*time.Hour) // off for the night
				src.boot = time.Minute
				return c.Ledger()
			},
			want: real(time.Hour + time.Minute), waiting: true, kind: JumpReboot,
			witnesses: []Witness{
				fakeWitness{name: "a", t: real(9*time.Hour + time.Minute - time.Second)},
				fakeWitness{name: "b", t: real(9*time.Hour + time.Minute)},
				fakeWitness{name: "c", err: errors.New("timeout")},
			},
			then: real(9*time.Hour + time.Minute - time.Second),
		},
		{
			name: "date ahead and a reboot: the witnesses say the real time, not the wall clock's",
			run: func(src *fakeSource, c *Clock) Ledger {
				src.pass(time.Hour)
				c.Now()
				src.reboot("b", 10*time.Minute)
				src.wall = src.wall.Add(60 * day)
				src.boot = time.Minute
				return c.Ledger()
			},
			want: real(time.Hour + time.Minute), waiting: true, kind: JumpReboot,
			witnesses: []Witness{
				fakeWitness{name: "a", t: real(time.Hour + 11*time.Minute)},
				fakeWitness{name: "b", t: real(time.Hour + 11*time.Minute + 2*time.Second)},
			},
			then: real(time.Hour + 11*time.Minute),
		},
		{
			name: "witnesses that disagree: nothing is taken",
			run: func(src *fakeSource, c *Clock) Ledger {
				src.pass(time.Hour)
				c.Now()
				src.reboot("b", 60*day)
				src.boot = time.Minute
				return c.Ledger()
			},
			want: real(time.Hour + time.Minute), waiting: true, kind: JumpReboot,
			witnesses: []Witness{
				fakeWitness{name: "a", t: real(60 * day)},
				fakeWitness{name: "b", t: real(30 * day)},
				fakeWitness{name: "c", t: real(10 * day)},
			},
			then: real(time.Hour + time.Minute),
		},
		{
			name: "the same boot with its boot clock back (a time namespace): no reboot",
			run: func(src *fakeSource, c *Clock) Ledger {
				src.pass(time.Hour)
				c.Now()
				saved := c.Ledger()
				src.boot -= 15 * time.Minute
				src.wall = src.wall.Add(60 * day)
				return saved
			},
			want: real(time.Hour), waiting: false, kind: JumpBack,
		},
		{
			name: "power cut within a minute of a clock change",
			run: func(src *fakeSource, c *Clock) Ledger {
				src.pass(time.Hour)
				c.Now()
				src.wall = src.wall.Add(60 * day) // set ahead...
				src.pass(30 * time.Second)
				saved := c.Ledger() // ...and the power cut before the next save
				src.reboot("b", time.Minute)
				src.boot = 20 * time.Second
				return saved
			},
			want: real(time.Hour + 20*time.Second), waiting: true, kind: JumpReboot,
		},
		{
			name: "the boot id changed but the boot clock did not start again (a registry edit)",
			run: func(src *fakeSource, c *Clock) Ledger {
				src.pass(time.Hour)
				c.Now()
				saved := c.Ledger()
				src.bootID = "edited"
				src.pass(10 * time.Minute)
				src.wall = src.wall.Add(60 * day)
				return saved
			},
			want: real(time.Hour + 10*time.Minute), waiting: false, kind: JumpBootID,
		},
		{
			name: "a restart within the boot with the date moved: the boot clock saw it all",
			run: func(src *fakeSource, c *Clock) Ledger {
				src.pass(time.Hour)
				c.Now()
				saved := c.Ledger()
				src.pass(20 * time.Minute)
				src.wall = src.wall.Add(60 * day)
				return saved
			},
			want: real(time.Hour + 20*time.Minute), waiting: false, kind: JumpGap,
		},
		{
			name: "date set back, then a reboot: time goes on from the ledger",
			run: func(src *fakeSource, c *Clock) Ledger {
				src.pass(time.Hour)
				c.Now()
				src.reboot("b", time.Hour)
				src.wall = src.wall.Add(-30 * day)
				src.boot = time.Minute
				return c.Ledger()
			},
			want: real(time.Hour + time.Minute), waiting: false, kind: JumpReboot,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &fakeSource{bootID: "a", boot: time.Minute, wall: t0}
			c := New(src, Ledger{})
			if got := c.Now(); !got.Equal(t0) {
				t.Fatalf("first reading %v, want the wall clock %v", got, t0)
			}
			saved := tt.run(src, c)
			c2 := New(src, saved)
			if got := c2.Now(); !got.Equal(tt.want) {
				t.Errorf("after the restart: %v, want %v", got, tt.want)
			}
			if waiting, _ := c2.Waiting(); waiting != tt.waiting {
				t.Errorf("waiting for witnesses: %v, want %v", waiting, tt.waiting)
			}
			if js := c2.Jumps(); len(js) != 1 || js[0].Kind != tt.kind {
				t.Errorf("jumps %+v, want one %s", js, tt.kind)
			}
			if tt.witnesses == nil {
				return
			}
			if w, err := Witnessed(context.Background(), tt.witnesses, 2); err == nil {
				c2.Confirm(w)
			}
			if got := c2.Now(); !got.Equal(tt.then) {
				t.Errorf("after the witnesses: %v, want %v", got, tt.then)
			}
			// It runs on with the boot clock, and never back.
			src.pass(time.Minute)
			if got := c2.Now(); !got.Equal(tt.then.Add(time.Minute)) {
				t.Errorf("a minute later: %v, want %v", got, tt.then.Add(time.Minute))
			}
		})
	}
}

func TestNoBootClock(t *testing.T) {
	src := &fakeSource{bootID: "a", boot: time.Minute, wall: t0}
	c := New(src, Ledger{})
	c.Now()
	src.pass(time.Hour)
	src.err = errors.New("no clock")
	src.wall = src.wall.AddDate(0, 0, 1)
	if got, want := c.Now(), t0; !got.Equal(want) {
		t.Errorf("without a boot clock and the wall clock a day ahead: %v, want the last trusted time %v", got, want)
	}
	if waiting, lead := c.Waiting(); !waiting || lead < 24*time.Hour {
		t.Errorf("waiting %v for %v, want waiting for the wall clock's day", waiting, lead)
	}
	src.err = nil
	src.boot += time.Minute
	got := c.Now()
	if got.Before(t0) || got.After(t0.Add(2*time.Hour)) {
		t.Errorf("with the boot clock back: %v, want no jump", got)
	}
}

func TestStoppedMarksTheLedger(t *testing.T) {
	src := &fakeSource{bootID: "a", boot: time.Minute, wall: t0}
	c := New(src, Ledger{})
	c.Now()
	src.pass(10 * time.Second)
	l := c.Stopped()
	if !l.Stopped || !l.Trusted.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("Stopped = %+v", l)
	}
	src.pass(5 * time.Minute)
	c2 := New(src, l)
	c2.Now()
	js := c2.Jumps()
	if len(js) != 1 || js[0].Kind != JumpGap || !js[0].Stopped || js[0].Gap != 5*time.Minute || !js[0].From.Equal(l.Trusted) {
		t.Errorf("jumps %+v, want a 5-minute gap after a clean stop", js)
	}
	if c2.Ledger().Stopped {
		t.Error("the next entry is still marked stopped")
	}
	// A running clock reports no gap.
	src.pass(time.Minute)
	c2.Now()
	if js := c2.Jumps(); len(js) != 0 {
		t.Errorf("jumps %+v while running", js)
	}
}

func TestTimeNamespaceReported(t *testing.T) {
	src := &nsSource{fakeSource: fakeSource{bootID: "a", boot: time.Hour, wall: t0}, off: -15 * time.Minute}
	c := New(src, Ledger{})
	c.Now()
	c.Now()
	if js := c.Jumps(); len(js) != 1 || js[0].Kind != JumpNamespace || js[0].Offset != -15*time.Minute {
		t.Errorf("jumps %+v, want the namespace once", js)
	}
}

type nsSource struct {
	fakeSource
	off time.Duration
}

func (n *nsSource) Read() (Reading, error) {
	r, err := n.fakeSource.Read()
	r.NSOffset = n.off
	return r, err
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
