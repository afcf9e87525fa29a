package match

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestMatch(t *testing.T) {
	m := New([]Rule{
		{Domain: "instagram.com", Action: Block, Platform: "instagram"},
		{Domain: "cdninstagram.com", Action: Block, Platform: "instagram"},
		{Domain: "help.instagram.com", Action: Allow},
		{Domain: "evil.help.instagram.com", Action: Block},
		{Domain: "whatsapp.com", Action: Block, Platform: "whatsapp"},
		{Domain: "whatsapp.com", Action: Allow}, // tie: allow wins
		{Domain: "x.com", Action: Watch, Platform: "x"},
		{Domain: "x.com", Action: Block}, // block beats watch
		{Domain: "reddit.com", Action: Watch, Platform: "reddit"},
	})
	tests := []struct {
		name   string
		want   Action
		domain string
	}{
		{"instagram.com", Block, "instagram.com"},
		{"instagram.com.", Block, "instagram.com"},
		{"INSTAGRAM.Com", Block, "instagram.com"},
		{"www.instagram.com", Block, "instagram.com"},
		{"a.b.c.instagram.com.", Block, "instagram.com"},
		{"scontent.cdninstagram.com", Block, "cdninstagram.com"},
		{"notinstagram.com", None, ""},
		{"instagram.com.example", None, ""},
		{"instagram.co", None, ""},
		{"com", None, ""},
		{"", None, ""},
		{".", None, ""},
		{"help.instagram.com", Allow, "help.instagram.com"},
		{"a.help.instagram.com", Allow, "help.instagram.com"},
		{"evil.help.instagram.com", Block, "evil.help.instagram.com"},
		{"x.evil.help.instagram.com", Block, "evil.help.instagram.com"},
		{"web.whatsapp.com", Allow, "whatsapp.com"},
		{"api.x.com", Block, "x.com"},
		{"www.reddit.com", Watch, "reddit.com"},
		// An escaped dot is inside a label: "a\.instagram" is one label
		// under "com", so the name is not inside instagram.com.
		{`a\.instagram.com`, None, ""},
		{`a\.b.instagram.com`, Block, "instagram.com"},
		{`instagram.com\.`, None, ""},
		{"instagram..com", None, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := m.Match(tt.name)
			if ok != (tt.want != None) || r.Action != tt.want || r.Domain != tt.domain {
				t.Errorf("Match(%q) = %+v, %v; want action %v on %q", tt.name, r, ok, tt.want, tt.domain)
			}
		})
	}
}

func TestNewKeepsOneRulePerDomain(t *testing.T) {
	m := New([]Rule{
		{Domain: "a.com", Action: Block, Platform: "one"},
		{Domain: "a.com", Action: Block, Platform: "two"},
		{Domain: "b.com", Action: Watch},
	})
	if m.Len() != 2 {
		t.Fatalf("Len() = %d, want 2", m.Len())
	}
	if r, _ := m.Match("a.com"); r.Platform != "one" {
		t.Errorf("equal actions: got platform %q, want the first one given, %q", r.Platform, "one")
	}
}

func TestLongNames(t *testing.T) {
	m := New([]Rule{{Domain: "instagram.com", Action: Block}})
	long := ""
	for len(long) < maxName {
		long += "a."
	}
	if _, ok := m.Match(long + "instagram.com"); ok {
		t.Errorf("a name longer than %d characters matched", maxName)
	}
	name := long[:maxName-len(".instagram.com")] + "instagram.com"
	if _, ok := m.Match(name); !ok {
		t.Errorf("a %d-character name under instagram.com did not match", len(name))
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	m := New([]Rule{{Domain: "instagram.com", Action: Block}})
	allocs := testing.AllocsPerRun(100, func() {
		m.Match("Www.Static.Instagram.com.")
		m.Match("www.example.org")
	})
	if allocs != 0 {
		t.Errorf("Match allocates %v times per call, want 0", allocs)
	}
}

// randomRules makes n distinct random domains, all under ".test".
func randomRules(n int) []Rule {
	r := rand.New(rand.NewPCG(1, 2))
	rules := make([]Rule, n)
	for i := range rules {
		rules[i] = Rule{Domain: fmt.Sprintf("%x-%d.test", r.Uint64(), i), Action: Block}
	}
	return rules
}

var benchNames = []string{
	"www.instagram.com.",
	"scontent-fra5-1.cdninstagram.com.",
	"a.very.long.name.under.some.allowed.example.org.",
	"WWW.EXAMPLE.COM.",
}

func benchmarkMatch(b *testing.B, extra int) {
	rules := append([]Rule{
		{Domain: "instagram.com", Action: Block},
		{Domain: "cdninstagram.com", Action: Block},
	}, randomRules(extra)...)
	m := New(rules)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		m.Match(benchNames[i%len(benchNames)])
	}
}

// The cost of a lookup must not grow with the number of rules: compare
// these with benchstat.
func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{10, 1000, 1_000_000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) { benchmarkMatch(b, n) })
	}
}
