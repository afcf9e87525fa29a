package dnsfilter

import (
	"github.com/miekg/dns"
	"slices"
	"strings"

	"github.com/nocontact/nocontact/dnsfilter/export"
	"github.com/nocontact/nocontact/dnsfilter/match"
)

// Blocklist returns what the policy blocks, for other DNS software to
// carry the same block (`nocontact export`): every blocked domain that no
// other blocked domain already covers, the allow entries that lie inside
// a blocked domain (the exceptions), and the names answered NXDOMAIN.
func (p *Policy) Blocklist() export.List {
	l := export.List{Blocked: []export.Domain{}, Allow: []string{}, NXDomain: []string{}}
	for _, r := range p.m.Rules() {
		// The closest rule above the domain: a block there already
		// covers it, and an allow entry matters only inside a block.
		above, _ := p.m.Match(parent(r.Domain))
		switch r.Action {
		case match.Block:
			if above.Action != match.Block {
				l.Blocked = append(l.Blocked, export.Domain{Domain: r.Domain, Platform: r.Platform})
			}
		case match.Allow:
			if above.Action == match.Block {
				l.Allow = append(l.Allow, r.Domain)
			}
		}
	}
	for _, sn := range specialNames {
		if sn.rcode == dns.RcodeNameError && (!sn.blocking || p.Blocking()) {
			l.NXDomain = append(l.NXDomain, strings.TrimSuffix(sn.name, "."))
		}
	}
	slices.SortFunc(l.Blocked, func(a, b export.Domain) int { return strings.Compare(a.Domain, b.Domain) })
	slices.Sort(l.Allow)
	slices.Sort(l.NXDomain)
	return l
}

// parent is the domain one label up ("" above a top-level domain, which
// no rule names).
func parent(d string) string {
	if i := strings.IndexByte(d, '.'); i >= 0 {
		return d[i+1:]
	}
	return ""
}
