package pact

import (
	"fmt"
	"slices"
	"time"

	"github.com/nocontact/nocontact/config"
)

// Op is what a change does to the active pact.
type Op string

// The operations. Each is a tightening or a loosening depending on its
// value compared with the active pact, except Unlock and Uninstall, always
// loosenings.
const (
	OpPeriod         Op = "period"          // a new period after the last one ended (Start, End)
	OpStart          Op = "start"           // the start moves (Start)
	OpEnd            Op = "end"             // the end moves (End; zero: open-ended)
	OpAddPlatform    Op = "add-platform"    // Value
	OpRemovePlatform Op = "remove-platform" // Value
	OpAddDomain      Op = "add-domain"      // Value
	OpRemoveDomain   Op = "remove-domain"   // Value
	OpAddAllow       Op = "add-allow"       // Value
	OpRemoveAllow    Op = "remove-allow"    // Value
	OpCooldown       Op = "cooldown"        // Cooldown
	OpStrict         Op = "strict"          // Strict
	OpAddQuiet       Op = "add-quiet"       // Window
	OpRemoveQuiet    Op = "remove-quiet"    // Window
	OpFirewall       Op = "firewall"        // Firewall: the firewall layer on or off
	OpHosts          Op = "hosts"           // Hosts: the hosts-file layer on or off
	OpAddWitness     Op = "add-witness"     // Value: a site trusted to tell the time
	OpRemoveWitness  Op = "remove-witness"  // Value
	OpUnlock         Op = "unlock"          // end the pact now; not from the file
	OpUninstall      Op = "uninstall"       // remove nocontact from the machine; not from the file
	OpPlan           Op = "plan"            // a plan in phases changes (Plan)
	OpConfirm        Op = "confirm"         // ending early asks again after the cooldown, or not (Strict holds the value)
	OpTrial          Op = "trial"           // the pact becomes a trial, which binds no one
)

// Change is one change of the active pact, as the diff of a request finds
// it or as unlock asks for it.
type Change struct {
	// ID names a pending change for Cancel: a small number, unique within
	// one state. Empty for changes that were never queued.
	ID string `json:"id,omitempty"`
	// Key names the change canonically: the same change asked again has
	// the same key, so it keeps its place in the queue.
	Key       string `json:"key"`
	Op        Op     `json:"op"`
	Loosening bool   `json:"loosening"`

	Value    string        `json:"value,omitempty"`
	Start    time.Time     `json:"start,omitzero"`
	End      time.Time     `json:"end,omitzero"`
	Cooldown time.Duration `json:"cooldown,omitempty"`
	Strict   bool          `json:"strict,omitempty"`
	Firewall bool          `json:"firewall,omitempty"`
	Hosts    bool          `json:"hosts,omitempty"`
	Window   *Window       `json:"window,omitempty"`
	// Plan is the whole plan a new pact (OpPeriod) or a change of a
	// plan in phases (OpPlan) sets.
	Plan *Plan `json:"plan,omitempty"`
	// Confirm is set on a loosening that ends the pact early while the
	// pact asks for it (Terms.Confirm): once matured, it takes effect
	// only when confirmed, within ConfirmWindow, or lapses.
	Confirm bool `json:"confirm,omitempty"`

	// Requested is when a loosening was first asked for; Effective when it
	// takes effect (Requested plus the cooldown in force then). Both zero
	// for a tightening, which applies at once.
	Requested time.Time `json:"requested,omitzero"`
	Effective time.Time `json:"effective,omitzero"`

	// What says what the change does, in plain words: "unblock
	// instagram".
	What string `json:"what"`
}

// Refusal is a loosening refused because the pact is strict. It stays
// visible while the request still asks for it, until the pact ends.
type Refusal struct {
	Change Change    `json:"change"`
	At     time.Time `json:"at"` // when it was first refused
}

// when formats a time for What, in the daemon's zone.
func when(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "never"
	}
	return t.In(loc).Format("Mon 2 Jan 2006 at 15:04")
}

