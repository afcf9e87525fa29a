package pact

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/nocontact/config"
)

var (
	allThree  = []string{"instagram", "tinder", "whatsapp"}
	nightAll  = Window{Days: config.AllDays, From: 22 * 60, To: 7 * 60, Platforms: allThree, Domains: []string{}, Zone: "UTC"}
	weekendWA = Window{Days: 1<<time.Friday | 1<<time.Saturday, From: 23 * 60, To: 6 * 60, Platforms: []string{"whatsapp"}, Domains: []string{}, Zone: "UTC"}
)

// threePhases is 30 days of everything, then 60 days with WhatsApp open
// and quiet hours every night, then 30 days of quiet hours on weekends
// only.
func threePhases() Request {
	return Request{
		Length:    30 * day,
		Platforms: allThree,
		Domains:   []string{},
		Allow:     []string{},
		Cooldown:  day,
		Quiet:     []Window{},
		Phases: []Phase{
			{Length: 60 * day, Platforms: []string{"instagram", "tinder"}, Domains: []string{}, KeepOpen: []string{"whatsapp"}, Quiet: []Window{nightAll}},
			{Length: 30 * day, Platforms: []string{}, Domains: []string{}, Quiet: []Window{weekendWA}},
		},
		names: func(id string) string {
			return map[string]string{"whatsapp": "WhatsApp", "instagram": "Instagram", "tinder": "Tinder"}[id]
		},
	}
}

// TestThreePhases walks a three-phase plan with an injected clock from
// start to end: each phase begins on schedule without a cooldown, is said
// once, and bringing the last (looser) phase forward waits out the
// cooldown.
func TestThreePhases(t *testing.T) {
	e := Adopt(threePhases(), t0, time.UTC) // Sun 22 Nov 2026 21:00
	p2, p3 := t0.Add(30*day), t0.Add(90*day)

	st := e.Status(t0)
	if st.Phase != 1 || st.Phases != 3 || !st.PhaseEnds.Equal(p2) || st.NextPhase == nil || st.NextPhase.Number != 2 ||
		!slices.Equal(st.NextPhase.KeepOpen, []string{"whatsapp"}) || !st.Active.End.Equal(t0.Add(120*day)) {
		t.Fatalf("at the start: %+v", st)
	}
	if want := "WhatsApp open, the rest still blocked and quiet hours every day 22:00-07:00 (Instagram, Tinder, WhatsApp), until Sat 20 Feb 2027 at 21:00"; st.NextPhase.Words != want {
		t.Errorf("next phase in words:\n\t%q\nwant\n\t%q", st.NextPhase.Words, want)
	}
	if !blocks(e, p2.Add(-time.Second), "whatsapp") {
		t.Error("WhatsApp open before phase 2")
	}
	if got := e.NextTransition(p2.Add(-time.Hour)); !got.Equal(p2) {
		t.Errorf("next transition before phase 2: %v, want %v", got, p2)
	}

	// Phase 2 begins on schedule: no cooldown, nothing queued.
	res := e.Advance(p2)
	if res.Phase == nil || res.Phase.Number != 2 || res.Phase.Of != 3 || len(res.Queued) != 0 {
		t.Fatalf("at phase 2: %+v", res)
	}
	if want := "Phase 2 of 3 of your pact has begun: WhatsApp open, the rest still blocked and quiet hours every day 22:00-07:00 (Instagram, Tinder, WhatsApp), until Sat 20 Feb 2027 at 21:00."; res.Phase.Words != want {
		t.Errorf("phase 2 news:\n\t%q\nwant\n\t%q", res.Phase.Words, want)
	}
	if again := e.Advance(p2.Add(time.Minute)); again.Phase != nil {
		t.Error("phase 2 said twice")
	}
	if blocks(e, p2, "whatsapp") || !blocks(e, p2, "instagram") {
		t.Error("phase 2 at 21:00: want WhatsApp open and Instagram blocked")
	}
	if !blocks(e, p2.Add(2*time.Hour), "whatsapp") {
		t.Error("phase 2 at 23:00: the quiet hours leave WhatsApp open")
	}
	if st := e.Status(p2); st.Phase != 2 || !slices.Equal(st.KeepOpen, []string{"whatsapp"}) || st.NextPhase == nil || !st.NextPhase.From.Equal(p3) {
		t.Errorf("status in phase 2: %+v", st)
	}

	// Ten days in, the file brings phase 3 forward (phase 2 of 5 days
	// only, so phase 3 should have begun already): a loosening, queued
	// behind the cooldown, while phase 2 goes on.
	asked := p2.Add(10 * day)
	r := threePhases()
	r.Phases[0].Length = 5 * day
	res = e.Reload(r, asked)
	if len(res.Queued) != 1 || res.Queued[0].Op != OpPlan || !res.Queued[0].Effective.Equal(asked.Add(day)) {
		t.Fatalf("bringing phase 3 forward: %+v", res)
	}
	// What the new plan adds (phase 3's weekend quiet hours, from now)
	// applies at once, and the phase in force keeps its number.
	if len(res.Applied) != 1 || res.Applied[0].What != "change the plan: add the quiet hours fri, sat 23:00-06:00 (WhatsApp), now" || res.Phase != nil {
		t.Errorf("the tighter part: %+v", res)
	}
	if st := e.Status(asked); st.Phase != 2 {
		t.Errorf("while the loosening waits: phase %d, want 2", st.Phase)
	}
	if want := "change the plan: stop blocking Instagram and Tinder and drop the quiet hours every day 22:00-07:00 (Instagram, Tinder, WhatsApp), now"; res.Queued[0].What != want {
		t.Errorf("what:\n\t%q\nwant\n\t%q", res.Queued[0].What, want)
	}
	if !blocks(e, asked.Add(day-time.Second), "instagram") {
		t.Error("phase 3 came forward before the cooldown passed")
	}
	res = e.Advance(asked.Add(day))
	if blocks(e, asked.Add(day), "instagram") || res.Phase == nil || res.Phase.Number != 3 {
		t.Fatalf("after the cooldown: phase 3 not in force (%+v)", res)
	}
	// Phase 3: weekend nights only. 4 Jan 2027 is a Monday; Fri 8 Jan at
	// 23:30 is in the window.
	if fri := time.Date(2027, 1, 8, 23, 30, 0, 0, time.UTC); !blocks(e, fri, "whatsapp") || blocks(e, fri, "instagram") {
		t.Error("phase 3 quiet hours on a Friday night")
	}
	end := t0.Add(65 * day) // 30 + 5 + 30 days
	if st := e.Status(asked.Add(day)); st.Phase != 3 || st.NextPhase != nil || !st.PhaseEnds.Equal(end) || !st.Active.End.Equal(end) {
		t.Errorf("status in phase 3: %+v", st)
	}
	res = e.Advance(end)
	if !res.Completed.Equal(end) || e.Status(end).PactOn || blocks(e, time.Date(2027, 1, 29, 23, 30, 0, 0, time.UTC), "whatsapp") {
		t.Errorf("at the end: %+v", res)
	}
	// The same file again does not start it over.
	if res := e.Reload(r, end.Add(time.Hour)); res.Changed() {
		t.Errorf("the same file after the end: %+v", res)
	}
}

