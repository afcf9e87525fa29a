package pact

import (
	"strings"
	"time"

	"github.com/nocontact/nocontact/daemon/clock"
)

// The time zone of quiet hours is part of the terms: each window keeps the
// zone it was asked for in (Window.Zone), and the zones' rules are kept in
// the state (State.Zones), so that after a restart in another zone the old
// windows still open and close when they did. A change of the machine's
// zone then reads as the old windows removed (a loosening, queued behind
// the cooldown, while they stay in force) and the same windows in the new
// zone added (a tightening, at once): for the cooldown both hold, and no
// blocked hour is lost without the wait.

// UseZone makes z the machine's zone: the zone of the windows the request
// asks for from now on, and of the words in changes. It is kept in the
// state. The daemon calls it at start and whenever the machine's zone
// changes; the request's windows move to z at the next Reload.
func (e *Engine) UseZone(z clock.Zone) {
	id := z.ID()
	if e.st.Zones == nil {
		e.st.Zones = map[string]clock.Zone{}
	}
	e.st.Zones[id] = z
	e.zone = id
	e.loc = e.locOf(id)
	e.normalize()
	e.pruneZones()
}

// Zone returns the ID of the machine's zone as the engine knows it.
func (e *Engine) Zone() string { return e.zone }

// locOf returns the location of the zone with the given ID.
func (e *Engine) locOf(id string) *time.Location {
	if loc, ok := e.locs[id]; ok {
		return loc
	}
	var loc *time.Location
	if z, ok := e.st.Zones[id]; ok {
		loc = z.Location()
	} else {
		loc = clock.Zone{Name: id}.Location()
	}
	if e.locs == nil {
		e.locs = map[string]*time.Location{}
	}
	e.locs[id] = loc
	return loc
}

// windowLoc returns the location w is kept in.
func (e *Engine) windowLoc(w Window) *time.Location {
	if w.Zone == "" {
		return e.loc
	}
	return e.locOf(w.Zone)
}

// inZone returns the windows with those of no zone put in the engine's.
func (e *Engine) inZone(ws []Window) []Window {
	out := make([]Window, len(ws))
	for i, w := range ws {
		if w.Zone == "" {
			w.Zone = e.zone
		}
		out[i] = w
	}
	sortWindows(out)
	return out
}

// pruneZones forgets the rules of zones no window, pending change or
// refusal uses any more, besides the machine's own.
func (e *Engine) pruneZones() {
	used := map[string]bool{e.zone: true}
	for _, w := range e.st.Active.Quiet {
		used[w.Zone] = true
	}
	for _, c := range e.st.Pending {
		if c.Window != nil {
			used[c.Window.Zone] = true
		}
	}
	for id := range e.st.Zones {
		if !used[id] {
			delete(e.st.Zones, id)
		}
	}
}

// zoneWords names a zone ID for a person: "Europe/Paris".
func zoneWords(id string) string {
	if i := strings.Index(id, "~tzif-"); i >= 0 {
		id = id[:i]
	}
	if strings.HasPrefix(id, "tzif-") {
		return "the computer's earlier time zone"
	}
	return strings.TrimPrefix(id, "windows:")
}
