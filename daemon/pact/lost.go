package pact

import (
	"slices"
	"time"
)

// LostRequest is the pact to hold from t when its memory is lost (both
// copies missing or damaged while something says a pact existed): it
// fails closed. It blocks every platform of every (the catalog's "all")
// besides what req blocks, with req's own domains and quiet hours, lets
// nothing through, keeps the firewall layer on, and takes at least
// minCooldown to loosen. Not knowing when the lost pact was to end, it
// has no end; a strict req keeps its
// strictness, with an end no sooner than req's (counted from t) or the
// cooldown, whichever is later, so that it cannot hold forever.
//
// The daemon adopts it and then reloads req, so every way req is looser
// (fewer platforms, an end, an allow entry, a shorter cooldown) is queued
// behind the cooldown like any loosening, and nothing of req applies at
// once but what is tighter.
func LostRequest(req Request, every []string, minCooldown time.Duration, t time.Time) Request {
	out := Request{
		Start:     t,
		Platforms: set(append(slices.Clone(every), req.Platforms...)),
		Domains:   set(req.Domains),
		Allow:     []string{},
		Cooldown:  max(req.Cooldown, minCooldown),
		Quiet:     slices.Clone(req.Quiet),
		Firewall:  true,
		Hosts:     true,
	}
	if req.Strict {
		// Months on the UTC calendar: hours from the local one at most,
		// and the end is only a floor.
		end := resolve(req, time.Time{}, t, time.UTC).End
		if floor := t.Add(out.Cooldown); end.IsZero() || end.Before(floor) {
			end = floor
		}
		out.Strict, out.End = true, end
	}
	return out
}