func TestPlanStrictRefusesALooserPhase(t *testing.T) {
	r := threePhases()
	r.Strict = true
	e := Adopt(r, t0, time.UTC)
	r.Phases[0].Length = 10 * day
	res := e.Reload(r, t0.Add(day))
	if len(res.Refused) != 1 || len(res.Queued) != 0 {
		t.Errorf("a strict plan brought forward: %+v", res)
	}
	if _, _, err := e.Unlock(t0.Add(day)); !errors.Is(err, ErrStrict) {
		t.Errorf("unlock of a strict plan: %v", err)
	}
}

// TestPlanMixedChange: one edit that blocks more in one phase and brings
// another forward applies the first at once and waits for the second.
func TestPlanMixedChange(t *testing.T) {
	e := Adopt(threePhases(), t0, time.UTC)
	r := threePhases()
	r.Phases[0].Platforms = []string{"instagram", "tinder", "youtube"} // tighter phase 2
	r.Phases[0].Length = 30 * day                                      // phase 3 a month earlier
	at := t0.Add(day)
	res := e.Reload(r, at)
	if len(res.Applied) != 1 || len(res.Queued) != 1 {
		t.Fatalf("mixed: applied %+v, queued %+v", res.Applied, res.Queued)
	}
	if p2 := t0.Add(30 * day); !blocks(e, p2, "youtube") {
		t.Error("the tightening of phase 2 did not apply at once")
	}
	// Until the loosening matures, the old phase 3 date holds.
	if !blocks(e, t0.Add(61*day), "instagram") {
		t.Error("phase 3 came forward at once")
	}
	e.Advance(at.Add(day))
	if blocks(e, t0.Add(61*day), "instagram") || !blocks(e, t0.Add(59*day), "youtube") {
		t.Error("after the cooldown, the new plan is not in force")
	}
	if st := e.Status(at.Add(day)); !st.Active.End.Equal(t0.Add(90*day)) || len(st.Pending) != 0 {
		t.Errorf("after the cooldown: end %v, pending %+v", st.Active.End, st.Pending)
	}
}

