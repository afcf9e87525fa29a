package main

import (
	"slices"
	"testing"

	"github.com/nocontact/nocontact/dnsfilter"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
)

// TestBlockedDomainsMatchThePolicy checks the list against the filter
// itself: every listed domain is blocked by block = ["all"], and every
// catalog domain left out is not.
func TestBlockedDomainsMatchThePolicy(t *testing.T) {
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	got, err := blockedDomains(cat)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := cat.Resolve([]string{catalog.All})
	if err != nil {
		t.Fatal(err)
	}
	p, err := dnsfilter.NewPolicy(cat, dnsfilter.Spec{Platforms: ids})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"instagram.com", "whatsapp.net", "tinder.com"} {
		if !slices.Contains(got, want) {
			t.Errorf("%s is not listed", want)
		}
	}
	bypass := cat.Category(catalog.Bypass)
	if len(bypass) == 0 || !slices.Contains(got, bypass[0].Domains[0]) {
		t.Errorf("the bypass group's domains are not listed")
	}
	for _, pl := range cat.Platforms() {
		for _, d := range pl.Domains {
			_, blocked := p.Blocks(d)
			if listed := slices.Contains(got, d); listed != blocked {
				t.Errorf("%s (%s): listed %v, blocked by the policy %v", d, pl.ID, listed, blocked)
			}
		}
	}
}
