package catalog

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// requiredIDs are the platforms the built-in catalog must always carry.
var requiredIDs = []string{
	"instagram", "threads", "facebook", "messenger", "whatsapp", "snapchat",
	"tiktok", "x", "telegram", "signal", "discord", "linkedin", "reddit",
	"pinterest", "tumblr", "bereal", "bluesky", "viber", "line", "wechat",
	"kik", "tinder", "hinge", "bumble", "grindr",
	// added with the groups (issue 19)
	"mastodon", "kakaotalk", "zalo", "imo", "xiaohongshu", "lemon8", "truth-social",
	"zoosk", "eharmony", "lovoo", "tantan", "hily", "muzz", "taimi",
	"fourchan", "ninegag", "youtube", "twitch", "kick", "venmo", "cash-app",
	"life360", "strava", "spotify", "steam", "xbox", "playstation", "roblox", "epic-games",
}

func mustBuiltin(t *testing.T) *Catalog {
	t.Helper()
	c, err := Builtin()
	if err != nil {
		t.Fatalf("Builtin() error: %v", err)
	}
	return c
}

func mustParse(t *testing.T, src string) *Catalog {
	t.Helper()
	c, err := Parse(strings.NewReader(src))
	if err != nil {
		t.Fatalf("Parse() error: %v\ninput:\n%s", err, src)
	}
	return c
}

// coveredBy returns the id of the platform whose domain list covers name
// (name itself or one of its parents), or "" when none does.
func coveredBy(c *Catalog, name string) string {
	for d := name; d != ""; d = parentOf(d) {
		for _, p := range c.Platforms() {
			if slices.Contains(p.Domains, d) {
				return p.ID
			}
		}
	}
	return ""
}

func TestBuiltinParses(t *testing.T) {
	c := mustBuiltin(t)
	if got := len(c.Platforms()); got < len(requiredIDs) {
		t.Errorf("Builtin() has %d platforms, want at least %d", got, len(requiredIDs))
	}
	cats := []Category{Bypass}
	for _, g := range Groups() {
		cats = append(cats, g.Name)
	}
	for _, cat := range cats {
		if len(c.Category(cat)) == 0 {
			t.Errorf("Builtin() has no platform of category %q, want at least one", cat)
		}
	}
}

func TestBuiltinRequiredPlatforms(t *testing.T) {
	c := mustBuiltin(t)
	for _, id := range requiredIDs {
		t.Run(id, func(t *testing.T) {
			p, ok := c.Lookup(id)
			if !ok {
				t.Fatalf("Lookup(%q) found nothing, want platform %q", id, id)
			}
			if p.ID != id {
				t.Errorf("Lookup(%q).ID = %q, want %q (an id must not be another platform's alias)", id, p.ID, id)
			}
			if p.Category == Bypass {
				t.Errorf("platform %q has category %q, want a group a person can choose", id, p.Category)
			}
		})
	}
}

func TestBuiltinDomains(t *testing.T) {
	c := mustBuiltin(t)
	owner := make(map[string]string)
	for _, p := range c.Platforms() {
		for _, d := range p.Domains {
			if err := CheckDomain(d); err != nil {
				t.Errorf("platform %s: CheckDomain(%q) = %v, want nil", p.ID, d, err)
			}
			if want := strings.ToLower(d); d != want {
				t.Errorf("platform %s: domain %q is not lower case, want %q", p.ID, d, want)
			}
			if o, dup := owner[d]; dup {
				t.Errorf("domain %q listed by %s and by %s, want it once", d, o, p.ID)
			}
			owner[d] = p.ID
		}
	}
	// Parse already rejects a domain inside another platform's domain; the
	// built-in catalog also lists no subdomain of its own domains, which
	// would be redundant.
	for d, id := range owner {
		for parent := parentOf(d); parent != ""; parent = parentOf(parent) {
			if o, ok := owner[parent]; ok {
				t.Errorf("platform %s: domain %q lies inside %q of %s, want only the parent listed", id, d, parent, o)
			}
		}
	}
}

func TestBuiltinIDsAndAliases(t *testing.T) {
	c := mustBuiltin(t)
	for _, p := range c.Platforms() {
		if p.Name == "" {
			t.Errorf("platform %s: empty name", p.ID)
		}
		if !isLabel(p.ID) {
			t.Errorf("platform %s: id, want lower-case letters, digits and '-', starting with a letter", p.ID)
		}
		for _, n := range append([]string{p.ID}, p.Aliases...) {
			if !isAlias(n) || n == All {
				t.Errorf("platform %s: name %q, want lower-case letters, digits and '-', not %q", p.ID, n, All)
			}
			if _, isGroup := LookupGroup(n); isGroup {
				t.Errorf("platform %s: name %q is a group's name", p.ID, n)
			}
			if strings.HasPrefix(n, "-") || strings.HasSuffix(n, "-") {
				t.Errorf("platform %s: name %q starts or ends with '-'", p.ID, n)
			}
		}
	}
}

// The catalog rules' forbidden names are themselves valid names, and the
// two lists do not overlap. Parse enforces them (TestParseRejects), so the
// built-in catalog, which parses, keeps to them.
func TestForbiddenNames(t *testing.T) {
	shared, company := SharedNames(), CompanyNames()
	for _, list := range [][]string{shared, company} {
		seen := map[string]bool{}
		for _, d := range list {
			if err := CheckDomain(d); err != nil || d != strings.ToLower(d) {
				t.Errorf("forbidden name %q: %v, want a valid lower-case domain", d, err)
			}
			if seen[d] {
				t.Errorf("forbidden name %q listed twice", d)
			}
			seen[d] = true
		}
	}
	for _, d := range company {
		if s := within(d, nameSet(shared)); s != "" {
			t.Errorf("company name %q lies inside shared name %q: keep it in one list", d, s)
		}
	}
	// A few the review found, which must stay forbidden.
	for _, d := range []string{"googlevideo.com", "ggpht.com", "akamaized.net", "amazonaws.com", "zendesk.com", "kgslb.com", "zadn.vn", "squareup.com", "icloud.com"} {
		if !slices.Contains(shared, d) {
			t.Errorf("SharedNames() lacks %q", d)
		}
	}
	for _, d := range []string{"google.com", "googleapis.com", "kakao.com", "mail.ru", "live.com", "microsoft.com", "qq.com"} {
		if !slices.Contains(company, d) {
			t.Errorf("CompanyNames() lacks %q", d)
		}
	}
}

