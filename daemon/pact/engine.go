package pact

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/daemon/clock"
	"github.com/nocontact/nocontact/dnsfilter"
)

// State is everything the engine must keep across restarts. The daemon
// stores it as JSON; a new field must have a zero value that means what an
// older file meant.
type State struct {
	// Active is the pact in force. A zero Start means no pact was ever
	// applied.
	Active Terms `json:"active"`
	// Completed is when the pact's period ended (by reaching its end or by
	// an unlock); zero while it runs or has not begun.
	Completed time.Time `json:"completed,omitzero"`
	// Unlocked is set when the period was ended early by an unlock, and
	// UnlockedFrom names the period the request asked for then, so that
	// the same request does not start it again.
	Unlocked     bool   `json:"unlocked,omitempty"`
	UnlockedFrom string `json:"unlocked_from,omitempty"`
	// Pending are the loosenings waiting for their cooldown.
	Pending []Change `json:"pending"`
	// Refused are the loosenings strict mode refused.
	Refused []Refusal `json:"refused"`
	// Dismissed are the keys of changes cancelled while the request still
	// asks for them; they are not queued again until the request changes
	// (DismissedFor is its fingerprint).
	Dismissed    []string `json:"dismissed"`
	DismissedFor string   `json:"dismissed_for,omitempty"`
	// NextID numbers the next queued change.
	NextID int `json:"next_id"`
	// Uninstall is the uninstall request that has waited out its
	// cooldown: nocontact may now be removed, until a new pact starts or
	// the request is cancelled. Nil when none has.
	Uninstall *Change `json:"uninstall,omitempty"`
	// Zones are the rules of the time zones the windows of the pact and
	// of its pending changes are kept in, by ID (see UseZone).
	Zones map[string]clock.Zone `json:"zones,omitempty"`
	// Record is the record of attempts to go around the pact.
	Record Record `json:"record"`
	// EndedFor names the period the request asked for when the pact
	// ended (see periodFingerprint): the same request does not start it
	// again, while a different one starts a new pact from its own start.
	EndedFor string `json:"ended_for,omitempty"`
	// PhaseSeen is the number of the phase of a plan last seen in force
	// (1 for the first), so that moving on is said once; 0 for none.
	PhaseSeen int `json:"phase_seen,omitempty"`
}

// Errors of Unlock and Cancel.
var (
	// ErrStrict: the pact is strict and cannot be loosened before it ends.
	ErrStrict = errors.New("the pact is strict: it cannot be loosened before it ends")
	// ErrNotRunning: there is no running or upcoming pact to unlock.
	ErrNotRunning = errors.New("no pact is running")
	// ErrNoChange: no pending change has the id given to Cancel.
	ErrNoChange = errors.New("no pending change has that id")
)

// Binding reports whether the pact holds the machine at t: its period
// runs or is still to come, or it has quiet hours (they go on after the
// period, and removing them is a loosening). While it binds, removing
// nocontact is a loosening too, and the installed daemon keeps the
// system's DNS settings pointed at the filter.
func (e *Engine) Binding(t time.Time) bool {
	a := e.st.Active
	if a.Trial {
		return false
	}
	running := !a.Start.IsZero() && (a.End.IsZero() || t.Before(a.End))
	return running || len(a.Quiet) > 0
}

// Firewall reports whether the active pact keeps the firewall layer on
// (while anything is blocked; the daemon decides that).
func (e *Engine) Firewall() bool { return e.st.Active.Firewall }

// Hosts reports whether the active pact keeps the hosts-file layer.
func (e *Engine) Hosts() bool { return e.st.Active.Hosts }

