// Package pact is the engine of nocontact's pact: it holds the active pact
// (what the person agreed to, in force now), compares each request (the
// config file) with it, applies every change that gives less access at
// once, queues every change that gives more access until the cooldown in
// force when it was asked for has passed, refuses loosening in strict mode,
// and says for any instant what is blocked and why, and when that next
// changes.
//
// It is pure logic: every method takes the time it is asked at (the
// daemon's trusted clock), and nothing here reads a clock, a file or the
// network. The daemon persists State and publishes Snapshot to the filter.
// Methods of an Engine are not safe for concurrent use; the daemon holds
// the lock.
package pact

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nocontact/nocontact/config"
)

// Terms are the terms of a pact: its period, what it blocks and how it may
// be loosened. The slices are sorted and without duplicates.
type Terms struct {
	// Start is when the pact begins blocking. In a Request, zero means
	// "when it is first applied".
	Start time.Time `json:"start"`
	// End is when the pact stops blocking; zero means open-ended (until
	// unlocked).
	End time.Time `json:"end"`
	// Length and Months are the first phase's length in a Request (its
	// end is then Months calendar months and Length after Start, in the
	// machine's zone); unused in the active pact. With no Phases, the
	// first phase is the whole pact.
	Length time.Duration `json:"length,omitempty"`
	Months int           `json:"months,omitempty"`

	// Platforms, Domains and KeepOpen are what the first phase blocks and
	// keeps open on purpose (KeepOpen only says so: what is not in
	// Platforms is open either way). Phases are the phases after it, in
	// order; End is the end of the last.
	Platforms []string      `json:"platforms"` // catalog ids
	Domains   []string      `json:"domains"`   // extra domains
	KeepOpen  []string      `json:"keep_open,omitempty"`
	Phases    []Phase       `json:"phases,omitempty"`
	Allow     []string      `json:"allow"` // allow entries
	Cooldown  time.Duration `json:"cooldown"`
	Strict    bool          `json:"strict"`
	Quiet     []Window      `json:"quiet"` // sorted by Key; in force pact or not
	// Witnesses are the sites trusted to tell the time after a gap (see
	// daemon/clock). Trusting one more is a loosening: a site of one's
	// own could say any time. Nil in a state from before they were part
	// of the terms, and then the defaults.
	Witnesses []string `json:"witnesses"`
	// Firewall turns on the installed service's firewall layer while
	// anything is blocked (see config.Firewall). Off in a state written
	// before the layer existed, so a request that asks for it is a
	// tightening, applied at once.
	Firewall bool `json:"firewall,omitempty"`
	// Hosts keeps the hosts-file layer (see config.HostsFile) while
	// anything is blocked. Off in a state written before it was part of
	// the terms, so a request that asks for it applies at once.
	Hosts bool `json:"hosts,omitempty"`
	// Confirm makes ending the pact early take effect only when confirmed
	// again after the cooldown (see ConfirmWindow).
	Confirm bool `json:"confirm,omitempty"`
	// Trial is set for a trial: it blocks, but binds no one.
	Trial bool `json:"trial,omitempty"`
	// Reason is why, in the person's words; it changes nothing.
	Reason string `json:"reason,omitempty"`

	// names gives a platform's display name; nil means the id. Carried
	// by a Request from the config's catalog to the engine.
	names func(string) string
}

// Phase is one phase after the first: from From on, until the next
// phase's From (or the pact's End), it blocks Platforms and Domains, keeps
// KeepOpen open on purpose, and has its own quiet hours.
type Phase struct {
	// From is when the phase takes over; zero in a Request, where Length
	// and Months (its own length) or Until (its end) say when it ends.
	From   time.Time     `json:"from,omitzero"`
	Length time.Duration `json:"length,omitempty"`
	Months int           `json:"months,omitempty"`
	Until  time.Time     `json:"until,omitzero"`

	Platforms []string `json:"platforms"`
	Domains   []string `json:"domains"`
	KeepOpen  []string `json:"keep_open,omitempty"`
	Quiet     []Window `json:"quiet,omitempty"` // sorted by Key
}

// Request is what the config file asks for.
type Request = Terms

