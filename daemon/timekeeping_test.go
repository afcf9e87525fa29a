package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/nocontact/daemon/clock"
	"github.com/nocontact/nocontact/daemon/pact"
)

// witnessAt is a time witness that says a fixed time.
type witnessAt struct {
	url string
	t   time.Time
}

func (w witnessAt) Name() string                            { return w.url }
func (w witnessAt) Time(context.Context) (time.Time, error) { return w.t, nil }

// TestDateAheadThenRebootHoldsThePact is issue 13's first attack through
// the daemon: a 30-day pact, the date set 60 days ahead, a reboot. With
// no witness the pact holds and status says it waits; once two witnesses
// agree on the real time, that counts, and only that.
func TestDateAheadThenRebootHoldsThePact(t *testing.T) {
	f := newFixture(t)
	f.write(t, `block = ["instagram"]`+"\nlength = \"30d\"")
	start := f.clk.reading().Wall
	d := f.start(t)
	f.clk.advance(time.Hour)
	d.step()
	// The date, 60 days ahead: seen and saved at once.
	f.clk.set(func(r *clock.Reading) { r.Wall = r.Wall.Add(60 * 24 * time.Hour) })
	d.step()
	if n := counts(d)[pact.EventClockSet]; n != 1 {
		t.Errorf("record: %d clock-set events, want 1", n)
	}
	// A reboot, 5 minutes off.
	f.clk.set(func(r *clock.Reading) {
		*r = clock.Reading{BootID: "second", Boot: 40 * time.Second, Wall: r.Wall.Add(5 * time.Minute)}
	})
	o := f.options(t, nil)
	real := start.Add(time.Hour + 5*time.Minute + 40*time.Second)
	var asked []string
	o.Witness = func(url string) clock.Witness {
		asked = append(asked, url)
		return witnessAt{url, real}
	}
	d = f.startOpts(t, o)
	st := d.Status()
	if !st.PactOn || !blocked(d, "instagram") {
		t.Fatalf("after the date was moved 60 days and a reboot, the pact is over: %+v", st)
	}
	if n := counts(d)[pact.EventNotRunning]; n != 1 {
		t.Errorf("record: %d not-running events, want the reboot", n)
	}
	cs, err := d.Backend().Status(context.Background())
	if err != nil || !cs.Clock.Waiting || cs.Clock.UnconfirmedSeconds < 59*24*3600 {
		t.Errorf("status clock %+v, %v: want waiting for witnesses for about 60 days", cs.Clock, err)
	}
	// The witnesses answer with the real time, not the wall clock's.
	if !d.askWitnesses(context.Background()) {
		t.Fatal("two agreeing witnesses were not taken")
	}
	if len(asked) != 5 || asked[0] != "https://www.apple.com/" {
		t.Errorf("asked %v, want the pact's five witnesses", asked)
	}
	if got := d.clk.Now(); got.Before(real) || got.After(real.Add(time.Second)) {
		t.Errorf("trusted time after the witnesses: %v, want the real %v", got, real)
	}
	if !d.Status().PactOn {
		t.Error("the witnesses' real time ended the pact")
	}
	if cs, _ := d.Backend().Status(context.Background()); !cs.Clock.Waiting {
		t.Error("the wall clock is still 60 days ahead of the witnesses, yet status says nothing waits")
	}
	if n := counts(d)[pact.EventWitnessed]; n != 1 {
		t.Errorf("record: %d time-confirmed events, want 1", n)
	}
}

func TestSameBootClockBackIsTampering(t *testing.T) {
	f := newFixture(t)
	f.write(t, `block = ["instagram"]`+"\nlength = \"1h\"")
	d := f.start(t)
	f.clk.advance(50 * time.Minute)
	d.step()
	// The same boot, its boot clock 15 minutes back, the date a day on.
	f.clk.set(func(r *clock.Reading) { r.Boot -= 15 * time.Minute; r.Wall = r.Wall.Add(24 * time.Hour) })
	d = f.start(t)
	if !d.Status().PactOn {
		t.Error("the pact ended after the boot clock went back")
	}
	if n := counts(d)[pact.EventClockBack]; n != 1 {
		t.Errorf("record: %d clock-tampered events, want 1: %+v", n, d.eng.Record())
	}
}

func TestGapsAreRecorded(t *testing.T) {
	f := newFixture(t)
	f.write(t, `block = ["instagram"]`+"\nlength = \"30d\"")
	f.start(t)
	// Killed: nothing more saved; back 14 minutes later.
	f.clk.advance(14 * time.Minute)
	d := f.start(t)
	ev := d.eng.Record().Events
	if len(ev) != 1 || ev[0].Kind != pact.EventNotRunning || !strings.Contains(ev[0].What, "14 minutes") || !strings.Contains(ev[0].What, "killed") {
		t.Fatalf("record %+v, want a 14-minute gap from a kill", ev)
	}
	// Stopped cleanly: the record says so.
	d.mu.Lock()
	d.clk.Stopped()
	if err := d.save(); err != nil {
		t.Fatal(err)
	}
	d.mu.Unlock()
	f.clk.advance(3 * time.Minute)
	d = f.start(t)
	ev = d.eng.Record().Events
	if last := ev[len(ev)-1]; !strings.Contains(last.What, "3 minutes") || !strings.Contains(last.What, "stopped") {
		t.Errorf("last event %+v, want a 3-minute gap after a stop", last)
	}
}
