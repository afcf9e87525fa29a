// Package catalog holds the platforms nocontact knows how to block: for each
// one its id, display name, group (its category), aliases and the domains
// that serve it (each domain covers all its subdomains), and the groups a
// person can name instead of listing platforms one by one.
//
// The catalog is data, not policy: it says which domains belong to which
// platform, never whether they are blocked now. The built-in catalog is
// embedded from platforms.toml, a plain file a reviewer can read; Parse
// accepts the same format from any reader. It must not list shared CDNs or
// names whose blocking would break unrelated sites: Parse refuses the
// names of SharedNames and CompanyNames.
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

// Category is the group a platform belongs to. Every category but Bypass
// is also a name a block list may use for all its platforms (see Groups).
type Category string

// The categories a platform may have.
const (
	Social    Category = "social"
	Messaging Category = "messaging"
	Dating    Category = "dating"
	Forums    Category = "forums"
	Video     Category = "video"
	Payments  Category = "payments"
	Location  Category = "location"
	Fitness   Category = "fitness"
	Music     Category = "music"
	Gaming    Category = "gaming"
	// Bypass lists encrypted-DNS (DoH/DoT) providers: a browser's secure-DNS
	// setting would otherwise go around the filter. It is blocked whenever
	// anything is, and is not a group a person chooses.
	Bypass Category = "bypass"
)

// All is the block-list word for every platform of the groups that are
// part of "all" (Group.InAll): social networks, messaging, dating and
// forums.
const All = "all"

// Group describes one category as a person chooses it: its name in a block
// list, a title, whether "all" includes it, and what blocking it costs.
type Group struct {
	Name  Category // the word a block list uses, like "video"
	Title string   // plain words for headings, like "Video"
	// InAll is true for the groups "all" blocks. The others are places a
	// person may need in everyday life, blocked only when named.
	InAll bool
	// Cost says, in plain words for the person choosing, what stops
	// working when the group is blocked, and what DNS cannot block.
	Cost string
}

// Groups returns the groups a block list may name, in the order
// `nocontact platforms` shows them: those of "all" first. Bypass is not
// among them. The slice is new on every call.
func Groups() []Group {
	return []Group{
		{Social, "Social networks", true,
			"Their apps and websites stop loading: feeds, profiles, stories, comments and direct messages. " +
				"Buttons on other sites that sign you in or share through them stop working too."},
		{Messaging, "Messaging", true,
			"Chats, calls and voice messages in these apps stop, with everyone, not only with him: " +
				"tell the people you care about how else to reach you. Text messages (SMS), phone calls, " +
				"iMessage and FaceTime cannot be blocked this way: block his number on your phone."},
		{Dating, "Dating", true,
			"The apps and sites stop loading, matches and chats included. Your profile stays visible " +
				"to others until you hide or delete it in the app, so do that first if you want to disappear."},
		{Forums, "Forums", true,
			"The boards stop loading, and so do their images and videos shared on other sites."},
		{Video, "Video", false,
			"These sites stop working entirely, not just his channel and comments: YouTube Music, " +
				"YouTube Kids and videos embedded in other sites stop too."},
		{Payments, "Payments", false,
			"You cannot send, receive or look at money in these apps while they are blocked. " +
				"Your bank, cards and other ways to pay keep working. Settle or move what runs through them first."},
		{Location, "Location sharing", false,
			"These apps stop showing and sharing locations, yours included. Apple's Find My and " +
				"Google Maps location sharing cannot be blocked without breaking iCloud or Maps for you: " +
				"stop sharing your location with him in those apps yourself."},
		{Fitness, "Fitness", false,
			"Strava stops loading and syncing: no activities, kudos or comments, and your watch or " +
				"bike computer cannot upload to it. Your recordings stay on the device."},
		{Music, "Music", false,
			"Blocking Spotify or SoundCloud blocks the music too, not only shared playlists and friend " +
				"activity. To keep the music, hide friend activity in the app's settings instead."},
		{Gaming, "Gaming", false,
			"The game stores and networks go offline: no online play, downloads, store or sign-in, " +
				"along with the friend lists and chat. Games that play offline keep working; signing in " +
				"to other Microsoft games may fail while Xbox network is blocked."},
	}
}

