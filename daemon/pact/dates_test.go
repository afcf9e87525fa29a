package pact

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	_ "time/tzdata" // zone tests run on any machine, tzdata package or not

	"github.com/nocontact/nocontact/daemon/clock"
)

// TestAnyYear walks a whole pact, on the trusted clock, from starts years
// apart: a test that passes today must pass in 2031 and in 2040 (and past
// 2038, where a 32-bit time_t would wrap). Nothing in it reads the real
// clock: the machine's clocks are a fake that the test moves.
func TestAnyYear(t *testing.T) {
	ny := newYork(t)
	for _, start := range []time.Time{
		time.Date(2026, 11, 22, 21, 0, 0, 0, time.UTC),
		time.Date(2031, 3, 9, 1, 30, 0, 0, ny), // the night clocks go forward in New York
		time.Date(2038, 1, 19, 3, 14, 7, 0, time.UTC),
		time.Date(2040, 2, 29, 23, 0, 0, 0, ny), // a leap day
	} {
		t.Run(start.Format("2006-01-02"), func(t *testing.T) {
			m := &fakeMachine{clock.Reading{BootID: "a", Boot: time.Hour, Wall: start}}
			c := clock.New(m, clock.Ledger{})
			pass := func(d time.Duration) time.Time {
				m.r.Boot += d
				m.r.Wall = m.r.Wall.Add(d)
				return c.Now()
			}
			r := base()
			r.Length = 30 * day
			r.Quiet = []Window{lateNight}
			e := Adopt(r, c.Now(), ny)
			if got := c.Now(); !got.Equal(start) {
				t.Fatalf("the trusted clock starts at %v, want the machine's %v", got, start)
			}

			// A loosening waits out the cooldown, through a save and a
			// restart of the daemon.
			r.Platforms = []string{"instagram"}
			now := pass(time.Hour)
			if q := e.Reload(r, now).Queued; len(q) != 1 || !q[0].Effective.Equal(start.Add(time.Hour+day)) {
				t.Fatalf("queued %+v, want whatsapp out at %v", q, start.Add(time.Hour+day))
			}
			body, err := json.Marshal(struct {
				S State
				L clock.Ledger
			}{e.State(), c.Ledger()})
			if err != nil {
				t.Fatal(err)
			}
			var saved struct {
				S State
				L clock.Ledger
			}
			if err := json.Unmarshal(body, &saved); err != nil {
				t.Fatal(err)
			}
			c = clock.New(m, saved.L)
			e = New(saved.S, ny)
			e.Reload(r, c.Now())

			inPact := func(now time.Time) bool {
				return slices.Contains(e.Status(now).Active.Platforms, "whatsapp")
			}
			now = pass(day - time.Second)
			e.Advance(now)
			if !inPact(now) || !blocks(e, now, "whatsapp") {
				t.Errorf("whatsapp left the pact at %v, a second before its cooldown is over", now)
			}
			now = pass(time.Second)
			e.Advance(now)
			if inPact(now) {
				t.Errorf("whatsapp still in the pact at %v, after its cooldown", now)
			}

			// The wall clock moved a year ahead changes nothing.
			m.r.Wall = m.r.Wall.AddDate(1, 0, 0)
			now = pass(time.Minute)
			e.Advance(now)
			if !e.Status(now).PactOn || !blocks(e, now, "instagram") {
				t.Errorf("the pact ended when the wall clock was moved a year ahead (trusted time %v)", now)
			}

			// The pact ends on time, by itself.
			end := start.Add(30 * day)
			now = pass(end.Sub(now) - time.Second)
			e.Advance(now)
			if !blocks(e, now, "instagram") {
				t.Errorf("instagram unblocked at %v, a second before the pact's end %v", now, end)
			}
			now = pass(time.Second)
			res := e.Advance(now)
			if blocks(e, now, "instagram") || !res.Completed.Equal(end) {
				t.Errorf("at the pact's end %v: instagram blocked %v, completed %v", end, blocks(e, now, "instagram"), res.Completed)
			}
		})
	}
}
