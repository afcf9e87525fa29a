package dnsfilter

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/dnsfilter/match"
)

func TestPolicyAttributesDomainsToPlatforms(t *testing.T) {
	p, err := NewPolicy(testCatalog(t), Spec{
		Platforms: []string{"tiktok"},
		Domains:   []string{"www.instagram.com", "their-blog.example"},
		Allow:     []string{"help.instagram.com"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, platform string
		action         match.Action
	}{
		{"a.www.instagram.com", "instagram", match.Block}, // an extra domain inside a catalog platform
		{"instagram.com", "instagram", match.Watch},       // the rest of instagram is not blocked
		{"help.instagram.com", "instagram", match.Allow},
		{"x.their-blog.example", "", match.Block},
		{"www.tiktok.com", "tiktok", match.Block},
		{"dns.google", "encrypted-dns", match.Block}, // bypass group: blocked while anything is
	} {
		r, _ := p.Match(tt.name)
		if r.Platform != tt.platform || r.Action != tt.action {
			t.Errorf("%s: got %v by %q, want %v by %q", tt.name, r.Action, r.Platform, tt.action, tt.platform)
		}
	}
	if !p.Blocking() {
		t.Error("Blocking() = false with tiktok blocked")
	}
	empty, _ := NewPolicy(testCatalog(t), Spec{})
	if empty.Blocking() || len(empty.Blocked()) != 0 {
		t.Errorf("empty spec: Blocking()=%v Blocked()=%v, want nothing", empty.Blocking(), empty.Blocked())
	}
	if r, _ := empty.Match("dns.google"); r.Action != match.Watch {
		t.Errorf("empty spec: dns.google is %v, want not blocked", r.Action)
	}
	if _, err := NewPolicy(testCatalog(t), Spec{Platforms: []string{"twitter"}}); err == nil {
		t.Error("an alias in Spec.Platforms was accepted; the daemon must hand over ids")
	}
}

// BenchmarkPolicyMatch measures a lookup in the compiled policy: the real
// catalog, alone and with 1,000,000 extra domains of the user's own.
// Every domain of the catalog is answered, and explained by `nocontact
// check`, as its own platform's: blocked under it when every group is
// named, watched under it when nothing is.
func TestEveryCatalogDomainIsItsPlatforms(t *testing.T) {
	cat := testCatalog(t)
	var ids []string
	for _, pl := range cat.Platforms() {
		ids = append(ids, pl.ID)
	}
	all, err := NewPolicy(cat, Spec{Platforms: ids})
	if err != nil {
		t.Fatal(err)
	}
	none, err := NewPolicy(cat, Spec{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, pl := range cat.Platforms() {
		for _, d := range pl.Domains {
			for _, name := range []string{d, "www." + d, "a-1.b." + d + "."} {
				n++
				blocked, why := all.Explain(name)
				if want := "by " + pl.Name + ": " + d; !blocked || why != want {
					t.Errorf("check %s with everything blocked: %v %q, want blocked %q", name, blocked, why, want)
				}
				if r, ok := all.Blocks(name); !ok || r.Platform != pl.ID {
					t.Errorf("%s: blocked %v by %q, want blocked by %s", name, ok, r.Platform, pl.ID)
				}
				if pl.Category == catalog.Bypass {
					continue // blocked whenever anything is, watched otherwise
				}
				blocked, why = none.Explain(name)
				if want := pl.Name + ": " + d + " is not blocked now"; blocked || why != want {
					t.Errorf("check %s with nothing blocked: %v %q, want %q", name, blocked, why, want)
				}
			}
		}
	}
	t.Logf("%d names of %d platforms checked", n, len(ids))
}

func BenchmarkPolicyMatch(b *testing.B) {
	cat := testCatalog(b)
	all, err := cat.Resolve([]string{"all"})
	if err != nil {
		b.Fatal(err)
	}
	names := []string{"scontent-fra5-1.cdninstagram.com.", "www.example.org.", "a.b.c.d.e.f.example.net.", "API.TWITTER.COM."}
	for _, extra := range []int{0, 1_000_000} {
		domains := make([]string, extra)
		for i := range domains {
			domains[i] = fmt.Sprintf("d%07d.example.test", i)
		}
		p, err := NewPolicy(cat, Spec{Platforms: all, Domains: domains})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("extra=%d", extra), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				p.Match(names[i%len(names)])
			}
		})
	}
}

// BenchmarkNewPolicyMillionDomains measures compiling a policy with the
// catalog and 1,000,000 extra domains of the user's own: the time to load
// them (ns/op) and the memory they add (MB-added, the live heap after
// minus before).
func BenchmarkNewPolicyMillionDomains(b *testing.B) {
	cat := testCatalog(b)
	domains := make([]string, 1_000_000)
	for i := range domains {
		domains[i] = fmt.Sprintf("d%07d.example.test", i)
	}
	var before, after runtime.MemStats
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		p, err := NewPolicy(cat, Spec{Platforms: []string{"instagram"}, Domains: domains})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(p)
		b.StartTimer()
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MB-added")
}
