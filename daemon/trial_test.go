package daemon

import (
	"slices"
	"testing"
	"time"
)

// Trying is free: a trial blocks but binds no one, so leaving WhatsApp
// open applies at once; the file saying it is no trial begins the pact,
// counted from then; and making a real pact a trial again, the way
// around it at 2 a.m., waits out the cooldown like any loosening.
func TestTrialIsFree(t *testing.T) {
	f := newFixture(t)
	f.write(t, "trial = true\nblock = [\"all\"]\nlength = \"30d\"")
	d, clk := f.startSync(t)
	if st := d.Status(); !st.Trial || st.Binding || !slices.Contains(st.Blocked, "whatsapp") {
		t.Fatalf("a trial: %+v", st)
	}
	f.write(t, "trial = true\nblock = [\"all\"]\nkeep_open = [\"whatsapp\"]\nlength = \"30d\"")
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if st := d.Status(); slices.Contains(st.Blocked, "whatsapp") || len(st.Pending) != 0 {
		t.Errorf("leaving WhatsApp open in a trial waited: blocked %v, pending %+v", st.Blocked, st.Pending)
	}

	clk.advance(3 * 24 * time.Hour)
	begun := clk.r.Wall
	f.write(t, "block = [\"all\"]\nkeep_open = [\"whatsapp\"]\nlength = \"30d\"")
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	st := d.Status()
	if st.Trial || !st.Binding || !st.Active.Start.Equal(begun) || !st.Active.End.Equal(begun.Add(30*24*time.Hour)) {
		t.Fatalf("the pact begun: trial %v, binding %v, %v to %v; want from %v", st.Trial, st.Binding, st.Active.Start, st.Active.End, begun)
	}

	clk.advance(time.Hour)
	f.write(t, "trial = true\nblock = []\nlength = \"30d\"")
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	st = d.Status()
	if st.Trial || !slices.Contains(st.Blocked, "instagram") || len(st.Pending) == 0 {
		t.Errorf("a real pact made a trial at once: trial %v, blocked %d, pending %+v", st.Trial, len(st.Blocked), st.Pending)
	}
}