// Uninstall asks to remove nocontact from the machine. allowed is set when
// it may be removed now: nothing binds (see Binding), or an earlier
// request has waited out its cooldown. Otherwise the request is a
// loosening like any other: queued until the cooldown has passed (asked
// again, it keeps its first time) and returned, or refused with ErrStrict
// while a strict pact runs (and the refusal recorded).
func (e *Engine) Uninstall(t time.Time) (c Change, allowed bool, res Result, err error) {
	res = e.reconcile(t)
	if e.st.Uninstall != nil {
		return *e.st.Uninstall, true, res, nil
	}
	if !e.Binding(t) {
		return Change{}, true, res, nil
	}
	c = Change{Key: "uninstall", Op: OpUninstall, Loosening: true, What: "remove nocontact from this computer"}
	if e.strictAt(t) {
		if e.refuse(c, t) {
			res.Refused = append(res.Refused, c)
		}
		return c, false, res, ErrStrict
	}
	for _, p := range e.st.Pending {
		if p.Key == c.Key {
			return p, false, res, nil
		}
	}
	c = e.queue(c, t)
	res.Queued = append(res.Queued, c)
	// A cooldown of zero matures at once.
	more := e.reconcile(t)
	res.Applied = append(res.Applied, more.Applied...)
	if e.st.Uninstall != nil {
		return *e.st.Uninstall, true, res, nil
	}
	return c, false, res, nil
}

// Engine holds the state and the latest request.
type Engine struct {
	st     State
	req    Request
	hasReq bool
	// zone is the ID of the machine's zone, loc its location: the zone
	// of requested quiet hours and of the words in changes.
	zone string
	loc  *time.Location
	locs map[string]*time.Location // by zone ID
	// names gives display names for the words of changes (see
	// Request.WithNames); nil: ids.
	names func(string) string
}

// New returns an engine continuing from st; loc is the machine's zone
// (nil: time.Local), which UseZone can replace with a Zone that keeps its
// rules in the state. Windows of an older state without a zone are taken
// to be in loc.
func New(st State, loc *time.Location) *Engine {
	if loc == nil {
		loc = time.Local
	}
	e := &Engine{st: st, loc: loc, zone: clock.ZoneOf(loc).ID()}
	e.locs = map[string]*time.Location{e.zone: loc}
	e.normalize()
	return e
}

// Adopt returns an engine whose active pact is req, applied whole at t:
// for a first start, and when the state was lost (the request read in its
// tightest form: a missing start is t, so the period is the longest).
func Adopt(req Request, t time.Time, loc *time.Location) *Engine {
	return New(State{NextID: 1}, loc).adopt(req, t)
}

// AdoptIn is Adopt in the machine's zone z (see UseZone).
func AdoptIn(req Request, t time.Time, z clock.Zone) *Engine {
	e := New(State{NextID: 1}, z.Location())
	e.UseZone(z)
	return e.adopt(req, t)
}

func (e *Engine) adopt(req Request, t time.Time) *Engine {
	req = e.takeRequest(req)
	e.st.Active = resolve(req, time.Time{}, t, e.loc)
	e.st.Record = Record{Since: e.st.Active.Start}
	e.st.DismissedFor = fingerprint(req)
	e.reconcile(t)
	return e
}

// takeRequest makes req the request, its windows in the engine's zone.
func (e *Engine) takeRequest(req Request) Request {
	req.Quiet = e.inZone(req.Quiet)
	req.Phases = slices.Clone(req.Phases)
	for i := range req.Phases {
		req.Phases[i].Quiet = e.inZone(req.Phases[i].Quiet)
	}
	if req.names != nil {
		e.names = req.names
	}
	e.req, e.hasReq = req, true
	return req
}

func (e *Engine) normalize() {
	a := &e.st.Active
	a.Platforms, a.Domains, a.Allow = set(a.Platforms), set(a.Domains), set(a.Allow)
	if a.Witnesses == nil {
		// A state from before the witnesses were part of the terms.
		a.Witnesses = set(config.DefaultWitnesses)
	} else {
		a.Witnesses = set(a.Witnesses)
	}
	a.Quiet = e.inZone(a.Quiet)
	for i := range a.Phases {
		a.Phases[i].Quiet = e.inZone(a.Phases[i].Quiet)
	}
	for i, c := range e.st.Pending {
		if c.Window != nil && c.Window.Zone == "" {
			w := *c.Window
			w.Zone = e.zone
			e.st.Pending[i].Window = &w
		}
	}
	if e.st.NextID < 1 {
		e.st.NextID = 1
	}
}

