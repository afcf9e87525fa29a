package pact

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/daemon/clock"
)

// TestZoneChangeIsALoosening is the attack of issue 12: quiet hours
// 20:00-23:00 in UTC, then the machine's zone set to New York and the
// daemon restarted. The old windows stay in force for the cooldown, the
// same hours in New York apply at once, and after the cooldown only the
// new ones hold.
func TestZoneChangeIsALoosening(t *testing.T) {
	utc := clock.Zone{Name: "UTC"}
	ny := clock.Zone{Name: "America/New_York"}
	evening := Window{Days: config.AllDays, From: 20 * 60, To: 23 * 60, Platforms: []string{"whatsapp"}, Domains: []string{}}
	r := Request{Platforms: []string{}, Domains: []string{}, Allow: []string{}, Cooldown: day, Quiet: []Window{evening}}
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	e := AdoptIn(r, t0, utc)
	at := func(d, h int) time.Time { return time.Date(2026, 12, d, h, 30, 0, 0, time.UTC) }
	if !blocks(e, at(1, 21), "whatsapp") || blocks(e, at(1, 2), "whatsapp") {
		t.Fatal("the UTC window is not 20:00-23:00 UTC")
	}

	// A restart in New York: the state goes through JSON.
	data, err := json.Marshal(e.State())
	if err != nil {
		t.Fatal(err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	e = New(st, ny.Location())
	e.UseZone(ny)
	t1 := at(1, 13)
	res := e.Reload(r, t1)
	if len(res.Queued) != 1 || res.Queued[0].Op != OpRemoveQuiet || res.Queued[0].Window.Zone != "UTC" {
		t.Fatalf("queued %+v, want the UTC window's removal", res.Queued)
	}
	if want := "remove quiet hours every day 20:00-23:00 (whatsapp), in the time zone UTC"; res.Queued[0].What != want {
		t.Errorf("the change says %q, want %q", res.Queued[0].What, want)
	}
	if len(res.Applied) != 1 || res.Applied[0].Op != OpAddQuiet || res.Applied[0].Window.Zone != "America/New_York" {
		t.Fatalf("applied %+v, want the New York window at once", res.Applied)
	}
	// During the cooldown both hold: 21:30 UTC (16:30 in New York) and
	// 01:30 UTC (20:30 in New York) are blocked.
	for _, x := range []time.Time{at(1, 21), at(2, 1)} {
		if !blocks(e, x, "whatsapp") {
			t.Errorf("%v: not blocked during the cooldown of the zone change", x)
		}
	}
	// After it, only the New York hours.
	e.Advance(t1.Add(day))
	if blocks(e, at(2, 21), "whatsapp") {
		t.Error("21:30 UTC still blocked after the cooldown: the UTC window should be gone")
	}
	if !blocks(e, at(3, 1), "whatsapp") {
		t.Error("20:30 in New York not blocked after the cooldown")
	}
	if _, ok := e.State().Zones["UTC"]; ok {
		t.Error("the UTC zone is still kept though nothing uses it")
	}
}

// TestZoneKeptAcrossRestart checks that a window keeps its zone's rules
// when the machine's zone is another one and the name alone would not
// do: a zone kept as TZif data.
func TestZoneKeptAcrossRestart(t *testing.T) {
	fixed := clock.Zone{Name: "", Offset: 5*3600 + 1800} // UTC+05:30, by offset only
	w := Window{Days: config.AllDays, From: 20 * 60, To: 23 * 60, Platforms: []string{"whatsapp"}, Domains: []string{}}
	r := Request{Platforms: []string{}, Domains: []string{}, Allow: []string{}, Cooldown: day, Quiet: []Window{w}}
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	e := AdoptIn(r, t0, fixed)
	data, _ := json.Marshal(e.State())
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	e2 := New(st, time.UTC)
	e2.UseZone(clock.Zone{Name: "UTC"})
	// 20:30 at UTC+05:30 is 15:00 UTC.
	if !blocks(e2, time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC), "whatsapp") {
		t.Error("the window kept in UTC+05:30 does not block at 20:30 there after a restart in UTC")
	}
	if got := slices.Collect(func(yield func(string) bool) {
		for id := range e2.State().Zones {
			if !yield(id) {
				return
			}
		}
	}); len(got) != 2 {
		t.Errorf("zones kept %v, want the old and the machine's", got)
	}
}

func TestRecord(t *testing.T) {
	e := Adopt(base(), t0, time.UTC)
	t1 := t0.Add(time.Hour)
	r := base()
	r.Platforms = []string{"instagram"}
	res := e.Reload(r, t1)
	if _, err := e.Cancel(res.Queued[0].ID, t1.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Unlock(t1.Add(2 * time.Minute)); err != nil {
		t.Fatal(err)
	}
	r.Strict = true
	e.Reload(base(), t1.Add(3*time.Minute)) // back to the file without the loosening
	s := base()
	s.Strict = true
	e.Reload(s, t1.Add(4*time.Minute)) // strict on: the waiting unlock is refused
	rec := e.Record()
	want := map[EventKind]int{EventQueued: 2, EventCancelled: 1, EventRefused: 1}
	for k, n := range want {
		if rec.Counts[k] != n {
			t.Errorf("%s: counted %d, want %d (record %+v)", k, rec.Counts[k], n, rec)
		}
	}
	if !rec.Since.Equal(t0) || len(rec.Events) != 4 || rec.Events[0].What != "stop blocking whatsapp" || rec.Events[0].ID == "" {
		t.Errorf("record %+v", rec)
	}
	e.Note(EventDNSRewritten, "the DNS settings were changed by something else", t1.Add(5*time.Minute))
	if e.Record().Counts[EventDNSRewritten] != 1 {
		t.Error("Note did not count")
	}
	// Many events: the latest are kept, the counts count them all.
	for i := range maxEvents + 10 {
		e.Note(EventHostsEdited, "x", t1.Add(time.Duration(i)*time.Second))
	}
	if rec := e.Record(); len(rec.Events) != maxEvents || rec.Counts[EventHostsEdited] != maxEvents+10 {
		t.Errorf("after %d events: %d kept, %d counted", maxEvents+10, len(rec.Events), rec.Counts[EventHostsEdited])
	}

	// A new pact after this one ends starts a new record.
	end := t0.Add(30 * day)
	e.Advance(end)
	n := base()
	n.Start = end.Add(day)
	e.Reload(n, end.Add(time.Hour))
	if rec := e.Record(); !rec.Since.Equal(n.Start) || rec.Counts[EventCancelled] != 0 || rec.Counts[EventHostsEdited] != 0 {
		t.Errorf("the new pact's record: %+v, want only its own events, since %v", rec, n.Start)
	}
}
