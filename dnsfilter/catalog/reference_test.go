package catalog

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// refService is one service of a reference list.
type refService struct {
	list    string // "AdGuard" or "NextDNS"
	id      string // the service's id in its list, like "microsoft_teams"
	group   string // AdGuard's group ("social_network", ...); "" for NextDNS
	domains []string
}

func (s refService) String() string { return s.list + " " + s.id }

// adguardGroups are the AdGuard groups the catalog answers for.
var adguardGroups = []string{"social_network", "messenger", "dating"}

// readReference parses a reference list: a "[id] Name (group)" or "[id]"
// header, then one domain or adblock rule per line.
func readReference(t *testing.T, file, list string) []refService {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "reference", file))
	if err != nil {
		t.Fatal(err)
	}
	var out []refService
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			id, rest, ok := strings.Cut(line[1:], "]")
			if !ok {
				t.Fatalf("%s: bad header %q", file, line)
			}
			s := refService{list: list, id: id}
			if i := strings.LastIndexByte(rest, '('); i >= 0 {
				s.group = strings.TrimSuffix(rest[i+1:], ")")
			}
			out = append(out, s)
		case len(out) == 0:
			t.Fatalf("%s: rule %q before any service", file, line)
		default:
			if d := ruleDomain(line); d != "" {
				out[len(out)-1].domains = append(out[len(out)-1].domains, d)
			}
		}
	}
	return out
}

// ruleDomain turns an adblock rule ("||example.com^", "|host.example^",
// "||p16-*.example.com^") or a plain domain into the name it blocks; a
// wildcard label is dropped with everything left of it, since the catalog
// can only hold whole names. Regular-expression rules give "".
func ruleDomain(rule string) string {
	if strings.HasPrefix(rule, "/") {
		return ""
	}
	d := strings.TrimLeft(rule, "|")
	if i := strings.IndexAny(d, "^$"); i >= 0 {
		d = d[:i]
	}
	d = strings.ToLower(strings.TrimSpace(d))
	if i := strings.LastIndexByte(d, '*'); i >= 0 {
		d = d[i+1:]
		if j := strings.IndexByte(d, '.'); j >= 0 {
			d = d[j+1:]
		} else {
			d = ""
		}
	}
	return d
}

// explanations is what the comments of a catalog file say about the
// reference lists.
type explanations struct {
	leftOut map[string]string // service id → reason it is not in the catalog
	inPart  map[string]string // service id → reason its missing domains are left out
	named   map[string]bool   // every word of a comment, a domain with its dots
}

var (
	// A word of a comment, with its dots: "example.com", or "youtube" for
	// the single-label rules of the lists (a top-level domain).
	domainWord = regexp.MustCompile(`[a-z0-9_*-]+(\.[a-z0-9_*-]+)*`)
	serviceID  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
)

// readExplanations collects the comments of a catalog file: the "# left
// out: ID[, ID...]: REASON" and "# in part: ID[, ID...]: REASON" lines, and
// every name a comment mentions.
func readExplanations(src []byte) (explanations, error) {
	e := explanations{leftOut: map[string]string{}, inPart: map[string]string{}, named: map[string]bool{}}
	for n, line := range strings.Split(string(src), "\n") {
		text, ok := comment(line)
		if !ok {
			continue
		}
		for _, w := range domainWord.FindAllString(strings.ToLower(text), -1) {
			e.named[w] = true
		}
		text = strings.TrimSpace(text)
		for prefix, into := range map[string]map[string]string{"left out:": e.leftOut, "in part:": e.inPart} {
			rest, ok := strings.CutPrefix(text, prefix)
			if !ok {
				continue
			}
			ids, reason, ok := strings.Cut(rest, ":")
			reason = strings.TrimSpace(reason)
			if !ok || reason == "" {
				return e, fmt.Errorf("line %d: %q: want %q followed by service ids, ':' and the reason", n+1, text, prefix)
			}
			for _, id := range strings.Split(ids, ",") {
				id = strings.TrimSpace(id)
				if !serviceID.MatchString(id) {
					return e, fmt.Errorf("line %d: %q is not a service id of the reference lists", n+1, id)
				}
				if _, dup := into[id]; dup {
					return e, fmt.Errorf("line %d: %s is explained twice", n+1, id)
				}
				into[id] = reason
			}
		}
	}
	for id := range e.leftOut {
		if _, both := e.inPart[id]; both {
			return e, fmt.Errorf("%s is both left out and in part: keep one", id)
		}
	}
	return e, nil
}

// comment returns the comment of a TOML line: the text after a '#' that is
// not inside a string.
func comment(line string) (string, bool) {
	quoted := false
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			if quoted {
				i++
			}
		case '"':
			quoted = !quoted
		case '#':
			if !quoted {
				return line[i+1:], true
			}
		}
	}
	return "", false
}

