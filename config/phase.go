package config

import (
	"fmt"
	"slices"
	"time"

	"github.com/nocontact/nocontact/dnsfilter/catalog"
)

// This file holds what the pact blocks and keeps open, and the plan in
// phases: [[phase]] tables after the [pact] table, each beginning when
// the one before it ends (30 days of everything, then 60 days with
// WhatsApp open and quiet hours, then quiet hours only). Moving to the
// next phase on schedule is part of the pact; the engine, not this
// package, decides what a change of the plan is.

// Phase is one [[phase]] table. A key it leaves out is the [pact]
// table's: block, keep_open and domains; quiet hours are the phase's own.
type Phase struct {
	// Length is how long the phase lasts from its beginning (see
	// ParseSpan), Until when it ends (a date, written like pact.until).
	// Not both; with neither, the phase lasts until the pact is unlocked,
	// which only the last phase may.
	Length string    `toml:"length"`
	Until  time.Time `toml:"until"`
	// Block, KeepOpen and Domains are as in [pact]; each defaults to the
	// [pact] table's own when missing. An explicit [] blocks (or keeps
	// open) nothing.
	Block    []string `toml:"block"`
	KeepOpen []string `toml:"keep_open"`
	Domains  []string `toml:"domains"`
	// QuietHours are the [[phase.quiet_hours]] tables: quiet hours in force
	// only during this phase. A window without block closes the phase's
	// block list, kept-open channel included, and its domains (or the
	// [pact] table's, when the phase blocks nothing).
	QuietHours []QuietHours `toml:"quiet_hours"`

	// Platforms, Covered and KeptOpen are as in Pact; never nil.
	Platforms []string `toml:"-"`
	Covered   []string `toml:"-"`
	KeptOpen  []string `toml:"-"`
	// LengthDur and LengthMonths are Length parsed.
	LengthDur    time.Duration `toml:"-"`
	LengthMonths int           `toml:"-"`
}

// maxReason bounds pact.reason, in characters.
const maxReason = 1000

// maxPhases bounds the plan: a path of a few steps, not a calendar.
const maxPhases = 12

// resolveBlock resolves a block list and the keep_open list beside it:
// what is blocked (covered without kept), what block covers, and what is
// kept open. at places an error at an entry of "block" or "keep_open".
func resolveBlock(cat *catalog.Catalog, block, keep []string, at func(key string, i int, err error) error) (platforms, covered, kept []string, err error) {
	// Resolve each entry alone first, to point at the line of the bad one.
	for i, n := range block {
		if _, err := cat.Expand(n); err != nil {
			return nil, nil, nil, at("block", i, err)
		}
	}
	covered, err = cat.Resolve(block)
	if err != nil {
		return nil, nil, nil, at("block", -1, err)
	}
	covered = nonNil(covered)
	kept = []string{}
	for i, n := range keep {
		ids, err := cat.Expand(n)
		if err != nil {
			return nil, nil, nil, at("keep_open", i, err)
		}
		found := false
		for _, id := range ids {
			if slices.Contains(covered, id) {
				found = true
				if !slices.Contains(kept, id) {
					kept = append(kept, id)
				}
			}
		}
		if !found {
			return nil, nil, nil, at("keep_open", i, fmt.Errorf("%q is not in the block list, so it is open already: take it out of keep_open", n))
		}
	}
	// In catalog order, like covered.
	platforms, ordered := []string{}, []string{}
	for _, id := range covered {
		if slices.Contains(kept, id) {
			ordered = append(ordered, id)
		} else {
			platforms = append(platforms, id)
		}
	}
	return platforms, covered, ordered, nil
}

// readPhaseTimes reads each phase's until like pact.until (see readTimes).
func (c *Config) readPhaseTimes(raw map[string]any, w where, loc *time.Location) error {
	tables, _ := sectionTables(raw["phase"], true)
	for i := range c.Phases {
		if i >= len(tables) {
			break
		}
		v, ok := tables[i]["until"].(time.Time)
		if !ok {
			c.Phases[i].Until = time.Time{}
			continue
		}
		switch v.Location().String() {
		case "time-local":
			return &fileError{file: w.file, line: w.tableLine("phase", i, "until", -1), key: "phase.until",
				err: fmt.Errorf("a time alone is not enough: write the date too, like until = %s", example("phase.until"))}
		case "datetime-local", "date-local":
			v = time.Date(v.Year(), v.Month(), v.Day(), v.Hour(), v.Minute(), v.Second(), v.Nanosecond(), loc)
		}
		c.Phases[i].Until = v
	}
	return nil
}