// diff lists the changes that turn act into want at time t. The changes
// come in a fixed order: period, then lists (or the plan, for a plan in
// phases), cooldown, strict, confirmation, trial and quiet hours.
func (e *Engine) diff(want, act Terms, t time.Time) []Change {
	st, loc := &e.st, e.loc
	var out []Change
	add := func(c Change) { out = append(out, c) }

	// The period.
	samePeriod := st.Unlocked && periodKey(want.Start, want.End) == st.UnlockedFrom
	over := !act.End.IsZero() && !t.Before(act.End)
	lists := true
	switch {
	case samePeriod:
	case over || act.Start.IsZero():
		// Nothing of the last period blocks from now on, so a different
		// period can only add blocking: a new pact, applied whole.
		if periodKey(want.Start, want.End) != periodKey(act.Start, act.End) && (want.End.IsZero() || want.End.After(t)) {
			add(Change{Key: "period:" + periodKey(want.Start, want.End), Op: OpPeriod, Start: want.Start, End: want.End, Plan: planOf(want),
				What: fmt.Sprintf("start a new pact from %s until %s", when(want.Start, loc), endWords(want.End, loc))})
			lists = false
		}
	case phased(want, act):
		e.diffPlan(want, act, t, add)
		lists = false
	default:
		ws, as := later(want.Start, t), later(act.Start, t)
		if !ws.Equal(as) {
			c := Change{Key: "start:" + timeKey(want.Start), Op: OpStart, Start: want.Start}
			if ws.After(as) {
				c.Loosening, c.What = true, "start the pact later, on "+when(want.Start, loc)
			} else {
				c.What = "start the pact earlier, on " + when(want.Start, loc)
			}
			add(c)
		}
		if !want.End.Equal(act.End) {
			c := Change{Key: "end:" + timeKey(want.End), Op: OpEnd, End: want.End}
			if endAfter(act.End, want.End) {
				c.Loosening, c.What = true, "end the pact earlier, "+endWords(want.End, loc)+" instead of "+endWords(act.End, loc)
			} else {
				c.What = "end the pact later, " + endWords(want.End, loc)
			}
			add(c)
		}
	}

	if lists {
		if !phased(want, act) {
			for _, p := range minus(want.Platforms, act.Platforms) {
				add(Change{Key: "platform+:" + p, Op: OpAddPlatform, Value: p, What: "block " + e.name(p)})
			}
			for _, p := range minus(act.Platforms, want.Platforms) {
				add(Change{Key: "platform-:" + p, Op: OpRemovePlatform, Value: p, Loosening: true, What: "stop blocking " + e.name(p)})
			}
			for _, d := range minus(want.Domains, act.Domains) {
				add(Change{Key: "domain+:" + d, Op: OpAddDomain, Value: d, What: "block " + d})
			}
			for _, d := range minus(act.Domains, want.Domains) {
				add(Change{Key: "domain-:" + d, Op: OpRemoveDomain, Value: d, Loosening: true, What: "stop blocking " + d})
			}
		}
		for _, d := range minus(want.Allow, act.Allow) {
			add(Change{Key: "allow+:" + d, Op: OpAddAllow, Value: d, Loosening: true, What: "let " + d + " through"})
		}
		for _, d := range minus(act.Allow, want.Allow) {
			add(Change{Key: "allow-:" + d, Op: OpRemoveAllow, Value: d, What: "stop letting " + d + " through"})
		}
	}
	if want.Cooldown != act.Cooldown {
		c := Change{Key: "cooldown:" + want.Cooldown.String(), Op: OpCooldown, Cooldown: want.Cooldown}
		c.What = fmt.Sprintf("make the cooldown %s instead of %s", config.DurationWords(want.Cooldown), config.DurationWords(act.Cooldown))
		c.Loosening = want.Cooldown < act.Cooldown
		add(c)
	}
	if want.Strict != act.Strict {
		c := Change{Key: fmt.Sprintf("strict:%t", want.Strict), Op: OpStrict, Strict: want.Strict, What: "turn strict mode on"}
		if !want.Strict {
			c.Loosening, c.What = true, "turn strict mode off"
		}
		add(c)
	}
	if want.Firewall != act.Firewall {
		c := Change{Key: fmt.Sprintf("firewall:%t", want.Firewall), Op: OpFirewall, Firewall: want.Firewall,
			What: "turn the firewall layer on"}
		if !want.Firewall {
			// The firewall closes the ways around the DNS filter (a
			// resolver asked directly, encrypted DNS by address): turning
			// it off opens them.
			c.Loosening, c.What = true, "turn the firewall layer off"
		}
		add(c)
	}
	if want.Hosts != act.Hosts {
		c := Change{Key: fmt.Sprintf("hosts:%t", want.Hosts), Op: OpHosts, Hosts: want.Hosts,
			What: "list the blocked platforms in the hosts file again"}
		if !want.Hosts {
			// The hosts layer holds when the DNS filter is stopped or
			// gone around: taking it away is a loosening.
			c.Loosening, c.What = true, "stop listing the blocked platforms in the hosts file"
		}
		add(c)
	}
	if want.Confirm != act.Confirm {
		c := Change{Key: fmt.Sprintf("confirm:%t", want.Confirm), Op: OpConfirm, Strict: want.Confirm,
			What: "ask again, once the cooldown has passed, before the pact ends early"}
		if !want.Confirm {
			c.Loosening, c.What = true, "stop asking again before the pact ends early"
		}
		add(c)
	}
	if want.Trial && !act.Trial {
		add(Change{Key: "trial:true", Op: OpTrial, Loosening: true, What: "make your pact a trial, which holds you to nothing"})
	}
	for _, w := range minus(want.Witnesses, act.Witnesses) {
		add(Change{Key: "witness+:" + w, Op: OpAddWitness, Value: w, Loosening: true, What: "trust " + w + " to tell the time"})
	}
	for _, w := range minus(act.Witnesses, want.Witnesses) {
		add(Change{Key: "witness-:" + w, Op: OpRemoveWitness, Value: w, What: "stop trusting " + w + " to tell the time"})
	}
	wantQ, actQ := windowKeys(want.Quiet), windowKeys(act.Quiet)
	for _, w := range want.Quiet {
		if !actQ[w.Key()] {
			add(Change{Key: "quiet+:" + w.Key(), Op: OpAddQuiet, Window: &w, What: "add quiet hours " + e.windowWords(w)})
		}
	}
	for _, w := range act.Quiet {
		if !wantQ[w.Key()] {
			add(Change{Key: "quiet-:" + w.Key(), Op: OpRemoveQuiet, Window: &w, Loosening: true, What: "remove quiet hours " + e.windowWords(w)})
		}
	}
	return out
}

