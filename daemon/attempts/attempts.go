// Package attempts counts the times a person reached for a blocked
// platform: blocked lookups per platform per local day, with a burst of
// lookups (browsers and apps retry, and load many names for one page)
// counted once.
//
// It keeps the last 90 days and nothing else: no names, no times of day.
// It does not write files itself: the daemon saves what Marshal returns
// and hands it back to Load after a restart.
package attempts

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

const (
	// DefaultBurst is how long after a lookup further lookups for the same
	// platform are taken as part of the same attempt. The window slides:
	// an app retrying every few seconds in the background counts once.
	DefaultBurst = 10 * time.Second
	// maxSeen bounds the bursts remembered (one per device and platform):
	// past it, the ones that ended are forgotten, and if that is not
	// enough (a flood from many addresses), all of them, which at worst
	// counts one burst twice.
	maxSeen = 4096
	// KeepDays is how many local days of counts are kept.
	KeepDays = 90
	// dayFormat names a local calendar day.
	dayFormat = "2006-01-02"
	// formatVersion is written in every Marshal and checked by Load.
	formatVersion = 1
)

// Count is how often one platform was reached for.
type Count struct {
	Today int `json:"today"`
	Week  int `json:"week"` // the last 7 local days, today included
}

// Counter counts attempts. It is safe for concurrent use; Record is called
// on the DNS query path and only takes a short lock.
type Counter struct {
	now   func() time.Time
	loc   *time.Location
	burst time.Duration

	mu       sync.Mutex
	days     map[string]map[string]int // local day → platform → attempts
	lastSeen map[seenKey]time.Time     // device and platform → last lookup, for bursts
	changed  bool
}

// New returns an empty counter reading time from now (the daemon's
// trusted clock; required) and counting days in loc (time.Local when nil).
func New(now func() time.Time, loc *time.Location) *Counter {
	if now == nil {
		panic("attempts.New: no clock")
	}
	if loc == nil {
		loc = time.Local
	}
	return &Counter{now: now, loc: loc, burst: DefaultBurst, days: map[string]map[string]int{}, lastSeen: map[seenKey]time.Time{}}
}

// seenKey names a burst: one device's lookups of one platform.
type seenKey struct{ device, platform string }

// Record notes one blocked lookup for platform, from this computer.
func (c *Counter) Record(platform string) { c.RecordFrom("", platform) }

// RecordFrom notes one blocked lookup for platform from a device (its
// address; "" for this computer). Each device's lookups make bursts of
// their own: a phone reaching for a platform while the computer's
// browser retries it is a second attempt. The count itself is per
// platform: which device it was is not kept.
func (c *Counter) RecordFrom(device, platform string) {
	t := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	k := seenKey{device, platform}
	last, seen := c.lastSeen[k]
	if !seen && len(c.lastSeen) >= maxSeen {
		for k, l := range c.lastSeen {
			if t.Sub(l) >= c.burst || t.Before(l) {
				delete(c.lastSeen, k)
			}
		}
		if len(c.lastSeen) >= maxSeen {
			clear(c.lastSeen)
		}
	}
	c.lastSeen[k] = t
	if seen && t.Sub(last) >= 0 && t.Sub(last) < c.burst {
		return
	}
	day := t.In(c.loc).Format(dayFormat)
	d := c.days[day]
	if d == nil {
		d = map[string]int{}
		c.days[day] = d
		c.pruneLocked(t)
	}
	d[platform]++
	c.changed = true
}

// pruneLocked drops days older than KeepDays before t.
func (c *Counter) pruneLocked(t time.Time) {
	oldest := dayOf(t.In(c.loc), -(KeepDays - 1)).Format(dayFormat)
	for day := range c.days {
		if day < oldest {
			delete(c.days, day)
		}
	}
}

// dayOf returns local midnight of the day n days from t's day.
func dayOf(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d+n, 0, 0, 0, 0, t.Location())
}

// Summary returns, for every platform reached for in the last 7 days, its
// count today and over the week.
func (c *Counter) Summary() map[string]Count {
	t := c.now().In(c.loc)
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]Count{}
	for i := 0; i < 7; i++ {
		day := dayOf(t, -i).Format(dayFormat)
		for p, n := range c.days[day] {
			cnt := out[p]
			cnt.Week += n
			if i == 0 {
				cnt.Today += n
			}
			out[p] = cnt
		}
	}
	return out
}

// Changed reports whether counts changed since the last Marshal.
func (c *Counter) Changed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

type file struct {
	Version int                       `json:"version"`
	Days    map[string]map[string]int `json:"days"`
}

// Marshal returns the counts for saving.
func (c *Counter) Marshal() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, err := json.Marshal(file{Version: formatVersion, Days: c.days})
	if err == nil {
		c.changed = false
	}
	return b, err
}

// Load replaces the counts with saved ones. Days older than KeepDays are
// dropped. On error the counter is left as it was.
func (c *Counter) Load(b []byte) error {
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("attempt counts: %w", err)
	}
	if f.Version != formatVersion {
		return fmt.Errorf("attempt counts: format version %d, this nocontact reads version %d", f.Version, formatVersion)
	}
	days := map[string]map[string]int{}
	for _, day := range slices.Sorted(maps.Keys(f.Days)) {
		if _, err := time.ParseInLocation(dayFormat, day, c.loc); err != nil {
			return fmt.Errorf("attempt counts: day %q: %w", day, err)
		}
		for p, n := range f.Days[day] {
			if n < 0 {
				return errors.New("attempt counts: a negative count")
			}
			if days[day] == nil {
				days[day] = map[string]int{}
			}
			days[day][p] = n
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.days = days
	c.pruneLocked(c.now())
	return nil
}