func TestPlanLongerIsATightening(t *testing.T) {
	e := Adopt(threePhases(), t0, time.UTC)
	r := threePhases()
	r.Phases[1].Length = 60 * day
	res := e.Reload(r, t0.Add(day))
	if len(res.Applied) != 1 || len(res.Queued) != 0 || !e.Status(t0).Active.End.Equal(t0.Add(150*day)) {
		t.Errorf("a longer last phase: %+v", res)
	}
	// Removing the last phase, or all of them, is a loosening.
	r.Phases = r.Phases[:1]
	if res := e.Reload(r, t0.Add(2*day)); len(res.Queued) != 1 || !strings.HasPrefix(res.Queued[0].What, "end the pact earlier") {
		t.Errorf("removing the last phase: %+v", res)
	}
}

// TestMonthsFromTheEndOfAMonth: "3mo" from 31 January ends on the last
// day of April, in the machine's zone.
func TestMonthsFromTheEndOfAMonth(t *testing.T) {
	ny := newYork(t)
	start := time.Date(2027, 1, 31, 20, 47, 0, 0, ny)
	r := base()
	r.Length, r.Months = 0, 3
	e := Adopt(r, start, ny)
	if got, want := e.Status(start).Active.End, time.Date(2027, 4, 30, 20, 47, 0, 0, ny); !got.Equal(want) {
		t.Errorf("3 months from %v end on %v, want %v", start, got, want)
	}
}

func TestConfirmAfterCooldown(t *testing.T) {
	r := base()
	r.Confirm = true
	e := Adopt(r, t0, time.UTC)
	t1 := t0.Add(time.Hour)
	c, _, err := e.Unlock(t1)
	if err != nil || !c.Confirm {
		t.Fatalf("unlock: %+v %v", c, err)
	}
	matured := c.Effective
	e.Advance(matured.Add(time.Hour))
	if !blocks(e, matured.Add(time.Hour), "instagram") {
		t.Fatal("a matured unlock took effect without being confirmed")
	}
	st := e.Status(matured.Add(time.Hour))
	if len(st.Pending) != 1 || !st.Pending[0].Confirm {
		t.Fatalf("the matured unlock does not wait for confirmation: %+v", st.Pending)
	}
	if got := e.NextTransition(matured.Add(time.Hour)); !got.Equal(matured.Add(ConfirmWindow)) {
		t.Errorf("next transition %v, want the lapse at %v", got, matured.Add(ConfirmWindow))
	}
	// Confirmed: the pact ends now.
	at := matured.Add(2 * time.Hour)
	done, res, err := e.Unlock(at)
	if err != nil || !done.Effective.Equal(at) || !res.Completed.Equal(at) || blocks(e, at, "instagram") {
		t.Fatalf("confirm: %+v %+v %v", done, res, err)
	}
	if e.Record().Counts[EventConfirmed] != 1 {
		t.Error("the confirmation is not in the record")
	}

	// Not confirmed: it lapses a day after maturing, and the pact goes on.
	e = Adopt(r, t0, time.UTC)
	c, _, _ = e.Unlock(t1)
	res = e.Advance(c.Effective.Add(ConfirmWindow))
	if len(res.Lapsed) != 1 || !blocks(e, c.Effective.Add(ConfirmWindow), "instagram") || len(e.Status(t1).Pending) != 0 {
		t.Errorf("lapse: %+v", res)
	}
	if e.Record().Counts[EventLapsed] != 1 {
		t.Error("the lapse is not in the record")
	}

	// An earlier end in the file asks too; once lapsed, the same file
	// does not queue it again.
	e = Adopt(r, t0, time.UTC)
	short := r
	short.Length = 5 * day
	res = e.Reload(short, t1)
	if len(res.Queued) != 1 || !res.Queued[0].Confirm {
		t.Fatalf("an earlier end: %+v", res)
	}
	lapse := res.Queued[0].Effective.Add(ConfirmWindow)
	e.Advance(lapse)
	if res := e.Reload(short, lapse.Add(time.Hour)); len(res.Queued) != 0 || !e.Status(lapse).PactOn {
		t.Errorf("after the lapse the same file: %+v", res)
	}

	// Turning confirmation off is a loosening.
	e = Adopt(r, t0, time.UTC)
	off := r
	off.Confirm = false
	if res := e.Reload(off, t1); len(res.Queued) != 1 || res.Queued[0].Op != OpConfirm {
		t.Errorf("confirm off: %+v", res)
	}
}

