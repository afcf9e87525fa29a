// Package catalog holds the platforms nocontact knows how to block: for each
// one its id, display name, category, aliases and the domains that serve it
// (each domain covers all its subdomains).
//
// The catalog is data, not policy: it says which domains belong to which
// platform, never whether they are blocked now. The built-in catalog is
// embedded from platforms.toml, a plain file a reviewer can read; Parse
// accepts the same format from any reader. It must not list shared CDNs or
// names whose blocking would break unrelated sites.
package catalog

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// Category groups platforms. "all" in a block list means every platform in
// the Social, Messaging and Dating categories; Bypass is blocked whenever
// anything at all is blocked.
type Category string

// The categories a platform may have.
const (
	Social    Category = "social"
	Messaging Category = "messaging"
	Dating    Category = "dating"
	// Bypass lists encrypted-DNS (DoH/DoT) providers: a browser's secure-DNS
	// setting would otherwise go around the filter.
	Bypass Category = "bypass"
)

// All is the block-list word for every social, messaging and dating platform.
const All = "all"

// Platform is one service the catalog can block.
type Platform struct {
	ID       string   `toml:"id"`       // lower-case, stable; used in configs and logs
	Name     string   `toml:"name"`     // display name, e.g. "Instagram"
	Category Category `toml:"category"` // social, messaging, dating or bypass
	Aliases  []string `toml:"aliases"`  // other names a user may write, e.g. "twitter" for x
	Domains  []string `toml:"domains"`  // each covers itself and all its subdomains
}

// Catalog is an immutable list of platforms, looked up by id or alias.
type Catalog struct {
	platforms []Platform
	byName    map[string]int // id or alias → index in platforms
}

//go:embed platforms.toml
var builtin []byte

// Builtin parses the catalog embedded in the binary.
func Builtin() (*Catalog, error) {
	c, err := Parse(bytes.NewReader(builtin))
	if err != nil {
		return nil, fmt.Errorf("built-in platform catalog: %w", err)
	}
	return c, nil
}

// ErrUnknownPlatform is wrapped by Resolve when a name is neither a platform
// id, an alias nor "all".
var ErrUnknownPlatform = errors.New("unknown platform")

// Parse reads a catalog in the platforms.toml format and checks it: ids and
// aliases unique and lower-case, a known category, at least one domain per
// platform, every domain a valid lower-case name, and no domain listed twice
// or inside another platform's domain.
func Parse(r io.Reader) (*Catalog, error) {
	var file struct {
		Platform []Platform `toml:"platform"`
	}
	md, err := toml.NewDecoder(r).Decode(&file)
	if err != nil {
		return nil, err
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("unknown key %q", und[0].String())
	}
	c := &Catalog{platforms: file.Platform, byName: make(map[string]int)}
	owner := make(map[string]string) // domain → platform id
	for i, p := range c.platforms {
		if !isLabel(p.ID) {
			return nil, fmt.Errorf("platform %d: id %q: want lower-case letters, digits and '-', starting with a letter", i+1, p.ID)
		}
		if p.Name == "" {
			return nil, fmt.Errorf("platform %s: name is missing", p.ID)
		}
		switch p.Category {
		case Social, Messaging, Dating, Bypass:
		default:
			return nil, fmt.Errorf("platform %s: category %q: want social, messaging, dating or bypass", p.ID, p.Category)
		}
		if len(p.Domains) == 0 {
			return nil, fmt.Errorf("platform %s: no domains", p.ID)
		}
		for _, n := range append([]string{p.ID}, p.Aliases...) {
			if n == All || !isLabel(n) {
				return nil, fmt.Errorf("platform %s: name or alias %q: want lower-case letters, digits and '-', and not %q", p.ID, n, All)
			}
			if j, dup := c.byName[n]; dup {
				return nil, fmt.Errorf("platform %s: name %q is already used by %s", p.ID, n, c.platforms[j].ID)
			}
			c.byName[n] = i
		}
		for _, d := range p.Domains {
			if err := CheckDomain(d); err != nil {
				return nil, fmt.Errorf("platform %s: %w", p.ID, err)
			}
			if d != strings.ToLower(d) {
				return nil, fmt.Errorf("platform %s: domain %q: write it in lower case", p.ID, d)
			}
			if o, dup := owner[d]; dup {
				return nil, fmt.Errorf("platform %s: domain %q is already listed by %s", p.ID, d, o)
			}
			owner[d] = p.ID
		}
	}
	// A domain inside another platform's domain would make one platform's
	// block silently take part of another's.
	for _, d := range slices.Sorted(maps.Keys(owner)) {
		id := owner[d]
		for parent := parentOf(d); parent != ""; parent = parentOf(parent) {
			if o, ok := owner[parent]; ok && o != id {
				return nil, fmt.Errorf("platform %s: domain %q lies inside %q of %s", id, d, parent, o)
			}
		}
	}
	return c, nil
}

