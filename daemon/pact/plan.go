package pact

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nocontact/nocontact/config"
)

// A plan in phases: the first phase is the pact's own lists (Platforms,
// Domains, KeepOpen) from Start, each Phase takes over at its From, and
// the last ends at End. Moving from one phase to the next on schedule is
// part of the pact: nothing is asked, nothing waits.
//
// A change of the plan is judged moment by moment, from now on: the new
// plan is a tightening when at every moment it blocks at least what the
// active one blocks (platforms, domains, and the phase's quiet hours), and
// then applies at once. Otherwise it is a loosening and waits out the
// cooldown whole, while what it tightens applies at once: the active plan
// becomes the join of both (at every moment, what either blocks), so that
// bringing a looser phase forward, removing a phase or ending earlier
// waits, and blocking more never does.

// ConfirmWindow is how long a matured loosening that asks to be confirmed
// (ending the pact early, with Terms.Confirm) waits for the person to
// confirm it before it lapses.
const ConfirmWindow = 24 * time.Hour

// phased reports whether a or b is a plan in phases, whose blocking is
// compared as a whole (see above) rather than list by list.
func phased(a, b Terms) bool { return len(a.Phases) > 0 || len(b.Phases) > 0 }

// phaseAt returns the index of the phase in force at t (0: the first, the
// pact's own lists; i: Phases[i-1]), given that the pact's period runs.
func (a Terms) phaseAt(t time.Time) int {
	n := 0
	for i, p := range a.Phases {
		if !t.Before(p.From) {
			n = i + 1
		}
	}
	return n
}

// phaseLists returns what phase n (see phaseAt) blocks, keeps open and its
// quiet hours.
func (a Terms) phaseLists(n int) (platforms, domains, keepOpen []string, quiet []Window) {
	if n == 0 {
		return a.Platforms, a.Domains, a.KeepOpen, nil
	}
	p := a.Phases[n-1]
	return p.Platforms, p.Domains, p.KeepOpen, p.Quiet
}

// phaseEnd returns when phase n ends: the next phase's From, or End.
func (a Terms) phaseEnd(n int) time.Time {
	if n < len(a.Phases) {
		return a.Phases[n].From
	}
	return a.End
}

// on reports whether the period of a runs at t.
func (a Terms) on(t time.Time) bool {
	return !a.Start.IsZero() && !t.Before(a.Start) && (a.End.IsZero() || t.Before(a.End))
}

// blockSet is what a plan blocks at one moment, through its period (the
// quiet hours in force pact or not are compared on their own).
type blockSet struct {
	platforms, domains, keep []string
	quiet                    []Window
}

func (a Terms) blockAt(t time.Time) blockSet {
	if !a.on(t) {
		return blockSet{}
	}
	p, d, k, q := a.phaseLists(a.phaseAt(t))
	return blockSet{platforms: p, domains: d, keep: k, quiet: q}
}

// covers reports whether x blocks at least what y blocks.
func (x blockSet) covers(y blockSet) bool {
	return len(minus(set(y.platforms), set(x.platforms))) == 0 && len(minus(set(y.domains), set(x.domains))) == 0 &&
		len(minusWindows(y.quiet, x.quiet)) == 0
}

// union is what x or y blocks.
func (x blockSet) union(y blockSet) blockSet {
	q := slices.Clone(x.quiet)
	q = append(q, minusWindows(y.quiet, x.quiet)...)
	sortWindows(q)
	return blockSet{
		platforms: set(append(slices.Clone(x.platforms), y.platforms...)),
		domains:   set(append(slices.Clone(x.domains), y.domains...)),
		keep:      set(append(slices.Clone(x.keep), y.keep...)),
		quiet:     q,
	}
}

func (x blockSet) equal(y blockSet) bool {
	return slices.Equal(set(x.platforms), set(y.platforms)) && slices.Equal(set(x.domains), set(y.domains)) &&
		slices.Equal(set(x.keep), set(y.keep)) && slices.Equal(windowKeyList(x.quiet), windowKeyList(y.quiet))
}

// minusWindows returns the windows of a whose key is not in b.
func minusWindows(a, b []Window) []Window {
	keys := windowKeys(b)
	var out []Window
	for _, w := range a {
		if !keys[w.Key()] {
			out = append(out, w)
		}
	}
	return out
}

func windowKeyList(ws []Window) []string {
	out := []string{}
	for _, w := range ws {
		out = append(out, w.Key())
	}
	slices.Sort(out)
	return out
}