func TestBuiltinCoverage(t *testing.T) {
	c := mustBuiltin(t)
	tests := []struct {
		name string
		want string // platform id, "" for not covered
	}{
		// Meta: each domain with the app it mainly serves.
		{"www.facebook.com", "facebook"},
		{"connect.facebook.net", "facebook"},
		{"scontent.xx.fbcdn.net", "facebook"},
		{"fb.me", "facebook"},
		{"fb.com", "facebook"},
		{"www.messenger.com", "messenger"},
		{"m.me", "messenger"},
		{"www.instagram.com", "instagram"},
		{"scontent.cdninstagram.com", "instagram"},
		{"ig.me", "instagram"},
		{"instagr.am", "instagram"},
		{"www.threads.net", "threads"},
		{"www.threads.com", "threads"},
		{"web.whatsapp.com", "whatsapp"},
		{"mmg.whatsapp.net", "whatsapp"},
		{"wa.me", "whatsapp"},
		// Social.
		{"x.com", "x"},
		{"mobile.twitter.com", "x"},
		{"pbs.twimg.com", "x"},
		{"t.co", "x"},
		{"web.snapchat.com", "snapchat"},
		{"cf-st.sc-cdn.net", "snapchat"},
		{"www.tiktok.com", "tiktok"},
		{"p16-sign.tiktokcdn.com", "tiktok"},
		{"api16-normal-c-useast1a.tiktokv.com", "tiktok"},
		{"www.linkedin.com", "linkedin"},
		{"media.licdn.com", "linkedin"},
		{"old.reddit.com", "reddit"},
		{"i.redd.it", "reddit"},
		{"www.redditstatic.com", "reddit"},
		{"i.pinimg.com", "pinterest"},
		{"pin.it", "pinterest"},
		{"64.media.tumblr.com", "tumblr"},
		{"cdn.bereal.network", "bereal"},
		{"bsky.app", "bluesky"},
		{"api.bsky.chat", "bluesky"},
		// Messaging.
		{"t.me", "telegram"},
		{"web.telegram.org", "telegram"},
		{"cdn.signal.org", "signal"},
		{"signal.me", "signal"},
		{"discord.gg", "discord"},
		{"cdn.discordapp.com", "discord"},
		{"www.viber.com", "viber"},
		{"obs.line-scdn.net", "line"},
		{"line.naver.jp", "line"},
		{"web.wechat.com", "wechat"},
		{"short.weixin.qq.com", "wechat"},
		{"kik.com", "kik"},
		// Dating.
		{"api.gotinder.com", "tinder"},
		{"prod-api.hingeaws.net", "hinge"},
		{"bumble.com", "bumble"},
		{"grindr.mobi", "grindr"},
		{"www.pof.com", "plenty-of-fish"},
		// Added with the groups.
		{"mastodon.social", "mastodon"},
		{"katalk.kakao.com", "kakaotalk"},
		{"dn-m.talk.kakao.com", "kakaotalk"},
		{"chat.zalo.me", "zalo"},
		{"www.xiaohongshu.com", "xiaohongshu"},
		{"teams.live.com", "teams-free"},
		{"boards.4chan.org", "fourchan"},
		{"9gag.com", "ninegag"},
		{"www.zoosk.com", "zoosk"},
		{"www.twitch.tv", "twitch"},
		{"venmo.com", "venmo"},
		{"cash.app", "cash-app"},
		{"www.life360.com", "life360"},
		{"www.strava.com", "strava"},
		{"open.spotify.com", "spotify"},
		{"api.steampowered.com", "steam"},
		{"xboxlive.com", "xbox"},
		{"www.roblox.com", "roblox"},
		// Bypass: encrypted-DNS names, never the providers' other sites.
		{"dns.google", "encrypted-dns"},
		{"dns64.dns.google", "encrypted-dns"},
		{"cloudflare-dns.com", "encrypted-dns"},
		{"mozilla.cloudflare-dns.com", "encrypted-dns"},
		{"1dot1dot1dot1.cloudflare-dns.com", "encrypted-dns"},
		{"one.one.one.one", "encrypted-dns"},
		{"dns.quad9.net", "encrypted-dns"},
		{"dns.adguard-dns.com", "encrypted-dns"},
		{"dns.adguard.com", "encrypted-dns"},
		{"doh.opendns.com", "encrypted-dns"},
		{"abc123.dns.nextdns.io", "encrypted-dns"},
		{"doh.cleanbrowsing.org", "encrypted-dns"},
		{"doh.mullvad.net", "encrypted-dns"},
		{"dns.mullvad.net", "encrypted-dns"},
		// Left alone.
		{"google.com", ""},
		{"www.google.com", ""},
		{"quad9.net", ""},
		{"www.quad9.net", ""},
		{"adguard.com", ""},
		{"mullvad.net", ""},
		{"cloudflare.com", ""},
		{"www.cloudflare.com", ""},
		{"qq.com", ""},
		{"mail.qq.com", ""},
		{"www.naver.jp", ""},
		{"www.youtube.com", "youtube"},
		{"music.youtube.com", "youtube"},
		{"i.ytimg.com", "youtube"},
		{"youtubei.googleapis.com", "youtube"},
		{"rr3---sn-abc.googlevideo.com", ""},
		{"yt3.ggpht.com", ""},
		{"www.googleapis.com", ""},
		{"maps.googleapis.com", ""},
		{"microsoft.com", ""},
		{"mask.icloud.com", ""},
		{"mask-h2.icloud.com", ""},
		{"p16-tiktokcdn-com.akamaized.net", ""},
		{"d1234.cloudfront.net", ""},
		{"www.bytedance.com", ""},
		{"www.capcut.com", ""},
		{"fonts.gstatic.com", ""},
		{"facebook.com.example.org", ""},
		{"notfacebook.com", ""},
		{"protonvpn.com", ""},
		// Kakao's other services, Mail.ru's mail, work Teams, shops and banks.
		{"kakao.com", ""},
		{"map.kakao.com", ""},
		{"accounts.kakao.com", ""},
		{"t1.kakaocdn.net", ""},
		{"e.mail.ru", ""},
		{"teams.microsoft.com", ""},
		{"login.live.com", ""},
		{"outlook.live.com", ""},
		{"squareup.com", ""},
		{"www.paypal.com", ""},
		{"photo-zmp3.zadn.vn", ""},
		{"www.icloud.com", ""},
		{"fmipmobile.icloud.com", ""},
		{"maps.google.com", ""},
		{"epicgames.dev", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := coveredBy(c, tt.name); got != tt.want {
				t.Errorf("%q covered by %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestBuiltinLookupAliases(t *testing.T) {
	c := mustBuiltin(t)
	tests := []struct {
		name string
		want string // "" for not found
	}{
		{"x", "x"},
		{"twitter", "x"},
		{"Twitter", "x"},
		{"TWITTER", "x"},
		{"  twitter\t", "x"},
		{"X", "x"},
		{"fb", "facebook"},
		{"ig", "instagram"},
		{"insta", "instagram"},
		{"wa", "whatsapp"},
		{"tg", "telegram"},
		{"snap", "snapchat"},
		{"bsky", "bluesky"},
		{"weixin", "wechat"},
		{"pof", "plenty-of-fish"},
		{"doh", "encrypted-dns"},
		{"all", ""},
		{"", ""},
		{"myspace", ""},
		{"twit ter", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := c.Lookup(tt.name)
			if got := p.ID; got != tt.want || ok != (tt.want != "") {
				t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.want != "")
			}
		})
	}
}

func TestBuiltinResolveAll(t *testing.T) {
	c := mustBuiltin(t)
	got, err := c.Resolve([]string{"all"})
	if err != nil {
		t.Fatalf("Resolve([all]) error: %v", err)
	}
	var want []string
	for _, p := range c.Platforms() {
		if g, ok := LookupGroup(string(p.Category)); ok && g.InAll {
			want = append(want, p.ID)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("Resolve([all]) = %v\nwant %v", got, want)
	}
	// "all" keeps its meaning: the everyday groups are not part of it, and
	// Reddit, which always was, still is.
	for _, id := range []string{"youtube", "twitch", "venmo", "cash-app", "life360", "strava", "spotify", "steam"} {
		if slices.Contains(got, id) {
			t.Errorf("Resolve([all]) contains %q, want it blocked only when named", id)
		}
	}
	if !slices.Contains(got, "reddit") {
		t.Error("Resolve([all]) lacks reddit")
	}
	for _, id := range requiredIDs {
		p, _ := c.Lookup(id)
		if g, _ := LookupGroup(string(p.Category)); g.InAll && !slices.Contains(got, id) {
			t.Errorf("Resolve([all]) lacks %q", id)
		}
	}
	for _, p := range c.Category(Bypass) {
		if slices.Contains(got, p.ID) {
			t.Errorf("Resolve([all]) contains bypass platform %q, want it left out", p.ID)
		}
	}
}

func TestBuiltinResolveUnknown(t *testing.T) {
	c := mustBuiltin(t)
	for _, names := range [][]string{{"myspace"}, {"twitter", "myspace"}, {"all", "myspace"}} {
		t.Run(strings.Join(names, ","), func(t *testing.T) {
			got, err := c.Resolve(names)
			if err == nil {
				t.Fatalf("Resolve(%q) = %v, nil; want an error", names, got)
			}
			if !errors.Is(err, ErrUnknownPlatform) {
				t.Errorf("Resolve(%q) error %q does not wrap ErrUnknownPlatform", names, err)
			}
			for _, want := range []string{`"myspace"`, "'nocontact platforms'"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Resolve(%q) error %q, want it to contain %s", names, err, want)
				}
			}
			if got != nil {
				t.Errorf("Resolve(%q) ids = %v, want nil with an error", names, got)
			}
		})
	}
}

// small is a hand-made catalog for order and duplicate tests.
const small = `
[[platform]]
id = "alpha"
name = "Alpha"
category = "social"
aliases = ["a", "first"]
domains = ["alpha.example"]

[[platform]]
id = "beta"
name = "Beta"
category = "messaging"
domains = ["beta.example", "beta-cdn.example"]

[[platform]]
id = "doh"
name = "Encrypted DNS"
category = "bypass"
domains = ["dns.example"]

[[platform]]
id = "gamma"
name = "Gamma"
category = "dating"
aliases = ["g"]
domains = ["gamma.example"]

[[platform]]
id = "delta"
name = "Delta"
category = "video"
aliases = ["4d"]
domains = ["delta.example"]
`

func TestResolve(t *testing.T) {
	c := mustParse(t, small)
	tests := []struct {
		name  string
		names []string
		want  []string
	}{
		{"nothing", nil, nil},
		{"empty list", []string{}, nil},
		{"one id", []string{"beta"}, []string{"beta"}},
		{"alias", []string{"first"}, []string{"alpha"}},
		{"alias any case and spaces", []string{" FiRsT "}, []string{"alpha"}},
		{"catalog order", []string{"gamma", "beta", "alpha"}, []string{"alpha", "beta", "gamma"}},
		{"duplicate id", []string{"beta", "beta"}, []string{"beta"}},
		{"id and its aliases", []string{"a", "alpha", "first", "A"}, []string{"alpha"}},
		{"all", []string{"all"}, []string{"alpha", "beta", "gamma"}},
		{"all any case", []string{" ALL "}, []string{"alpha", "beta", "gamma"}},
		{"all with duplicates", []string{"g", "all", "beta"}, []string{"alpha", "beta", "gamma"}},
		{"bypass named", []string{"doh"}, []string{"doh"}},
		{"all and bypass", []string{"doh", "all"}, []string{"alpha", "beta", "doh", "gamma"}},
		{"all leaves video out", []string{"all"}, []string{"alpha", "beta", "gamma"}},
		{"all and a group", []string{"all", "video"}, []string{"alpha", "beta", "gamma", "delta"}},
		{"group any case", []string{" Video "}, []string{"delta"}},
		{"group and its platform", []string{"video", "delta", "4d"}, []string{"delta"}},
		{"groups", []string{"dating", "messaging"}, []string{"beta", "gamma"}},
		{"empty group", []string{"music"}, nil},
		{"alias starting with a digit", []string{"4D"}, []string{"delta"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Resolve(tt.names)
			if err != nil {
				t.Fatalf("Resolve(%q) error: %v", tt.names, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Resolve(%q) = %v, want %v", tt.names, got, tt.want)
			}
		})
	}
}

func TestResolveUnknown(t *testing.T) {
	c := mustParse(t, small)
	for _, name := range []string{"epsilon", "", "alpha.example", "al pha", "alls", "bypass", "videos"} {
		t.Run(name, func(t *testing.T) {
			got, err := c.Resolve([]string{"alpha", name})
			if !errors.Is(err, ErrUnknownPlatform) {
				t.Fatalf("Resolve([alpha %q]) = %v, %v; want an error wrapping ErrUnknownPlatform", name, got, err)
			}
			for _, want := range []string{`"` + name + `"`, "'nocontact platforms'"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Resolve([alpha %q]) error %q, want it to contain %s", name, err, want)
				}
			}
		})
	}
}

func TestCategory(t *testing.T) {
	c := mustParse(t, small)
	tests := []struct {
		cat  Category
		want []string
	}{
		{Social, []string{"alpha"}},
		{Messaging, []string{"beta"}},
		{Dating, []string{"gamma"}},
		{Video, []string{"delta"}},
		{Bypass, []string{"doh"}},
		{"other", nil},
	}
	for _, tt := range tests {
		t.Run(string(tt.cat), func(t *testing.T) {
			var got []string
			for _, p := range c.Category(tt.cat) {
				got = append(got, p.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Category(%q) = %v, want %v", tt.cat, got, tt.want)
			}
		})
	}
}

func TestPlatformsOrder(t *testing.T) {
	c := mustParse(t, small)
	var got []string
	for _, p := range c.Platforms() {
		got = append(got, p.ID)
	}
	if want := []string{"alpha", "beta", "doh", "gamma", "delta"}; !slices.Equal(got, want) {
		t.Errorf("Platforms() ids = %v, want %v", got, want)
	}
}

// platform builds one [[platform]] table from its lines.
func platform(lines ...string) string {
	return "[[platform]]\n" + strings.Join(lines, "\n") + "\n\n"
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name string
		src  string
		ids  []string
	}{
		{"empty file", "", nil},
		{"no aliases", platform(`id = "a"`, `name = "A"`, `category = "social"`, `domains = ["a.example"]`), []string{"a"}},
		{"digits and dash", platform(`id = "a-1"`, `name = "A"`, `category = "dating"`, `aliases = ["b2", "c-d"]`, `domains = ["a-1.example", "_x.example"]`), []string{"a-1"}},
		{"subdomain of its own domain", platform(`id = "a"`, `name = "A"`, `category = "social"`, `domains = ["a.example", "cdn.a.example"]`), []string{"a"}},
		{"sibling domains", platform(`id = "a"`, `name = "A"`, `category = "social"`, `domains = ["a.example"]`) +
			platform(`id = "b"`, `name = "B"`, `category = "social"`, `domains = ["b.example", "example.org"]`), []string{"a", "b"}},
		{"comments", "# header\n" + platform(`id = "a" # id`, `name = "A"`, `category = "social"`, "domains = [\n  \"a.example\", # main\n]"), []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.src)
			var got []string
			for _, p := range c.Platforms() {
				got = append(got, p.ID)
			}
			if !slices.Equal(got, tt.ids) {
				t.Errorf("Parse() ids = %v, want %v", got, tt.ids)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	ok := func(id string, extra ...string) string {
		return platform(append([]string{`id = "` + id + `"`, `name = "N"`, `category = "social"`}, extra...)...)
	}
	tests := []struct {
		name string
		src  string
		want []string // substrings of the error
	}{
		{"toml syntax", "[[platform]\nid = \"a\"", nil},
		{"unknown top-level key", "platfrom = 1\n" + ok("a", `domains = ["a.example"]`), []string{"unknown key", "platfrom"}}, //nolint:misspell // the typo is the test's input
		{"unknown platform key", ok("a", `domains = ["a.example"]`, `domian = "x"`), []string{"unknown key", "domian"}},
		{"wrong type", ok("a", `domains = "a.example"`), nil},
		{"missing id", platform(`name = "A"`, `category = "social"`, `domains = ["a.example"]`), []string{"platform 1", "id"}},
		{"upper-case id", ok("Alpha", `domains = ["a.example"]`), []string{`"Alpha"`, "lower-case"}},
		{"id with space", ok("a b", `domains = ["a.example"]`), []string{`"a b"`}},
		{"id all", ok("all", `domains = ["a.example"]`), []string{`"all"`}},
		{"missing name", platform(`id = "a"`, `category = "social"`, `domains = ["a.example"]`), []string{"platform a", "name is missing"}},
		{"missing category", platform(`id = "a"`, `name = "A"`, `domains = ["a.example"]`), []string{"platform a", "category"}},
		{"bad category", platform(`id = "a"`, `name = "A"`, `category = "news"`, `domains = ["a.example"]`), []string{"platform a", `"news"`}},
		{"upper-case category", platform(`id = "a"`, `name = "A"`, `category = "Social"`, `domains = ["a.example"]`), []string{"platform a", `"Social"`}},
		{"missing domains", ok("a"), []string{"platform a", "no domains"}},
		{"empty domains", ok("a", `domains = []`), []string{"platform a", "no domains"}},
		{"duplicate id", ok("a", `domains = ["a.example"]`) + ok("a", `domains = ["b.example"]`), []string{`"a"`, "already used by a"}},
		{"alias is another id", ok("a", `domains = ["a.example"]`) + ok("b", `aliases = ["a"]`, `domains = ["b.example"]`), []string{"platform b", `"a"`, "already used by a"}},
		{"id is another alias", ok("a", `aliases = ["b"]`, `domains = ["a.example"]`) + ok("b", `domains = ["b.example"]`), []string{"platform b", `"b"`, "already used by a"}},
		{"duplicate alias", ok("a", `aliases = ["z"]`, `domains = ["a.example"]`) + ok("b", `aliases = ["z"]`, `domains = ["b.example"]`), []string{"platform b", `"z"`, "already used by a"}},
		{"alias repeats own id", ok("a", `aliases = ["a"]`, `domains = ["a.example"]`), []string{`"a"`, "already used"}},
		{"alias all", ok("a", `aliases = ["all"]`, `domains = ["a.example"]`), []string{"platform a", `"all"`}},
		{"alias upper case", ok("a", `aliases = ["Twitter"]`, `domains = ["a.example"]`), []string{"platform a", `"Twitter"`}},
		{"alias empty", ok("a", `aliases = [""]`, `domains = ["a.example"]`), []string{"platform a", `""`}},
		{"upper-case domain", ok("a", `domains = ["Example.com"]`), []string{"platform a", `"Example.com"`, "lower case"}},
		{"single-label domain", ok("a", `domains = ["localhost"]`), []string{"platform a", `"localhost"`, "single label"}},
		{"domain with trailing dot", ok("a", `domains = ["a.example."]`), []string{"platform a", `"a.example."`, "empty label"}},
		{"domain with space", ok("a", `domains = ["a example.com"]`), []string{"platform a", `"a example.com"`}},
		{"domain with scheme", ok("a", `domains = ["https://a.example"]`), []string{"platform a", `"https://a.example"`}},
		{"domain with wildcard", ok("a", `domains = ["*.a.example"]`), []string{"platform a", `"*.a.example"`}},
		{"empty domain", ok("a", `domains = [""]`), []string{"platform a", "empty domain"}},
		{"domain twice in one platform", ok("a", `domains = ["a.example", "a.example"]`), []string{"platform a", `"a.example"`, "already listed by a"}},
		{"domain in two platforms", ok("a", `domains = ["a.example"]`) + ok("b", `domains = ["a.example"]`), []string{"platform b", `"a.example"`, "already listed by a"}},
		{"id a group's name", ok("video", `domains = ["a.example"]`), []string{"platform video", `"video"`, "group"}},
		{"alias a group's name", ok("a", `aliases = ["messaging"]`, `domains = ["a.example"]`), []string{"platform a", `"messaging"`, "group"}},
		{"id starting with a digit", ok("4chan", `domains = ["a.example"]`), []string{`"4chan"`, "starting with a letter"}},
		{"alias starting with a dash", ok("a", `aliases = ["-x"]`, `domains = ["a.example"]`), []string{"platform a", `"-x"`}},
		{"alias ending with a dash", ok("a", `aliases = ["9-"]`, `domains = ["a.example"]`), []string{"platform a", `"9-"`}},
		{"alias upper case after a digit", ok("a", `aliases = ["9Gag"]`, `domains = ["a.example"]`), []string{"platform a", `"9Gag"`}},
		{"category of a group in upper case", platform(`id = "a"`, `name = "A"`, `category = "Video"`, `domains = ["a.example"]`), []string{"platform a", `"Video"`, "gaming"}},
		{"shared CDN name", ok("a", `domains = ["a.example", "akamaized.net"]`), []string{"platform a", `"akamaized.net"`, "shared"}},
		{"inside a shared name", ok("a", `domains = ["x-a.akamaized.net"]`), []string{"platform a", `"x-a.akamaized.net"`, `"akamaized.net"`, "shared"}},
		{"inside shared Google video", ok("a", `domains = ["r1.googlevideo.com"]`), []string{"platform a", `"googlevideo.com"`}},
		{"a whole company's domain", ok("a", `domains = ["kakao.com"]`), []string{"platform a", `"kakao.com"`, "company", "subdomain"}},
		{"googleapis.com whole", ok("a", `domains = ["googleapis.com"]`), []string{"platform a", `"googleapis.com"`, "company"}},
		{"host outside the domains", ok("a", `domains = ["a.example"]`, `hosts = ["api.b.example"]`), []string{"platform a", `"api.b.example"`, "none of its domains"}},
		{"host of another platform", ok("a", `domains = ["a.example"]`) + ok("b", `domains = ["b.example"]`, `hosts = ["i.a.example"]`), []string{"platform b", `"i.a.example"`, "none of its domains"}},
		{"host that is a domain", ok("a", `domains = ["a.example"]`, `hosts = ["a.example"]`), []string{"platform a", `"a.example"`, "one of its domains"}},
		{"host in upper case", ok("a", `domains = ["a.example"]`, `hosts = ["API.a.example"]`), []string{"platform a", `"API.a.example"`, "lower case"}},
		{"host with a wildcard", ok("a", `domains = ["a.example"]`, `hosts = ["*.a.example"]`), []string{"platform a", `"*.a.example"`}},
		{"host twice", ok("a", `domains = ["a.example"]`, `hosts = ["i.a.example", "i.a.example"]`), []string{"platform a", `"i.a.example"`, "twice"}},
		{"host with a trailing dot", ok("a", `domains = ["a.example"]`, `hosts = ["i.a.example."]`), []string{"platform a", `"i.a.example."`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(strings.NewReader(tt.src))
			if err == nil {
				t.Fatalf("Parse() = %d platforms, nil error; want an error\ninput:\n%s", len(c.Platforms()), tt.src)
			}
			t.Logf("Parse() error: %v", err)
			if c != nil {
				t.Errorf("Parse() returned a catalog with error %q, want nil", err)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Parse() error %q, want it to contain %s", err, want)
				}
			}
		})
	}
}

func TestParseAcceptsCompanySubdomainAndDigitAlias(t *testing.T) {
	c := mustParse(t, platform(`id = "a"`, `name = "A"`, `category = "messaging"`, `aliases = ["4a", "9gag-x"]`,
		`domains = ["talk.kakao.com", "youtubei.googleapis.com", "akamaized.net.example"]`))
	for _, n := range []string{"4a", "9GAG-X"} {
		if p, ok := c.Lookup(n); !ok || p.ID != "a" {
			t.Errorf("Lookup(%q) = %q, %v; want a", n, p.ID, ok)
		}
	}
}

func TestGroups(t *testing.T) {
	gs := Groups()
	var inAll, names []string
	for _, g := range gs {
		names = append(names, string(g.Name))
		if g.InAll {
			inAll = append(inAll, string(g.Name))
		}
		if g.Title == "" || len(g.Cost) < 40 {
			t.Errorf("group %s: title %q, cost %q; want both, the cost in a sentence or more", g.Name, g.Title, g.Cost)
		}
		if got, ok := LookupGroup(" " + strings.ToUpper(string(g.Name))); !ok || got.Name != g.Name {
			t.Errorf("LookupGroup(%q) = %v, %v", g.Name, got.Name, ok)
		}
	}
	want := []string{"social", "messaging", "dating", "forums", "video", "payments", "location", "fitness", "music", "gaming"}
	if !slices.Equal(names, want) {
		t.Errorf("Groups() = %v, want %v", names, want)
	}
	if want := []string{"social", "messaging", "dating", "forums"}; !slices.Equal(inAll, want) {
		t.Errorf("groups in %q = %v, want %v", All, inAll, want)
	}
	for _, n := range []string{"all", "bypass", "", "socials"} {
		if g, ok := LookupGroup(n); ok {
			t.Errorf("LookupGroup(%q) = %v, want none", n, g.Name)
		}
	}
	// The costs say plainly what DNS cannot split.
	cost := func(c Category) string { g, _ := LookupGroup(string(c)); return g.Cost }
	for cat, words := range map[Category][]string{
		Location: {"Find My", "Google Maps", "cannot be blocked", "iCloud"},
		Music:    {"Spotify", "music too"},
		Payments: {"send, receive"},
		Video:    {"YouTube Music", "embedded"},
	} {
		for _, w := range words {
			if !strings.Contains(cost(cat), w) {
				t.Errorf("the cost of %s, %q, does not say %q", cat, cost(cat), w)
			}
		}
	}
	gs[0].Name = "changed"
	if Groups()[0].Name != Social {
		t.Error("Groups() shares its slice between calls")
	}
}

func TestExpand(t *testing.T) {
	c := mustBuiltin(t)
	for _, g := range Groups() {
		ids, err := c.Expand(string(g.Name))
		if err != nil {
			t.Fatalf("Expand(%q): %v", g.Name, err)
		}
		if len(ids) == 0 {
			t.Errorf("Expand(%q) is empty, want the group's platforms", g.Name)
		}
		for _, id := range ids {
			if p, _ := c.Lookup(id); p.Category != g.Name {
				t.Errorf("Expand(%q) gives %s of category %s", g.Name, id, p.Category)
			}
		}
	}
	tests := []struct {
		name string
		want []string // must be among the result
		not  []string // must not
	}{
		{"video", []string{"youtube", "twitch", "kick"}, []string{"instagram", "spotify"}},
		{"payments", []string{"venmo", "cash-app"}, nil},
		{"location", []string{"life360"}, nil},
		{"fitness", []string{"strava"}, nil},
		{"music", []string{"spotify"}, []string{"youtube"}},
		{"forums", []string{"reddit", "fourchan", "ninegag"}, nil},
		{"gaming", []string{"steam", "xbox", "playstation", "roblox", "epic-games"}, []string{"discord"}},
		{"messaging", []string{"whatsapp", "messenger", "telegram", "signal", "kakaotalk", "zalo", "imo", "line"}, []string{"facebook"}},
		{"dating", []string{"tinder", "zoosk", "eharmony", "lovoo", "tantan", "hily", "muzz", "taimi"}, nil},
		{"social", []string{"instagram", "x", "mastodon", "xiaohongshu", "lemon8", "truth-social"}, []string{"reddit", "youtube"}},
		{"all", []string{"instagram", "whatsapp", "tinder", "reddit", "fourchan"}, []string{"youtube", "venmo", "encrypted-dns"}},
		{"4chan", []string{"fourchan"}, nil},
		{"twitter", []string{"x"}, nil},
		{"doh", []string{"encrypted-dns"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Expand(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range tt.want {
				if !slices.Contains(got, id) {
					t.Errorf("Expand(%q) = %v, lacks %s", tt.name, got, id)
				}
			}
			for _, id := range tt.not {
				if slices.Contains(got, id) {
					t.Errorf("Expand(%q) contains %s", tt.name, id)
				}
			}
		})
	}
	if _, err := c.Expand("bypass"); !errors.Is(err, ErrUnknownPlatform) {
		t.Errorf("Expand(bypass) error %v, want ErrUnknownPlatform: it is not a group a person chooses", err)
	}
}

func TestParseRejectsNestedDomain(t *testing.T) {
	tests := []struct {
		name string
		src  string
	}{
		{"child after parent", platform(`id = "alpha"`, `name = "Alpha"`, `category = "social"`, `domains = ["example.com"]`) +
			platform(`id = "beta"`, `name = "Beta"`, `category = "social"`, `domains = ["cdn.example.com"]`)},
		{"child before parent", platform(`id = "beta"`, `name = "Beta"`, `category = "messaging"`, `domains = ["beta.example", "cdn.example.com"]`) +
			platform(`id = "alpha"`, `name = "Alpha"`, `category = "social"`, `domains = ["alpha.example", "example.com"]`)},
		{"grandchild", platform(`id = "alpha"`, `name = "Alpha"`, `category = "social"`, `domains = ["example.com"]`) +
			platform(`id = "beta"`, `name = "Beta"`, `category = "bypass"`, `domains = ["x.cdn.example.com"]`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.src))
			if err == nil {
				t.Fatalf("Parse() error = nil, want an error for a domain inside another platform's domain")
			}
			for _, want := range []string{"alpha", "beta", `"example.com"`, "cdn.example.com", "inside"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Parse() error %q, want it to contain %s", err, want)
				}
			}
		})
	}
}

// name returns a valid domain of exactly n characters (n >= 5): labels of
// at most 49 characters ending in "com".
func name(n int) string {
	d := "com"
	for len(d) < n {
		l := min(n-len(d)-1, 49)
		if l < 1 { // one character short: lengthen the first label instead
			d = "c" + d
			continue
		}
		d = strings.Repeat("a", l) + "." + d
	}
	return d
}

func TestCheckDomain(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	tests := []struct {
		name string
		d    string
		want string // substring of the error; "" for valid
	}{
		{"plain", "example.com", ""},
		{"two short labels", "a.b", ""},
		{"subdomain", "cdn.example.co.uk", ""},
		{"digits and dash", "1dot1dot1dot1.cloudflare-dns.com", ""},
		{"underscore", "_dmarc.example.com", ""},
		{"punycode", "xn--bcher-kva.example", ""},
		{"upper case", "Example.COM", ""}, // CheckDomain allows it; Parse rejects it separately
		{"label of 63", label63 + ".com", ""},
		{"253 characters", name(253), ""},
		{"empty", "", "empty domain"},
		{"single label", "com", "single label"},
		{"leading dot", ".example.com", "empty label"},
		{"trailing dot", "example.com.", "empty label"},
		{"double dot", "example..com", "empty label"},
		{"only dot", ".", "empty label"},
		{"label of 64", strings.Repeat("a", 64) + ".com", "longer than 63"},
		{"leading dash", "-example.com", "start or end with '-'"},
		{"trailing dash", "example-.com", "start or end with '-'"},
		{"dash-only label", "a.-.com", "start or end with '-'"},
		{"space", "exa mple.com", `" "`},
		{"star", "*.example.com", `"*"`},
		{"slash", "example.com/path", `"/"`},
		{"colon", "example.com:443", `":"`},
		{"at", "user@example.com", `"@"`},
		{"non-ASCII", "bücher.de", `"ü"`},
		{"254 characters", name(254), "longer than 253"},
		{"very long", strings.Repeat("a.", 200) + "com", "longer than 253"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckDomain(tt.d)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckDomain(%q) = %v, want nil", tt.d, err)
			case tt.want != "" && err == nil:
				t.Errorf("CheckDomain(%q) = nil, want an error containing %s", tt.d, tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("CheckDomain(%q) = %q, want an error containing %s", tt.d, err, tt.want)
			}
		})
	}
}

