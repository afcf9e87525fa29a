package dnsfilter

import (
	"fmt"
	"slices"

	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/dnsfilter/match"
)

// Spec is what should be blocked at one moment, as the daemon decides it:
// platform ids from the catalog, extra domains of the user's own, and allow
// entries that stay reachable inside them.
type Spec struct {
	Platforms []string // catalog ids (not aliases, not "all")
	Domains   []string // lower-case, no trailing dot
	Allow     []string // lower-case, no trailing dot
}

// Policy is an immutable snapshot of what the filter blocks. The server
// swaps the whole snapshot atomically; nothing in it changes after
// NewPolicy returns.
type Policy struct {
	m        *match.Matcher
	blocking bool     // anything blocked: the bypass group and Private Relay are too
	blocked  []string // platform ids blocked, catalog order, bypass included
	cat      *catalog.Catalog
}

// NewPolicy compiles a spec against a catalog. Catalog platforms that are
// not blocked are still known to the policy (as watched domains), so that
// their answers can be told apart. An unknown platform id is an error.
func NewPolicy(cat *catalog.Catalog, s Spec) (*Policy, error) {
	want := make(map[string]bool, len(s.Platforms))
	for _, id := range s.Platforms {
		p, ok := cat.Lookup(id)
		if !ok || p.ID != id {
			return nil, fmt.Errorf("policy: %q is not a platform id of the catalog", id)
		}
		want[id] = true
	}
	blocking := len(s.Platforms) > 0 || len(s.Domains) > 0
	p := &Policy{blocking: blocking, cat: cat}

	var rules []match.Rule
	for _, pl := range cat.Platforms() {
		act := match.Watch
		if want[pl.ID] || (blocking && pl.Category == catalog.Bypass) {
			act = match.Block
			p.blocked = append(p.blocked, pl.ID)
		}
		for _, d := range pl.Domains {
			rules = append(rules, match.Rule{Domain: d, Action: act, Platform: pl.ID})
		}
	}
	// Extra domains and allow entries name the catalog platform they lie
	// in, if any, so that counts and answers can say which one it was.
	known := match.New(rules)
	owner := func(d string) string {
		r, _ := known.Match(d)
		return r.Platform
	}
	for _, d := range s.Domains {
		rules = append(rules, match.Rule{Domain: d, Action: match.Block, Platform: owner(d)})
	}
	for _, d := range s.Allow {
		rules = append(rules, match.Rule{Domain: d, Action: match.Allow, Platform: owner(d)})
	}
	p.m = match.New(rules)
	return p, nil
}

// Match returns the rule that decides name.
func (p *Policy) Match(name string) (match.Rule, bool) { return p.m.Match(name) }

// Blocks reports whether name is blocked, and by which rule.
func (p *Policy) Blocks(name string) (match.Rule, bool) {
	r, ok := p.m.Match(name)
	return r, ok && r.Action == match.Block
}

// Blocking reports whether the policy blocks anything at all.
func (p *Policy) Blocking() bool { return p.blocking }

// Blocked returns the ids of the platforms blocked, in catalog order.
func (p *Policy) Blocked() []string { return slices.Clone(p.blocked) }

// Explain says in one line what the filter does with name and which rule
// decides it, for `nocontact check`. blocked is true when a client gets a
// local answer instead of the upstream's.
func (p *Policy) Explain(name string) (blocked bool, why string) {
	if sn, ok := findSpecial(name, p); ok {
		return true, "answered locally: " + sn.why
	}
	r, ok := p.m.Match(name)
	if !ok {
		return false, "no rule covers it: forwarded"
	}
	switch r.Action {
	case match.Block:
		if r.Platform == "" {
			return true, "by your domains: " + r.Domain
		}
		return true, "by " + p.cat.DisplayName(r.Platform) + ": " + r.Domain
	case match.Allow:
		return false, "by your allow list: " + r.Domain
	}
	return false, p.cat.DisplayName(r.Platform) + ": " + r.Domain + " is not blocked now"
}
