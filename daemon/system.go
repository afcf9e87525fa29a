package daemon

import (
	"context"
	"net/netip"
	"slices"
	"strings"

	"github.com/nocontact/nocontact/dnsfilter"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
)

// System is the installed machine as the daemon keeps it: its DNS settings
// pointed at the filter and the hosts layer in step with the policy. The
// daemon decides when (while the pact binds, after each new policy); the
// implementation (the installer's Keeper) knows how. A nil System is a
// trial run: the daemon touches nothing outside its state directory.
type System interface {
	// Installed reports whether nocontact took over this machine's DNS
	// (the installer's record of the original settings exists). Nothing
	// below is called while it is false.
	Installed() bool
	// KeepDNS checks the system's DNS settings and puts them back when
	// something else rewrote them; reasserted says it did.
	KeepDNS(ctx context.Context) (reasserted bool, err error)
	// SetHosts makes the hosts layer list exactly names (none: no
	// section); changed says it wrote.
	SetHosts(ctx context.Context, names []string) (changed bool, err error)
	// OriginalResolvers returns the resolvers the system used before
	// nocontact, for upstreams = ["system"]; none when it cannot tell.
	OriginalResolvers() ([]netip.AddrPort, error)
	// Changes delivers a value when the system's DNS settings or hosts
	// file may have been changed by someone else, so the daemon looks at
	// once rather than at its next wake; nil when it cannot watch.
	Changes() <-chan struct{}
	// Traces lists, in plain words, what outside the state folder shows
	// that nocontact held a pact here (its hosts section): a sign that a
	// pact existed when its memory is missing. Called also while
	// Installed is false.
	Traces() []string
}

// HostsNames returns the names the hosts layer lists for spec: each
// blocked platform's domains, each with its "www." name, and the same for
// the extra domains, leaving out the bypass group (its names are for
// programs that speak DNS themselves) and any name an allow entry covers.
// Sorted, without duplicates.
func HostsNames(cat *catalog.Catalog, spec dnsfilter.Spec) []string {
	var out []string
	add := func(d string) {
		for _, n := range []string{d, "www." + d} {
			if !allowed(n, spec.Allow) {
				out = append(out, n)
			}
		}
	}
	for _, id := range spec.Platforms {
		p, ok := cat.Lookup(id)
		if !ok || p.Category == catalog.Bypass {
			continue
		}
		for _, d := range p.Domains {
			add(d)
		}
	}
	for _, d := range spec.Domains {
		add(d)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// allowed reports whether an allow entry covers name (the entry itself
// or a subdomain of it).
func allowed(name string, allow []string) bool {
	for _, a := range allow {
		if name == a || strings.HasSuffix(name, "."+a) {
			return true
		}
	}
	return false
}