// Platforms returns every platform in catalog order. The slice is shared:
// do not modify it.
func (c *Catalog) Platforms() []Platform { return c.platforms }

// Lookup finds a platform by id or alias, ignoring case.
func (c *Catalog) Lookup(name string) (Platform, bool) {
	i, ok := c.byName[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return Platform{}, false
	}
	return c.platforms[i], true
}

// Category returns the platforms of one category, in catalog order.
func (c *Catalog) Category(cat Category) []Platform {
	var out []Platform
	for _, p := range c.platforms {
		if p.Category == cat {
			out = append(out, p)
		}
	}
	return out
}

// Resolve turns a block list as a user writes it (ids, aliases, "all", any
// case) into platform ids in catalog order, without duplicates. Platforms of
// the bypass category may be named but are never part of "all": they are
// blocked whenever anything is. An unknown name is an error that wraps
// ErrUnknownPlatform.
func (c *Catalog) Resolve(names []string) ([]string, error) {
	want := make([]bool, len(c.platforms))
	for _, n := range names {
		key := strings.ToLower(strings.TrimSpace(n))
		if key == All {
			for i, p := range c.platforms {
				if p.Category != Bypass {
					want[i] = true
				}
			}
			continue
		}
		i, ok := c.byName[key]
		if !ok {
			return nil, fmt.Errorf("%w %q: run 'nocontact platforms' to see the names it knows, or use \"all\"", ErrUnknownPlatform, n)
		}
		want[i] = true
	}
	var ids []string
	for i, p := range c.platforms {
		if want[i] {
			ids = append(ids, p.ID)
		}
	}
	return ids, nil
}

// CheckDomain reports whether d is a domain nocontact can match: at most 253
// characters without a trailing dot, labels of 1 to 63 letters, digits, '-'
// or '_', not starting or ending with '-', and at least two labels.
func CheckDomain(d string) error {
	if d == "" {
		return errors.New("empty domain: write a name like \"example.com\"")
	}
	if len(d) > 253 {
		return fmt.Errorf("domain %q is longer than 253 characters", d)
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return fmt.Errorf("domain %q has a single label: write the whole name, like %q", d, d+".com")
	}
	for _, l := range labels {
		if l == "" {
			return fmt.Errorf("domain %q has an empty label: remove the extra dot", d)
		}
		if len(l) > 63 {
			return fmt.Errorf("domain %q has a label longer than 63 characters", d)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("domain %q: a label may not start or end with '-'", d)
		}
		for _, ch := range l { // by rune, so the error names the character written
			ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_'
			if !ok {
				return fmt.Errorf("domain %q: %q is not allowed in a name (for an international name, write its xn-- form)", d, string(ch))
			}
		}
	}
	return nil
}

// isLabel reports whether s can be a platform id or alias: lower-case
// letters, digits and '-', starting with a letter (so that it can never be
// mistaken for a command-line flag) and not ending with '-'.
func isLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] < 'a' || s[0] > 'z' || s[len(s)-1] == '-' {
		return false
	}
	return !slices.ContainsFunc([]byte(s), func(ch byte) bool {
		return !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-')
	})
}

func parentOf(d string) string {
	i := strings.IndexByte(d, '.')
	if i < 0 {
		return ""
	}
	return d[i+1:]
}
