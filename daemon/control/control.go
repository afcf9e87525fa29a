// Package control is the local API between the nocontact daemon and its
// command line: JSON over HTTP on a unix socket (Linux, macOS) or named
// pipes (Windows).
//
// Any local user may read (status, check, the blocklist, the LAN
// endpoints and the public certificate of their CA); every change (unlock, cancel,
// reload, uninstall) needs root or Administrator, or the user the daemon itself runs
// as. On unix the peer's credentials decide (SO_PEERCRED, LOCAL_PEERCRED);
// on Windows two pipes do, the changing one open only to Administrators
// and SYSTEM by its security descriptor. This package carries requests and
// answers; it decides nothing about the pact.
package control

import (
	"context"
	"time"

	"github.com/nocontact/nocontact/daemon/attempts"
)

// API paths. Reads are GET, changes POST.
const (
	PathStatus    = "/v1/status"
	PathCheck     = "/v1/check"
	PathUnlock    = "/v1/unlock"
	PathCancel    = "/v1/cancel"
	PathReload    = "/v1/reload"
	PathUninstall = "/v1/uninstall"
)

// Status is what `nocontact status` shows, and `status --json` prints.
type Status struct {
	Now        time.Time                 `json:"now"`
	Blocking   bool                      `json:"blocking"` // anything blocked right now
	Pact       Pact                      `json:"pact"`
	Blocked    []string                  `json:"blocked"` // platform ids blocked right now
	Domains    []string                  `json:"domains"` // extra domains blocked right now
	Allow      []string                  `json:"allow"`   // entries kept open
	QuietHours []QuietWindow             `json:"quiet_hours"`
	Pending    []Pending                 `json:"pending"`
	Refused    []Refused                 `json:"refused"` // loosenings a strict pact turned down
	Attempts   map[string]attempts.Count `json:"attempts"`
	Health     Health                    `json:"health"`
	Uninstall  Uninstall                 `json:"uninstall"`
	// Settings is the settings file the running filter reads, for the
	// commands that change it (start, extend).
	Settings string `json:"settings,omitempty"`
	// Record is the record of attempts to go around the pact, since it
	// began.
	Record Record `json:"record"`
	// Warnings say, in plain words, what of the settings the daemon does
	// not follow (a mistake in the file, lines it ignores).
	Warnings []string `json:"warnings"`
	// Clock says whether nocontact's time waits for witnesses.
	Clock Clock `json:"clock"`
}

// Clock is the state of nocontact's trusted time.
type Clock struct {
	// Waiting is set while the computer's clock claims time nocontact did
	// not see pass (after a restart, or a gap), until two witnesses confirm
	// the time; UnconfirmedSeconds is how much.
	Waiting            bool  `json:"waiting"`
	UnconfirmedSeconds int64 `json:"unconfirmed_seconds"`
	// Witnesses are the sites asked; LastAnswer why they did not agree
	// yet (empty before the first try or once they did).
	Witnesses  []string `json:"witnesses"`
	LastAnswer string   `json:"last_answer,omitempty"`
}

// Record is the record of attempts to go around the pact.
type Record struct {
	Since time.Time `json:"since"`
	// Counts counts every event by kind (loosening_queued,
	// loosening_cancelled, loosening_refused, state_restored, state_lost,
	// settings_moved_memory, dns_rewritten, hosts_edited, firewall_removed,
	// browser_policy_removed, and kinds later versions add).
	Counts map[string]int `json:"counts"`
	// Events are the latest events, oldest first.
	Events []Event `json:"events"`
}

// Event is one entry of the record.
type Event struct {
	At   time.Time `json:"at"`
	Kind string    `json:"kind"`
	What string    `json:"what"`
	ID   string    `json:"id,omitempty"`
}

// Uninstall says whether nocontact may be removed from the machine now.
type Uninstall struct {
	// Requested is set when an uninstall was asked for ('nocontact
	// uninstall' while the pact binds): it waits out its cooldown, or has.
	Requested bool `json:"requested"`
	// Effective is when the request matures (or matured); ID is its id
	// for 'nocontact cancel'. Both only with Requested.
	Effective *time.Time `json:"effective,omitempty"`
	ID        string     `json:"id,omitempty"`
	// Allowed is set when uninstalling is possible now: nothing binds,
	// or a request has waited out its cooldown.
	Allowed bool `json:"allowed"`
}

// Pact describes the active pact.
type Pact struct {
	Active   bool       `json:"active"` // started, not ended, not completed
	Start    time.Time  `json:"start"`
	End      *time.Time `json:"end"`      // nil: open-ended, until unlocked
	Cooldown string     `json:"cooldown"` // as a config writes it, like "24h" or "1w3d"
	// CooldownSeconds is the cooldown in seconds, for scripts.
	CooldownSeconds int64 `json:"cooldown_seconds"`
	Strict          bool  `json:"strict"`
	Completed       bool  `json:"completed"`
	// EndedEarly is set when the pact was ended by an unlock.
	EndedEarly bool `json:"ended_early"`
	// Reason is why, in the person's own words ([pact] reason).
	Reason string `json:"reason,omitempty"`
	// Trial is set for a trial, which binds no one.
	Trial bool `json:"trial"`
	// ConfirmAfterCooldown: ending early must be confirmed again once
	// the cooldown has passed.
	ConfirmAfterCooldown bool `json:"confirm_after_cooldown"`
	// KeepOpen are the platform ids kept open on purpose right now.
	KeepOpen []string `json:"keep_open"`
	// Phase is the phase in force of a plan in phases; nil for a pact
	// of one phase, or when the pact is not on.
	Phase *Phase `json:"phase,omitempty"`
}