// Window is one quiet-hours window: on the days of Days it blocks from From
// to To (minutes after local midnight; To <= From crosses midnight into the
// next day).
type Window struct {
	Days      uint8    `json:"days"` // bit time.Weekday per day
	From      int      `json:"from"`
	To        int      `json:"to"`
	Platforms []string `json:"platforms"`
	Domains   []string `json:"domains"`
	// Zone is the ID (clock.Zone.ID) of the time zone From and To are
	// in: the machine's zone when the window was asked for. A change of
	// the machine's zone is then a change of the window, checked like any
	// other. "" only in requests, before the engine gives them its zone.
	Zone string `json:"zone,omitempty"`
}

// Key names the window canonically: two windows with the same key are the
// same window.
func (w Window) Key() string {
	k := fmt.Sprintf("%07b %s-%s %s|%s", w.Days, hhmm(w.From), hhmm(w.To), strings.Join(w.Platforms, ","), strings.Join(w.Domains, ","))
	if w.Zone != "" {
		k += " @" + w.Zone
	}
	return k
}

// String describes the window in plain words: "fri sat 22:00-07:00
// (whatsapp, instagram)".
func (w Window) String() string {
	what := strings.Join(append(slices.Clone(w.Platforms), w.Domains...), ", ")
	return fmt.Sprintf("%s %s-%s (%s)", dayNames(w.Days), hhmm(w.From), hhmm(w.To), what)
}

