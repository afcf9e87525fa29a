package pact

import (
	"fmt"
	"slices"
	"time"
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
	OpAddWitness     Op = "add-witness"     // Value: a site trusted to tell the time
	OpRemoveWitness  Op = "remove-witness"  // Value
	OpUnlock         Op = "unlock"          // end the pact now; not from the file
	OpUninstall      Op = "uninstall"       // remove nocontact from the machine; not from the file
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
	Window   *Window       `json:"window,omitempty"`

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
	return t.In(loc).Format("Mon 2 Jan 2006 15:04")
}

// diff lists the changes that turn act into want at time t. st gives the
// end of an unlocked pact. The changes come in a fixed order: period, then
// lists, cooldown, strict and quiet hours.
func diff(want, act Terms, st *State, t time.Time, loc *time.Location, zone string) []Change {
	var out []Change
	add := func(c Change) { out = append(out, c) }

	// The period.
	samePeriod := st.Unlocked && periodKey(want.Start, want.End) == st.UnlockedFrom
	over := !act.End.IsZero() && !t.Before(act.End)
	switch {
	case samePeriod:
	case over || act.Start.IsZero():
		// Nothing of the last period blocks from now on, so a different
		// period can only add blocking: a new pact, applied whole.
		if periodKey(want.Start, want.End) != periodKey(act.Start, act.End) && (want.End.IsZero() || want.End.After(t)) {
			add(Change{Key: "period:" + periodKey(want.Start, want.End), Op: OpPeriod, Start: want.Start, End: want.End,
				What: fmt.Sprintf("start a new pact from %s until %s", when(want.Start, loc), endWords(want.End, loc))})
		}
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

	for _, p := range minus(want.Platforms, act.Platforms) {
		add(Change{Key: "platform+:" + p, Op: OpAddPlatform, Value: p, What: "block " + p})
	}
	for _, p := range minus(act.Platforms, want.Platforms) {
		add(Change{Key: "platform-:" + p, Op: OpRemovePlatform, Value: p, Loosening: true, What: "unblock " + p})
	}
	for _, d := range minus(want.Domains, act.Domains) {
		add(Change{Key: "domain+:" + d, Op: OpAddDomain, Value: d, What: "block " + d})
	}
	for _, d := range minus(act.Domains, want.Domains) {
		add(Change{Key: "domain-:" + d, Op: OpRemoveDomain, Value: d, Loosening: true, What: "unblock " + d})
	}
	for _, d := range minus(want.Allow, act.Allow) {
		add(Change{Key: "allow+:" + d, Op: OpAddAllow, Value: d, Loosening: true, What: "let " + d + " through"})
	}
	for _, d := range minus(act.Allow, want.Allow) {
		add(Change{Key: "allow-:" + d, Op: OpRemoveAllow, Value: d, What: "stop letting " + d + " through"})
	}
	if want.Cooldown != act.Cooldown {
		c := Change{Key: "cooldown:" + want.Cooldown.String(), Op: OpCooldown, Cooldown: want.Cooldown}
		c.What = fmt.Sprintf("make the cooldown %s instead of %s", words(want.Cooldown), words(act.Cooldown))
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
	for _, w := range minus(want.Witnesses, act.Witnesses) {
		add(Change{Key: "witness+:" + w, Op: OpAddWitness, Value: w, Loosening: true, What: "trust " + w + " to tell the time"})
	}
	for _, w := range minus(act.Witnesses, want.Witnesses) {
		add(Change{Key: "witness-:" + w, Op: OpRemoveWitness, Value: w, What: "stop trusting " + w + " to tell the time"})
	}
	wantQ, actQ := windowKeys(want.Quiet), windowKeys(act.Quiet)
	for _, w := range want.Quiet {
		if !actQ[w.Key()] {
			add(Change{Key: "quiet+:" + w.Key(), Op: OpAddQuiet, Window: &w, What: "add quiet hours " + w.describe(zone)})
		}
	}
	for _, w := range act.Quiet {
		if !wantQ[w.Key()] {
			add(Change{Key: "quiet-:" + w.Key(), Op: OpRemoveQuiet, Window: &w, Loosening: true, What: "remove quiet hours " + w.describe(zone)})
		}
	}
	return out
}

func endWords(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "when it is unlocked"
	}
	return "on " + when(t, loc)
}

// Words writes a duration as the config file would: "24h", "1w3d", "90s".
func Words(d time.Duration) string { return words(d) }

func words(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var s string
	for _, u := range []struct {
		name string
		d    time.Duration
	}{{"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}} {
		if n := d / u.d; n > 0 {
			s += fmt.Sprintf("%d%s", n, u.name)
			d -= n * u.d
		}
	}
	if s == "" {
		return d.String()
	}
	return s
}

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
		st.Completed, st.Unlocked, st.UnlockedFrom = time.Time{}, false, ""
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
	}
}