func TestBuiltinHead(t *testing.T) {
	head := builtinHead(3)
	c := mustParse(t, string(head))
	if got := len(c.Platforms()); got != 3 {
		t.Errorf("builtinHead(3) has %d platforms, want 3", got)
	}
	if got := builtinHead(10000); string(got) != string(builtin) {
		t.Errorf("builtinHead(10000) has %d bytes, want the whole catalog (%d)", len(got), len(builtin))
	}
}

func TestNameHelper(t *testing.T) {
	for _, n := range []int{5, 63, 64, 100, 253, 254} {
		d := name(n)
		if len(d) != n {
			t.Errorf("len(name(%d)) = %d, want %d", n, len(d), n)
		}
		if n <= 253 {
			if err := CheckDomain(d); err != nil {
				t.Errorf("CheckDomain(name(%d)) = %v, want nil", n, err)
			}
		}
	}
}

// builtinHead returns the built-in catalog before its n+1st platform: its
// header comment and first n platforms.
func builtinHead(n int) []byte {
	const table = "\n[[platform]]" // at the start of a line, not in a comment
	src, end := string(builtin), 0
	for range n + 1 {
		i := strings.Index(src[end:], table)
		if i < 0 {
			return builtin
		}
		end += i + len(table)
	}
	return []byte(src[:end-len(table)+1])
}

