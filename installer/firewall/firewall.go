// Package firewall is nocontact's firewall layer: while anything is
// blocked, the system's own firewall refuses the ways a program could ask
// a resolver of its own around the DNS filter. Outbound DNS (TCP and UDP
// 53), DNS over TLS (TCP 853) and DNS over QUIC (UDP 853) to any address
// but loopback are refused, except nocontact's own questions to its
// upstreams; HTTPS (TCP and UDP 443) to the addresses of the known
// encrypted-DNS services is refused too.
//
// It owns one interface, Firewall, with one backend per system, each in
// a place of its own that it alone writes, so that removing it leaves
// the rest of the rule set exactly as it was:
//
//   - Linux: an nftables table, "inet nocontact", through netlink. The
//     daemon's upstream sockets carry a socket mark (Mark, set by
//     Control) that the table lets through, so its exception holds for
//     nocontact alone.
//   - macOS: a pf anchor, "com.apple/nocontact" (evaluated through the
//     "com.apple/*" anchor of the system's own pf.conf, which is left
//     alone), loaded with pfctl, and pf enabled with a reference (pfctl -E)
//     that Remove gives back (pfctl -X).
//   - Windows: Windows Firewall rules in a group of their own,
//     "nocontact", made with PowerShell's NetSecurity module.
//
// macOS and Windows cannot tell nocontact's sockets from others' in a
// rule that blocks, so there the exception is by address: DNS and DNS
// over TLS to the daemon's own upstreams stay open (for every program),
// and those addresses are never in the encrypted-DNS list.
//
// The backends are plain code over injected edges (a command runner, a
// state directory, a logger), like installer/osdns; only New depends on
// the OS the binary runs on. This package must not decide *whether* the
// layer should be on, nor which addresses are encrypted-DNS services:
// that is the daemon's business (the pact, and the catalog's bypass
// group resolved through its upstreams).
package firewall

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/nocontact/nocontact/installer/command"
)

// Firewall is the layer as one system's firewall holds it.
type Firewall interface {
	// Mode names the mechanism.
	Mode() Mode
	// Apply puts the layer in force with r: it creates nocontact's own
	// table, anchor or rule group when it is missing (or not as it should
	// be), and makes the encrypted-DNS addresses exactly r.DoH. Nothing
	// outside nocontact's own place is touched.
	Apply(ctx context.Context, r Rules) error
	// Check returns nil when the layer is in force, an error wrapping
	// ErrRemoved when it is not (something removed it, or it was never
	// applied), and any other error when it could not tell.
	Check(ctx context.Context) error
	// Remove takes nocontact's own place out of the firewall, leaving the
	// rest as it is. Without it, it does nothing.
	Remove(ctx context.Context) error
}

// Mode names a firewall mechanism.
type Mode string

// The mechanisms.
const (
	ModeNftables        Mode = "nftables"         // Linux
	ModePF              Mode = "pf"               // macOS
	ModeWindowsFirewall Mode = "windows-firewall" // Windows
)

// Rules is what the layer holds beyond its fixed rules.
type Rules struct {
	// Upstreams are the addresses the daemon asks (plain DNS, DNS over
	// TLS, bootstrap, and the hosts of DNS over HTTPS upstreams). On
	// Linux the socket mark lets the daemon's traffic through and these
	// are not used; on macOS and Windows, DNS and DNS over TLS to them
	// stay open, and they are left out of DoH.
	Upstreams []netip.Addr
	// DoH are the addresses of the known encrypted-DNS services: HTTPS
	// to them is refused.
	DoH []Entry
}

// Entry is one encrypted-DNS address and how long the layer keeps it
// without news of it (where the firewall can expire entries by itself).
type Entry struct {
	Addr netip.Addr
	Keep time.Duration
}

// Name is the name of nocontact's own table, anchor or rule group.
const Name = "nocontact"

// Env is what a backend may touch.
type Env struct {
	// StateDir is where a backend keeps what it must give back (pf's
	// enable reference) and the rules it loads, as a full path.
	// Required for pf.
	StateDir string
	// Run runs the system's tools. Required for pf and Windows Firewall.
	Run command.Runner
	// Log receives what each step does. Nil means quiet.
	Log *slog.Logger
}

// ErrRemoved means the layer is not in force: something removed it (or
// part of it), or it was never applied. Apply puts it back.
var ErrRemoved = errors.New("nocontact's firewall rules are not in force")

// ErrUnsupported means there is no firewall backend for this operating
// system.
var ErrUnsupported = errors.New("nocontact has no firewall layer on this operating system")

// NewFor returns the backend for mode, whatever the OS the binary runs
// on (tests program pf and Windows Firewall on Linux with a fake runner);
// nftables exists on Linux only.
func NewFor(mode Mode, env Env) (Firewall, error) {
	if env.Log == nil {
		env.Log = slog.New(slog.DiscardHandler)
	}
	switch mode {
	case ModeNftables:
		return newNftables(env)
	case ModePF:
		if env.StateDir == "" || env.Run == nil {
			return nil, errors.New("firewall: pf needs a state directory and a command runner")
		}
		return &pf{env: env}, nil
	case ModeWindowsFirewall:
		if env.Run == nil {
			return nil, errors.New("firewall: Windows Firewall needs a command runner")
		}
		return &windowsFirewall{env: env}, nil
	}
	return nil, fmt.Errorf("firewall: unknown mode %q", mode)
}

// dohWithoutUpstreams returns the encrypted-DNS addresses of r without
// the upstreams,
// sorted and without duplicates, for the backends whose exception is by
// address.
func (r Rules) dohWithoutUpstreams() []netip.Addr {
	ups := r.upstreams()
	var out []netip.Addr
	for _, e := range r.DoH {
		a := e.Addr.Unmap()
		if !slices.Contains(ups, a) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return slices.Compact(out)
}

// upstreams returns r.Upstreams unmapped, sorted and without duplicates.
func (r Rules) upstreams() []netip.Addr {
	var out []netip.Addr
	for _, a := range r.Upstreams {
		out = append(out, a.Unmap())
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return slices.Compact(out)
}