// State returns a copy of the state to persist.
func (e *Engine) State() State {
	data, err := json.Marshal(e.st)
	if err != nil {
		panic("pact: state does not marshal: " + err.Error())
	}
	var out State
	if err := json.Unmarshal(data, &out); err != nil {
		panic("pact: state does not unmarshal: " + err.Error())
	}
	return out
}

// Result says what a call changed, for the log and the caller.
type Result struct {
	Applied   []Change  // applied now: tightenings, and loosenings whose time came
	Queued    []Change  // loosenings newly queued
	Refused   []Change  // loosenings newly refused (strict)
	Dropped   []Change  // pending loosenings the request no longer asks for
	Lapsed    []Change  // matured loosenings not confirmed in time (see ConfirmWindow)
	Completed time.Time // set when the pact's period ended in this call
	// StillOn says, when the period ended, what goes on blocking: "quiet
	// hours every day 22:00-07:00 (WhatsApp)", or "" for nothing.
	StillOn string
	// Phase is set when a phase of a plan began: its number (2 for the
	// first [[phase]]), of how many, and what it does, in words.
	Phase *PhaseNews
	// Began is set when a trial became a real pact in this call.
	Began bool
}

// PhaseNews says that a phase of a plan began.
type PhaseNews struct {
	Number, Of int
	// Words say it for the log and the person: "Phase 2 of 3 of your
	// pact has begun: ...".
	Words string
}

// Changed reports whether anything in the state changed.
func (r Result) Changed() bool {
	return len(r.Applied)+len(r.Queued)+len(r.Refused)+len(r.Dropped)+len(r.Lapsed) > 0 || !r.Completed.IsZero() || r.Phase != nil || r.Began
}

// Reload makes req the request and reconciles the active pact with it at t.
// A request different from the last one clears the cancellations made
// against the last one.
func (e *Engine) Reload(req Request, t time.Time) Result {
	if fp := fingerprint(req); fp != e.st.DismissedFor {
		e.st.Dismissed, e.st.DismissedFor = nil, fp
	}
	e.takeRequest(req)
	return e.reconcile(t)
}

// Advance brings the engine to t: matured changes apply, the period ends,
// strict mode lapses. The daemon calls it at each transition.
func (e *Engine) Advance(t time.Time) Result { return e.reconcile(t) }

// Unlock asks to end the pact now. Like any loosening it takes effect after
// the cooldown; asked again, it keeps its first time. In strict mode it is
// refused with ErrStrict (and the refusal recorded). A trial ends at once.
//
// When the pact asks for confirmation (Terms.Confirm), a matured request
// to end it early (this one, or an earlier end in the file) waits for the
// person to ask again: Unlock then confirms it, and the pact ends now; the
// change returned has Confirm set and Effective the moment it ended.
func (e *Engine) Unlock(t time.Time) (Change, Result, error) {
	res := e.reconcile(t)
	for i, p := range e.st.Pending {
		if !p.Confirm || p.Effective.After(t) {
			continue
		}
		e.st.Pending = slices.Delete(slices.Clone(e.st.Pending), i, i+1)
		e.applyAt(p, t)
		e.st.Record.add(Event{At: t, Kind: EventConfirmed, What: p.What, ID: p.ID})
		res.Applied = append(res.Applied, p)
		e.merge(&res, e.reconcile(t))
		p.Effective = t
		return p, res, nil
	}
	a := e.st.Active
	if a.Start.IsZero() || (!a.End.IsZero() && !t.Before(a.End)) {
		return Change{}, res, ErrNotRunning
	}
	c := Change{Key: "unlock", Op: OpUnlock, Loosening: true, What: "end the pact early"}
	if e.strictAt(t) {
		if e.refuse(c, t) {
			res.Refused = append(res.Refused, c)
		}
		return c, res, ErrStrict
	}
	for _, p := range e.st.Pending {
		if p.Key == c.Key {
			return p, res, nil
		}
	}
	if a.Trial {
		c.Effective = t
		e.applyAt(c, t)
		res.Applied = append(res.Applied, c)
		e.merge(&res, e.reconcile(t))
		return c, res, nil
	}
	c = e.queue(c, t)
	res.Queued = append(res.Queued, c)
	e.merge(&res, e.reconcile(t))
	return c, res, nil
}