// Platform is one service the catalog can block.
type Platform struct {
	ID       string   `toml:"id"`       // lower-case, stable; used in configs and logs
	Name     string   `toml:"name"`     // display name, e.g. "Instagram"
	Category Category `toml:"category"` // the group: social, messaging, ..., or bypass
	Aliases  []string `toml:"aliases"`  // other names a user may write, e.g. "twitter" for x
	Domains  []string `toml:"domains"`  // each covers itself and all its subdomains
	// Hosts are host names the platform's apps and site use, each inside
	// one of its Domains (which block them already): the hosts-file
	// layer lists them besides each domain's usual names, so that they
	// lead nowhere even while the filter is not asked.
	Hosts []string `toml:"hosts"`
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

// ErrUnknownPlatform is wrapped by Expand and Resolve when a name is
// neither a platform id, an alias, a group nor "all".
var ErrUnknownPlatform = errors.New("unknown platform")

// Parse reads a catalog in the platforms.toml format and checks it: ids and
// aliases unique, lower-case and never "all" or a group's name, a known
// category, at least one domain per platform, every domain a valid
// lower-case name, no domain listed twice or inside another platform's
// domain, and none that is or lies inside a shared name (SharedNames) or
// is a whole company's domain (CompanyNames).
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
	reserved := map[string]bool{All: true}
	for _, g := range Groups() {
		reserved[string(g.Name)] = true
	}
	shared, company := nameSet(SharedNames()), nameSet(CompanyNames())
	c := &Catalog{platforms: file.Platform, byName: make(map[string]int)}
	owner := make(map[string]string) // domain → platform id
	for i, p := range c.platforms {
		if !isLabel(p.ID) {
			return nil, fmt.Errorf("platform %d: id %q: want lower-case letters, digits and '-', starting with a letter", i+1, p.ID)
		}
		if p.Name == "" {
			return nil, fmt.Errorf("platform %s: name is missing", p.ID)
		}
		if !knownCategory(p.Category) {
			return nil, fmt.Errorf("platform %s: category %q: want one of %s", p.ID, p.Category, categoryList())
		}
		if len(p.Domains) == 0 {
			return nil, fmt.Errorf("platform %s: no domains", p.ID)
		}
		for k, n := range append([]string{p.ID}, p.Aliases...) {
			if reserved[n] {
				return nil, fmt.Errorf("platform %s: name or alias %q is the name of a group or %q: choose another", p.ID, n, All)
			}
			if k == 0 && !isLabel(n) || k > 0 && !isAlias(n) {
				return nil, fmt.Errorf("platform %s: name or alias %q: want lower-case letters, digits and '-'", p.ID, n)
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
			if s := within(d, shared); s != "" {
				return nil, fmt.Errorf("platform %s: domain %q is or lies inside %q, a name shared with other sites: blocking it would break them", p.ID, d, s)
			}
			if company[d] {
				return nil, fmt.Errorf("platform %s: domain %q is a whole company's domain that serves other things too: list only the platform's own subdomain of it", p.ID, d)
			}
			if o, dup := owner[d]; dup {
				return nil, fmt.Errorf("platform %s: domain %q is already listed by %s", p.ID, d, o)
			}
			owner[d] = p.ID
		}
		if err := checkHosts(p, shared, company); err != nil {
			return nil, err
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

// Lookup finds a platform by id or alias, ignoring case. It does not know
// groups; see Expand.
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

// LookupGroup finds a group by its name, ignoring case.
func LookupGroup(name string) (Group, bool) {
	key := Category(strings.ToLower(strings.TrimSpace(name)))
	for _, g := range Groups() {
		if g.Name == key {
			return g, true
		}
	}
	return Group{}, false
}

// Expand is the one place a name a person writes (in block, in quiet
// hours, and wherever else a list of platforms is asked for) becomes
// platform ids, in catalog order: a platform id or alias gives that
// platform; a group's name ("video") every platform of the group; "all"
// every platform of the groups in "all". Any case, spaces trimmed. A group
// with no platforms gives an empty, non-nil list. Platforms of the bypass
// category may be named one by one but are never part of a group: they
// are blocked whenever anything is. An unknown name is an error that wraps
// ErrUnknownPlatform.
func (c *Catalog) Expand(name string) ([]string, error) {
	key := strings.ToLower(strings.TrimSpace(name))
	if i, ok := c.byName[key]; ok {
		return []string{c.platforms[i].ID}, nil
	}
	var in func(Category) bool
	if key == All {
		in = func(cat Category) bool {
			g, ok := LookupGroup(string(cat))
			return ok && g.InAll
		}
	} else if g, ok := LookupGroup(key); ok {
		in = func(cat Category) bool { return cat == g.Name }
	} else {
		if n := Nearest(key, c.Names()); n != "" {
			return nil, fmt.Errorf("%w %q: did you mean %q? 'nocontact platforms' lists the platforms and groups it knows", ErrUnknownPlatform, name, n)
		}
		return nil, fmt.Errorf("%w %q: run 'nocontact platforms' to see the platforms and groups (like \"video\") it knows, or use \"all\"", ErrUnknownPlatform, name)
	}
	ids := []string{}
	for _, p := range c.platforms {
		if in(p.Category) {
			ids = append(ids, p.ID)
		}
	}
	return ids, nil
}

// Names returns every name a list may use: the platforms' ids and
// aliases, the groups' names and "all", sorted.
func (c *Catalog) Names() []string {
	names := slices.Collect(maps.Keys(c.byName))
	for _, g := range Groups() {
		names = append(names, string(g.Name))
	}
	names = append(names, All)
	slices.Sort(names)
	return names
}

// DisplayName returns the name a person reads for a platform id or alias
// ("Instagram", "X (Twitter)"), a group's title for a group, or the name
// itself when the catalog does not know it (a domain of the person's own).
func (c *Catalog) DisplayName(name string) string {
	if p, ok := c.Lookup(name); ok {
		return p.Name
	}
	if g, ok := LookupGroup(name); ok {
		return g.Title
	}
	return name
}

// Nearest returns the one name of names nearest to word, for a "did you
// mean" in an error: within two edits (one for words of four letters or
// fewer), ignoring case; "" when none is that near, or two are equally
// near, so that a suggestion is never a guess between two.
func Nearest(word string, names []string) string {
	w := strings.ToLower(strings.TrimSpace(word))
	limit := 2
	if len([]rune(w)) <= 4 {
		limit = 1
	}
	best, bestD, tie := "", limit+1, false
	for _, n := range names {
		d := editDistance(w, strings.ToLower(n))
		switch {
		case d == 0:
			return ""
		case d < bestD:
			best, bestD, tie = n, d, false
		case d == bestD && n != best:
			tie = true
		}
	}
	if tie || bestD > limit {
		return ""
	}
	return best
}

// editDistance is the number of single-letter insertions, deletions,
// substitutions and swaps of neighbours that turn a into b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// Resolve turns a block list as a user writes it (ids, aliases, group
// names, "all", any case) into platform ids in catalog order, without
// duplicates: the union of Expand of each name. Nothing gives nil. An
// unknown name is an error that wraps ErrUnknownPlatform.
func (c *Catalog) Resolve(names []string) ([]string, error) {
	want := make(map[string]bool)
	for _, n := range names {
		ids, err := c.Expand(n)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			want[id] = true
		}
	}
	var ids []string
	for _, p := range c.platforms {
		if want[p.ID] {
			ids = append(ids, p.ID)
		}
	}
	return ids, nil
}

// SharedNames returns the names no catalog domain may equal or lie inside:
// CDNs, clouds, load balancers, link services and help desks that serve
// many unrelated sites, and the shared infrastructure of companies whose
// apps cannot be told apart by name. Blocking any of them would break
// sites and apps that have nothing to do with the platform. The slice is
// new on every call.
func SharedNames() []string {
	return []string{
		// CDNs and their edge names
		"akamai.net", "akamaihd.net", "akamaized.net", "akamaiedge.net", "akadns.net",
		"edgekey.net", "edgesuite.net", "cloudfront.net", "fastly.net", "fastlylb.net",
		"cloudflare.net", "footprint.net", "llnwd.net", "epsiloncdn.net", "qtlcdn.com",
		"azureedge.net", "azurefd.net", "msedge.net", "l-msedge.net", "s-msedge.net",
		"dc-msedge.net", "l-dc-msedge.net", "trafficmanager.net", "worldfcdn.com",
		"wsdvs.com", "kgslb.com",
		// clouds and hosting
		"amazonaws.com", "appspot.com", "googleusercontent.com", "firebaseapp.com",
		"web.app", "workers.dev", "pages.dev", "herokuapp.com", "cloudapp.net",
		"windows.net", "myqcloud.com", "aliyuncs.com", "synology.me",
		// Google's shared static, image and video names
		"gstatic.com", "ggpht.com", "googlevideo.com",
		// link, chat and help-desk services many apps use
		"app.link", "page.link", "onelink.me", "sendbird.com", "pubnub.com",
		"agora.io", "zendesk.com",
		// Apple's iCloud (Private Relay, Find My, mail, backups)
		"icloud.com",
		// one company's apps on shared names
		"bytedance.com", "byteoversea.com", "ibyteimg.com", "byteimg.com",
		"bytedapm.com", "pstatp.com", "snssdk.com", "bdurl.com", "capcut.com",
		"mycdn.me", "sinaimg.cn", "qpic.cn", "qlogo.cn", "zdn.vn", "zadn.vn",
		"squareup.com", "squarecdn.com",
	}
}

// CompanyNames returns domains that serve a whole company, so no catalog
// domain may be one of them; a subdomain that serves only the platform may
// be listed (weixin.qq.com, dns.google.com, talk.kakao.com). The slice is
// new on every call.
func CompanyNames() []string {
	return []string{
		"google.com", "googleapis.com", "microsoft.com", "live.com", "office.net",
		"apple.com", "amazon.com", "qq.com", "naver.jp", "kakao.com", "kakaocdn.net",
		"mail.ru", "meta.com", "snap.com", "cloudflare.com", "quad9.net",
		"adguard.com", "opendns.com", "mullvad.net", "nextdns.io",
		"cleanbrowsing.org", "controld.com", "vivaldi.net", "sdf.org",
	}
}

func nameSet(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// checkHosts checks a platform's host names: each a valid lower-case
// name, listed once, inside one of the platform's own domains and not
// one of them (so the rules of domains hold for it too).
func checkHosts(p Platform, shared, company map[string]bool) error {
	own := nameSet(p.Domains)
	seen := map[string]bool{}
	for _, h := range p.Hosts {
		if err := CheckDomain(h); err != nil {
			return fmt.Errorf("platform %s: host %w", p.ID, err)
		}
		if h != strings.ToLower(h) {
			return fmt.Errorf("platform %s: host %q: write it in lower case", p.ID, h)
		}
		if own[h] {
			return fmt.Errorf("platform %s: host %q is one of its domains: list it once, in domains", p.ID, h)
		}
		if within(parentOf(h), own) == "" {
			return fmt.Errorf("platform %s: host %q lies inside none of its domains: list only names its own domains cover", p.ID, h)
		}
		if s := within(h, shared); s != "" || company[h] {
			return fmt.Errorf("platform %s: host %q is a name shared with other sites", p.ID, h)
		}
		if seen[h] {
			return fmt.Errorf("platform %s: host %q is listed twice", p.ID, h)
		}
		seen[h] = true
	}
	return nil
}

// within returns the name of set that d is or lies inside, or "".
func within(d string, set map[string]bool) string {
	for n := d; n != ""; n = parentOf(n) {
		if set[n] {
			return n
		}
	}
	return ""
}

func knownCategory(c Category) bool {
	return c == Bypass || slices.ContainsFunc(Groups(), func(g Group) bool { return g.Name == c })
}

func categoryList() string {
	var names []string
	for _, g := range Groups() {
		names = append(names, string(g.Name))
	}
	return strings.Join(append(names, string(Bypass)), ", ")
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

// isAlias reports whether s can be an alias: like an id, but it may also
// start with a digit ("4chan", "9gag"), since an alias is only ever written
// in a settings file, never where a flag could be.
func isAlias(s string) bool {
	return s != "" && s[0] >= '0' && s[0] <= '9' && isLabel("a"+s[1:]) || isLabel(s)
}

func parentOf(d string) string {
	i := strings.IndexByte(d, '.')
	if i < 0 {
		return ""
	}
	return d[i+1:]
}
