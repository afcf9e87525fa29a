package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nocontact/nocontact/daemon/control"
	"github.com/nocontact/nocontact/daemon/pact"
)

// Backend returns what the control socket offers: the daemon's status,
// checks against the live policy, unlock, cancel and reload.
func (d *Daemon) Backend() control.Backend { return backend{d} }

type backend struct{ d *Daemon }

func (b backend) Status(ctx context.Context) (control.Status, error) {
	d := b.d
	st := d.Status()
	out := PactStatus(st)
	out.Settings = d.opts.ConfigPath
	out.Attempts = d.attempts.Summary()
	for _, a := range d.srv.Addrs() {
		out.Health.Listening = append(out.Health.Listening, a.String())
	}
	out.Health.Listening = append(out.Health.Listening, d.lan.listening()...)
	d.mu.Lock()
	up := d.up
	d.mu.Unlock()
	if up != nil {
		for _, h := range up.Health() {
			out.Health.Upstreams = append(out.Health.Upstreams, control.UpstreamHealth{Addr: h.Name, OK: h.OK})
		}
	}
	out.Health.Reasserts = int(d.reasserts.Load())
	for _, st := range d.watchPort() {
		if len(st.Procs) == 0 {
			out.Health.Strangers = append(out.Health.Strangers, control.Stranger{Proto: st.Proto, Addr: st.Addr.String()})
		}
		for _, p := range st.Procs {
			out.Health.Strangers = append(out.Health.Strangers, control.Stranger{Proto: st.Proto, Addr: st.Addr.String(), PID: p.PID, Command: p.Command})
		}
	}
	out.Record = d.record()
	out.Warnings = nonNil(d.Warnings())
	waiting, lead := d.clk.Waiting()
	out.Clock = control.Clock{Waiting: waiting, UnconfirmedSeconds: int64(lead / time.Second), Witnesses: nonNil(st.Active.Witnesses)}
	d.mu.Lock()
	if d.witnessErr != nil {
		out.Clock.LastAnswer = d.witnessErr.Error()
	}
	d.mu.Unlock()
	return out, nil
}

// record returns the record of attempts for the control socket.
func (d *Daemon) record() control.Record {
	d.mu.Lock()
	r := d.eng.Record()
	d.mu.Unlock()
	out := control.Record{Since: r.Since, Counts: map[string]int{}, Events: []control.Event{}}
	for k, n := range r.Counts {
		out.Counts[string(k)] = n
	}
	for _, e := range r.Events {
		out.Events = append(out.Events, control.Event{At: e.At, Kind: string(e.Kind), What: e.What, ID: e.ID})
	}
	return out
}

// PactStatus describes the pact of st for the control socket: all of
// control.Status but the filter's health, the attempt counts, the record,
// the warnings, the clock and the settings file, which the daemon adds.
// It is pure, so that the words `nocontact status` prints can be tested
// from a pact engine's status.
func PactStatus(st pact.Status) control.Status {
	out := control.Status{
		Now:      st.At,
		Blocking: st.Blocking,
		Pact: control.Pact{
			Active:          st.PactOn,
			Start:           st.Active.Start,
			Cooldown:        pact.Words(st.Active.Cooldown),
			CooldownSeconds: int64(st.Active.Cooldown / time.Second),
			Strict:          st.Active.Strict,
			Completed:       !st.Completed.IsZero(),
			EndedEarly:      st.Unlocked,
			Reason:          st.Reason,
			Trial:           st.Trial,
			KeepOpen:        nonNil(st.KeepOpen),

			ConfirmAfterCooldown: st.Confirm,
			Phase:                phaseStatus(st),
		},
		Blocked: nonNil(st.Blocked),
		Domains: nonNil(st.Domains),
		Allow:   nonNil(st.Allow),
		Pending: []control.Pending{},
		Refused: []control.Refused{},
	}
	if !st.Active.End.IsZero() {
		end := st.Active.End
		if !st.Completed.IsZero() && st.Completed.Before(end) {
			end = st.Completed // ended early by an unlock
		}
		out.Pact.End = &end
	}
	for _, c := range st.Pending {
		out.Pending = append(out.Pending, pendingOf(c))
	}
	for _, r := range st.Refused {
		out.Refused = append(out.Refused, control.Refused{Change: r.Change.What, Until: st.Active.End})
	}
	quietNow := map[string]bool{}
	for _, w := range st.QuietNow {
		quietNow[w.Key()] = true
	}
	out.QuietHours = quietWindows(st.Active.Quiet, quietNow)
	if st.Phase > 0 {
		// The quiet hours of the phase in force are shown beside the
		// others.
		_, _, _, q := phaseQuiet(st)
		out.QuietHours = append(out.QuietHours, quietWindows(q, quietNow)...)
	}
	out.Uninstall = uninstallStatus(st)
	return out
}

func (b backend) Check(ctx context.Context, names []string) ([]control.CheckResult, error) {
	p := b.d.srv.Policy()
	kept := b.d.Status().KeepOpen
	out := make([]control.CheckResult, len(names))
	for i, n := range names {
		blocked, why := p.Explain(n)
		if r, ok := p.Match(n); ok && !blocked && slices.Contains(kept, r.Platform) {
			why = "kept open on purpose: " + b.d.opts.Catalog.DisplayName(r.Platform)
		}
		out[i] = control.CheckResult{Name: n, Blocked: blocked, Why: why}
	}
	return out, nil
}

