package pact

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
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
	running := !a.Start.IsZero() && (a.End.IsZero() || t.Before(a.End))
	return running || len(a.Quiet) > 0
}

// Firewall reports whether the active pact keeps the firewall layer on
// (while anything is blocked; the daemon decides that).
func (e *Engine) Firewall() bool { return e.st.Active.Firewall }

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
	req.Quiet = e.inZone(req.Quiet)
	e.st.Active = resolve(req, time.Time{}, t)
	e.st.Record = Record{Since: e.st.Active.Start}
	e.req, e.hasReq = req, true
	e.st.DismissedFor = fingerprint(req)
	e.reconcile(t)
	return e
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
	Completed time.Time // set when the pact's period ended in this call
}

// Changed reports whether anything in the state changed.
func (r Result) Changed() bool {
	return len(r.Applied)+len(r.Queued)+len(r.Refused)+len(r.Dropped) > 0 || !r.Completed.IsZero()
}

// Reload makes req the request and reconciles the active pact with it at t.
// A request different from the last one clears the cancellations made
// against the last one.
func (e *Engine) Reload(req Request, t time.Time) Result {
	if fp := fingerprint(req); fp != e.st.DismissedFor {
		e.st.Dismissed, e.st.DismissedFor = nil, fp
	}
	req.Quiet = e.inZone(req.Quiet)
	e.req, e.hasReq = req, true
	return e.reconcile(t)
}

// Advance brings the engine to t: matured changes apply, the period ends,
// strict mode lapses. The daemon calls it at each transition.
func (e *Engine) Advance(t time.Time) Result { return e.reconcile(t) }

// Unlock asks to end the pact now. Like any loosening it takes effect after
// the cooldown; asked again, it keeps its first time. In strict mode it is
// refused with ErrStrict (and the refusal recorded).
func (e *Engine) Unlock(t time.Time) (Change, Result, error) {
	res := e.reconcile(t)
	a := e.st.Active
	if a.Start.IsZero() || (!a.End.IsZero() && !t.Before(a.End)) {
		return Change{}, res, ErrNotRunning
	}
	c := Change{Key: "unlock", Op: OpUnlock, Loosening: true, What: "end the pact now"}
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
	c = e.queue(c, t)
	res.Queued = append(res.Queued, c)
	more := e.reconcile(t)
	res.Applied = append(res.Applied, more.Applied...)
	if !more.Completed.IsZero() {
		res.Completed = more.Completed
	}
	return c, res, nil
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
	return a.Strict && !a.Start.IsZero() && (a.End.IsZero() || t.Before(a.End))
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
			res.Completed = a.End
			changed = true
		}
		strict := e.strictAt(t)
		if !strict {
			e.st.Refused = nil
		}
		asked := map[string]bool{}
		if e.hasReq {
			want := resolve(e.req, a.Start, t)
			for _, c := range diff(want, *a, &e.st, t, e.loc, e.zone) {
				if !c.Loosening {
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
		slices.SortStableFunc(e.st.Pending, func(x, y Change) int { return x.Effective.Compare(y.Effective) })
		for len(e.st.Pending) > 0 && !e.st.Pending[0].Effective.After(t) {
			p := e.st.Pending[0]
			e.st.Pending = e.st.Pending[1:]
			if p.Op == OpUnlock && e.hasReq {
				want := resolve(e.req, a.Start, t)
				e.st.UnlockedFrom = periodKey(want.Start, want.End)
			}
			apply(&e.st, p, p.Effective)
			res.Applied = append(res.Applied, p)
			changed = true
		}
		if !changed {
			break
		}
	}
	if e.st.Pending == nil {
		e.st.Pending = []Change{}
	}
	if res.Changed() {
		e.pruneZones()
	}
	return res
}

// fingerprint names a request canonically.
func fingerprint(r Request) string {
	r = resolve(r, time.Unix(0, 0), time.Unix(0, 0))
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
	if e.pactOn(t) {
		s.PactOn = true
		platforms = append(platforms, a.Platforms...)
		domains = append(domains, a.Domains...)
		because(a.Platforms, "the pact")
		because(a.Domains, "the pact")
	}
	for _, w := range a.Quiet {
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
	}
	for _, p := range e.st.Pending {
		consider(p.Effective)
	}
	for _, w := range a.Quiet {
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
}

// Status describes the state at t. It does not advance the engine; the
// daemon calls Advance first.
func (e *Engine) Status(t time.Time) Status {
	snap := e.Snapshot(t)
	st := e.State()
	return Status{
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
	}
}
