// Package clock gives the daemon a "now" that moving the system clock does
// not change: the trusted time, on which pacts end and cooldowns mature.
//
// Within one boot the trusted time advances with the boot clock, which
// counts time spent asleep and ignores changes of the wall clock
// (CLOCK_BOOTTIME on Linux, less the offset of a time namespace the process
// may have been started in; CLOCK_MONOTONIC on macOS; the tick count on
// Windows). A ledger entry (boot id, boot-clock reading, wall time, trusted
// time) is kept with the daemon's state and saved at least once a minute,
// so it is also the daemon's heartbeat.
//
// Time nocontact did not see pass counts only as far as something vouches
// for it. After a reboot, the boot clock vouches for the time since the
// boot; the wall clock may claim more (the machine was off, or the date was
// changed while it was), and that claim counts only once two witnesses
// outside the machine confirm the time (see Witness). Until then the trusted
// time runs on from the last entry with the boot clock: a pact may last
// longer by the time the machine was off, never shorter. The same boot with
// its boot clock gone back (a time namespace, a registry edit) is not taken
// for a reboot: the trusted time goes on from the entry.
//
// The package reads clocks and asks witnesses; it does not persist the
// ledger (the daemon does) and must not set any clock.
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
	// Boot is the boot clock: time since boot, sleep included, with the
	// offset of a time namespace taken out (see NSOffset).
	Boot time.Duration
	// Wall is the wall clock, which the person can set.
	Wall time.Time
	// NSOffset is how far a time namespace the process runs in moves its
	// boot clock (Linux; zero elsewhere). Boot has it taken out already.
	NSOffset time.Duration
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
	// Waiting is set while the wall clock claims time that nothing has
	// vouched for (after a reboot or a gap), until witnesses confirm a
	// time (Confirm) or the claim goes away.
	Waiting bool `json:"waiting,omitempty"`
	// Stopped is set on the entry the daemon saves when it stops cleanly,
	// so that the next start can tell a stop from a kill.
	Stopped bool `json:"stopped,omitempty"`
}

// Unconfirmed is how far the wall clock of the entry is ahead of the
// trusted time while Waiting: the time waiting for witnesses.
func (l Ledger) Unconfirmed() time.Duration {
	if !l.Waiting || !l.Wall.After(l.Trusted) {
		return 0
	}
	return l.Wall.Sub(l.Trusted)
}

// NoticeableClaim is how far the wall clock must be ahead of the trusted
// time for the wait for witnesses to be worth telling the person: less is
// the seconds a restart takes, which witnesses confirm soon enough.
const NoticeableClaim = 2 * time.Minute

// JumpKind says what a reading found about time nocontact did not see.
type JumpKind string

// The kinds of Jump.
const (
	// JumpGap: nocontact was not running for a while, within one boot.
	JumpGap JumpKind = "gap"
	// JumpReboot: the machine was restarted (or off) since the entry.
	JumpReboot JumpKind = "reboot"
	// JumpBack: the same boot, but the boot clock went back: tampering
	// (a time namespace), not a reboot. The trusted time goes on from
	// the entry.
	JumpBack JumpKind = "boot_clock_back"
	// JumpBootID: the boot id changed, but the boot clock did not start
	// again: not a reboot either (a registry edit on Windows).
	JumpBootID JumpKind = "boot_id_changed"
	// JumpNamespace: the process runs in a time namespace that moves its
	// boot clock; the offset is taken out.
	JumpNamespace JumpKind = "time_namespace"
)

// Jump is what one reading found that the daemon should know of: a gap in
// its life, or a clock that was tampered with.
type Jump struct {
	Kind JumpKind
	// From is the trusted time of the last entry (the last heartbeat), and
	// Gap how long nocontact was not looking, at least: the boot clock's
	// word, or, after a reboot, the wall clock's when that is longer
	// (unconfirmed).
	From time.Time
	Gap  time.Duration
	// Stopped: the last entry says nocontact stopped cleanly.
	Stopped bool
	// Offset is the time namespace's offset (JumpNamespace), or how far
	// the boot clock went back (JumpBack).
	Offset time.Duration
}

// Clock is the trusted clock. It is safe for concurrent use.
type Clock struct {
	src     Source
	mu      sync.Mutex
	last    Ledger
	jumps   []Jump
	nsSaw   bool // a time namespace was reported already
	started bool // the first reading since New was made
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
	return c.read().Trusted
}