// TestReferenceCoverage diffs the built-in catalog against the reference
// lists: every AdGuard social, messenger and dating service and every
// NextDNS service is in the catalog or explained in platforms.toml, and
// each domain a covered service lacks lies in a shared name, is named in a
// comment, or its service says "in part" why. An explanation must not go
// stale: a service said to be left out must not be covered.
func TestReferenceCoverage(t *testing.T) {
	c := mustBuiltin(t)
	ex, err := readExplanations(builtin)
	if err != nil {
		t.Fatalf("platforms.toml: %v", err)
	}
	var services []refService
	adguard := 0
	for _, s := range readReference(t, "adguard-services.txt", "AdGuard") {
		if slices.Contains(adguardGroups, s.group) {
			services = append(services, s)
			adguard++
		}
	}
	if adguard != 42 {
		t.Errorf("the AdGuard list has %d social, messenger and dating services, want 42: is testdata/reference/adguard-services.txt whole?", adguard)
	}
	nextdns := readReference(t, "nextdns-services.txt", "NextDNS")
	if len(nextdns) < 40 {
		t.Errorf("the NextDNS list has %d services, want at least 40: is testdata/reference/nextdns-services.txt whole?", len(nextdns))
	}
	services = append(services, nextdns...)

	shared := nameSet(SharedNames())
	// owner names the platform that covers d, or that lists a name inside d
	// (talk.kakao.com inside kakao.com): either way the catalog has a part
	// of the service.
	owner := func(d string) string {
		for _, p := range c.Platforms() {
			if p.Category == Bypass {
				continue
			}
			for _, pd := range p.Domains {
				if d == pd || strings.HasSuffix(d, "."+pd) || strings.HasSuffix(pd, "."+d) {
					return p.ID
				}
			}
		}
		return ""
	}
	known := map[string]bool{}
	covered, leftOut := map[string]bool{}, map[string]bool{}
	for _, s := range services {
		known[s.id] = true
		var by []string // "domain (platform)" of the covered domains
		var missing []string
		for _, d := range s.domains {
			if id := owner(d); id != "" {
				by = append(by, d+" ("+id+")")
			} else if within(d, shared) == "" && !ex.named[d] {
				missing = append(missing, d)
			}
		}
		_, isLeftOut := ex.leftOut[s.id]
		_, isInPart := ex.inPart[s.id]
		switch {
		case isLeftOut && len(by) > 0:
			t.Errorf("%s is explained as left out, but the catalog covers %s: remove its 'left out' line, or write 'in part' instead", s, strings.Join(by, ", "))
		case isLeftOut:
			leftOut[s.String()] = true
		case len(by) == 0:
			t.Errorf("%s (%s) is neither in the catalog nor explained: add it to platforms.toml, or a comment '# left out: %s: REASON'", s, strings.Join(s.domains, " "), s.id)
		default:
			covered[s.String()] = true
			if !isInPart && len(missing) > 0 {
				t.Errorf("%s is in the catalog, but these of its domains are neither listed, inside a shared name, nor named in a comment: %s; list them, or name them in a 'Not listed' comment with the reason (or explain the service with '# in part: %s: REASON')",
					s, strings.Join(missing, " "), s.id)
			}
		}
	}
	for id := range ex.leftOut {
		if !known[id] {
			t.Errorf("platforms.toml explains %q as left out, but no reference list has that service id", id)
		}
	}
	for id := range ex.inPart {
		if !known[id] {
			t.Errorf("platforms.toml explains %q as in part, but no reference list has that service id", id)
		}
	}
	t.Logf("AdGuard (social, messenger, dating) and NextDNS: %d services, %d in the catalog, %d left out with a reason",
		len(services), len(covered), len(leftOut))
}

func TestReadExplanations(t *testing.T) {
	src := []byte(`# header mentions example.org
[[platform]]
domains = ["a.example", # covers a.example.net too
  "b.example"] # Not listed: c.example, d.example.
# left out: one, two_2: the reason
#   goes on: here.
# in part: three: other reason
name = "quoted # not a comment mentioning e.example"
`)
	e, err := readExplanations(src)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"one": "the reason", "two_2": "the reason"}; !equalMaps(e.leftOut, want) {
		t.Errorf("left out = %v, want %v", e.leftOut, want)
	}
	if want := map[string]string{"three": "other reason"}; !equalMaps(e.inPart, want) {
		t.Errorf("in part = %v, want %v", e.inPart, want)
	}
	for _, d := range []string{"example.org", "a.example.net", "c.example", "d.example"} {
		if !e.named[d] {
			t.Errorf("%s is not counted as named in a comment", d)
		}
	}
	for _, d := range []string{"a.example", "b.example", "e.example"} {
		if e.named[d] {
			t.Errorf("%s, outside any comment, is counted as named", d)
		}
	}
	for _, bad := range []string{
		"# left out: one\n",              // no reason
		"# left out: one:   \n",          // empty reason
		"# in part: Two Words: reason\n", // not an id
		"# left out: a: x\n# left out: a: y\n",
		"# left out: a: x\n# in part: a: y\n",
	} {
		if _, err := readExplanations([]byte(bad)); err == nil {
			t.Errorf("readExplanations(%q) = nil error, want one", bad)
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestRuleDomain(t *testing.T) {
	for rule, want := range map[string]string{
		"||example.com^":                       "example.com",
		"|host.example.com^":                   "host.example.com",
		"example.com":                          "example.com",
		"||slack-files.com ^":                  "slack-files.com",
		"||p16-tiktok-*.ibyteimg.com^":         "ibyteimg.com",
		"|cdn*-a-*.file.myqcloud.com^":         "file.myqcloud.com",
		"mask.icloud.com^$dnsrewrite=NXDOMAIN": "mask.icloud.com",
		"/_spotify-connect._tcp.local/":        "",
		"||Example.COM^":                       "example.com",
	} {
		if got := ruleDomain(rule); got != want {
			t.Errorf("ruleDomain(%q) = %q, want %q", rule, got, want)
		}
	}
}
