// Package match decides, for a DNS name, which domain rule applies to it.
//
// A rule names a domain and covers that domain and all its subdomains, at
// label boundaries: "instagram.com" covers "www.instagram.com" but not
// "notinstagram.com" nor "instagram.com.example". The most specific rule
// wins; when an allow and a block rule name the same domain, the allow rule
// wins, since it is the user's explicit exception.
//
// A lookup costs one map probe per label of the name, whatever the number of
// rules, and does not allocate. The package knows nothing of platforms being
// blocked "now": it is handed the rules and never changes them.
package match

// Action is what a rule does to the names it covers.
type Action uint8

// Actions, in increasing precedence for rules that name the same domain.
const (
	// None is the zero Action: no rule covers the name.
	None Action = iota
	// Watch marks a catalog domain that is not blocked now; answers for it
	// are forwarded, with a capped TTL so a later block shows quickly.
	Watch
	// Block answers the name locally with the blocked answer.
	Block
	// Allow forwards the name even inside a blocked domain.
	Allow
)

// String returns the action's lower-case name.
func (a Action) String() string {
	switch a {
	case Watch:
		return "watched"
	case Block:
		return "blocked"
	case Allow:
		return "allowed"
	}
	return "none"
}

// Rule is one domain with its action.
type Rule struct {
	Domain   string // lower-case, no trailing dot
	Action   Action
	Platform string // catalog platform id, or "" for a domain of the user's own
}

// Matcher is an immutable set of rules, safe for concurrent use.
type Matcher struct {
	rules []Rule
	index map[string]int32
}

// New builds a matcher. Domains must already be lower-case without a
// trailing dot (the config and catalog packages make sure of it). When two
// rules name the same domain, the one with the higher Action wins; on an
// equal Action the first one given wins.
func New(rules []Rule) *Matcher {
	m := &Matcher{index: make(map[string]int32, len(rules))}
	for _, r := range rules {
		if i, ok := m.index[r.Domain]; ok {
			if r.Action > m.rules[i].Action {
				m.rules[i] = r
			}
			continue
		}
		m.index[r.Domain] = int32(len(m.rules))
		m.rules = append(m.rules, r)
	}
	return m
}

// Len returns the number of distinct domains in the matcher.
func (m *Matcher) Len() int { return len(m.rules) }

// Rules returns the distinct rules, one per domain. The slice is shared: do
// not modify it.
func (m *Matcher) Rules() []Rule { return m.rules }

// maxName is the longest name in presentation form we look at; longer names
// cannot be valid DNS names (255 octets on the wire) and match nothing.
const maxName = 1024

// Match returns the most specific rule covering name, in any letter case,
// with or without a trailing dot, in presentation form (an escaped dot,
// "\.", is part of a label, not a boundary). The zero Rule and false mean no
// rule covers it.
func (m *Matcher) Match(name string) (Rule, bool) {
	n := len(name)
	if n > 0 && name[n-1] == '.' && (n < 2 || name[n-2] != '\\') {
		n--
	}
	if n == 0 || n > maxName {
		return Rule{}, false
	}
	var buf [maxName]byte
	lower := buf[:n]
	for i := 0; i < n; i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	// Most specific first: the whole name, then the suffix after each
	// unescaped dot. string(b) in a map index does not allocate.
	start := 0
	for {
		if i, ok := m.index[string(lower[start:])]; ok {
			return m.rules[i], true
		}
		next := -1
		for j := start; j < n; j++ {
			if lower[j] == '\\' {
				j++ // skip the escaped character (\. or the first of \DDD)
				continue
			}
			if lower[j] == '.' {
				next = j + 1
				break
			}
		}
		if next < 0 || next >= n {
			return Rule{}, false
		}
		start = next
	}
}