// merge adds what a later reconcile did to res.
func (e *Engine) merge(res *Result, more Result) {
	res.Applied = append(res.Applied, more.Applied...)
	res.Queued = append(res.Queued, more.Queued...)
	res.Refused = append(res.Refused, more.Refused...)
	res.Dropped = append(res.Dropped, more.Dropped...)
	res.Lapsed = append(res.Lapsed, more.Lapsed...)
	if !more.Completed.IsZero() {
		res.Completed, res.StillOn = more.Completed, more.StillOn
	}
	if more.Phase != nil {
		res.Phase = more.Phase
	}
	res.Began = res.Began || more.Began
}

// Cancel removes the pending change with the given id, or every pending
// change for id "all", at once. A cancelled change the file still asks for
// is not queued again until the file asks for something else. An
// uninstall that has already waited out its cooldown is withdrawn the same
// way, by its id or with "all".
func (e *Engine) Cancel(id string, t time.Time) ([]Change, error) {
	var out []Change
	if u := e.st.Uninstall; u != nil && (id == "all" || u.ID == id) {
		out = append(out, *u)
		e.st.Uninstall = nil
	}
	e.st.Pending = slices.DeleteFunc(e.st.Pending, func(p Change) bool {
		if id != "all" && p.ID != id {
			return false
		}
		out = append(out, p)
		if !fromCommand(p.Op) && !slices.Contains(e.st.Dismissed, p.Key) {
			e.st.Dismissed = append(e.st.Dismissed, p.Key)
		}
		return true
	})
	if len(out) == 0 && id != "all" {
		return nil, ErrNoChange
	}
	for _, c := range out {
		e.st.Record.add(Event{At: t, Kind: EventCancelled, What: c.What, ID: c.ID})
	}
	return out, nil
}

// fromCommand reports whether changes of op come from a command (unlock,
// uninstall) rather than from the file, so that reconciling with the file
// neither drops nor dismisses them.
func fromCommand(op Op) bool { return op == OpUnlock || op == OpUninstall }

func (e *Engine) queue(c Change, t time.Time) Change {
	c.ID = strconv.Itoa(e.st.NextID)
	e.st.NextID++
	c.Requested = t
	c.Effective = t.Add(e.st.Active.Cooldown)
	c.Confirm = e.st.Active.Confirm && endsEarly(c, e.st.Active)
	e.st.Pending = append(e.st.Pending, c)
	e.st.Record.add(Event{At: t, Kind: EventQueued, What: c.What, ID: c.ID})
	return c
}

// refuse records a refusal, and reports whether it is new.
func (e *Engine) refuse(c Change, t time.Time) bool {
	for _, r := range e.st.Refused {
		if r.Change.Key == c.Key {
			return false
		}
	}
	e.st.Refused = append(e.st.Refused, Refusal{Change: c, At: t})
	e.st.Record.add(Event{At: t, Kind: EventRefused, What: c.What})
	return true
}

// strictAt reports whether strict mode refuses loosening at t: the pact is
// strict and its period has not ended.
func (e *Engine) strictAt(t time.Time) bool {
	a := e.st.Active
	return a.Strict && !a.Trial && !a.Start.IsZero() && (a.End.IsZero() || t.Before(a.End))
}