// validatePhases checks the plan: every phase but the last ends, so that
// the next can begin; the [pact] table ends when there are phases; the
// dates that can be compared here come in order; a strict pact ends.
func (c *Config) validatePhases(cat *catalog.Catalog, w where) error {
	c.Phases = nonNil(c.Phases)
	p := &c.Pact
	if len(c.Phases) > maxPhases {
		return &fileError{file: w.file, line: w.tableLine("phase", maxPhases, "length", -1), key: "phase",
			err: fmt.Errorf("%d phases are more than the %d a plan may have: keep to the steps that matter", len(c.Phases), maxPhases)}
	}
	if len(c.Phases) > 0 && p.Length == "" && p.Until.IsZero() {
		return w.errorf("pact.length", `the first phase of a plan (this [pact] table) needs an end, so that the next phase can begin: add length = "30d" or until = %s`, example("pact.until"))
	}
	last, lastName := p.Until, "pact.until"
	if last.IsZero() && !p.Start.IsZero() && p.LengthMonths == 0 {
		last = p.Start.Add(p.LengthDur)
	}
	nested := 0 // [[phase.quiet_hours]] tables so far, for their lines
	for i := range c.Phases {
		ph := &c.Phases[i]
		atKey := func(key string, entry int) int { return w.tableLine("phase", i, key, entry) }
		errAt := func(key string, entry int, err error) error {
			return &fileError{file: w.file, line: atKey(key, entry), key: "phase." + key, err: err}
		}
		if ph.Block == nil {
			ph.Block = slices.Clone(p.Block)
		}
		if ph.KeepOpen == nil {
			ph.KeepOpen = slices.Clone(p.KeepOpen)
		}
		var err error
		if ph.Platforms, ph.Covered, ph.KeptOpen, err = resolveBlock(cat, ph.Block, ph.KeepOpen, errAt); err != nil {
			return err
		}
		if ph.Domains == nil {
			ph.Domains = slices.Clone(p.Domains)
		} else if ph.Domains, err = cleanPhaseDomains(ph.Domains, errAt); err != nil {
			return err
		}
		if ph.Length != "" && !ph.Until.IsZero() {
			return errAt("until", -1, fmt.Errorf("write either length or until, not both: length counts from the beginning of the phase, until is its end"))
		}
		ph.LengthDur, ph.LengthMonths = 0, 0
		if ph.Length != "" {
			sp, err := ParseSpan(ph.Length)
			if err != nil {
				return errAt("length", -1, err)
			}
			if sp.IsZero() {
				return errAt("length", -1, fmt.Errorf("%q is no time at all: write how long this phase lasts, like length = \"60d\"", ph.Length))
			}
			ph.LengthDur, ph.LengthMonths = sp.Dur, sp.Months
		}
		if ph.Length == "" && ph.Until.IsZero() && i < len(c.Phases)-1 {
			return errAt("length", -1, fmt.Errorf(`phase %d has no end, so the phases after it would never begin: add length = "60d" or until = %s`, i+2, example("phase.until")))
		}
		if !ph.Until.IsZero() {
			if !last.IsZero() && !ph.Until.After(last) {
				return errAt("until", -1, fmt.Errorf("the end %s is not after the end of the phase before it (%s, from %s)",
					ph.Until.Format(time.RFC3339), last.Format(time.RFC3339), lastName))
			}
			last, lastName = ph.Until, fmt.Sprintf("phase %d", i+1)
		} else if !last.IsZero() && ph.LengthMonths == 0 {
			last = last.Add(ph.LengthDur)
		} else {
			last = time.Time{}
		}
		ph.QuietHours = nonNil(ph.QuietHours)
		defP, defD := ph.Covered, ph.Domains
		if len(defP) == 0 && len(defD) == 0 {
			defP, defD = p.Covered, p.Domains
		}
		if err := validateWindows(ph.QuietHours, "phase.quiet_hours", nested, cat, w, defP, defD); err != nil {
			return err
		}
		nested += len(ph.QuietHours)
	}
	if p.Strict {
		end := p.Length != "" || !p.Until.IsZero()
		if n := len(c.Phases); n > 0 {
			end = c.Phases[n-1].Length != "" || !c.Phases[n-1].Until.IsZero()
		}
		if !end && len(c.Phases) > 0 {
			return &fileError{file: w.file, line: w.tableLine("phase", len(c.Phases)-1, "length", -1), key: "pact.strict",
				err: fmt.Errorf(`a strict pact cannot be loosened before it ends, so its last phase must have an end: add length = "60d" or until = %s to it, or write strict = false`, example("phase.until"))}
		}
		if !end {
			return w.errorf("pact.strict", `a strict pact cannot be loosened before it ends, so it must have an end: add length = "30d" or until = %s, or write strict = false`, example("pact.until"))
		}
	}
	return nil
}

// cleanPhaseDomains is cleanDomains for a phase's domains.
func cleanPhaseDomains(list []string, at func(key string, i int, err error) error) ([]string, error) {
	out := make([]string, 0, len(list))
	for i, s := range list {
		d, err := cleanDomain(s)
		if err != nil {
			return nil, at("domains", i, err)
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out, nil
}
