package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/nocontact/nocontact/dnsfilter/catalog"
)

// testCatalog is fixed here so that the tests do not move with the built-in
// catalog.
const testCatalog = `
[[platform]]
id = "instagram"
name = "Instagram"
category = "social"
aliases = ["ig", "insta"]
domains = ["instagram.com", "cdninstagram.com"]

[[platform]]
id = "whatsapp"
name = "WhatsApp"
category = "messaging"
domains = ["whatsapp.com", "whatsapp.net"]

[[platform]]
id = "tinder"
name = "Tinder"
category = "dating"
domains = ["tinder.com", "gotinder.com"]

[[platform]]
id = "doh"
name = "Encrypted DNS providers"
category = "bypass"
domains = ["dns.google"]

# Groups outside "all".
[[platform]]
id = "youtube"
name = "YouTube"
category = "video"
domains = ["youtube.com"]

[[platform]]
id = "venmo"
name = "Venmo"
category = "payments"
domains = ["venmo.com"]
`

func newCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.Parse(strings.NewReader(testCatalog))
	if err != nil {
		t.Fatalf("test catalog: %v", err)
	}
	return cat
}

func parse(t testing.TB, text string) (*Config, error) {
	t.Helper()
	return Parse(strings.NewReader(text), "nocontact.toml", newCatalog(t))
}

// diff lists the fields where got differs from want, each with both values,
// or returns "" when they are equal.
func diff(want, got any) string {
	var b strings.Builder
	var walk func(path string, w, g reflect.Value)
	walk = func(path string, w, g reflect.Value) {
		if w.Kind() == reflect.Struct && w.Type().PkgPath() == reflect.TypeFor[Config]().PkgPath() {
			for i := range w.NumField() {
				walk(path+"."+w.Type().Field(i).Name, w.Field(i), g.Field(i))
			}
			return
		}
		if !reflect.DeepEqual(w.Interface(), g.Interface()) {
			fmt.Fprintf(&b, "%s:\n\twant %#v\n\t got %#v\n", path, w.Interface(), g.Interface())
		}
	}
	walk("Config", reflect.ValueOf(want).Elem(), reflect.ValueOf(got).Elem())
	return b.String()
}

func TestDefaults(t *testing.T) {
	cat := newCatalog(t)
	want := &Config{
		Pact: Pact{
			Block:       []string{"all"},
			Domains:     []string{},
			Allow:       []string{},
			KeepOpen:    []string{},
			Cooldown:    "24h",
			Platforms:   []string{"instagram", "whatsapp", "tinder"},
			Covered:     []string{"instagram", "whatsapp", "tinder"},
			KeptOpen:    []string{},
			CooldownDur: 24 * time.Hour,

			ConfirmAfterCooldown: true,
		},
		DNS: DNS{
			Listen:        []string{"127.0.0.1:53", "[::1]:53"},
			Upstreams:     []string{"system"},
			LANClients:    []string{},
			ListenAddrs:   []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:53"), netip.MustParseAddrPort("[::1]:53")},
			UpstreamAddrs: []Upstream{{System: true}},
			LANPrefixes:   []netip.Prefix{},

			TLSListen:        []string{},
			HTTPSListen:      []string{},
			TLSListenAddrs:   []netip.AddrPort{},
			HTTPSListenAddrs: []netip.AddrPort{},

			Bootstrap:      []string{},
			CacheSize:      10000,
			LANRateLimit:   100,
			MinTTL:         "0s",
			MaxTTL:         "24h",
			BootstrapAddrs: []netip.AddrPort{},
			MaxTTLDuration: 24 * time.Hour,
		},
		QuietHours: []QuietHours{},
		Phases:     []Phase{},
		HostsFile:  HostsFile{Enabled: true},
		Clock:      Clock{Witnesses: DefaultWitnesses},
		Firewall:   Firewall{Enabled: true},
		Daemon:     Daemon{StateDir: DefaultStateDir(), ControlSocket: controlSocketFor(runtime.GOOS, privileged(), os.Getenv, DefaultStateDir())},
		Catalog:    cat,
	}
	if d := diff(want, Default(cat)); d != "" {
		t.Errorf("Default:\n%s", d)
	}
	for _, text := range []string{
		"",
		"# nothing but a comment\n",
		"[pact]\n[dns]\n",
		"\xef\xbb\xbf", // a byte-order mark alone
	} {
		t.Run(fmt.Sprintf("%q", text), func(t *testing.T) {
			got, err := Parse(strings.NewReader(text), "nocontact.toml", cat)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if d := diff(want, got); d != "" {
				t.Errorf("Parse:\n%s", d)
			}
		})
	}
}

func TestDefaultsAreFresh(t *testing.T) {
	cat := newCatalog(t)
	a := Default(cat)
	a.Pact.Block[0] = "changed"
	a.DNS.Listen[0] = "changed"
	if b := Default(cat); b.Pact.Block[0] != "all" || b.DNS.Listen[0] != "127.0.0.1:53" {
		t.Errorf("changing one Default changed the next: block %q, listen %q", b.Pact.Block, b.DNS.Listen)
	}
}

