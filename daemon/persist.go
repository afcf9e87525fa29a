package daemon

import (
	"log/slog"
	"sync"
	"time"
)

// attemptsDelay is how soon after an attempt the counts are saved: soon
// enough that a crash loses a few seconds of counts, late enough that a
// burst of blocked lookups costs one write.
const attemptsDelay = 2 * time.Second

// failure remembers whether saving something is failing, so that a full
// or read-only disk is reported once, and its recovery once, instead of on
// every save.
type failure struct {
	mu      sync.Mutex
	failing bool
}

// report logs err if it starts a run of failures, and a recovery when a
// run ends (err nil). The pact and the attempt counts share the state
// folder, and so one report.
func (f *failure) report(log *slog.Logger, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case err != nil && !f.failing:
		f.failing = true
		log.Error("nocontact could not save to its state folder; it goes on with what it has in memory and will say when saving works again "+
			"(check that the disk of the state folder is not full or read-only)", "err", err)
	case err == nil && f.failing:
		f.failing = false
		log.Info("nocontact can save to its state folder again")
	}
}

// saveOrReport saves the state and reports a failure once. The caller
// holds d.mu or is the only goroutine.
func (d *Daemon) saveOrReport() error {
	err := d.save()
	d.saving.report(d.log, err)
	return err
}

// attemptsSoon schedules a save of the attempt counts, once per burst.
func (d *Daemon) attemptsSoon() {
	if d.attemptsDue.Swap(true) {
		return
	}
	time.AfterFunc(attemptsDelay, func() {
		d.attemptsDue.Store(false)
		d.saveAttempts()
	})
}