// reconcile brings the active pact in line with the request at t. It loops
// because one step can enable another (a matured change, the end of strict
// mode); each round either changes the state or stops, and the number of
// possible changes is finite, so it ends.
func (e *Engine) reconcile(t time.Time) Result {
	var res Result
	for round := 0; round < 100; round++ {
		changed := false
		a := &e.st.Active
		if !a.Start.IsZero() && !a.End.IsZero() && !t.Before(a.End) && e.st.Completed.IsZero() {
			e.st.Completed = a.End
			res.Completed, res.StillOn = a.End, e.stillOn()
			if e.hasReq {
				e.st.EndedFor = periodFingerprint(e.req)
			}
			changed = true
		}
		if a.Trial && e.hasReq && !e.req.Trial {
			// The file says the trial is over: a real pact, from the
			// file's start or now, taken whole.
			e.begin(t)
			res.Began = true
			res.Applied = append(res.Applied, Change{Op: OpPeriod, Key: "begin", What: "begin your pact: it is no longer a trial"})
			continue
		}
		if e.hasReq {
			// Words that block nothing follow the file at once.
			a.Reason = e.req.Reason
			if !phased(e.req, *a) {
				a.KeepOpen = set(e.req.KeepOpen)
			}
		}
		strict := e.strictAt(t)
		if !strict {
			e.st.Refused = nil
		}
		asked := map[string]bool{}
		if e.hasReq {
			for _, c := range e.diff(e.want(t), *a, t) {
				if !c.Loosening || a.Trial {
					apply(&e.st, c, t)
					res.Applied = append(res.Applied, c)
					changed = true
					continue
				}
				asked[c.Key] = true
				switch {
				case slices.Contains(e.st.Dismissed, c.Key):
				case strict:
					if e.refuse(c, t) {
						res.Refused = append(res.Refused, c)
					}
				case slices.ContainsFunc(e.st.Pending, func(p Change) bool { return p.Key == c.Key }):
				default:
					res.Queued = append(res.Queued, e.queue(c, t))
				}
			}
			e.st.Pending = slices.DeleteFunc(e.st.Pending, func(p Change) bool {
				if fromCommand(p.Op) || asked[p.Key] {
					return false
				}
				res.Dropped = append(res.Dropped, p)
				return true
			})
			e.st.Refused = slices.DeleteFunc(e.st.Refused, func(r Refusal) bool { return !fromCommand(r.Change.Op) && !asked[r.Change.Key] })
			e.st.Dismissed = slices.DeleteFunc(e.st.Dismissed, func(k string) bool { return !asked[k] })
		}
		if strict {
			// Strict mode turned on after these were queued: refuse them.
			for _, p := range e.st.Pending {
				if e.refuse(p, t) {
					res.Refused = append(res.Refused, p)
				}
			}
			if len(e.st.Pending) > 0 {
				e.st.Pending = nil
				changed = true
			}
		}
		if e.mature(t, &res) {
			changed = true
		}
		if !changed {
			break
		}
	}
	if e.st.Pending == nil {
		e.st.Pending = []Change{}
	}
	a := e.st.Active
	if a.on(t) && len(a.Phases) > 0 {
		// A tighter plan applied now renumbers the phases without
		// beginning one.
		replanned := slices.ContainsFunc(res.Applied, func(c Change) bool { return c.Op == OpPlan && !c.Loosening })
		if n := a.phaseAt(t) + 1; n != e.st.PhaseSeen {
			if n > 1 && !replanned {
				res.Phase = &PhaseNews{Number: n, Of: len(a.Phases) + 1, Words: e.phaseBegan(n, t)}
			}
			e.st.PhaseSeen = n
		}
	}
	if res.Changed() {
		e.pruneZones()
	}
	return res
}

// mature applies the pending changes whose time has come, in order, and
// reports whether it changed anything. A change that asks to be confirmed
// waits, matured, for Unlock to confirm it, and lapses ConfirmWindow after
// it matured: one from the file is then not asked again until the file
// changes.
func (e *Engine) mature(t time.Time, res *Result) bool {
	slices.SortStableFunc(e.st.Pending, func(x, y Change) int { return x.Effective.Compare(y.Effective) })
	changed := false
	var keep []Change
	for _, p := range e.st.Pending {
		switch {
		case p.Effective.After(t):
			keep = append(keep, p)
		case p.Confirm && t.Before(p.Effective.Add(ConfirmWindow)):
			keep = append(keep, p)
		case p.Confirm:
			e.st.Record.add(Event{At: t, Kind: EventLapsed, What: p.What, ID: p.ID})
			if !fromCommand(p.Op) && !slices.Contains(e.st.Dismissed, p.Key) {
				e.st.Dismissed = append(e.st.Dismissed, p.Key)
			}
			res.Lapsed = append(res.Lapsed, p)
			changed = true
		default:
			e.applyAt(p, p.Effective)
			res.Applied = append(res.Applied, p)
			changed = true
		}
	}
	e.st.Pending = keep
	return changed
}