func FuzzParse(f *testing.F) {
	// Only the start of the built-in catalog: the fuzzer minimises every new
	// interesting input, which takes minutes on the whole 20 kB file.
	f.Add(builtinHead(3))
	f.Add([]byte(small))
	f.Add([]byte(""))
	f.Add([]byte(platform(`id = "a"`, `name = "A"`, `category = "social"`, `aliases = ["b"]`, `domains = ["a.example", "cdn.a.example"]`)))
	f.Add([]byte(platform(`id = "a"`, `name = "A"`, `category = "social"`, `domains = ["example.com"]`) +
		platform(`id = "b"`, `name = "B"`, `category = "bypass"`, `domains = ["x.example.com"]`)))
	f.Add([]byte(platform(`id = "a"`, `name = "A"`, `category = "dating"`, `domains = ["Ex\u00e4mple.com", "a..b", "-a.b"]`)))
	f.Add([]byte(platform(`id = "a"`, `name = "A"`, `category = "video"`, `aliases = ["4a", "video"]`, `domains = ["talk.kakao.com", "x.akamaized.net"]`)))
	shared := nameSet(SharedNames())
	company := nameSet(CompanyNames())
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(strings.NewReader(string(data)))
		if err != nil {
			if c != nil {
				t.Fatalf("Parse() returned a catalog and error %v", err)
			}
			return
		}
		seen := make(map[string]string)
		for _, p := range c.Platforms() {
			if !isLabel(p.ID) || p.ID == All {
				t.Errorf("accepted id %q", p.ID)
			}
			if got, ok := c.Lookup(p.ID); !ok || got.ID != p.ID {
				t.Errorf("Lookup(%q) = %q, %v; want %q, true", p.ID, got.ID, ok, p.ID)
			}
			if !knownCategory(p.Category) {
				t.Errorf("platform %s: accepted category %q", p.ID, p.Category)
			}
			for _, a := range p.Aliases {
				if got, ok := c.Lookup(a); !ok || got.ID != p.ID {
					t.Errorf("Lookup(%q) = %q, %v; want %q, true", a, got.ID, ok, p.ID)
				}
				if _, isGroup := LookupGroup(a); isGroup || a == All || !isAlias(a) {
					t.Errorf("platform %s: accepted alias %q", p.ID, a)
				}
			}
			for _, d := range p.Domains {
				if within(d, shared) != "" || company[d] {
					t.Errorf("platform %s: accepted forbidden domain %q", p.ID, d)
				}
				if err := CheckDomain(d); err != nil {
					t.Errorf("platform %s: accepted domain %q: CheckDomain = %v", p.ID, d, err)
				}
				if d != strings.ToLower(d) {
					t.Errorf("platform %s: accepted upper-case domain %q", p.ID, d)
				}
				if o, dup := seen[d]; dup {
					t.Errorf("domain %q accepted for %s and %s", d, o, p.ID)
				}
				seen[d] = p.ID
			}
		}
		for d, id := range seen {
			for parent := parentOf(d); parent != ""; parent = parentOf(parent) {
				if o, ok := seen[parent]; ok && o != id {
					t.Errorf("accepted %q of %s inside %q of %s", d, id, parent, o)
				}
			}
		}
		ids, err := c.Resolve([]string{All})
		if err != nil {
			t.Fatalf("Resolve([all]) error: %v", err)
		}
		for _, id := range ids {
			p, _ := c.Lookup(id)
			if g, _ := LookupGroup(string(p.Category)); !g.InAll {
				t.Errorf("Resolve([all]) contains %q of category %q", id, p.Category)
			}
		}
		for _, g := range Groups() {
			ids, err := c.Expand(string(g.Name))
			if err != nil || ids == nil {
				t.Fatalf("Expand(%q) = %v, %v; want a list, perhaps empty", g.Name, ids, err)
			}
			for _, id := range ids {
				if p, _ := c.Lookup(id); p.Category != g.Name {
					t.Errorf("Expand(%q) contains %q of category %q", g.Name, id, p.Category)
				}
			}
		}
	})
}