func TestParseEveryKey(t *testing.T) {
	const text = `
[pact]
block = ["IG", "tinder", "instagram"]
domains = [" Their-Blog.example.com. ", "their-blog.example.com", "other.example"]
allow = ["help.instagram.com"]
start = 2026-11-22T21:00:00+01:00
length = "1w3d"
cooldown = "12h"
strict = true

[dns]
listen = ["127.0.0.1:0", "[::1]:5353", "192.168.1.2:53"]
upstreams = ["System", "9.9.9.9", "1.1.1.1:5353", "2620:fe::fe", "[2620:fe::9]:853", "tls://Dns.Quad9.net.@9.9.9.9", "TLS://[2620:fe::fe]:8853", "https://dns.quad9.net/dns-query", "https://9.9.9.9:8443/q?x=1"]
lan_clients = ["192.168.1.7/24", "10.0.0.5", "fd00::1/64", "fd00::7"]
tls_listen = ["192.168.1.2", "[fd00::2]:8853", "192.168.1.2:5853"]
https_listen = ["192.168.1.2", "[::ffff:192.168.1.2]:8443"]
bootstrap = ["9.9.9.9", "[2620:fe::fe]:5353", "9.9.9.9:53"]
cache_size = 500
lan_rate_limit = 20
min_ttl = "30s"
max_ttl = "1h"

[[quiet_hours]]
days = ["Fri", "saturday"]
from = "22:00"
to = "07:30"
block = ["whatsapp"]

[[quiet_hours]]
from = "13:00"
to = "14:00"

[hosts_file]
enabled = false

[clock]
witnesses = ["https://time.example/", "HTTPS://Time.Example/", "https://b.example"]
[firewall]
enabled = false

[daemon]
state_dir = "/srv/nocontact"
control_socket = "/srv/nocontact/control.sock"
`
	want := &Config{
		Pact: Pact{
			Block:       []string{"IG", "tinder", "instagram"},
			Domains:     []string{"their-blog.example.com", "other.example"},
			Allow:       []string{"help.instagram.com"},
			Start:       time.Date(2026, 11, 22, 21, 0, 0, 0, time.FixedZone("", 3600)),
			Length:      "1w3d",
			Cooldown:    "12h",
			Strict:      true,
			KeepOpen:    []string{},
			Platforms:   []string{"instagram", "tinder"},
			Covered:     []string{"instagram", "tinder"},
			KeptOpen:    []string{},
			LengthDur:   10 * 24 * time.Hour,
			CooldownDur: 12 * time.Hour,

			ConfirmAfterCooldown: true,
		},
		Phases: []Phase{},
		Clock:  Clock{Witnesses: []string{"https://time.example/", "https://b.example"}},
		QuietHours: []QuietHours{
			{Days: []string{"Fri", "saturday"}, From: "22:00", To: "07:30", Block: []string{"whatsapp"},
				DayMask: 1<<time.Friday | 1<<time.Saturday, FromMinute: 22 * 60, ToMinute: 7*60 + 30,
				Platforms: []string{"whatsapp"}, Domains: []string{}},
			{From: "13:00", To: "14:00", DayMask: AllDays, FromMinute: 13 * 60, ToMinute: 14 * 60,
				Platforms: []string{"instagram", "tinder"}, Domains: []string{"their-blog.example.com", "other.example"}},
		},
		Daemon: Daemon{StateDir: "/srv/nocontact", ControlSocket: "/srv/nocontact/control.sock", Written: []string{"state_dir", "control_socket"}},
		DNS: DNS{
			Listen:      []string{"127.0.0.1:0", "[::1]:5353", "192.168.1.2:53"},
			Upstreams:   []string{"System", "9.9.9.9", "1.1.1.1:5353", "2620:fe::fe", "[2620:fe::9]:853", "tls://Dns.Quad9.net.@9.9.9.9", "TLS://[2620:fe::fe]:8853", "https://dns.quad9.net/dns-query", "https://9.9.9.9:8443/q?x=1"},
			LANClients:  []string{"192.168.1.7/24", "10.0.0.5", "fd00::1/64", "fd00::7"},
			TLSListen:   []string{"192.168.1.2", "[fd00::2]:8853", "192.168.1.2:5853"},
			HTTPSListen: []string{"192.168.1.2", "[::ffff:192.168.1.2]:8443"},
			TLSListenAddrs: []netip.AddrPort{
				netip.MustParseAddrPort("192.168.1.2:853"),
				netip.MustParseAddrPort("[fd00::2]:8853"),
				netip.MustParseAddrPort("192.168.1.2:5853"),
			},
			HTTPSListenAddrs: []netip.AddrPort{
				netip.MustParseAddrPort("192.168.1.2:443"),
				netip.MustParseAddrPort("192.168.1.2:8443"),
			},
			Bootstrap:    []string{"9.9.9.9", "[2620:fe::fe]:5353", "9.9.9.9:53"},
			CacheSize:    500,
			LANRateLimit: 20,
			MinTTL:       "30s",
			MaxTTL:       "1h",
			BootstrapAddrs: []netip.AddrPort{
				netip.MustParseAddrPort("9.9.9.9:53"),
				netip.MustParseAddrPort("[2620:fe::fe]:5353"),
			},
			MinTTLDuration: 30 * time.Second,
			MaxTTLDuration: time.Hour,
			ListenAddrs: []netip.AddrPort{
				netip.MustParseAddrPort("127.0.0.1:0"),
				netip.MustParseAddrPort("[::1]:5353"),
				netip.MustParseAddrPort("192.168.1.2:53"),
			},
			UpstreamAddrs: []Upstream{
				{System: true},
				{Addr: netip.MustParseAddrPort("9.9.9.9:53")},
				{Addr: netip.MustParseAddrPort("1.1.1.1:5353")},
				{Addr: netip.MustParseAddrPort("[2620:fe::fe]:53")},
				{Addr: netip.MustParseAddrPort("[2620:fe::9]:853")},
				{Addr: netip.MustParseAddrPort("9.9.9.9:853"), TLS: true, Name: "dns.quad9.net"},
				{Addr: netip.MustParseAddrPort("[2620:fe::fe]:8853"), TLS: true},
				{URL: "https://dns.quad9.net/dns-query"},
				{URL: "https://9.9.9.9:8443/q?x=1"},
			},
			LANPrefixes: []netip.Prefix{
				netip.MustParsePrefix("192.168.1.0/24"),
				netip.MustParsePrefix("10.0.0.5/32"),
				netip.MustParsePrefix("fd00::/64"),
				netip.MustParsePrefix("fd00::7/128"),
			},
		},
	}
	got, err := parse(t, text)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want.Catalog = got.Catalog
	if d := diff(want, got); d != "" {
		t.Errorf("Parse:\n%s", d)
	}
}