func (b backend) Unlock(ctx context.Context) (control.UnlockResult, error) {
	d := b.d
	before := d.Status().Pending
	c, err := d.Unlock()
	switch {
	case errors.Is(err, pact.ErrStrict):
		st := d.Status()
		res := control.UnlockResult{Refused: true}
		if end := st.Active.End; !end.IsZero() {
			res.End = &end
		}
		return res, nil
	case errors.Is(err, pact.ErrNotRunning):
		return control.UnlockResult{NoPact: true}, nil
	case err != nil:
		return control.UnlockResult{}, err
	}
	after := d.Status()
	p := pendingOf(c)
	res := control.UnlockResult{Pending: &p, Ended: !after.PactOn}
	still := slices.ContainsFunc(after.Pending, func(x pact.Change) bool { return x.ID == c.ID })
	switch {
	case c.Confirm && !still:
		res.Confirmed = true
	case still && slices.ContainsFunc(before, func(x pact.Change) bool { return x.ID == c.ID }):
		res.Again = true
	}
	return res, nil
}

func (b backend) Uninstall(ctx context.Context) (control.UninstallResult, error) {
	d := b.d
	c, allowed, err := d.Uninstall()
	switch {
	case errors.Is(err, pact.ErrStrict):
		st := d.Status()
		res := control.UninstallResult{Refused: true}
		if end := st.Active.End; !end.IsZero() {
			res.End = &end
		}
		return res, nil
	case err != nil:
		return control.UninstallResult{}, err
	case allowed:
		return control.UninstallResult{Allowed: true}, nil
	}
	return control.UninstallResult{Pending: &control.Pending{ID: c.ID, Change: c.What, Effective: c.Effective}}, nil
}

func (b backend) Cancel(ctx context.Context, id string) (control.CancelResult, error) {
	if id == "" {
		id = "all"
	}
	cs, err := b.d.Cancel(id)
	if errors.Is(err, pact.ErrNoChange) {
		return control.CancelResult{}, fmt.Errorf("nothing waiting has the id %q: 'nocontact status' lists the waiting changes with their ids", id)
	}
	if err != nil {
		return control.CancelResult{}, err
	}
	out := control.CancelResult{Cancelled: []control.Pending{}}
	for _, c := range cs {
		out.Cancelled = append(out.Cancelled, pendingOf(c))
	}
	return out, nil
}

func (b backend) Reload(ctx context.Context) (control.ReloadResult, error) {
	if err := b.d.Reload(); err != nil {
		return control.ReloadResult{}, fmt.Errorf("the config was not reloaded, the previous one stays in force: %w", err)
	}
	b.d.applyLAN() // at once, so that the endpoints a reload adds serve when it returns
	out := control.ReloadResult{Pending: []control.Pending{}}
	for _, c := range b.d.Status().Pending {
		out.Pending = append(out.Pending, pendingOf(c))
	}
	return out, nil
}

// uninstallStatus says whether uninstalling is allowed now, and the
// request waiting (or matured) if there is one.
func uninstallStatus(st pact.Status) control.Uninstall {
	out := control.Uninstall{Allowed: !st.Binding || st.Uninstall != nil}
	req := st.Uninstall
	if req == nil {
		for i := range st.Pending {
			if st.Pending[i].Op == pact.OpUninstall {
				req = &st.Pending[i]
				break
			}
		}
	}
	if req != nil {
		eff := req.Effective
		out.Requested, out.ID, out.Effective = true, req.ID, &eff
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func hhmm(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// dayList names the days of a quiet-hours day mask (bit time.Weekday).
func dayList(mask uint8) []string {
	names := []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	var out []string
	for _, i := range []int{1, 2, 3, 4, 5, 6, 0} { // monday first
		if mask&(1<<i) != 0 {
			out = append(out, names[i])
		}
	}
	return out
}

// pendingOf describes a waiting change for the control socket.
func pendingOf(c pact.Change) control.Pending {
	p := control.Pending{ID: c.ID, Change: c.What, Effective: c.Effective, Confirm: c.Confirm, Ending: c.Op == pact.OpUnlock}
	if c.Confirm {
		by := c.Effective.Add(pact.ConfirmWindow)
		p.ConfirmBy = &by
	}
	return p
}

// phaseStatus describes the phase in force of a plan in phases, or nil.
func phaseStatus(st pact.Status) *control.Phase {
	if st.Phases < 2 {
		return nil
	}
	out := &control.Phase{Number: st.Phase, Of: st.Phases, Ends: timePtr(st.PhaseEnds)}
	if n := st.NextPhase; n != nil {
		out.Next = &control.NextPhase{Number: n.Number, Starts: n.From, Ends: timePtr(n.Until),
			Blocked: nonNil(n.Platforms), Domains: nonNil(n.Domains), KeepOpen: nonNil(n.KeepOpen),
			QuietHours: quietWindows(n.Quiet, nil)}
	}
	return out
}

// phaseQuiet returns the lists of the phase in force.
func phaseQuiet(st pact.Status) (platforms, domains, keepOpen []string, quiet []pact.Window) {
	a := st.Active
	if st.Phase <= 1 || st.Phase-2 >= len(a.Phases) {
		return a.Platforms, a.Domains, a.KeepOpen, nil
	}
	p := a.Phases[st.Phase-2]
	return p.Platforms, p.Domains, p.KeepOpen, p.Quiet
}

// quietWindows describes windows for the control socket; now names the
// windows blocking now, by key.
func quietWindows(ws []pact.Window, now map[string]bool) []control.QuietWindow {
	out := []control.QuietWindow{}
	for _, w := range ws {
		out = append(out, control.QuietWindow{
			Days:   dayList(w.Days),
			From:   hhmm(w.From),
			To:     hhmm(w.To),
			Block:  append(append([]string{}, w.Platforms...), w.Domains...),
			Active: now[w.Key()],
		})
	}
	return out
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