// endsEarly reports whether loosening c ends the active pact a early:
// the changes Terms.Confirm asks to confirm.
func endsEarly(c Change, a Terms) bool {
	switch c.Op {
	case OpUnlock:
		return true
	case OpEnd:
		return c.Loosening && endAfter(a.End, c.End)
	case OpPlan:
		return c.Loosening && c.Plan != nil && endAfter(a.End, c.Plan.End)
	}
	return false
}

func endWords(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "when it is unlocked"
	}
	return "on " + when(t, loc)
}

// Words writes a duration as the config file would: "24h", "1w3d", "90s",
// for `status --json`. A person reads config.DurationWords instead.
func Words(d time.Duration) string { return words(d) }

func words(d time.Duration) string { return config.Span{Dur: d}.String() }

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// minus returns the entries of a (sorted) not in b.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if _, found := slices.BinarySearch(b, x); !found {
			out = append(out, x)
		}
	}
	return out
}

func windowKeys(ws []Window) map[string]bool {
	m := make(map[string]bool, len(ws))
	for _, w := range ws {
		m[w.Key()] = true
	}
	return m
}

// apply makes change c to the active pact of st at time at.
func apply(st *State, c Change, at time.Time) {
	a := &st.Active
	switch c.Op {
	case OpPeriod:
		a.Start, a.End = c.Start, c.End
		if c.Plan != nil {
			c.Plan.applyTo(a)
		}
		st.Completed, st.Unlocked, st.UnlockedFrom, st.EndedFor, st.PhaseSeen = time.Time{}, false, "", "", 0
		// A new pact gets a record of its own.
		st.Record = Record{Since: c.Start}
		// A new pact is a new decision: an uninstall allowed under the
		// last one must be asked for again.
		st.Uninstall = nil
	case OpStart:
		a.Start = c.Start
	case OpEnd:
		a.End = c.End
		if !c.Loosening {
			st.Completed, st.Unlocked, st.UnlockedFrom = time.Time{}, false, ""
		}
	case OpAddPlatform:
		a.Platforms = set(append(a.Platforms, c.Value))
	case OpRemovePlatform:
		a.Platforms = slices.DeleteFunc(slices.Clone(a.Platforms), func(s string) bool { return s == c.Value })
	case OpAddDomain:
		a.Domains = set(append(a.Domains, c.Value))
	case OpRemoveDomain:
		a.Domains = slices.DeleteFunc(slices.Clone(a.Domains), func(s string) bool { return s == c.Value })
	case OpAddAllow:
		a.Allow = set(append(a.Allow, c.Value))
	case OpRemoveAllow:
		a.Allow = slices.DeleteFunc(slices.Clone(a.Allow), func(s string) bool { return s == c.Value })
	case OpCooldown:
		a.Cooldown = c.Cooldown
	case OpStrict:
		a.Strict = c.Strict
	case OpFirewall:
		a.Firewall = c.Firewall
	case OpHosts:
		a.Hosts = c.Hosts
	case OpAddWitness:
		a.Witnesses = set(append(a.Witnesses, c.Value))
	case OpRemoveWitness:
		a.Witnesses = slices.DeleteFunc(slices.Clone(a.Witnesses), func(s string) bool { return s == c.Value })
	case OpAddQuiet:
		a.Quiet = append(slices.Clone(a.Quiet), *c.Window)
		sortWindows(a.Quiet)
	case OpRemoveQuiet:
		k := c.Window.Key()
		a.Quiet = slices.DeleteFunc(slices.Clone(a.Quiet), func(w Window) bool { return w.Key() == k })
	case OpUnlock:
		if a.End.IsZero() || a.End.After(at) {
			a.End = at
		}
		st.Unlocked = true
	case OpUninstall:
		c.Effective = at
		st.Uninstall = &c
	case OpPlan:
		c.Plan.applyTo(a)
	case OpConfirm:
		a.Confirm = c.Strict
	case OpTrial:
		a.Trial = true
	}
}