func TestIDsLookLikeNamesNotFlags(t *testing.T) {
	for _, id := range []string{"-", "--x", "x-", "9gag"} {
		src := "[[platform]]\nid = \"" + id + "\"\nname = \"N\"\ncategory = \"social\"\ndomains = [\"n.example\"]\n"
		if _, err := Parse(strings.NewReader(src)); err == nil {
			t.Errorf("id %q accepted, want an error (ids start with a letter and do not end with '-')", id)
		}
	}
}

// TestSuggestionsAreValid: a misspelt name gets a suggestion only when one
// name is nearest, and what is suggested is itself a name Expand takes.
func TestSuggestionsAreValid(t *testing.T) {
	c, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	suggested := 0
	for _, n := range c.Names() {
		for i := range len(n) {
			typo := n[:i] + n[i+1:] // one letter left out
			if _, err := c.Expand(typo); err == nil {
				continue // itself a name
			}
			s := Nearest(typo, c.Names())
			if s == "" {
				continue
			}
			suggested++
			if _, err := c.Expand(s); err != nil {
				t.Errorf("%q suggests %q, which is not a name: %v", typo, s, err)
			}
			if _, err := c.Expand(typo); err == nil || !strings.Contains(err.Error(), "did you mean") {
				t.Errorf("the error for %q does not suggest %q: %v", typo, s, err)
			}
		}
	}
	if suggested < 100 {
		t.Errorf("only %d typos got a suggestion", suggested)
	}
	for _, tt := range []struct{ typo, want string }{{"instagarm", "instagram"}, {"whatsap", "whatsapp"}, {"vidoe", "video"}, {"tinderr", "tinder"}} {
		if got := Nearest(tt.typo, c.Names()); got != tt.want {
			t.Errorf("Nearest(%q) = %q, want %q", tt.typo, got, tt.want)
		}
	}
}
