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

// hostsPrefixes are the names under each blocked catalog domain that the
// hosts layer lists beside the domain itself: the site (www.), the mobile
// site (m., mobile.) and the apps' API (api.), the names most platforms
// use. A name that does not exist costs only its two lines.
var hostsPrefixes = []string{"", "www.", "m.", "mobile.", "api."}

// MaxHostsNames bounds the names the hosts layer lists (two lines each,
// 0.0.0.0 and ::): some systems read the whole hosts file at every lookup.
// The catalog's names come first and fit under it with every platform of
// every group blocked (TestHostsNamesBounded); the settings' own domains
// take the rest, and past it they are left to the filter alone.
const MaxHostsNames = 3000

// HostsNames returns the names the hosts layer lists for spec: for each
// blocked platform, its domains with their usual names (hostsPrefixes) and
// the host names its apps use (catalog.Platform.Hosts); for the extra
// domains, each with its "www." name; leaving out the bypass group (its
// names are for programs that speak DNS themselves) and any name an allow
// entry covers. At most MaxHostsNames, sorted, without duplicates. With
// the filter stopped and the DNS settings changed by hand, these names
// still lead nowhere.
func HostsNames(cat *catalog.Catalog, spec dnsfilter.Spec) []string {
	var out []string
	seen := map[string]bool{}
	add := func(n string) {
		if len(out) < MaxHostsNames && !seen[n] && !allowed(n, spec.Allow) {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, id := range spec.Platforms {
		p, ok := cat.Lookup(id)
		if !ok || p.Category == catalog.Bypass {
			continue
		}
		for _, d := range p.Domains {
			for _, pre := range hostsPrefixes {
				add(pre + d)
			}
		}
		for _, h := range p.Hosts {
			add(h)
		}
	}
	for _, d := range spec.Domains {
		add(d)
		add("www." + d)
	}
	slices.Sort(out)
	return out
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