// TestParseSparse checks that each key left out keeps its default while the
// others are read, and that an explicit empty list is not a missing key.
func TestParseSparse(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		check func(c *Config) string
	}{
		{"empty block blocks nothing", "[pact]\nblock = []\n", func(c *Config) string {
			if len(c.Pact.Block) != 0 || c.Pact.Platforms == nil || len(c.Pact.Platforms) != 0 {
				return fmt.Sprintf("want Block [] and Platforms [], got %q and %#v", c.Pact.Block, c.Pact.Platforms)
			}
			return ""
		}},
		{"dns alone keeps pact defaults", "[dns]\nlisten = [\"127.0.0.1:0\"]\n", func(c *Config) string {
			if !slices.Equal(c.Pact.Block, []string{"all"}) || len(c.DNS.Listen) != 1 || !slices.Equal(c.DNS.Upstreams, []string{"system"}) {
				return fmt.Sprintf("want block [all], one listen, upstreams [system]; got %q, %q, %q", c.Pact.Block, c.DNS.Listen, c.DNS.Upstreams)
			}
			return ""
		}},
		{"dotted keys", "pact.block = [\"ig\"]\ndns.listen = [\"127.0.0.1:0\"]\n", func(c *Config) string {
			if !slices.Equal(c.Pact.Platforms, []string{"instagram"}) || len(c.DNS.ListenAddrs) != 1 {
				return fmt.Sprintf("want platforms [instagram] and one listen address, got %q and %v", c.Pact.Platforms, c.DNS.ListenAddrs)
			}
			return ""
		}},
		{"inline table", "pact = { block = [\"whatsapp\"] }\n", func(c *Config) string {
			if !slices.Equal(c.Pact.Platforms, []string{"whatsapp"}) {
				return fmt.Sprintf("want platforms [whatsapp], got %q", c.Pact.Platforms)
			}
			return ""
		}},
		{"bypass named alone", "[pact]\nblock = [\"doh\"]\n", func(c *Config) string {
			if !slices.Equal(c.Pact.Platforms, []string{"doh"}) {
				return fmt.Sprintf("want platforms [doh], got %q", c.Pact.Platforms)
			}
			return ""
		}},
		{"all and a bypass name", "[pact]\nblock = [\"doh\", \"ALL\"]\n", func(c *Config) string {
			if want := []string{"instagram", "whatsapp", "tinder", "doh"}; !slices.Equal(c.Pact.Platforms, want) {
				return fmt.Sprintf("want platforms %q, got %q", want, c.Pact.Platforms)
			}
			return ""
		}},
		{"all and groups", "[pact]\nblock = [\"all\", \"video\", \"payments\"]\n", func(c *Config) string {
			if want := []string{"instagram", "whatsapp", "tinder", "youtube", "venmo"}; !slices.Equal(c.Pact.Platforms, want) {
				return fmt.Sprintf("want platforms %q, got %q", want, c.Pact.Platforms)
			}
			return ""
		}},
		{"a group alone, any case", "[pact]\nblock = [\" Messaging\"]\n", func(c *Config) string {
			if want := []string{"whatsapp"}; !slices.Equal(c.Pact.Platforms, want) {
				return fmt.Sprintf("want platforms %q, got %q", want, c.Pact.Platforms)
			}
			return ""
		}},
		{"a group with no platform", "[pact]\nblock = [\"music\"]\n", func(c *Config) string {
			if c.Pact.Platforms == nil || len(c.Pact.Platforms) != 0 {
				return fmt.Sprintf("want platforms [], got %#v", c.Pact.Platforms)
			}
			return ""
		}},
		{"quiet hours name a group", "[pact]\nblock = [\"ig\"]\n[[quiet_hours]]\nfrom = \"22:00\"\nto = \"07:00\"\nblock = [\"video\", \"whatsapp\"]\n", func(c *Config) string {
			if want := []string{"whatsapp", "youtube"}; !slices.Equal(c.QuietHours[0].Platforms, want) {
				return fmt.Sprintf("want quiet-hours platforms %q, got %q", want, c.QuietHours[0].Platforms)
			}
			return ""
		}},
		{"domains only", "[pact]\nblock = []\ndomains = [\"Example.COM.\"]\n", func(c *Config) string {
			if !slices.Equal(c.Pact.Domains, []string{"example.com"}) {
				return fmt.Sprintf("want domains [example.com], got %q", c.Pact.Domains)
			}
			return ""
		}},
		{"crlf line ends", "[dns]\r\nlisten = [\"127.0.0.1:0\"]\r\n", func(c *Config) string {
			if len(c.DNS.ListenAddrs) != 1 {
				return fmt.Sprintf("want one listen address, got %v", c.DNS.ListenAddrs)
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(t, tt.text)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if msg := tt.check(c); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		at   string   // the start of the message: file, line and key
		want []string // also in the message
	}{
		// Unknown keys and tables.
		{"unknown key", "[pact]\nblock = [\"all\"]\n\n# typo below\n\n\nblok = [\"ig\"]\n",
			`nocontact.toml:7: unknown key "pact.blok"`, []string{"did you mean block? the keys of [pact] are block, keep_open, domains, allow"}},
		{"unknown dns key", "[dns]\nlisten = [\"127.0.0.1:0\"]\nport = 53\n",
			`nocontact.toml:3: unknown key "dns.port"`, []string{"the keys of [dns] are listen, upstreams, lan_clients"}},
		{"unknown table", "[pact]\n\n[dnss]\nlisten = []\n",
			`nocontact.toml:3: unknown table [dnss]`, []string{"did you mean [dns]? the tables are [pact], [dns], [[quiet_hours]], [[phase]], [hosts_file], [clock], [firewall] and [daemon]"}},
		{"unknown array table", "[[hours]]\nfrom = 1\n",
			`nocontact.toml:1: unknown table [[hours]]`, []string{"[pact], [dns], [[quiet_hours]], [[phase]], [hosts_file], [clock], [firewall] and [daemon]"}},
		{"table in capitals", "[Pact]\nblock = []\n",
			`nocontact.toml:1: unknown table [Pact]`, []string{"lower case, [pact]"}},
		{"key in capitals", "[pact]\nBlock = []\n",
			`nocontact.toml:2: unknown key "pact.Block"`, []string{"lower case, block"}},
		{"key in the wrong table", "[dns]\nblock = [\"ig\"]\n",
			`nocontact.toml:2: unknown key "dns.block"`, []string{"block belongs in [pact]"}},
		{"key outside tables", "block = [\"ig\"]\n",
			`nocontact.toml:1: unknown key "block" outside any table`, []string{"put it under [pact]"}},
		{"unknown top-level key", "\nversion = 2\n",
			`nocontact.toml:2: unknown key "version"`, []string{"no keys outside them"}},
		{"unknown sub-table", "[pact]\n[pact.extra]\nx = 1\n",
			`nocontact.toml:2: unknown key "pact.extra"`, []string{"the keys of [pact]"}},
		{"unknown key in inline table", "pact = { block = [], blok = [] }\n",
			`nocontact.toml:1: unknown key "pact.blok"`, nil},
		{"unknown quoted key", "[pact]\n\"my list\" = []\n",
			`nocontact.toml:2: unknown key "pact.\"my list\""`, nil},

		// Wrong TOML types.
		{"block is a string", "[pact]\nblock = \"instagram\"\n",
			`nocontact.toml:2: pact.block: `, []string{`want a list in brackets: write block = ["instagram"]`}},
		{"block is a number", "[pact]\n\nblock = 3\n",
			`nocontact.toml:3: pact.block: `, []string{`like block = ["instagram"]`}},
		{"listen entry without quotes", "[dns]\nlisten = [\n  \"127.0.0.1:0\",\n  53,\n]\n",
			`nocontact.toml:4: dns.listen: `, []string{`entry 2 is the number 53 without quotes: write "53"`}},
		{"upstreams entry is a table", "[dns]\nupstreams = [{ a = 1 }]\n",
			`nocontact.toml:2: dns.upstreams: `, []string{"entry 1 is a table", `like upstreams = ["system"]`}},
		{"pact is not a table", "pact = 1\n",
			`nocontact.toml:1: pact: `, []string{"want a table", "write [pact] on a line of its own"}},
		{"pact as array of tables", "[[pact]]\nblock = []\n",
			`nocontact.toml:1: pact: `, []string{"want a table"}},
		{"key made a table", "[pact.block]\nx = 1\n",
			`nocontact.toml:1: pact.block: `, []string{"want a list in brackets"}},

		// TOML syntax.
		{"syntax: unquoted name", "[pact]\nblock = [instagram]\n",
			`nocontact.toml:2: not valid TOML: `, []string{"put text in double quotes"}},
		{"syntax: unquoted address", "[dns]\n\nlisten = 127.0.0.1:53\n",
			`nocontact.toml:3: not valid TOML: `, []string{`put text in double quotes, like listen = ["127.0.0.1:53"]`}},
		{"syntax: missing comma", "[pact]\nblock = [\"ig\" \"tinder\"]\n",
			`nocontact.toml:2: not valid TOML: `, []string{"separate the entries of a list with commas"}},
		{"syntax: unclosed table", "[pact\n",
			`nocontact.toml:1: not valid TOML: `, []string{"close the table name with ']'"}},
		{"syntax: key twice", "[pact]\nblock = []\nblock = []\n",
			`nocontact.toml:3: not valid TOML: `, []string{"key 'pact.block' has already been defined", "keep one"}},
		{"syntax: colon", "[pact]\nblock: [\"ig\"]\n",
			`nocontact.toml:2: not valid TOML: `, []string{"write a key, '=' and a value"}},
		{"syntax: after a byte-order mark", "\xef\xbb\xbf[pact]\nblock = []\n[dns\n",
			`nocontact.toml:3: not valid TOML: `, []string{"close the table name"}},
		{"syntax: line ends without value", "[pact]\nblock =\n",
			`nocontact.toml:2: not valid TOML: `, []string{`write a value after '=', like block = ["instagram"]`}},
		{"syntax: unclosed list at the end", "[pact]\nblock = [\"ig\",\n",
			`nocontact.toml:2: not valid TOML: `, []string{"close every quote, '[' and '{'"}},
		{"syntax: unclosed multi-line string", "[pact]\nblock = [\"\"\"\nig\n",
			`nocontact.toml:3: not valid TOML: `, []string{"three quotes"}},
		{"syntax: unquoted name outside lists", "[pact]\nblock = [\"ig\"]\ndomains = example.com\n",
			`nocontact.toml:3: not valid TOML: `, []string{`like domains = ["example.com"]`}},
		{"syntax: NUL", "\x00\x00\x00\x00",
			`nocontact.toml:1: not valid TOML: `, []string{"UTF-8"}},

		// [pact] values.
		{"unknown platform", "[pact]\nblock = [\n  \"ig\",\n  \"instagarm\",\n]\n",
			`nocontact.toml:4: pact.block: `, []string{`unknown platform "instagarm": did you mean "instagram"?`, "nocontact platforms"}},
		{"unknown platform, nothing near", "[pact]\nblock = [\"myspace-2005\"]\n",
			`nocontact.toml:2: pact.block: `, []string{`unknown platform "myspace-2005"`, "nocontact platforms", `"all"`}},
		{"keep_open typo", "[pact]\nblock = [\"all\"]\nkeep_open = [\"whatsap\"]\n",
			`nocontact.toml:3: pact.keep_open: `, []string{`unknown platform "whatsap": did you mean "whatsapp"?`}},
		{"keep_open not blocked", "[pact]\nblock = [\"instagram\"]\nkeep_open = [\"whatsapp\"]\n",
			`nocontact.toml:3: pact.keep_open: `, []string{`"whatsapp" is not in the block list, so it is open already: take it out of keep_open`}},
		{"key typo in a phase", "[pact]\nlength = \"30d\"\n[[phase]]\nkeep_opne = []\n",
			`nocontact.toml:4: unknown key "phase.keep_opne": `, []string{"did you mean keep_open?"}},
		{"key typo in a phase's quiet hours", "[pact]\nlength = \"30d\"\n[[phase]]\n[[phase.quiet_hours]]\nform = \"22:00\"\n",
			`nocontact.toml:5: unknown key "phase.quiet_hours.form": `, []string{"did you mean from?", "the keys of [[phase.quiet_hours]] are days, from, to, block"}},
		{"strict = yes", "[pact]\nstrict = yes\n",
			`nocontact.toml:2: not valid TOML: `, []string{"write true or false, like strict = true"}},
		{"length 30d without quotes", "[pact]\nlength = 30d\n",
			`nocontact.toml:2: not valid TOML: `, []string{`put text in double quotes, like length = "30d"`}},
		{"unknown group", "[pact]\nblock = [\"all\", \"videos\"]\n",
			`nocontact.toml:2: pact.block: `, []string{`unknown platform "videos"`, "nocontact platforms", `"video"`}},
		{"empty platform name", "[pact]\nblock = [\"\"]\n",
			`nocontact.toml:2: pact.block: `, []string{`unknown platform ""`}},
		{"wildcard domain", "[pact]\ndomains = [\"*.instagram.com\"]\n",
			`nocontact.toml:2: pact.domains: `, []string{`"*.instagram.com": write "instagram.com": it already covers every subdomain`}},
		{"web address", "[pact]\ndomains = [\"https://instagram.com/x\"]\n",
			`nocontact.toml:2: pact.domains: `, []string{`write just the domain, "instagram.com"`}},
		{"web address with www", "[pact]\ndomains = [\"https://www.Instagram.com/their.name/\"]\n",
			`nocontact.toml:2: pact.domains: `, []string{`write just the domain, "instagram.com"`}},
		{"address without scheme", "[pact]\nallow = [\"instagram.com/their.name\"]\n",
			`nocontact.toml:2: pact.allow: `, []string{`write just the domain, "instagram.com"`}},
		{"domain with a port", "[pact]\ndomains = [\"example.com:443\"]\n",
			`nocontact.toml:2: pact.domains: `, []string{`without the port, "example.com"`}},
		{"domain is an IP", "[pact]\ndomains = [\"157.240.1.35\"]\n",
			`nocontact.toml:2: pact.domains: `, []string{"is an IP address", "blocks names"}},
		{"single label", "[pact]\nallow = [\"instagram\"]\n",
			`nocontact.toml:2: pact.allow: `, []string{"single label", `"instagram.com"`}},
		{"empty domain", "[pact]\ndomains = [\" \"]\n",
			`nocontact.toml:2: pact.domains: `, []string{"empty domain"}},
		{"bad character", "[pact]\ndomains = [\"exa mple.com\"]\n",
			`nocontact.toml:2: pact.domains: `, []string{`" " is not allowed`}},

		// [dns] listen.
		{"listen hostname", "[dns]\nlisten = [\"localhost:53\"]\n",
			`nocontact.toml:2: dns.listen: `, []string{`"localhost:53": write an IP address, like "127.0.0.1:53"`}},
		{"listen without port", "[dns]\nlisten = [\"::1\"]\n",
			`nocontact.toml:2: dns.listen: `, []string{`add a port, like "[::1]:53"`}},
		{"listen bad port", "[dns]\nlisten = [\"127.0.0.1:99999\"]\n",
			`nocontact.toml:2: dns.listen: `, []string{"a number from 0 to 65535"}},
		{"listen garbage", "[dns]\nlisten = [\"here\"]\n",
			`nocontact.toml:2: dns.listen: `, []string{`want an IP address and a port, like "127.0.0.1:53"`}},
		{"listen twice", "[dns]\nlisten = [\n\"127.0.0.1:53\",\n\"[::1]:53\",\n\" 127.0.0.1:53\",\n]\n",
			`nocontact.toml:5: dns.listen: `, []string{"listed twice"}},
		{"listen empty", "[dns]\nlisten = []\n",
			`nocontact.toml:2: dns.listen: `, []string{"nocontact must listen somewhere", `listen = ["127.0.0.1:53", "[::1]:53"]`}},

		// [dns] upstreams.
		{"upstream hostname", "[dns]\nupstreams = [\"dns.quad9.net\"]\n",
			`nocontact.toml:2: dns.upstreams: `, []string{"IP address, not its name", `"9.9.9.9"`}},
		{"upstream hostname and port", "[dns]\nupstreams = [\"dns.quad9.net:53\"]\n",
			`nocontact.toml:2: dns.upstreams: `, []string{"IP address, not its name"}},
		{"upstream port 0", "[dns]\nupstreams = [\"9.9.9.9:0\"]\n",
			`nocontact.toml:2: dns.upstreams: `, []string{"port 0", "leave the port out"}},
		{"https by name without bootstrap", "[dns]\nupstreams = [\"https://dns.quad9.net/dns-query\"]\n",
			`nocontact.toml:2: dns.upstreams: `, []string{"bootstrap = [\"9.9.9.9\"]", "IP address in place of the name"}},
		{"https without path", "[dns]\nupstreams = [\"https://9.9.9.9\"]\n",
			`nocontact.toml:2: dns.upstreams: `, []string{"/dns-query"}},
		{"https with a bad host", "[dns]\nupstreams = [\"https://bad_host!/dns-query\"]\n",
			`nocontact.toml:2: dns.upstreams: `, []string{"is not a server name or IP address"}},
		{"other scheme", "[dns]\nupstreams = [\"quic://9.9.9.9\"]\n",
			`nocontact.toml:2: dns.upstreams: `, []string{"tls:// or https://"}},
		{"tls by name only", "[dns]\nupstreams = [\"tls://dns.quad9.net\"]\n",
			`nocontact.toml:2: dns.upstreams: `, []string{"IP address after the name"}},
		{"tls bad name", "[dns]\nupstreams = [\"tls://bad name@9.9.9.9\"]\n",
			`nocontact.toml:2: dns.upstreams: `, []string{"name on the server's certificate"}},
		{"tls port 0", "[dns]\nupstreams = [\"tls://9.9.9.9:0\"]\n",
			`nocontact.toml:2: dns.upstreams: `, []string{"port other than 0"}},
		{"bootstrap is encrypted", "[dns]\nbootstrap = [\"tls://9.9.9.9\"]\n",
			`nocontact.toml:2: dns.bootstrap: `, []string{"plain IP address"}},
		{"bootstrap is us", "[dns]\nlisten = [\"127.0.0.1:53\"]\nbootstrap = [\"127.0.0.1\"]\n",
			`nocontact.toml:3: dns.bootstrap: `, []string{"where nocontact itself listens"}},
		{"bootstrap is a name", "[dns]\nbootstrap = [\"dns.quad9.net\"]\n",
			`nocontact.toml:2: dns.bootstrap: `, []string{"IP address, not its name"}},
		{"cache_size 0", "[dns]\ncache_size = 0\n",
			`nocontact.toml:2: dns.cache_size: `, []string{"cache_size = 10000"}},
		{"cache_size text", "[dns]\ncache_size = \"big\"\n",
			`nocontact.toml:2: dns.cache_size: `, []string{"whole number", "cache_size = 10000"}},
		{"min_ttl no unit", "[dns]\nmin_ttl = \"60\"\n",
			`nocontact.toml:2: dns.min_ttl: `, []string{`add a unit, like "60s"`}},
		{"min_ttl a number", "[dns]\nmin_ttl = 60\n",
			`nocontact.toml:2: dns.min_ttl: `, []string{`write min_ttl = "60s"`}},
		{"max_ttl nonsense", "[dns]\nmax_ttl = \"a day\"\n",
			`nocontact.toml:2: dns.max_ttl: `, []string{`want a number and a unit, like "30s"`}},
		{"max_ttl zero", "[dns]\nmax_ttl = \"0s\"\n",
			`nocontact.toml:2: dns.max_ttl: `, []string{"more than 0"}},
		{"max_ttl too long", "[dns]\nmax_ttl = \"9000h\"\n",
			`nocontact.toml:2: dns.max_ttl: `, []string{"a week"}},
		{"min_ttl fraction", "[dns]\nmin_ttl = \"1.5s\"\n",
			`nocontact.toml:2: dns.min_ttl: `, []string{"whole seconds"}},
		{"min above max", "[dns]\nmin_ttl = \"2h\"\nmax_ttl = \"1h\"\n",
			`nocontact.toml:2: dns.min_ttl: `, []string{"longer than max_ttl"}},
		{"upstream unspecified", "[dns]\nupstreams = [\"0.0.0.0\"]\n",
			`nocontact.toml:2: dns.upstreams: `, []string{"not the address of a resolver"}},
		{"upstream is itself", "[dns]\nlisten = [\"127.0.0.1:53\"]\nupstreams = [\"127.0.0.1\"]\n",
			`nocontact.toml:3: dns.upstreams: `, []string{"where nocontact itself listens"}},
		{"upstream garbage", "[dns]\nupstreams = [\"!\"]\n",
			`nocontact.toml:2: dns.upstreams: `, []string{`want "system", an IP address`}},
		{"upstreams empty", "[dns]\nupstreams = []\n",
			`nocontact.toml:2: dns.upstreams: `, []string{`write upstreams = ["system"]`}},

		// [dns] lan_clients.
		{"lan client bad", "[dns]\nlan_clients = [\"192.168.1\"]\n",
			`nocontact.toml:2: dns.lan_clients: `, []string{`"192.168.1": want a network like "192.168.1.0/24"`}},
		{"lan client the whole internet", "[dns]\nlan_clients = [\"0.0.0.0/0\"]\n",
			`nocontact.toml:2: dns.lan_clients: `, []string{"must not answer the whole internet"}},
		{"lan client public", "[dns]\nlan_clients = [\"8.8.8.0/24\"]\n",
			`nocontact.toml:2: dns.lan_clients: `, []string{`like "192.168.1.0/24"`}},
		{"lan client too wide", "[dns]\nlan_clients = [\"192.0.0.0/8\"]\n",
			`nocontact.toml:2: dns.lan_clients: `, []string{"beyond a home or office network"}},
		{"lan client v6 global", "[dns]\nlan_clients = [\"2001:db8::/32\"]\n",
			`nocontact.toml:2: dns.lan_clients: `, []string{"beyond a home or office network"}},
		// [dns] tls_listen and https_listen.
		{"tls listen bad", "[dns]\ntls_listen = [\"my-computer\"]\n",
			`nocontact.toml:2: dns.tls_listen: `, []string{`want this computer's address on your network`, `"192.168.1.20:853"`}},
		{"tls listen anywhere", "[dns]\ntls_listen = [\"0.0.0.0:853\"]\n",
			`nocontact.toml:2: dns.tls_listen: `, []string{"the certificate phones check names it"}},
		{"tls listen on plain", "[dns]\nlisten = [\"127.0.0.1:53\", \"192.168.1.2:53\"]\ntls_listen = [\"192.168.1.2:53\"]\n",
			`nocontact.toml:3: dns.tls_listen: `, []string{"already in listen"}},
		{"https listen on tls", "[dns]\ntls_listen = [\"192.168.1.2\"]\nhttps_listen = [\"192.168.1.2:853\"]\n",
			`nocontact.toml:3: dns.https_listen: `, []string{"already in tls_listen", `"192.168.1.2:443"`}},
		{"https listen twice", "[dns]\nhttps_listen = [\"192.168.1.2\", \"192.168.1.2:443\"]\n",
			`nocontact.toml:2: dns.https_listen: `, []string{"listed twice"}},
		{"lan client bad bits", "[dns]\nlan_clients = [\"192.168.1.0/33\"]\n",
			`nocontact.toml:2: dns.lan_clients: `, []string{`"192.168.1.0/24"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(t, tt.text)
			if err == nil {
				t.Fatalf("Parse gave no error, want one starting %q; config %+v", tt.at, c)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.HasPrefix(msg, tt.at) {
				t.Errorf("error starts wrong:\n\twant %s…\n\t got %s", tt.at, msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n\t got %s", w, msg)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error has more than one line: %q", msg)
			}
		})
	}
}

func TestUnknownPlatformIs(t *testing.T) {
	_, err := parse(t, "[pact]\nblock = [\"snapchatt\"]\n")
	if !errors.Is(err, catalog.ErrUnknownPlatform) {
		t.Errorf("errors.Is(%v, ErrUnknownPlatform) = false, want true", err)
	}
}

func TestSyntaxErrorIsParseError(t *testing.T) {
	_, err := parse(t, "[pact\n")
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("errors.As(%v, *toml.ParseError) = false, want true", err)
	}
}

func TestParseNoCatalog(t *testing.T) {
	if _, err := Parse(strings.NewReader(""), "x.toml", nil); err == nil {
		t.Error("Parse with a nil catalog: want an error, got none")
	}
}

func TestParseTooLarge(t *testing.T) {
	text := "# " + strings.Repeat("x", maxSize) + "\n"
	_, err := parse(t, text)
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Parse of %d bytes: want an error about the size, got %v", len(text), err)
	}
}

func TestErrorWithoutName(t *testing.T) {
	_, err := Parse(strings.NewReader("x = 1\n"), "", newCatalog(t))
	if err == nil || !strings.HasPrefix(err.Error(), "config:1: ") {
		t.Errorf("want an error starting %q, got %v", "config:1: ", err)
	}
}

func TestLoad(t *testing.T) {
	cat := newCatalog(t)
	dir := t.TempDir()

	_, err := Load(filepath.Join(dir, "missing.toml"), cat)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: want an error matching fs.ErrNotExist, got %v", err)
	}
}

// TestExampleFile loads the example shipped to users, with the built-in
// catalog as a user would.
func TestExampleFile(t *testing.T) {
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatalf("catalog.Builtin: %v", err)
	}
	c, err := Load(filepath.Join("..", "examples", "nocontact.toml"), cat)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	wantListen := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:5353"), netip.MustParseAddrPort("[::1]:5353")}
	if !slices.Equal(c.DNS.ListenAddrs, wantListen) {
		t.Errorf("ListenAddrs:\n\twant %v\n\t got %v", wantListen, c.DNS.ListenAddrs)
	}
	if want := Default(cat).Pact.Platforms; !slices.Equal(c.Pact.Platforms, want) {
		t.Errorf("Platforms:\n\twant %q\n\t got %q", want, c.Pact.Platforms)
	}
	if want := []Upstream{{System: true}}; !slices.Equal(c.DNS.UpstreamAddrs, want) {
		t.Errorf("UpstreamAddrs:\n\twant %v\n\t got %v", want, c.DNS.UpstreamAddrs)
	}
}

// TestExampleFileCommentedValues checks that the examples in the comments of
// the example file work when a reader takes out the '#'.
func TestExampleFileCommentedValues(t *testing.T) {
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatalf("catalog.Builtin: %v", err)
	}
	data, err := os.ReadFile(filepath.Join("..", "examples", "nocontact.toml"))
	if err != nil {
		t.Fatal(err)
	}
	table := ""
	for i, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "[") {
			table = line
		}
		code, ok := strings.CutPrefix(line, "#   ")
		if !ok || !strings.Contains(code, " = ") || strings.HasPrefix(code, " ") {
			continue // not a key, or a key of a commented table below
		}
		if strings.HasPrefix(code, "block = ") {
			// Named platforms depend on the catalog being filled in;
			// check the syntax with a catalog-free value instead.
			code = `block = ["all"]`
		}
		text := table + "\n" + code + "\n"
		if _, err := Parse(strings.NewReader(text), fmt.Sprintf("example line %d", i+1), cat); err != nil {
			t.Errorf("commented example %q: %v", line, err)
		}
	}
	// The commented tables ([[quiet_hours]], [[phase]]): each block, its
	// '#  ' taken out, added to the file as it is.
	lines := strings.Split(string(data), "\n")
	blocks := 0
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "#  [[") || (i > 0 && strings.HasPrefix(lines[i-1], "#  ")) {
			continue
		}
		var block []string
		for j := i; j < len(lines) && strings.HasPrefix(lines[j], "#  "); j++ {
			block = append(block, strings.TrimPrefix(lines[j], "#  "))
		}
		blocks++
		text := string(data) + "\n" + strings.Join(block, "\n") + "\n"
		if _, err := Parse(strings.NewReader(text), fmt.Sprintf("example with the table at line %d", i+1), cat); err != nil {
			t.Errorf("commented table at line %d: %v\n%s", i+1, err, strings.Join(block, "\n"))
		}
	}
	if blocks < 2 {
		t.Errorf("found %d commented tables in the example, want the quiet hours and the phases", blocks)
	}
}

func TestUpstreamString(t *testing.T) {
	tests := []struct {
		u    Upstream
		want string
	}{
		{Upstream{System: true}, "system"},
		{Upstream{Addr: netip.MustParseAddrPort("9.9.9.9:53")}, "9.9.9.9:53"},
		{Upstream{Addr: netip.MustParseAddrPort("[2620:fe::fe]:853")}, "[2620:fe::fe]:853"},
		{Upstream{Addr: netip.MustParseAddrPort("9.9.9.9:853"), TLS: true, Name: "dns.quad9.net"}, "tls://dns.quad9.net@9.9.9.9:853"},
		{Upstream{Addr: netip.MustParseAddrPort("9.9.9.9:853"), TLS: true}, "tls://9.9.9.9:853"},
		{Upstream{URL: "https://dns.quad9.net/dns-query"}, "https://dns.quad9.net/dns-query"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.u.String(); got != tt.want {
				t.Errorf("String: want %q, got %q", tt.want, got)
			}
		})
	}
}

// TestFirewallDefault: the firewall layer is on unless the file turns it
// off.
func TestFirewallDefault(t *testing.T) {
	cat := newCatalog(t)
	for _, tt := range []struct {
		text string
		want bool
	}{
		{"", true},
		{"[firewall]\n", true},
		{"[firewall]\nenabled = false\n", false},
		{"[firewall]\nenabled = true\n", true},
	} {
		c, err := Parse(strings.NewReader(tt.text), "nocontact.toml", cat)
		if err != nil {
			t.Fatalf("%q: %v", tt.text, err)
		}
		if c.Firewall.Enabled != tt.want {
			t.Errorf("%q: firewall.enabled = %v, want %v", tt.text, c.Firewall.Enabled, tt.want)
		}
	}
	if _, err := Parse(strings.NewReader("[firewall]\nenabled = 1\n"), "nocontact.toml", cat); err == nil || !strings.Contains(err.Error(), "firewall.enabled") {
		t.Errorf("enabled = 1: %v, want an error naming firewall.enabled", err)
	}
}

// TestHostsFileDefault: the hosts layer is on unless the file turns it off.
func TestHostsFileDefault(t *testing.T) {
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		text string
		want bool
	}{
		{"", true},
		{"[hosts_file]\n", true},
		{"[hosts_file]\nenabled = false\n", false},
		{"[hosts_file]\nenabled = true\n", true},
	} {
		c, err := Parse(strings.NewReader(tt.text), "nocontact.toml", cat)
		if err != nil {
			t.Fatalf("%q: %v", tt.text, err)
		}
		if c.HostsFile.Enabled != tt.want {
			t.Errorf("%q: hosts_file.enabled = %v, want %v", tt.text, c.HostsFile.Enabled, tt.want)
		}
	}
	if _, err := Parse(strings.NewReader("[hosts_file]\nenabled = \"yes\"\n"), "nocontact.toml", cat); err == nil || !strings.Contains(err.Error(), "hosts_file.enabled") {
		t.Errorf("enabled = \"yes\": %v, want an error naming hosts_file.enabled", err)
	}
}

// TestExamplesComplete makes sure every key of the file has an example for
// its wrong-type message.
func TestExamplesComplete(t *testing.T) {
	for _, s := range schema(configType) {
		for _, k := range s.keys {
			if example(s.name+"."+k) == "" {
				t.Errorf("example(%q) is empty: add a line to example", s.name+"."+k)
			}
		}
	}
}

// TestArrayOfTables runs the strict checks on a schema with a [[table]]
// section, the shape [[quiet_hours]] will have, and checks the lines point at
// the right table.
func TestArrayOfTables(t *testing.T) {
	type hours struct {
		From string   `toml:"from"`
		Days []string `toml:"days"`
	}
	type file struct {
		Hours []hours `toml:"hours"`
		Pact  Pact    `toml:"pact"`
	}
	tests := []struct {
		name string
		text string
		want string // "" for no error
	}{
		{"fine", "[[hours]]\nfrom = \"22:00\"\n[[hours]]\nfrom = \"23:00\"\ndays = [\"sat\"]\n", ""},
		{"inline", "hours = [{ from = \"22:00\" }, { days = [] }]\n", ""},
		{"unknown key in second", "[[hours]]\nfrom = \"22:00\"\n[[hours]]\nto = \"23:00\"\n",
			`f.toml:4: unknown key "hours.to": the keys of [[hours]] are from, days`},
		{"wrong type in second", "[[hours]]\nfrom = \"22:00\"\n\n[[hours]]\nfrom = 23\n",
			`f.toml:5: hours.from: want text in quotes: write from = "23"`},
		{"entry in second", "[[hours]]\ndays = [\"sat\"]\n[[hours]]\ndays = [\n\"sun\",\ntrue,\n]\n",
			`f.toml:6: hours.days: entry 2 is true without quotes: write "true"`},
		{"single table", "[hours]\nfrom = \"22:00\"\n",
			`f.toml:1: hours: want a table: write [[hours]] on a line of its own, with its keys below it`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var raw map[string]any
			md, err := toml.Decode(tt.text, &raw)
			if err != nil {
				t.Fatalf("toml.Decode: %v", err)
			}
			err = checkKeys(md, raw, where{file: "f.toml", lines: scanKeyLines(tt.text)}, reflect.TypeFor[file]())
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("checkKeys:\n\twant %q\n\t got %q", tt.want, got)
			}
		})
	}
}

// checkConfig checks what FuzzParse promises of every config Parse returns.
func checkConfig(t *testing.T, c *Config, cat *catalog.Catalog) {
	t.Helper()
	for name, n := range map[string][2]int{
		"ListenAddrs":   {len(c.DNS.ListenAddrs), len(c.DNS.Listen)},
		"UpstreamAddrs": {len(c.DNS.UpstreamAddrs), len(c.DNS.Upstreams)},
		"LANPrefixes":   {len(c.DNS.LANPrefixes), len(c.DNS.LANClients)},
	} {
		if n[0] > n[1] || (name == "ListenAddrs" && n[0] != n[1]) {
			t.Errorf("%s has %d entries for %d in the file (duplicates are dropped, nothing is added)", name, n[0], n[1])
		}
	}
	if c.Pact.Block == nil || c.Pact.Domains == nil || c.Pact.Allow == nil || c.Pact.Platforms == nil ||
		c.DNS.Listen == nil || c.DNS.Upstreams == nil || c.DNS.LANClients == nil ||
		c.DNS.ListenAddrs == nil || c.DNS.UpstreamAddrs == nil || c.DNS.LANPrefixes == nil ||
		c.DNS.Bootstrap == nil || c.DNS.BootstrapAddrs == nil {
		t.Errorf("a list is nil: %+v", c)
	}
	if len(c.DNS.ListenAddrs) == 0 || len(c.DNS.UpstreamAddrs) == 0 {
		t.Errorf("want at least one listen address and one upstream, got %v and %v", c.DNS.ListenAddrs, c.DNS.UpstreamAddrs)
	}
	if want, err := cat.Resolve(c.Pact.Block); err != nil || !slices.Equal(nonNil(want), c.Pact.Covered) {
		t.Errorf("Covered %q, but the catalog resolves %q to %q (%v)", c.Pact.Covered, c.Pact.Block, want, err)
	}
	for _, id := range c.Pact.Covered {
		if slices.Contains(c.Pact.Platforms, id) == slices.Contains(c.Pact.KeptOpen, id) {
			t.Errorf("%s is covered by the block list, and must be either blocked or kept open: Platforms %q, KeptOpen %q", id, c.Pact.Platforms, c.Pact.KeptOpen)
		}
	}
	for _, list := range [][]string{c.Pact.Domains, c.Pact.Allow} {
		for i, d := range list {
			if err := catalog.CheckDomain(d); err != nil || d != strings.ToLower(d) || slices.Contains(list[:i], d) {
				t.Errorf("domain %q: not clean or listed twice (%v)", d, err)
			}
		}
	}
	for i, ap := range c.DNS.ListenAddrs {
		if !ap.IsValid() || slices.Contains(c.DNS.ListenAddrs[:i], ap) {
			t.Errorf("listen address %v invalid or listed twice", ap)
		}
	}
	for _, u := range c.DNS.UpstreamAddrs {
		kinds := 0
		for _, b := range []bool{u.System, u.Addr.IsValid(), u.URL != ""} {
			if b {
				kinds++
			}
		}
		if kinds != 1 || (u.Addr.IsValid() && u.Addr.Port() == 0) || (u.Name != "" && !u.TLS) {
			t.Errorf("upstream %+v: want exactly one of System, an address with a port, or a URL", u)
		}
	}
	for _, p := range c.DNS.LANPrefixes {
		if !p.IsValid() || p != p.Masked() {
			t.Errorf("LAN prefix %v invalid or not masked", p)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("[pact]\nblock = [\"ig\", \"all\"]\ndomains = [\"Example.com.\"]\nallow = [\"help.instagram.com\"]\n"))
	f.Add([]byte("[dns]\nlisten = [\"127.0.0.1:0\", \"[::1]:0\"]\nupstreams = [\"system\", \"9.9.9.9\", \"[::1]:5353\"]\nlan_clients = [\"10.0.0.0/8\", \"fd00::1\"]\n"))
	f.Add([]byte("pact = { block = [] }\ndns.listen = [\n  \"127.0.0.1:53\", # a comment\n]\n"))
	f.Add([]byte("[pact]\nblok = 1\n[[x]]\n'a b'.\"c\\u0041\" = \"\"\"\nline\n\"\"\"\n"))
	f.Add([]byte("[dns]\nlisten = [\"localhost:53\"]\n"))
	f.Add([]byte("[dns]\nupstreams = [\"tls://dns.quad9.net@9.9.9.9\", \"https://dns.quad9.net/dns-query\"]\nbootstrap = [\"9.9.9.9\"]\ncache_size = 10\nmin_ttl = \"5s\"\nmax_ttl = \"1h\"\n"))
	cat := newCatalog(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(strings.NewReader(string(data)), "fuzz.toml", cat)
		if err != nil {
			if c != nil {
				t.Errorf("Parse returned both a config and the error %v", err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "fuzz.toml") {
				t.Errorf("error does not name the file: %q", msg)
			}
			return
		}
		checkConfig(t, c, cat)
	})
}

func TestClockWitnesses(t *testing.T) {
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`"http://time.example/"`, `"time.example"`, `"https://"`, `"https://user@time.example/"`} {
		_, err := Parse(strings.NewReader("[clock]\nwitnesses = ["+bad+"]\n"), "nocontact.toml", cat)
		if err == nil || !strings.Contains(err.Error(), "clock.witnesses") || !strings.Contains(err.Error(), "https://") {
			t.Errorf("witnesses = [%s]: %v, want an error naming clock.witnesses and https://", bad, err)
		}
	}
	c, err := Parse(strings.NewReader("[clock]\nwitnesses = []\n"), "nocontact.toml", cat)
	if err != nil || len(c.Clock.Witnesses) != 0 {
		t.Errorf("an empty list: %v, %v; want none (time then runs on the boot clock alone)", c.Clock.Witnesses, err)
	}
}