// applyAt applies a loosening whose time has come at at. An unlock
// remembers the period the request asked for, so that the same request
// does not start it again.
func (e *Engine) applyAt(c Change, at time.Time) {
	if c.Op == OpUnlock && e.hasReq {
		want := e.want(at)
		e.st.UnlockedFrom = periodKey(want.Start, want.End)
	}
	apply(&e.st, c, at)
}

// want is the request resolved at t. A pact that has ended does not
// count a different request from its start: that is a new pact, counted
// from its own start (now, when the file gives none).
func (e *Engine) want(t time.Time) Terms {
	a := e.st.Active
	over := !a.Start.IsZero() && !a.End.IsZero() && !t.Before(a.End)
	if over && e.req.Start.IsZero() && e.st.EndedFor != "" && periodFingerprint(e.req) != e.st.EndedFor {
		return resolve(e.req, time.Time{}, t, e.loc)
	}
	return resolve(e.req, a.Start, t, e.loc)
}

// begin turns a trial into a real pact: the request, taken whole, from
// its start (or t), with a record and memory of its own.
func (e *Engine) begin(t time.Time) {
	e.st.Active = resolve(e.req, time.Time{}, t, e.loc)
	e.st.Completed, e.st.Unlocked, e.st.UnlockedFrom, e.st.EndedFor, e.st.PhaseSeen = time.Time{}, false, "", "", 0
	e.st.Pending, e.st.Refused, e.st.Dismissed, e.st.Uninstall = nil, nil, nil, nil
	e.st.Record = Record{Since: e.st.Active.Start}
}

// stillOn says what goes on blocking once the period is over: the quiet
// hours in force pact or not, or "".
func (e *Engine) stillOn() string {
	var parts []string
	for _, w := range e.st.Active.Quiet {
		parts = append(parts, "quiet hours "+e.windowWords(w))
	}
	return joinWords(parts)
}

// phaseBegan says that phase n of the plan began, what it does, and until
// when.
func (e *Engine) phaseBegan(n int, t time.Time) string {
	a := e.st.Active
	return fmt.Sprintf("Phase %d of %d of your pact has begun: %s.", n, len(a.Phases)+1, e.phaseWords(a, n-1))
}