// Phase is the phase in force of a plan, and the next one.
type Phase struct {
	Number int        `json:"number"` // 1 for the first
	Of     int        `json:"of"`
	Ends   *time.Time `json:"ends"` // nil: until unlocked
	Next   *NextPhase `json:"next,omitempty"`
}

// NextPhase is the phase that comes after the one in force.
type NextPhase struct {
	Number     int           `json:"number"`
	Starts     time.Time     `json:"starts"`
	Ends       *time.Time    `json:"ends"`    // nil: until unlocked
	Blocked    []string      `json:"blocked"` // platform ids
	Domains    []string      `json:"domains"`
	KeepOpen   []string      `json:"keep_open"`
	QuietHours []QuietWindow `json:"quiet_hours"`
}

// QuietWindow is one recurring quiet-hours window.
type QuietWindow struct {
	Days   []string `json:"days"` // mon … sun
	From   string   `json:"from"` // "22:00", local time
	To     string   `json:"to"`
	Block  []string `json:"block"`  // platform ids
	Active bool     `json:"active"` // in force right now
}

// Pending is a loosening waiting out its cooldown.
type Pending struct {
	ID        string    `json:"id"`
	Change    string    `json:"change"` // in plain words: "stop blocking Instagram"
	Effective time.Time `json:"effective"`
	// Confirm is set when, once matured, the change waits to be
	// confirmed ('nocontact unlock' again) until ConfirmBy, and lapses
	// after it.
	Confirm   bool       `json:"confirm,omitempty"`
	ConfirmBy *time.Time `json:"confirm_by,omitempty"`
	// Ending is set for the end of the pact ('nocontact unlock').
	Ending bool `json:"ending,omitempty"`
}

// Refused is a loosening a strict pact turned down.
type Refused struct {
	Change string    `json:"change"`
	Until  time.Time `json:"until"` // when the pact ends and it could be asked again
}

// Health says whether the filter is doing its job.
type Health struct {
	Listening []string         `json:"listening"`
	Upstreams []UpstreamHealth `json:"upstreams"`
	Reasserts int              `json:"reasserts"` // times the system's DNS settings were put back
	// Strangers are other programs' sockets bound where the filter
	// answers, found now (Linux only): they may answer lookups the
	// filter would block.
	Strangers []Stranger `json:"strangers,omitempty"`
}

// Stranger is another program's socket bound to an address the filter
// answers on.
type Stranger struct {
	Proto string `json:"proto"` // "udp" or "tcp"
	Addr  string `json:"addr"`  // where it is bound
	// PID and Command name the process that holds it; PID is 0 when no
	// process could be found (one in another container, say).
	PID     int    `json:"pid,omitempty"`
	Command string `json:"command,omitempty"`
}

// UpstreamHealth is one upstream resolver's state.
type UpstreamHealth struct {
	Addr string `json:"addr"`
	OK   bool   `json:"ok"`
}

// CheckRequest asks what the live policy does with names.
type CheckRequest struct {
	Names []string `json:"names"`
}

// CheckResult is the verdict on one name.
type CheckResult struct {
	Name    string `json:"name"`
	Blocked bool   `json:"blocked"`
	Why     string `json:"why"`
}

// UnlockResult answers an unlock request.
type UnlockResult struct {
	// Pending is the queued end of the pact, with when it takes effect;
	// nil when the request was refused or there was nothing to end.
	Pending *Pending `json:"pending,omitempty"`
	// Refused is set when a strict pact cannot be ended early; End says
	// when it ends by itself.
	Refused bool       `json:"refused"`
	End     *time.Time `json:"end,omitempty"`
	// NoPact is set when no pact is active, so there is nothing to end.
	NoPact bool `json:"no_pact"`
	// Again is set when the end was asked for before: Pending is that
	// first request, with its first time.
	Again bool `json:"again"`
	// Ended is set when the pact ended now: a trial, or a matured
	// request confirmed (Confirmed).
	Ended     bool `json:"ended"`
	Confirmed bool `json:"confirmed"`
}

// CancelRequest names the pending change to cancel; an empty ID cancels
// all of them.
type CancelRequest struct {
	ID string `json:"id"`
}

// CancelResult lists what was cancelled.
type CancelResult struct {
	Cancelled []Pending `json:"cancelled"`
}

// ReloadResult answers a reload: the config was applied (tightening at
// once, loosening queued), or it had an error and the old one stays.
type ReloadResult struct {
	Pending []Pending `json:"pending"` // pending changes after the reload
}

// UninstallResult answers "may nocontact be removed now?". Asking is
// itself the request: while the pact binds it is queued like any
// loosening.
type UninstallResult struct {
	// Allowed is set when nocontact may be removed now: nothing binds,
	// or an earlier request has waited out its cooldown. The daemon then
	// stops keeping the system's DNS settings, so that uninstall can give
	// them back.
	Allowed bool `json:"allowed"`
	// Pending is the waiting request, with when it matures and its id
	// for `nocontact cancel`; nil when allowed or refused.
	Pending *Pending `json:"pending,omitempty"`
	// Refused is set when a strict pact cannot be loosened; End says when
	// it ends, after which uninstalling is allowed at once.
	Refused bool       `json:"refused"`
	End     *time.Time `json:"end,omitempty"`
}

// Backend is what the daemon offers through the control socket.
type Backend interface {
	Status(ctx context.Context) (Status, error)
	Check(ctx context.Context, names []string) ([]CheckResult, error)
	Unlock(ctx context.Context) (UnlockResult, error)
	Cancel(ctx context.Context, id string) (CancelResult, error)
	Reload(ctx context.Context) (ReloadResult, error)
	Uninstall(ctx context.Context) (UninstallResult, error)
	LANBackend
}
