package daemon

import (
	"strings"

	"github.com/nocontact/nocontact/daemon/pact"
)

// The log lines a person may read in the journal beside the ones of
// logResult: a phase beginning, what goes on after the pact, a request to
// end early that lapsed, a trial that became a pact, and what is kept open
// on purpose. The words come from the engine, with display names.

// logNews logs what r says beyond the changes themselves.
func (d *Daemon) logNews(r pact.Result) {
	if r.Began {
		d.log.Info("your pact has begun: the trial is over, and from now on anything looser waits out the cooldown")
	}
	if r.Phase != nil {
		d.log.Info(r.Phase.Words, "phase", r.Phase.Number, "of", r.Phase.Of)
	}
	for _, c := range r.Lapsed {
		d.log.Info("a request to end the pact early was not confirmed within a day of its cooldown, so it lapsed: the pact goes on",
			"change", c.What, "id", c.ID)
	}
	if !r.Completed.IsZero() {
		if r.StillOn != "" {
			d.log.Info("still on after the pact: " + r.StillOn)
		} else {
			d.log.Info("nothing is blocked any more: the pact is over, and no quiet hours go on after it")
		}
	}
}

// logKeptOpen says what the pact is, in a line a person reading the log
// understands ("your pact is on, until Tue 22 Dec 2026 at 21:00"), and
// what is kept open on purpose now, if anything: "Kept open on purpose:
// WhatsApp". The caller holds d.mu.
func (d *Daemon) logKeptOpen() {
	st := d.eng.Status(d.clk.Now())
	switch {
	case st.PactOn && st.Trial:
		d.log.Info("a trial is on: it blocks what the settings say, and holds no one to anything; any change applies at once")
	case st.PactOn && !st.Active.End.IsZero():
		d.log.Info("your pact is on, until " + st.Active.End.In(d.loc).Format("Mon 2 Jan 2006 at 15:04"))
	case st.PactOn:
		d.log.Info("your pact is on, until it is unlocked")
	}
	if len(st.KeepOpen) == 0 {
		return
	}
	names := make([]string, len(st.KeepOpen))
	for i, id := range st.KeepOpen {
		names[i] = d.opts.Catalog.DisplayName(id)
	}
	d.log.Info("Kept open on purpose: " + strings.Join(names, ", "))
}