// moments returns from and every moment after it at which x or y may
// change what it blocks, in order.
func moments(from time.Time, plans ...Terms) []time.Time {
	out := []time.Time{from}
	add := func(m time.Time) {
		if !m.IsZero() && m.After(from) {
			out = append(out, m)
		}
	}
	for _, p := range plans {
		if p.Start.IsZero() {
			continue
		}
		add(p.Start)
		add(p.End)
		for _, ph := range p.Phases {
			add(ph.From)
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(out, func(a, b time.Time) bool { return a.Equal(b) })
}

// planCovers reports whether x blocks at least what y blocks at every
// moment from t on.
func planCovers(x, y Terms, t time.Time) bool {
	for _, m := range moments(t, x, y) {
		if !x.blockAt(m).covers(y.blockAt(m)) {
			return false
		}
	}
	return true
}

// planSame reports whether x and y block, keep open and have quiet hours
// alike at every moment from t on.
func planSame(x, y Terms, t time.Time) bool {
	for _, m := range moments(t, x, y) {
		if !x.blockAt(m).equal(y.blockAt(m)) {
			return false
		}
	}
	return true
}

// joinPlans returns the plan that blocks, at every moment from t on, what
// x or y blocks; before t it is x's. Its phases are the moments at which
// either changes, with neighbours that block alike merged.
func joinPlans(x, y Terms, t time.Time) Terms {
	z := x
	z.Phases = nil
	if !y.Start.IsZero() && (x.Start.IsZero() || y.Start.Before(x.Start)) {
		z.Start = y.Start
	}
	switch {
	case x.End.IsZero() || y.End.IsZero():
		z.End = time.Time{}
	case y.End.After(x.End):
		z.End = y.End
	}
	ms := moments(t, x, y)
	first := later(t, z.Start)
	cur := x.blockAt(first).union(y.blockAt(first))
	// The phase in force keeps its place and number, with the union as
	// its lists; the phases before it are kept as they were.
	n := 0
	if x.on(first) {
		n = x.phaseAt(first)
	}
	switch {
	case n > 0:
		z.Phases = slices.Clone(x.Phases[:n])
		p := &z.Phases[n-1]
		p.Platforms, p.Domains, p.KeepOpen, p.Quiet = cur.platforms, cur.domains, cur.keep, cur.quiet
	default:
		z.Platforms, z.Domains, z.KeepOpen = cur.platforms, cur.domains, cur.keep
		// The first phase has no quiet hours of its own; if the union
		// holds some, they make a phase that begins at once.
		if len(cur.quiet) > 0 {
			z.Phases = append(z.Phases, Phase{From: first, Platforms: cur.platforms, Domains: cur.domains, KeepOpen: cur.keep, Quiet: cur.quiet})
		}
	}
	for _, m := range ms {
		if !m.After(first) || (!z.End.IsZero() && !m.Before(z.End)) {
			continue
		}
		b := x.blockAt(m).union(y.blockAt(m))
		if b.equal(cur) {
			continue
		}
		z.Phases = append(z.Phases, Phase{From: m, Platforms: b.platforms, Domains: b.domains, KeepOpen: b.keep, Quiet: b.quiet})
		cur = b
	}
	return z
}

// Plan is the whole of what a pact's period blocks, as a change carries
// it: the period, the first phase's lists, the later phases, and the
// allow entries.
type Plan struct {
	Start     time.Time `json:"start,omitzero"`
	End       time.Time `json:"end,omitzero"`
	Platforms []string  `json:"platforms"`
	Domains   []string  `json:"domains"`
	KeepOpen  []string  `json:"keep_open,omitempty"`
	Phases    []Phase   `json:"phases,omitempty"`
	Allow     []string  `json:"allow"`
}

func planOf(a Terms) *Plan {
	return &Plan{Start: a.Start, End: a.End, Platforms: a.Platforms, Domains: a.Domains, KeepOpen: a.KeepOpen,
		Phases: slices.Clone(a.Phases), Allow: a.Allow}
}

func (p *Plan) applyTo(a *Terms) {
	a.Start, a.End = p.Start, p.End
	a.Platforms, a.Domains, a.KeepOpen = set(p.Platforms), set(p.Domains), set(p.KeepOpen)
	a.Phases = slices.Clone(p.Phases)
	a.Allow = set(p.Allow)
}

// planKey names a plan canonically, for the key of a change.
func planKey(a Terms) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s|%s", periodKey(a.Start, a.End), strings.Join(a.Platforms, ","), strings.Join(a.Domains, ","), strings.Join(a.KeepOpen, ","))
	for _, p := range a.Phases {
		fmt.Fprintf(&b, "|%s:%s:%s:%s:%s", timeKey(p.From), strings.Join(p.Platforms, ","), strings.Join(p.Domains, ","),
			strings.Join(p.KeepOpen, ","), strings.Join(windowKeyList(p.Quiet), ";"))
	}
	return fingerprintOf(b.String())
}

// planChange says in words what moving from x to y changes, from t on:
// the first moment at which y blocks less (for a loosening) or more (for
// a tightening) than x, and what.
func (e *Engine) planChange(x, y Terms, t time.Time, loosening bool) string {
	if loosening && !x.End.IsZero() && endAfter(x.End, y.End) && planCoversUntil(y, x, t, y.End) {
		if y.End.IsZero() {
			return "make the pact last until it is unlocked"
		}
		return fmt.Sprintf("end the pact earlier, on %s instead of on %s", when(y.End, e.loc), when(x.End, e.loc))
	}
	from, to := x, y
	if !loosening {
		from, to = y, x
	}
	for _, m := range moments(t, x, y) {
		more, less := to.blockAt(m), from.blockAt(m)
		if more.covers(less) {
			continue
		}
		var parts []string
		if !to.on(m) {
			parts = append(parts, "end the pact's blocking")
		} else {
			if ps := minus(set(less.platforms), set(more.platforms)); len(ps) > maxNames {
				parts = append(parts, "stop blocking "+plural(len(ps), "platform", "platforms"))
			} else if len(ps) > 0 {
				parts = append(parts, "stop blocking "+e.nameList(ps))
			}
			if ds := minus(set(less.domains), set(more.domains)); len(ds) > 0 {
				parts = append(parts, "stop blocking "+joinWords(ds))
			}
			for _, w := range minusWindows(less.quiet, more.quiet) {
				parts = append(parts, "drop the quiet hours "+e.windowWords(w))
			}
		}
		what := joinWords(parts)
		if !loosening {
			what = strings.NewReplacer("stop blocking ", "block ", "end the pact's blocking", "start the pact's blocking", "drop the quiet hours ", "add the quiet hours ").Replace(what)
		}
		if !m.After(t) {
			return "change the plan: " + what + ", now"
		}
		return fmt.Sprintf("change the plan: %s, from %s", what, when(m, e.loc))
	}
	return "change the plan, without changing what is blocked from now on"
}

// planCoversUntil reports whether x blocks at least what y does at every
// moment from t to until (zero: without end).
func planCoversUntil(x, y Terms, t, until time.Time) bool {
	for _, m := range moments(t, x, y) {
		if !until.IsZero() && !m.Before(until) {
			break
		}
		if !x.blockAt(m).covers(y.blockAt(m)) {
			return false
		}
	}
	return true
}

// diffPlan adds the changes of a phased plan (see the top of this file):
// the tighter join at once, and the whole new plan as a loosening.
func (e *Engine) diffPlan(want, act Terms, t time.Time, add func(Change)) {
	w := want
	w.Allow = act.Allow // allow entries have their own changes
	if planSame(act, w, t) {
		if planKey(act) != planKey(w) {
			// Only the past differs, or the words: nothing changes.
			add(Change{Key: "plan:" + planKey(w), Op: OpPlan, Plan: planOf(w), What: "update the plan of your pact; nothing blocked changes"})
		}
		return
	}
	if planCovers(w, act, t) {
		add(Change{Key: "plan:" + planKey(w), Op: OpPlan, Plan: planOf(w), What: e.planChange(act, w, t, false)})
		return
	}
	if j := joinPlans(act, w, t); !planCovers(act, j, t) {
		add(Change{Key: "plan:" + planKey(j), Op: OpPlan, Plan: planOf(j), What: e.planChange(act, j, t, false)})
	}
	add(Change{Key: "plan:" + planKey(w), Op: OpPlan, Plan: planOf(w), Loosening: true, What: e.planChange(act, w, t, true)})
}

// joinWords joins words for a sentence: "a, b and c".
func joinWords(list []string) string {
	switch len(list) {
	case 0:
		return ""
	case 1:
		return list[0]
	}
	return strings.Join(list[:len(list)-1], ", ") + " and " + list[len(list)-1]
}

// name returns the display name of a platform id.
func (e *Engine) name(id string) string {
	if e.names != nil {
		return e.names(id)
	}
	return id
}

func (e *Engine) nameList(ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = e.name(id)
	}
	return joinWords(out)
}

// maxNames is how many names the words of a change list one by one;
// more are counted.
const maxNames = 6

// windowWords says a window in words with display names: "every day
// 22:00-07:00 (WhatsApp, Instagram)", with its zone when not the
// machine's.
func (e *Engine) windowWords(w Window) string {
	what := make([]string, 0, len(w.Platforms)+len(w.Domains))
	for _, p := range w.Platforms {
		what = append(what, e.name(p))
	}
	what = append(what, w.Domains...)
	if len(what) > maxNames {
		what = []string{plural(len(w.Platforms), "platform", "platforms")}
		if len(w.Domains) > 0 {
			what[0] += " and " + plural(len(w.Domains), "site", "sites")
		}
	}
	days := dayNames(w.Days)
	if w.Days != config.AllDays {
		days = strings.ReplaceAll(days, " ", ", ")
	}
	s := fmt.Sprintf("%s %s-%s (%s)", days, hhmm(w.From), hhmm(w.To), strings.Join(what, ", "))
	if w.Zone != "" && w.Zone != e.zone {
		s += ", in the time zone " + zoneWords(w.Zone)
	}
	return s
}
