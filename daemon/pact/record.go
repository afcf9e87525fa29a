package pact

import (
	"time"
)

// EventKind names one kind of attempt to go around the pact, or a sign of
// one. The names are stable: `status --json` shows them.
type EventKind string

// The kinds the engine records itself (from the file, unlock, uninstall
// and cancel) and those the daemon notes (Engine.Note).
const (
	// The pact engine's own.
	EventQueued    EventKind = "loosening_queued"    // a loosening asked for, waiting out the cooldown
	EventCancelled EventKind = "loosening_cancelled" // a waiting loosening cancelled
	EventRefused   EventKind = "loosening_refused"   // a loosening a strict pact turned down
	EventConfirmed EventKind = "loosening_confirmed" // ending the pact early, confirmed after the cooldown
	EventLapsed    EventKind = "loosening_lapsed"    // ending the pact early, not confirmed in time
	// The daemon's.
	EventStateRestored EventKind = "state_restored"        // one copy of the memory damaged or missing, restored from the other
	EventStateLost     EventKind = "state_lost"            // both copies damaged or missing: everything blocked again
	EventMemoryMoved   EventKind = "settings_moved_memory" // the settings tried to put the memory or the control socket elsewhere
	EventDNSRewritten  EventKind = "dns_rewritten"         // something else changed the system's DNS settings
	EventHostsEdited   EventKind = "hosts_edited"          // someone edited nocontact's section of the hosts file
	EventNotRunning    EventKind = "not_running"           // nocontact was not running for a while during the pact
	EventClockSet      EventKind = "clock_set"             // the computer's date or time was changed
	EventClockBack     EventKind = "clock_tampered"        // the boot clock went back, or the boot id changed, without a restart
	EventTimeNamespace EventKind = "time_namespace"        // nocontact was started with its clocks moved (a time namespace)
	EventWitnessed     EventKind = "time_confirmed"        // witnesses confirmed time nocontact had not seen pass
	EventPortStranger  EventKind = "port_stranger"         // another program bound to the filter's DNS address
	// The firewall layer's and the browsers' policies (issue 14).
	EventFirewallRemoved      EventKind = "firewall_removed"       // something else removed nocontact's firewall rules
	EventBrowserPolicyRemoved EventKind = "browser_policy_removed" // something else removed a browser policy nocontact wrote
)

// maxEvents bounds Record.Events: the latest are kept, and Counts still
// counts every one.
const maxEvents = 200

// Event is one entry of the record.
type Event struct {
	At   time.Time `json:"at"`
	Kind EventKind `json:"kind"`
	// What says it in plain words: "stop blocking instagram", "the copy
	// in /etc/nocontact was missing".
	What string `json:"what"`
	// ID is the change's id, for the kinds about a change.
	ID string `json:"id,omitempty"`
}

// Record is the record of attempts to go around one pact: kept with the
// pact in the state, started afresh with each new pact. Nothing like it
// is shown to anyone but the person: it is an honest mirror, not a report.
type Record struct {
	// Since is the start of the pact the record belongs to.
	Since time.Time `json:"since,omitzero"`
	// Counts counts every event of the pact by kind.
	Counts map[EventKind]int `json:"counts,omitempty"`
	// Events are the latest events, oldest first, at most maxEvents.
	Events []Event `json:"events,omitempty"`
}

func (r *Record) add(ev Event) {
	if r.Counts == nil {
		r.Counts = map[EventKind]int{}
	}
	r.Counts[ev.Kind]++
	r.Events = append(r.Events, ev)
	if n := len(r.Events) - maxEvents; n > 0 {
		r.Events = append([]Event(nil), r.Events[n:]...)
	}
}

// Note adds an event the daemon saw to the record.
func (e *Engine) Note(kind EventKind, what string, t time.Time) {
	e.st.Record.add(Event{At: t, Kind: kind, What: what})
}

// Record returns a copy of the record of attempts.
func (e *Engine) Record() Record { return e.State().Record }