func hhmm(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

func dayNames(mask uint8) string {
	if mask == config.AllDays {
		return "every day"
	}
	names := []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	var out []string
	for i := 1; i <= 7; i++ { // from Monday
		d := i % 7
		if mask&(1<<d) != 0 {
			out = append(out, names[d])
		}
	}
	return strings.Join(out, " ")
}

// bounds returns the window's start and end when it starts on the local
// day y-m-d. time.Date resolves the clock times in loc on that very day,
// so a window across a daylight-saving change is an hour shorter or longer,
// as the wall clock says.
func (w Window) bounds(y int, m time.Month, d int, loc *time.Location) (time.Time, time.Time) {
	start := time.Date(y, m, d, w.From/60, w.From%60, 0, 0, loc)
	ed := d
	if w.To <= w.From {
		ed++
	}
	return start, time.Date(y, m, ed, w.To/60, w.To%60, 0, 0, loc)
}

// activeAt reports whether the window blocks at t.
func (w Window) activeAt(t time.Time, loc *time.Location) bool {
	y, m, d := t.In(loc).Date()
	for back := 0; back >= -1; back-- {
		day := time.Date(y, m, d+back, 12, 0, 0, 0, loc)
		if w.Days&(1<<day.Weekday()) == 0 {
			continue
		}
		s, e := w.bounds(y, m, d+back, loc)
		if !t.Before(s) && t.Before(e) {
			return true
		}
	}
	return false
}

// nextEdge returns the first start or end of the window after t, or the
// zero time when it has none (no days).
func (w Window) nextEdge(t time.Time, loc *time.Location) time.Time {
	var best time.Time
	y, m, d := t.In(loc).Date()
	for off := -1; off <= 8; off++ {
		day := time.Date(y, m, d+off, 12, 0, 0, 0, loc)
		if w.Days&(1<<day.Weekday()) == 0 {
			continue
		}
		s, e := w.bounds(y, m, d+off, loc)
		for _, x := range []time.Time{s, e} {
			if x.After(t) && (best.IsZero() || x.Before(best)) {
				best = x
			}
		}
	}
	return best
}

// FromConfig turns a parsed config into a request.
func FromConfig(c *config.Config) Request {
	r := Request{
		Start:     c.Pact.Start,
		End:       c.Pact.Until,
		Length:    c.Pact.LengthDur,
		Months:    c.Pact.LengthMonths,
		Platforms: set(c.Pact.Platforms),
		Domains:   set(c.Pact.Domains),
		KeepOpen:  set(c.Pact.KeptOpen),
		Allow:     set(c.Pact.Allow),
		Cooldown:  c.Pact.CooldownDur,
		Strict:    c.Pact.Strict,
		Quiet:     windows(c.QuietHours),
		Confirm:   c.Pact.ConfirmAfterCooldown,
		Trial:     c.Pact.Trial,
		Reason:    c.Pact.Reason,
		Witnesses: set(c.Clock.Witnesses),
		Firewall:  c.Firewall.Enabled,
		Hosts:     c.HostsFile.Enabled,
	}
	for _, ph := range c.Phases {
		r.Phases = append(r.Phases, Phase{
			Length: ph.LengthDur, Months: ph.LengthMonths, Until: ph.Until,
			Platforms: set(ph.Platforms), Domains: set(ph.Domains), KeepOpen: set(ph.KeptOpen),
			Quiet: windows(ph.QuietHours),
		})
	}
	if c.Catalog != nil {
		r.names = c.Catalog.DisplayName
	}
	return r
}

// windows turns [[quiet_hours]] tables into windows, sorted and without
// duplicates.
func windows(qs []config.QuietHours) []Window {
	out := []Window{}
	seen := map[string]bool{}
	for _, q := range qs {
		w := Window{Days: q.DayMask, From: q.FromMinute, To: q.ToMinute, Platforms: set(q.Platforms), Domains: set(q.Domains)}
		if !seen[w.Key()] {
			seen[w.Key()] = true
			out = append(out, w)
		}
	}
	sortWindows(out)
	return out
}

// WithNames returns r carrying names, the display name of a platform id,
// for the words of the changes it causes.
func (r Request) WithNames(names func(id string) string) Request {
	r.names = names
	return r
}

// set returns a sorted copy of list without duplicates, never nil.
func set(list []string) []string {
	out := append([]string{}, list...)
	slices.Sort(out)
	return slices.Compact(out)
}

func sortWindows(ws []Window) {
	slices.SortFunc(ws, func(a, b Window) int { return strings.Compare(a.Key(), b.Key()) })
}

// resolve gives the request concrete times: a missing start is the
// active pact's (or t for a first pact), the first phase's length counts
// from the start, each later phase begins when the one before it ends,
// and End is the end of the last. Months count on loc's calendar.
func resolve(r Request, activeStart, t time.Time, loc *time.Location) Terms {
	out := r
	out.Platforms, out.Domains, out.Allow, out.KeepOpen, out.Witnesses = set(r.Platforms), set(r.Domains), set(r.Allow), set(r.KeepOpen), set(r.Witnesses)
	out.Quiet = slices.Clone(r.Quiet)
	if out.Quiet == nil {
		out.Quiet = []Window{}
	}
	sortWindows(out.Quiet)
	if out.Start.IsZero() {
		out.Start = activeStart
		if out.Start.IsZero() {
			out.Start = t
		}
	}
	if r.Length > 0 || r.Months > 0 {
		out.End = config.Span{Months: r.Months, Dur: r.Length}.After(out.Start, loc)
	}
	out.Length, out.Months = 0, 0
	out.Phases = nil
	b := out.End // the end of the phase before
	for _, ph := range r.Phases {
		if b.IsZero() {
			// A phase after one without an end never begins.
			break
		}
		p := ph
		p.From = b
		end := time.Time{}
		switch {
		case !ph.Until.IsZero():
			end = ph.Until
		case ph.Length > 0 || ph.Months > 0:
			end = config.Span{Months: ph.Months, Dur: ph.Length}.After(b, loc)
		}
		if !end.IsZero() && end.Before(b) {
			end = b // an until that came before its phase: no time at all
		}
		p.Length, p.Months, p.Until = 0, 0, time.Time{}
		p.Platforms, p.Domains, p.KeepOpen = set(ph.Platforms), set(ph.Domains), set(ph.KeepOpen)
		p.Quiet = slices.Clone(ph.Quiet)
		sortWindows(p.Quiet)
		out.Phases = append(out.Phases, p)
		b = end
	}
	if len(out.Phases) > 0 {
		out.End = b
	}
	return out
}

// periodKey names a period canonically.
func periodKey(s, e time.Time) string { return timeKey(s) + "/" + timeKey(e) }

func timeKey(t time.Time) string {
	if t.IsZero() {
		return "open"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// endAfter reports whether end a is later than end b, zero being never.
func endAfter(a, b time.Time) bool {
	switch {
	case a.IsZero():
		return !b.IsZero()
	case b.IsZero():
		return false
	}
	return a.After(b)
}