func TestTrial(t *testing.T) {
	r := base()
	r.Trial = true
	e := Adopt(r, t0, time.UTC)
	if e.Binding(t0) {
		t.Error("a trial binds")
	}
	// Every change applies at once.
	loose := r
	loose.Platforms = []string{"instagram"}
	if res := e.Reload(loose, t0.Add(time.Hour)); len(res.Queued) != 0 || blocks(e, t0.Add(time.Hour), "whatsapp") {
		t.Errorf("a loosening of a trial waited: %+v", res)
	}
	// The file becomes a real pact: it begins now, whole, with a record
	// of its own.
	real := base()
	real.Platforms = []string{"instagram"}
	began := t0.Add(3 * day)
	res := e.Reload(real, began)
	st := e.Status(began)
	if !res.Began || st.Trial || !st.Active.Start.Equal(began) || !st.Active.End.Equal(began.Add(30*day)) || !e.Binding(began) {
		t.Fatalf("trial to pact: %+v, %+v", res, st.Active)
	}
	// Making it a trial again is a loosening, which strict refuses.
	if res := e.Reload(r, began.Add(time.Hour)); len(res.Queued) == 0 || !slices.ContainsFunc(res.Queued, func(c Change) bool { return c.Op == OpTrial }) {
		t.Errorf("pact to trial: %+v", res)
	}
	strict := real
	strict.Strict = true
	e = Adopt(strict, t0, time.UTC)
	trial := strict
	trial.Trial = true
	if res := e.Reload(trial, t0.Add(time.Hour)); len(res.Refused) != 1 || e.Status(t0).Trial {
		t.Errorf("strict pact to trial: %+v", res)
	}
	// Unlocking a trial ends it at once.
	e = Adopt(r, t0, time.UTC)
	if _, _, err := e.Unlock(t0.Add(time.Hour)); err != nil || e.Status(t0.Add(time.Hour)).PactOn {
		t.Errorf("unlock of a trial: %v", err)
	}
}

// TestNewPactCountsFromItsOwnStart: once a pact has ended, a different
// request is a new pact counted from now, not from the first pact's start.
func TestNewPactCountsFromItsOwnStart(t *testing.T) {
	r := base()
	r.Length = 3 * day
	e := Adopt(r, t0, time.UTC)
	e.Advance(t0.Add(3 * day))
	later := t0.Add(10 * day)
	r.Length = 5 * day
	e.Reload(r, later)
	st := e.Status(later)
	if !st.PactOn || !st.Active.Start.Equal(later) || !st.Active.End.Equal(later.Add(5*day)) {
		t.Errorf("a new pact: start %v end %v, want from %v for 5 days", st.Active.Start, st.Active.End, later)
	}
	if e.Record().Since != later {
		t.Errorf("the new pact's record starts %v", e.Record().Since)
	}
}

func TestKeepOpenAndReasonFollowTheFile(t *testing.T) {
	r := base()
	r.Platforms = []string{"instagram"}
	r.KeepOpen = []string{"whatsapp"}
	r.Reason = "I deserve peace."
	e := Adopt(r, t0, time.UTC)
	st := e.Status(t0)
	if !slices.Equal(st.KeepOpen, []string{"whatsapp"}) || st.Reason != "I deserve peace." || st.Phase != 1 || st.Phases != 1 {
		t.Errorf("status: keep open %q, reason %q, phase %d of %d", st.KeepOpen, st.Reason, st.Phase, st.Phases)
	}
	// While the loosening that opens whatsapp waits, it is not said to be
	// kept open: it is still blocked.
	e = Adopt(base(), t0, time.UTC)
	e.Reload(r, t0.Add(time.Hour))
	if st := e.Status(t0.Add(time.Hour)); len(st.KeepOpen) != 0 || len(st.Pending) != 1 {
		t.Errorf("while waiting: keep open %q, pending %+v", st.KeepOpen, st.Pending)
	}
}
