package attempts

import (
	"fmt"
	"maps"
	"testing"
	"time"
	_ "time/tzdata" // zone tests run on any machine, tzdata package or not
)

type fakeClock struct{ t time.Time }

func (f *fakeClock) now() time.Time      { return f.t }
func (f *fakeClock) add(d time.Duration) { f.t = f.t.Add(d) }
func (f *fakeClock) set(s string, loc *time.Location) {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, loc)
	if err != nil {
		panic(err)
	}
	f.t = t
}

func mustLoc(t *testing.T, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("time zone %s: %v (the test binary embeds time/tzdata, so every zone should load)", name, err)
	}
	return loc
}

func TestBurstsCountOnce(t *testing.T) {
	clk := &fakeClock{}
	clk.set("2026-11-22 02:00:00", time.UTC)
	c := New(clk.now, time.UTC)
	// One page load: many lookups within a second.
	for range 20 {
		c.Record("instagram")
	}
	// The app retries every 5 s for a minute: still the same attempt.
	for range 12 {
		clk.add(5 * time.Second)
		c.Record("instagram")
	}
	// Another platform in the same second counts on its own.
	c.Record("tiktok")
	// Quiet for a minute, then again: a new attempt.
	clk.add(time.Minute)
	c.Record("instagram")
	want := map[string]Count{"instagram": {2, 2}, "tiktok": {1, 1}}
	if got := c.Summary(); !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestBurstsPerDevice: the phone reaching for a platform while this
// computer's lookups of it make a burst is an attempt of its own; each
// device's retries still count once.
func TestBurstsPerDevice(t *testing.T) {
	clk := &fakeClock{}
	clk.set("2026-11-22 02:00:00", time.UTC)
	c := New(clk.now, time.UTC)
	c.Record("instagram")
	c.RecordFrom("192.168.1.30", "instagram")
	clk.add(time.Second)
	c.RecordFrom("192.168.1.30", "instagram") // its own retry
	c.Record("instagram")
	c.RecordFrom("192.168.1.31", "instagram") // a second phone
	want := map[string]Count{"instagram": {3, 3}}
	if got := c.Summary(); !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestBurstMemoryIsBounded: a flood of lookups from ever new addresses
// does not grow the memory of bursts past its bound.
func TestBurstMemoryIsBounded(t *testing.T) {
	clk := &fakeClock{}
	clk.set("2026-11-22 02:00:00", time.UTC)
	c := New(clk.now, time.UTC)
	for i := range 3 * maxSeen {
		c.RecordFrom(fmt.Sprint("10.0.", i/256, ".", i%256), "instagram")
	}
	if n := len(c.lastSeen); n > maxSeen {
		t.Errorf("%d bursts remembered, want at most %d", n, maxSeen)
	}
}

func TestDayRolloverAndWeek(t *testing.T) {
	loc := mustLoc(t, "Europe/Paris")
	clk := &fakeClock{}
	clk.set("2026-11-20 23:59:50", loc)
	c := New(clk.now, loc)
	c.Record("instagram") // Friday
	clk.set("2026-11-21 00:00:30", loc)
	c.Record("instagram") // Saturday, 40 s later: a new attempt on a new day
	clk.set("2026-11-22 09:00:00", loc)
	c.Record("instagram")
	c.Record("whatsapp")
	if got, want := c.Summary(), map[string]Count{"instagram": {1, 3}, "whatsapp": {1, 1}}; !maps.Equal(got, want) {
		t.Errorf("Sunday: got %v, want %v", got, want)
	}
	// Eight days later the Friday has left the week.
	clk.set("2026-11-27 12:00:00", loc)
	if got, want := c.Summary(), map[string]Count{"instagram": {0, 2}, "whatsapp": {0, 1}}; !maps.Equal(got, want) {
		t.Errorf("next Friday: got %v, want %v", got, want)
	}
}

func TestDaysAreLocalNotUTC(t *testing.T) {
	loc := mustLoc(t, "America/New_York")
	clk := &fakeClock{}
	clk.set("2026-11-22 22:00:00", loc) // 03:00 UTC on the 23rd
	c := New(clk.now, loc)
	c.Record("x")
	clk.set("2026-11-22 23:30:00", loc)
	c.Record("x")
	if got := c.Summary()["x"]; got.Today != 2 {
		t.Errorf("two attempts on one New York evening: today=%d, want 2", got.Today)
	}
}

func TestPersistAcrossRestart(t *testing.T) {
	clk := &fakeClock{}
	clk.set("2026-11-22 10:00:00", time.UTC)
	c := New(clk.now, time.UTC)
	c.Record("instagram")
	clk.add(time.Hour)
	c.Record("instagram")
	if !c.Changed() {
		t.Error("Changed() = false after recording")
	}
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if c.Changed() {
		t.Error("Changed() = true right after Marshal")
	}
	restarted := New(clk.now, time.UTC)
	if err := restarted.Load(b); err != nil {
		t.Fatal(err)
	}
	restarted.Record("instagram")
	if got := restarted.Summary()["instagram"]; got.Today != 3 {
		t.Errorf("after restart: today=%d, want 3", got.Today)
	}
	for _, bad := range []string{"", "{", `{"version":2,"days":{}}`, `{"version":1,"days":{"yesterday":{"x":1}}}`, `{"version":1,"days":{"2026-11-22":{"x":-1}}}`} {
		if err := restarted.Load([]byte(bad)); err == nil {
			t.Errorf("Load(%q): no error", bad)
		}
	}
	if got := restarted.Summary()["instagram"]; got.Today != 3 {
		t.Errorf("a failed Load changed the counts: today=%d, want 3", got.Today)
	}
}

func TestKeepsNinetyDays(t *testing.T) {
	clk := &fakeClock{}
	clk.set("2026-01-01 12:00:00", time.UTC)
	c := New(clk.now, time.UTC)
	for range 200 {
		c.Record("instagram")
		clk.add(24 * time.Hour)
	}
	c.mu.Lock()
	n := len(c.days)
	c.mu.Unlock()
	if n > KeepDays {
		t.Errorf("%d days kept, want at most %d", n, KeepDays)
	}
}

func BenchmarkRecord(b *testing.B) {
	now := time.Date(2026, 11, 22, 21, 0, 0, 0, time.UTC)
	c := New(func() time.Time { return now }, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		c.Record("instagram")
	}
}
