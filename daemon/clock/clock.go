// Package clock gives the daemon a "now" that moving the system clock does
// not change: the trusted time, on which pacts end and cooldowns mature.
//
// Within one boot the trusted time advances with the boot clock, which
// counts time spent asleep and ignores changes of the wall clock
// (CLOCK_BOOTTIME on Linux, CLOCK_MONOTONIC on macOS, the tick count on
// Windows). A ledger entry (boot id, boot-clock reading, wall time, trusted
// time) is kept with the daemon's state. Across a reboot the boot clock
// starts again, so the wall clock is trusted, but never back past the last
// ledger entry, and without the lead it was set ahead of the trusted time
// before the reboot.
//
// What this cannot see: a wall clock changed while the machine is off (in
// the firmware, or by booting another system), since no clock of this
// machine ran in between that nocontact could read. The package reads
// clocks; it does not persist the ledger (the daemon does) and must not set
// any clock.
package clock

import (
	"sync"
	"sync/atomic"
	"time"
)

// Reading is one look at the machine's clocks.
type Reading struct {
	// BootID names this boot of the machine; "" when it cannot be known,
	// and then a reboot is seen only when the boot clock goes back.
	BootID string
	// Boot is the boot clock: time since boot, sleep included.
	Boot time.Duration
	// Wall is the wall clock, which the person can set.
	Wall time.Time
}

// Source reads the machine's clocks. System returns the real one; tests
// use a fake.
type Source interface {
	// Read returns the clocks now. When the boot clock (or the boot id)
	// cannot be read it returns an error, and the Reading still carries
	// the wall time, which is then all that counts.
	Read() (Reading, error)
}

// Ledger is the last trusted reading, persisted by the daemon so that the
// trusted time holds across restarts and reboots. The zero Ledger means no
// reading was ever made.
type Ledger struct {
	BootID  string        `json:"boot_id"`
	Boot    time.Duration `json:"boot_ns"`
	Wall    time.Time     `json:"wall"`
	Trusted time.Time     `json:"trusted"`
}

// skewTolerance is how far the wall clock may run ahead of the trusted time
// before that lead is carried across a reboot. Small leads come from
// network time corrections and the hardware clock drifting, and trusting
// the wall clock is right for them; a lead larger than this is the wall
// clock having been set ahead, and a reboot must not cash it in.
const skewTolerance = 5 * time.Minute

// Clock is the trusted clock. It is safe for concurrent use.
type Clock struct {
	src  Source
	mu   sync.Mutex
	last Ledger
}

// New returns a clock reading src that continues from the ledger last (the
// zero Ledger for a first start).
func New(src Source, last Ledger) *Clock {
	return &Clock{src: src, last: last}
}

// Now returns the trusted time. It never goes back, whatever the wall
// clock does.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, err := c.src.Read()
	// Without a boot clock the reading counts as a reboot, which trusts
	// its wall time within the bounds the ledger sets (Next ignores the
	// boot id and boot clock of a failed reading).
	c.last = Next(c.last, r, err == nil)
	return c.last.Trusted
}

// Ledger returns the last entry, to persist.
func (c *Clock) Ledger() Ledger {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// Next is the rule of the trusted clock: the ledger entry after last for
// the reading r. bootOK is false when r has no boot clock (only its wall
// time counts).
func Next(last Ledger, r Reading, bootOK bool) Ledger {
	wall := r.Wall.Round(0) // no monotonic reading: it means nothing across processes
	first := last.Trusted.IsZero()
	sameBoot := bootOK && !first && last.Boot >= 0 && r.BootID == last.BootID && r.Boot >= last.Boot
	var trusted time.Time
	if sameBoot {
		trusted = last.Trusted.Add(r.Boot - last.Boot)
	} else {
		trusted = wall
		if !first {
			if lead := last.Wall.Sub(last.Trusted); lead > skewTolerance {
				trusted = trusted.Add(-lead)
			}
			if trusted.Before(last.Trusted) {
				trusted = last.Trusted
			}
		}
	}
	if !bootOK {
		// Keep the boot id and reading of the last entry out of it, so that
		// the next good reading is not taken for the same boot.
		r.BootID, r.Boot = "", -1
	}
	return Ledger{BootID: r.BootID, Boot: r.Boot, Wall: wall, Trusted: trusted}
}

// bootIDOnce keeps the boot id once it has been read. The id names the
// boot the process runs in, and a process does not outlive its boot, so
// one read is enough; reading it again would cost a file or registry read
// on every Now, which the DNS server calls for each blocked lookup.
type bootIDOnce struct {
	id atomic.Pointer[string]
}

// get returns the kept id, or reads it with read, keeping it when read
// succeeds with a non-empty id (a failed read is tried again next time).
func (b *bootIDOnce) get(read func() (string, error)) (string, error) {
	if p := b.id.Load(); p != nil {
		return *p, nil
	}
	id, err := read()
	if err == nil && id != "" {
		b.id.Store(&id)
	}
	return id, err
}