// phaseWords says what phase i (0: the first) of a does, beside the
// phase before it, and until when: "WhatsApp open, the rest still
// blocked and quiet hours every day 22:00-07:00 (WhatsApp), until ...".
func (e *Engine) phaseWords(a Terms, i int) string {
	p, d, k, q := a.phaseLists(i)
	var parts []string
	var opened, added []string
	if i > 0 {
		pp, pd, _, _ := a.phaseLists(i - 1)
		opened = append(minus(set(pp), set(p)), minus(set(pd), set(d))...)
		added = append(minus(set(p), set(pp)), minus(set(d), set(pd))...)
	}
	switch {
	case len(p) == 0 && len(d) == 0:
		parts = append(parts, "nothing is blocked all day")
	case i > 0 && len(added) == 0 && len(opened) == 0:
		parts = append(parts, "the same blocked as before")
	case i > 0 && len(added) == 0 && len(opened) <= maxNames:
		parts = append(parts, e.nameList(opened)+" open, the rest still blocked")
	default:
		parts = append(parts, plural(len(p)+len(d), "platform or site", "platforms and sites")+" blocked")
		if open := minus(set(k), set(p)); len(open) > 0 {
			parts = append(parts, e.nameList(open)+" kept open on purpose")
		}
	}
	for _, w := range q {
		parts = append(parts, "quiet hours "+e.windowWords(w))
	}
	end := a.phaseEnd(i)
	until := "until the pact is unlocked"
	if !end.IsZero() {
		until = "until " + when(end, e.loc)
	}
	return joinWords(parts) + ", " + until
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// periodFingerprint names what a request says of its period: its start,
// length or end, and its phases' lengths and ends.
func periodFingerprint(r Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%d|%d|%s", timeKey(r.Start), r.Length, r.Months, timeKey(r.End))
	for _, p := range r.Phases {
		fmt.Fprintf(&b, "|%d|%d|%s", p.Length, p.Months, timeKey(p.Until))
	}
	return fingerprintOf(b.String())
}

func fingerprintOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// fingerprint names a request canonically.
func fingerprint(r Request) string {
	r = resolve(r, time.Unix(0, 0), time.Unix(0, 0), time.UTC)
	data, _ := json.Marshal(r)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// Snapshot is what is blocked at one instant, and why.
type Snapshot struct {
	At time.Time
	// Spec is what the filter blocks.
	Spec dnsfilter.Spec
	// PactOn is set while the pact's period runs.
	PactOn bool
	// Quiet are the quiet-hours windows blocking now.
	Quiet []Window
	// Why gives, for each platform id and domain blocked, what blocks it:
	// "the pact", or "quiet hours fri sat 22:00-07:00 (...)".
	Why map[string][]string
}

// Snapshot computes what is blocked at t.
func (e *Engine) Snapshot(t time.Time) Snapshot {
	a := e.st.Active
	s := Snapshot{At: t, Why: map[string][]string{}}
	var platforms, domains []string
	because := func(names []string, why string) {
		for _, n := range names {
			s.Why[n] = append(s.Why[n], why)
		}
	}
	var quiet []Window
	if e.pactOn(t) {
		s.PactOn = true
		p, d, _, q := a.phaseLists(a.phaseAt(t))
		platforms = append(platforms, p...)
		domains = append(domains, d...)
		because(p, "the pact")
		because(d, "the pact")
		quiet = q
	}
	for _, w := range append(slices.Clone(a.Quiet), quiet...) {
		if w.activeAt(t, e.windowLoc(w)) {
			s.Quiet = append(s.Quiet, w)
			platforms = append(platforms, w.Platforms...)
			domains = append(domains, w.Domains...)
			because(w.Platforms, "quiet hours "+w.String())
			because(w.Domains, "quiet hours "+w.String())
		}
	}
	s.Spec = dnsfilter.Spec{Platforms: set(platforms), Domains: set(domains), Allow: set(a.Allow)}
	return s
}

func (e *Engine) pactOn(t time.Time) bool {
	a := e.st.Active
	return !a.Start.IsZero() && !t.Before(a.Start) && (a.End.IsZero() || t.Before(a.End))
}

// NextTransition returns the first instant after t at which Snapshot or the
// state may change: the pact's start or end, a pending change maturing, a
// quiet-hours window opening or closing. Zero when nothing is due.
func (e *Engine) NextTransition(t time.Time) time.Time {
	var best time.Time
	consider := func(x time.Time) {
		if !x.IsZero() && x.After(t) && (best.IsZero() || x.Before(best)) {
			best = x
		}
	}
	a := e.st.Active
	if !a.Start.IsZero() {
		consider(a.Start)
		consider(a.End)
		for _, p := range a.Phases {
			consider(p.From)
		}
	}
	for _, p := range e.st.Pending {
		consider(p.Effective)
		if p.Confirm {
			consider(p.Effective.Add(ConfirmWindow))
		}
	}
	quiet := a.Quiet
	if e.pactOn(t) {
		_, _, _, q := a.phaseLists(a.phaseAt(t))
		quiet = append(slices.Clone(quiet), q...)
	}
	for _, w := range quiet {
		consider(w.nextEdge(t, e.windowLoc(w)))
	}
	return best
}

// Status is the whole picture at one instant, for `nocontact status`.
type Status struct {
	At time.Time
	// Active is the pact in force (its Start zero if none was applied).
	Active Terms
	// PactOn is set while the period runs; Completed is when it ended
	// (zero if it has not), Unlocked whether an unlock ended it.
	PactOn    bool
	Completed time.Time
	Unlocked  bool
	// StrictNow is set while strict mode refuses loosening.
	StrictNow bool
	// Blocking is set when anything is blocked now; Blocked and Domains
	// say what, Allow what stays open inside it.
	Blocking bool
	Blocked  []string
	Domains  []string
	Allow    []string
	// Why maps each blocked platform or domain to what blocks it.
	Why map[string][]string
	// QuietNow are the quiet-hours windows blocking now.
	QuietNow []Window
	// Pending are the queued loosenings, soonest first; Refused the
	// loosenings strict mode refused.
	Pending []Change
	Refused []Refusal
	// Next is the next transition (zero: none).
	Next time.Time
	// Binding is set while the pact holds the machine (see
	// Engine.Binding); Uninstall is the uninstall request that has waited
	// out its cooldown, nil if none has.
	Binding   bool
	Uninstall *Change

	// Phase is the number of the phase in force (1 for the first, also
	// for a pact without [[phase]]), of Phases; PhaseEnds when it ends
	// (zero: until unlocked). NextPhase is the phase after it, if any.
	// All zero when the period does not run.
	Phase, Phases int
	PhaseEnds     time.Time
	NextPhase     *NextPhase
	// KeepOpen are the platforms kept open on purpose now: what the
	// phase in force names in keep_open and does not block.
	KeepOpen []string
	// Reason, Trial and Confirm are the active pact's (see Terms).
	Reason  string
	Trial   bool
	Confirm bool
}

// NextPhase is the phase that comes next in a plan.
type NextPhase struct {
	Number    int
	From      time.Time
	Until     time.Time // zero: until the pact is unlocked
	Platforms []string
	Domains   []string
	KeepOpen  []string
	Quiet     []Window
	// Words say it: "2 platforms and sites blocked, WhatsApp kept open
	// on purpose and quiet hours ..., until ...".
	Words string
}

// Status describes the state at t. It does not advance the engine; the
// daemon calls Advance first.
func (e *Engine) Status(t time.Time) Status {
	snap := e.Snapshot(t)
	st := e.State()
	out := Status{
		At:        t,
		Active:    st.Active,
		PactOn:    snap.PactOn,
		Completed: st.Completed,
		Unlocked:  st.Unlocked,
		StrictNow: e.strictAt(t),
		Blocking:  len(snap.Spec.Platforms) > 0 || len(snap.Spec.Domains) > 0,
		Blocked:   snap.Spec.Platforms,
		Domains:   snap.Spec.Domains,
		Allow:     snap.Spec.Allow,
		Why:       snap.Why,
		QuietNow:  snap.Quiet,
		Pending:   st.Pending,
		Refused:   st.Refused,
		Next:      e.NextTransition(t),
		Binding:   e.Binding(t),
		Uninstall: st.Uninstall,
		Reason:    st.Active.Reason,
		Trial:     st.Active.Trial,
		Confirm:   st.Active.Confirm,
	}
	a := st.Active
	if snap.PactOn {
		n := a.phaseAt(t)
		out.Phase, out.Phases, out.PhaseEnds = n+1, len(a.Phases)+1, a.phaseEnd(n)
		p, _, k, _ := a.phaseLists(n)
		out.KeepOpen = minus(set(k), set(p))
		if n < len(a.Phases) {
			np := a.Phases[n]
			out.NextPhase = &NextPhase{Number: n + 2, From: np.From, Until: a.phaseEnd(n + 1), Platforms: np.Platforms, Domains: np.Domains,
				KeepOpen: minus(set(np.KeepOpen), set(np.Platforms)), Quiet: np.Quiet, Words: e.phaseWords(a, n+1)}
		}
	}
	return out
}
