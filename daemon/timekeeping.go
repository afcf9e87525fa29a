package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/nocontact/nocontact/daemon/clock"
	"github.com/nocontact/nocontact/daemon/pact"
)

// The daemon's side of the trusted clock (daemon/clock): what a reading
// found about time nocontact did not see goes into the record of attempts,
// a wall clock that was set is noted and the ledger saved at once, and
// while the wall clock claims time nothing vouched for, witnesses are
// asked until two agree.

// witnessEvery is how often witnesses are asked while the clock waits for
// them, and witnessSlow how often after witnessTries failures in a row.
const (
	witnessEvery = time.Minute
	witnessSlow  = 5 * time.Minute
	witnessTries = 5
)

// wallJump is how far the wall clock must move apart from the boot clock,
// between two wakes, to count as set (and not as network time nudging it).
const wallJump = time.Minute

// noteJumps adds what the clock found to the record while the pact binds.
// The caller holds d.mu.
func (d *Daemon) noteJumps(now time.Time) {
	binding := d.eng.Binding(now)
	for _, j := range d.clk.Jumps() {
		switch j.Kind {
		case clock.JumpNamespace:
			d.log.Warn("nocontact runs in a time namespace that moves its boot clock; it counts without that offset", "offset", j.Offset)
			d.eng.Note(pact.EventTimeNamespace, fmt.Sprintf("nocontact was started with its boot clock moved by %s (a time namespace); it counted without that", signedWords(j.Offset)), now)
		case clock.JumpBack:
			d.log.Warn("the boot clock went back without a restart; the trusted time goes on from where nocontact last saw it", "by", -j.Offset)
			d.eng.Note(pact.EventClockBack, fmt.Sprintf("the computer's boot clock went back by %s without a restart; nocontact's time went on from where it was", spanWords(-j.Offset)), now)
		case clock.JumpBootID:
			d.log.Warn("the boot id changed without a restart; only the time the boot clock saw counts")
			d.eng.Note(pact.EventClockBack, "the computer's boot number changed without a restart; only the time its boot clock saw counted", now)
		case clock.JumpGap, clock.JumpReboot:
			why := "it was stopped, or the computer shut down"
			switch {
			case j.Kind == clock.JumpReboot:
				why = "the computer was restarted or switched off"
			case !j.Stopped:
				why = "it was killed, or it crashed"
			}
			d.log.Info("nocontact was not running for a while", "from", j.From.In(d.loc).Format(time.RFC3339), "for", j.Gap, "why", why)
			if binding {
				d.eng.Note(pact.EventNotRunning, fmt.Sprintf("nocontact was not running for %s, from %s (%s)",
					spanWords(j.Gap), j.From.In(d.loc).Format("Mon 2 Jan 2006 at 15:04"), why), now)
			}
		}
	}
}

// noteWallSet notes a wall clock that was set since the last look, and
// reports whether it was (the caller then saves at once). The caller holds
// d.mu.
func (d *Daemon) noteWallSet(now time.Time) bool {
	l := d.clk.Ledger()
	prev := d.lastLook
	d.lastLook = l
	if prev.Trusted.IsZero() || prev.BootID != l.BootID {
		return false
	}
	drift := l.Wall.Sub(prev.Wall) - l.Trusted.Sub(prev.Trusted)
	if drift < wallJump && drift > -wallJump {
		return false
	}
	d.log.Warn("the computer's clock was set; nocontact's time did not move with it", "by", drift)
	if d.eng.Binding(now) {
		d.eng.Note(pact.EventClockSet, fmt.Sprintf("the computer's clock was set %s %s; the pact's time did not move", directionWords(drift), spanWords(abs(drift))), now)
	}
	return true
}

// witness asks witnesses while the clock waits for them, until ctx is
// done.
func (d *Daemon) witness(ctx context.Context) {
	fails := 0
	for {
		wait := witnessEvery
		if waiting, _ := d.clk.Waiting(); waiting {
			if d.askWitnesses(ctx) {
				fails = 0
			} else if fails++; fails >= witnessTries {
				wait = witnessSlow
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// askWitnesses asks the pact's witnesses once and takes the time two of
// them agree on.
func (d *Daemon) askWitnesses(ctx context.Context) bool {
	d.mu.Lock()
	urls := d.eng.State().Active.Witnesses
	d.mu.Unlock()
	mk := d.opts.Witness
	if mk == nil {
		mk = func(url string) clock.Witness { return clock.HTTPS{URL: url} }
	}
	ws := make([]clock.Witness, 0, len(urls))
	for _, u := range urls {
		ws = append(ws, mk(u))
	}
	qctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	t, err := clock.Witnessed(qctx, ws, 2)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		d.witnessErr = err
		d.log.Debug("no time witnesses agreed yet; the pact counts only the time nocontact saw pass", "err", err)
		return false
	}
	d.witnessErr = nil
	before := d.clk.Now()
	after := d.clk.Confirm(t)
	if after.After(before) {
		gained := after.Sub(before)
		d.log.Info("time witnesses confirmed the time; nocontact counts the time it did not see pass", "gained", gained)
		d.eng.Note(pact.EventWitnessed, fmt.Sprintf("two time sources confirmed %s nocontact had not seen pass", spanWords(gained)), after)
		d.lastLook = d.clk.Ledger()
		_ = d.saveOrReport() // a failure is logged, and the pact holds in memory
		d.poke()
	}
	return true
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func directionWords(d time.Duration) string {
	if d < 0 {
		return "back by"
	}
	return "ahead by"
}

func signedWords(d time.Duration) string {
	if d < 0 {
		return "-" + spanWords(-d)
	}
	return spanWords(d)
}

// spanWords says a duration for a person: "14 minutes", "2 hours and 5
// minutes", "3 days".
func spanWords(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	switch {
	case d < time.Minute:
		return unit(int64(d/time.Second), "second")
	case d < time.Hour:
		return unit(int64(d/time.Minute), "minute")
	case d < 24*time.Hour:
		h, m := int64(d/time.Hour), int64(d%time.Hour/time.Minute)
		if m == 0 {
			return unit(h, "hour")
		}
		return unit(h, "hour") + " and " + unit(m, "minute")
	default:
		days, h := int64(d/(24*time.Hour)), int64(d%(24*time.Hour)/time.Hour)
		if h == 0 {
			return unit(days, "day")
		}
		return unit(days, "day") + " and " + unit(h, "hour")
	}
}