// read takes a reading and advances the ledger. The caller holds c.mu.
func (c *Clock) read() Ledger {
	r, err := c.src.Read()
	if r.NSOffset != 0 && !c.nsSaw {
		c.nsSaw = true
		c.jumps = append(c.jumps, Jump{Kind: JumpNamespace, Offset: r.NSOffset})
	}
	// Without a boot clock the reading counts as a gap, which trusts its
	// wall time no further than the ledger allows (Next ignores the boot
	// id and boot clock of a failed reading).
	prev := c.last
	var j *Jump
	c.last, j = Next(prev, r, err == nil)
	if j == nil && !c.started && !prev.Trusted.IsZero() && c.last.BootID == prev.BootID && c.last.Boot >= 0 {
		// The first reading of a process that continues a ledger of the
		// same boot: the daemon was not running in between.
		j = &Jump{Kind: JumpGap, From: prev.Trusted, Gap: c.last.Boot - prev.Boot, Stopped: prev.Stopped}
	}
	c.started = true
	if j != nil {
		c.jumps = append(c.jumps, *j)
	}
	return c.last
}

// Ledger returns the last entry, to persist.
func (c *Clock) Ledger() Ledger {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// Stopped returns a fresh entry marked as the daemon's last before a
// clean stop, to persist then.
func (c *Clock) Stopped() Ledger {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.read()
	c.last.Stopped = true
	return c.last
}

// Jumps returns what the readings since the last call found (gaps,
// tampering), and forgets them.
func (c *Clock) Jumps() []Jump {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.jumps
	c.jumps = nil
	return out
}

// Waiting reports whether the wall clock claims time nothing has vouched
// for, and how much.
func (c *Clock) Waiting() (bool, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.read()
	return l.Waiting, l.Unconfirmed()
}

// Confirm takes a time that witnesses agreed on: the trusted time moves
// forward to it if it is later (never back), and the wait ends when the
// wall clock claims no more than that.
func (c *Clock) Confirm(witnessed time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.read()
	if witnessed.After(l.Trusted) {
		l.Trusted = witnessed.Round(0)
	}
	l.Waiting = l.Wall.After(l.Trusted)
	c.last = l
	return l.Trusted
}

// Next is the rule of the trusted clock: the ledger entry after last for
// the reading r, and what it found, if anything. bootOK is false when r has
// no boot clock (only its wall time counts).
func Next(last Ledger, r Reading, bootOK bool) (Ledger, *Jump) {
	wall := r.Wall.Round(0) // no monotonic reading: it means nothing across processes
	if last.Trusted.IsZero() {
		// The first reading ever: nothing to hold the wall clock to.
		if !bootOK {
			r.BootID, r.Boot = "", -1
		}
		return Ledger{BootID: r.BootID, Boot: r.Boot, Wall: wall, Trusted: wall}, nil
	}
	next := Ledger{BootID: r.BootID, Boot: r.Boot, Wall: wall, Waiting: last.Waiting}
	var j *Jump
	gap := func(kind JumpKind, d time.Duration) *Jump {
		return &Jump{Kind: kind, From: last.Trusted, Gap: d, Stopped: last.Stopped}
	}
	sameBoot := bootOK && last.Boot >= 0 && r.BootID == last.BootID
	switch {
	case sameBoot && r.Boot >= last.Boot:
		next.Trusted = last.Trusted.Add(r.Boot - last.Boot)
	case sameBoot:
		// The boot clock went back without a reboot.
		next.Trusted = last.Trusted
		j = gap(JumpBack, 0)
		j.Offset = r.Boot - last.Boot
	case bootOK && last.Boot >= 0 && r.Boot >= last.Boot:
		// A new boot id, but the boot clock did not start again: not a
		// reboot. Count only what the boot clock saw since the entry.
		next.Trusted = last.Trusted.Add(r.Boot - last.Boot)
		j = gap(JumpBootID, r.Boot-last.Boot)
	case bootOK:
		// A reboot: the boot clock vouches for the time since the boot.
		next.Trusted = last.Trusted.Add(r.Boot)
		next.Waiting = true
		j = gap(JumpReboot, max(r.Boot, wall.Sub(last.Wall)))
	default:
		// No boot clock: nothing vouches for any time.
		next.Trusted = last.Trusted
		next.Waiting = true
		r.BootID, r.Boot = "", -1
		next.BootID, next.Boot = "", -1
	}
	if !next.Waiting {
		return next, j
	}
	// Waiting for witnesses: the wall clock's claim stands until they
	// confirm a time. Not a second of it is taken on the wall clock's
	// word, or a loop of quick reboots would add it up.
	if !wall.After(next.Trusted) {
		next.Waiting = false
	}
	return next, j
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
