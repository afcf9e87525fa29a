// Package config reads and checks nocontact's TOML file.
//
// The file is a request, not the rules in force: it says what the person
// asked for (which platforms, which extra domains, where to listen). The
// daemon compares it with the active pact and decides what applies now and
// what waits for the cooldown, so nothing here enforces anything. What this
// package owns is that a request means exactly one thing: the file is decoded
// strictly (an unknown key is an error, not silence), every value is checked
// once at load with an error that names the file, the line, the key and the
// fix, and the derived fields are filled so that no other package parses
// these strings again.
//
// Defaults live in one function, defaults; each section has one validate
// method. It must not touch the network or the system: "system" upstreams
// are found elsewhere, and no name is ever looked up here.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"github.com/nocontact/nocontact/dnsfilter/catalog"
)

// Config is the whole file. The fields tagged toml:"-" are derived by Parse
// from the ones beside them; the others keep what the file asked for, with
// the cleaning each one documents.
type Config struct {
	Pact       Pact         `toml:"pact"`
	DNS        DNS          `toml:"dns"`
	QuietHours []QuietHours `toml:"quiet_hours"`
	// Phases are the [[phase]] tables: the plan after the first phase
	// (the [pact] table itself), each beginning when the one before it
	// ends. Default none.
	Phases    []Phase   `toml:"phase"`
	HostsFile HostsFile `toml:"hosts_file"`
	Clock     Clock     `toml:"clock"`
	Firewall  Firewall  `toml:"firewall"`
	Daemon    Daemon    `toml:"daemon"`

	// Catalog is the catalog the lists were resolved with, so that what
	// reads the config can name platforms for a person. Parse sets it.
	Catalog *catalog.Catalog `toml:"-"`
}

// Firewall is the [firewall] table: the third layer of the installed
// service. While anything is blocked, the system's firewall refuses DNS,
// DNS over TLS and DNS over QUIC to any server but nocontact's own
// upstreams, and HTTPS to the addresses of the known encrypted-DNS
// services, so that no program can ask a resolver of its own around the
// filter. Never in a trial run.
type Firewall struct {
	// Enabled turns the layer on. Default true. Turning it off is a
	// loosening of the pact, so it waits out the cooldown (or, strict,
	// is refused until the pact ends).
	Enabled bool `toml:"enabled"`
}

// Clock is the [clock] table: who may vouch for the time.
type Clock struct {
	// Witnesses are the web sites, each an https:// address, nocontact
	// asks for the time when the computer's clock claims time nocontact
	// did not see pass (after a restart, or while it was off). Two of them
	// must agree before that time counts toward ending the pact. Their
	// answers count only over verified TLS, so a site can vouch only for
	// itself. Default: DefaultWitnesses. Adding one is a loosening of the
	// pact (it waits out the cooldown): a site of one's own could say any
	// time.
	Witnesses []string `toml:"witnesses"`
}

// DefaultWitnesses are the [clock] witnesses when the file names none:
// large, independent operators, none of them an encrypted-DNS service
// (which nocontact blocks).
var DefaultWitnesses = []string{
	"https://www.google.com/",
	"https://www.cloudflare.com/",
	"https://www.apple.com/",
	"https://www.microsoft.com/",
	"https://www.wikipedia.org/",
}

// HostsFile is the [hosts_file] table: the second layer of the installed
// service, a marked section of the system's hosts file that points the
// blocked platforms' main names nowhere, for the programs that read the
// hosts file but ask some other DNS server.
type HostsFile struct {
	// Enabled writes the section while something is blocked, and only
	// when nocontact is installed (never in a trial run). Default true;
	// false removes the section. The DNS filter blocks either way.
	Enabled bool `toml:"enabled"`
}

// Pact is the [pact] table: what to block.
type Pact struct {
	// Block names the platforms to block: catalog ids or aliases, group
	// names ("video", "payments", ...; see catalog.Groups), or "all" for
	// every social, messaging, dating and forum platform, in any case,
	// each expanded by catalog.Expand. Default ["all"] when the key is
	// missing; an explicit [] blocks nothing from the catalog (Domains may
	// still block something).
	Block []string `toml:"block"`
	// KeepOpen names what stays open on purpose although Block covers it
	// (the one channel left open): platforms, aliases or groups, expanded
	// like Block, as in block = ["all"], keep_open = ["whatsapp"]. Each
	// entry must name something Block covers. Default [].
	KeepOpen []string `toml:"keep_open"`
	// Domains are extra domains to block, each with all its subdomains.
	// Stored trimmed, lower-case, without a trailing dot and without
	// duplicates. Default [].
	Domains []string `toml:"domains"`
	// Allow lists domains that stay reachable even inside a blocked
	// platform, each with its subdomains; cleaned like Domains. Default [].
	Allow []string `toml:"allow"`

	// Start is when the pact begins: a TOML date and time, with an offset
	// (2026-11-22T21:00:00+01:00) or in local time (2026-11-22T21:00:00), or
	// a date alone (midnight, local time). Zero when the key is missing: the
	// pact then begins when the daemon first applies it. Read from the file
	// by Parse, not by the decoder, so that local times mean this machine's
	// zone.
	Start time.Time `toml:"start"`
	// Length is how long the pact lasts from its start ("30d"; see
	// ParseDuration). Default "": no length. Not together with Until.
	Length string `toml:"length"`
	// Until is when the pact ends, written like Start. Zero when missing.
	// Not together with Length; with neither, the pact is open-ended and
	// lasts until it is unlocked.
	Until time.Time `toml:"until"`
	// Cooldown is how long any loosening waits before it takes effect
	// (see ParseDuration). Default "24h".
	Cooldown string `toml:"cooldown"`
	// Strict refuses every loosening until the pact ends; a strict pact
	// must have an end (Length or Until). Default false.
	Strict bool `toml:"strict"`
	// ConfirmAfterCooldown makes ending the pact early (an unlock, or an
	// earlier end in the file) take effect only when the person confirms
	// it again once the cooldown has passed, within a day; unconfirmed,
	// it lapses. Default true; turning it off is a loosening.
	ConfirmAfterCooldown bool `toml:"confirm_after_cooldown"`
	// Reason is why, in the person's own words; status and unlock show it
	// at the hard moment. Default "". At most 1000 characters.
	Reason string `toml:"reason"`
	// Trial makes the pact a trial: it blocks what it says, but binds no
	// one (every change applies at once, strict is ignored, it can be
	// removed at any time). The example file is a trial; a file without
	// it, as `nocontact start` writes, is a real pact. Turning a real pact
	// into a trial is a loosening. Default false.
	Trial bool `toml:"trial"`

	// Platforms is what the pact blocks: Block resolved by the catalog,
	// without what KeepOpen names; platform ids in catalog order, without
	// duplicates. Never nil.
	Platforms []string `toml:"-"`
	// Covered is Block resolved, before KeepOpen is taken out: the
	// default of quiet hours, which close the kept-open channel too.
	// Never nil.
	Covered []string `toml:"-"`
	// KeptOpen is KeepOpen resolved: the ids of Covered left open, in
	// catalog order. Never nil.
	KeptOpen []string `toml:"-"`
	// LengthDur and LengthMonths are Length parsed (see ParseSpan): its
	// calendar months and the rest; both zero when Length is "".
	LengthDur    time.Duration `toml:"-"`
	LengthMonths int           `toml:"-"`
	// CooldownDur is Cooldown parsed.
	CooldownDur time.Duration `toml:"-"`
}

// DNS is the [dns] table: where the filter listens and whom it asks.
type DNS struct {
	// Listen lists the addresses to serve DNS on, each an IP address and a
	// port ("127.0.0.1:53", "[::1]:53"; port 0 picks a free port, for
	// tests). Default ["127.0.0.1:53", "[::1]:53"]; an empty list is an
	// error.
	Listen []string `toml:"listen"`
	// Upstreams lists the resolvers asked for names that are not blocked,
	// healthy ones first, in this order: "system" (the resolvers the system
	// used before nocontact), an IP address (port 53) or "IP:port"
	// ("[v6]:port"), "tls://IP[:port]" or "tls://NAME@IP[:port]" (DNS over
	// TLS, port 853, the certificate checked against NAME, or the IP when
	// no NAME), or "https://HOST[:port]/PATH" (DNS over HTTPS). Default
	// ["system"]; an empty list is an error.
	Upstreams []string `toml:"upstreams"`
	// LANClients lists the networks (CIDR, or a single address) whose
	// devices may use the filter besides this machine's loopback. Default
	// [].
	LANClients []string `toml:"lan_clients"`
	// TLSListen lists where to serve DNS over TLS for the devices of
	// LANClients (phones), each this computer's address on the network
	// with an optional port (853 when none), like "192.168.1.20:853".
	// The certificate comes from a small certificate authority nocontact
	// makes and keeps in its state folder. Default []; `nocontact phone`
	// fills it. See validateEncrypted.
	TLSListen []string `toml:"tls_listen"`
	// HTTPSListen lists where to serve DNS over HTTPS (at /dns-query) for
	// the same devices, like TLSListen (443 when no port). Default [].
	HTTPSListen []string `toml:"https_listen"`
	// Bootstrap lists plain DNS resolvers, as IP or "IP:port", used only
	// to look up the host name of an https:// upstream (nocontact cannot
	// ask itself). Default []; needed when an https:// upstream names its
	// host.
	Bootstrap []string `toml:"bootstrap"`
	// CacheSize is how many answers the cache keeps, fresh or expired (an
	// expired one is served for up to a day when no upstream answers).
	// Default 10000; it must be above 0.
	CacheSize int `toml:"cache_size"`
	// LANRateLimit is how many queries per second each device other than
	// this computer may send (twice that in a short burst); more are
	// dropped unanswered, so nocontact cannot be used to flood anyone.
	// This computer's own lookups are never limited. Default 100; 0 turns
	// the limit off.
	LANRateLimit int `toml:"lan_rate_limit"`
	// MinTTL raises shorter TTLs for the cache: a duration like "0s",
	// "30s", "5m". Default "0s" (TTLs as the upstream gives them).
	MinTTL string `toml:"min_ttl"`
	// MaxTTL lowers longer TTLs for the cache, like "1h". Default "24h";
	// it must be above 0 and not below MinTTL.
	MaxTTL string `toml:"max_ttl"`

	// ListenAddrs is Listen parsed, in order. Never nil.
	ListenAddrs []netip.AddrPort `toml:"-"`
	// TLSListenAddrs and HTTPSListenAddrs are TLSListen and HTTPSListen
	// parsed, ports filled in, in order. Never nil.
	TLSListenAddrs   []netip.AddrPort `toml:"-"`
	HTTPSListenAddrs []netip.AddrPort `toml:"-"`
	// UpstreamAddrs is Upstreams parsed, in order. Never nil.
	UpstreamAddrs []Upstream `toml:"-"`
	// LANPrefixes is LANClients parsed and masked ("192.168.1.7/24" becomes
	// 192.168.1.0/24, a bare address a /32 or /128), in order. Never nil.
	LANPrefixes []netip.Prefix `toml:"-"`
	// BootstrapAddrs is Bootstrap parsed (port 53 when none), in order.
	// Never nil.
	BootstrapAddrs []netip.AddrPort `toml:"-"`
	// MinTTLDuration and MaxTTLDuration are MinTTL and MaxTTL parsed.
	MinTTLDuration time.Duration `toml:"-"`
	MaxTTLDuration time.Duration `toml:"-"`
}

// Upstream is one resolver from [dns] upstreams.
type Upstream struct {
	// System means the resolvers the system used before nocontact took over
	// its DNS; the daemon finds them, this package does not.
	System bool
	// Addr is the resolver of a plain or tls:// upstream; its port is 53
	// (853 for tls://) when the file did not give one. Zero when System is
	// set or for https://.
	Addr netip.AddrPort
	// TLS means DNS over TLS to Addr.
	TLS bool
	// Name is the name a tls:// upstream's certificate must carry, lower
	// case; empty means its IP address.
	Name string
	// URL is an https:// upstream's address (DNS over HTTPS); empty for
	// the others.
	URL string
}

// String gives the upstream back as a file would write it: "system", the
// address with its port, or the tls:// or https:// form.
func (u Upstream) String() string {
	switch {
	case u.System:
		return system
	case u.URL != "":
		return u.URL
	case u.TLS && u.Name != "":
		return "tls://" + u.Name + "@" + u.Addr.String()
	case u.TLS:
		return "tls://" + u.Addr.String()
	}
	return u.Addr.String()
}

// system is the upstream word for the resolvers the system used.
const system = "system"

// maxSize bounds the file: a config is a few hundred bytes, and anything
// much bigger is the wrong file.
const maxSize = 1 << 20

// defaults is the one place that says what a missing key means. Parse
// decodes the file over it, so a key the file does not set keeps its value
// here. It returns fresh slices on every call.
func defaults() *Config {
	return &Config{
		Pact: Pact{
			Block:    []string{catalog.All},
			Domains:  []string{},
			Allow:    []string{},
			KeepOpen: []string{},
			Cooldown: "24h",
			// Ending early is the loosening most regretted: by default it
			// is asked twice.
			ConfirmAfterCooldown: true,
		},
		DNS: DNS{
			Listen:       []string{"127.0.0.1:53", "[::1]:53"},
			Upstreams:    []string{system},
			LANClients:   []string{},
			TLSListen:    []string{},
			HTTPSListen:  []string{},
			Bootstrap:    []string{},
			CacheSize:    10000,
			LANRateLimit: 100,
			MinTTL:       "0s",
			MaxTTL:       "24h",
		},
		QuietHours: []QuietHours{},
		Phases:     []Phase{},
		HostsFile:  HostsFile{Enabled: true},
		Clock:      Clock{Witnesses: slices.Clone(DefaultWitnesses)},
		Firewall:   Firewall{Enabled: true},
	}
}

// Default returns the config an empty file gives, validated and with its
// derived fields filled.
func Default(cat *catalog.Catalog) *Config {
	c := defaults()
	if err := c.validate(cat, where{file: "defaults"}); err != nil {
		// The defaults are constants and a test parses them; this only
		// happens if someone breaks them.
		panic("config: the defaults do not validate: " + err.Error())
	}
	c.Daemon.fillDefault(Env{})
	return c
}

// Load reads the file at path; see Parse. A missing file is an error that
// matches fs.ErrNotExist.
func Load(path string, cat *catalog.Catalog) (*Config, error) {
	return LoadEnv(path, cat, Env{})
}

// LoadEnv is Load with the machine's defaults taken from env.
func LoadEnv(path string, cat *catalog.Catalog, env Env) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseEnv(f, path, cat, env)
}

// Parse reads a config file from r, checks it and fills the derived fields.
// name is the file's name as errors should show it. cat resolves the block
// list and must not be nil.
//
// Every error names the file, the line when it can be found, and the key,
// and says what to write instead. An unknown platform wraps
// catalog.ErrUnknownPlatform; a TOML syntax error wraps toml.ParseError.
func Parse(r io.Reader, name string, cat *catalog.Catalog) (*Config, error) {
	return ParseEnv(r, name, cat, Env{})
}

// ParseEnv is Parse with the machine's defaults (the state directory) taken
// from env.
func ParseEnv(r io.Reader, name string, cat *catalog.Catalog, env Env) (*Config, error) {
	if name == "" {
		name = "config"
	}
	if cat == nil {
		return nil, errors.New("config: no platform catalog to resolve the block list")
	}
	data, err := io.ReadAll(io.LimitReader(r, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > maxSize {
		return nil, fmt.Errorf("%s: the file is larger than %d bytes; is it the right file?", name, maxSize)
	}
	text := string(data)

	// First decode into plain maps: it catches syntax errors and gives every
	// key, so unknown keys and wrong types are reported with their line
	// before the typed decode could fail with a message about Go types.
	var raw map[string]any
	md, err := toml.Decode(text, &raw)
	if err != nil {
		return nil, syntaxError(name, text, err)
	}
	w := where{file: name, lines: scanKeyLines(text)}
	if err := checkKeys(md, raw, w, configType); err != nil {
		return nil, err
	}

	c := defaults()
	if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(c); err != nil {
		// checkKeys has seen every key and type, so this is not expected.
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := c.Pact.readTimes(raw, w, env.location()); err != nil {
		return nil, err
	}
	if err := c.readPhaseTimes(raw, w, env.location()); err != nil {
		return nil, err
	}
	if err := c.validate(cat, w); err != nil {
		return nil, err
	}
	c.Daemon.fillDefault(env)
	return c, nil
}

// validate checks each section and fills the derived fields. A new section
// adds one line here.
func (c *Config) validate(cat *catalog.Catalog, w where) error {
	if err := c.Pact.validate(cat, w); err != nil {
		return err
	}
	if err := c.DNS.validate(w); err != nil {
		return err
	}
	if err := c.validateQuietHours(cat, w); err != nil {
		return err
	}
	if err := c.validatePhases(cat, w); err != nil {
		return err
	}
	c.Catalog = cat
	if err := c.Daemon.validate(w); err != nil {
		return err
	}
	return c.Clock.validate(w)
}

func (c *Clock) validate(w where) error {
	c.Witnesses = nonNil(c.Witnesses)
	seen := map[string]bool{}
	out := c.Witnesses[:0]
	for _, s := range c.Witnesses {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
			return w.errorf("clock.witnesses", "%q is not a web address that starts with https://: write one like %s", s, example("clock.witnesses"))
		}
		u.Host = strings.ToLower(u.Host)
		n := u.String()
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	c.Witnesses = out
	return nil
}

func (p *Pact) validate(cat *catalog.Catalog, w where) error {
	var err error
	p.Block = nonNil(p.Block)
	p.KeepOpen = nonNil(p.KeepOpen)
	at := func(key string, i int, err error) error { return w.entryErr("pact."+key, i, err) }
	if p.Platforms, p.Covered, p.KeptOpen, err = resolveBlock(cat, p.Block, p.KeepOpen, at); err != nil {
		return err
	}
	p.Reason = strings.TrimSpace(p.Reason)
	if n := utf8.RuneCountInString(p.Reason); n > maxReason {
		return w.errorf("pact.reason", "%d characters is more than the %d a reason may have: keep it to a sentence or two, the one you want to read at the hard moment", n, maxReason)
	}

	if p.Domains, err = cleanDomains(p.Domains, "pact.domains", w); err != nil {
		return err
	}
	if p.Allow, err = cleanDomains(p.Allow, "pact.allow", w); err != nil {
		return err
	}
	return p.validatePeriod(w)
}

func (d *DNS) validate(w where) error {
	d.Listen = nonNil(d.Listen)
	d.Upstreams = nonNil(d.Upstreams)
	d.LANClients = nonNil(d.LANClients)
	d.Bootstrap = nonNil(d.Bootstrap)

	if len(d.Listen) == 0 {
		return w.errorf("dns.listen", `the list is empty, but nocontact must listen somewhere: write listen = ["127.0.0.1:53", "[::1]:53"]`)
	}
	d.ListenAddrs = make([]netip.AddrPort, 0, len(d.Listen))
	for i, s := range d.Listen {
		ap, err := parseListen(s)
		if err != nil {
			return w.entryErr("dns.listen", i, err)
		}
		if slices.Contains(d.ListenAddrs, ap) {
			return w.entryErrorf("dns.listen", i, "%q is listed twice: remove one", s)
		}
		d.ListenAddrs = append(d.ListenAddrs, ap)
	}

	if len(d.Upstreams) == 0 {
		return w.errorf("dns.upstreams", `the list is empty, but nocontact needs a resolver to ask: write upstreams = ["system"]`)
	}
	d.UpstreamAddrs = make([]Upstream, 0, len(d.Upstreams))
	for i, s := range d.Upstreams {
		u, err := parseUpstream(s)
		if err != nil {
			return w.entryErr("dns.upstreams", i, err)
		}
		// Asking itself would send every query round in a circle.
		if !u.System && !u.TLS && slices.Contains(d.ListenAddrs, u.Addr) {
			return w.entryErrorf("dns.upstreams", i, "%q is where nocontact itself listens: use \"system\" or another resolver", s)
		}
		if !slices.Contains(d.UpstreamAddrs, u) {
			d.UpstreamAddrs = append(d.UpstreamAddrs, u)
		}
	}

	d.LANPrefixes = make([]netip.Prefix, 0, len(d.LANClients))
	for i, s := range d.LANClients {
		p, err := parseLANClient(s)
		if err != nil {
			return w.entryErr("dns.lan_clients", i, err)
		}
		if !slices.Contains(d.LANPrefixes, p) {
			d.LANPrefixes = append(d.LANPrefixes, p)
		}
	}

	d.BootstrapAddrs = make([]netip.AddrPort, 0, len(d.Bootstrap))
	for i, s := range d.Bootstrap {
		u, err := parseUpstream(s)
		if err == nil && (u.System || u.TLS || u.URL != "") {
			err = fmt.Errorf("%q: a bootstrap resolver is a plain IP address, like \"9.9.9.9\" or \"9.9.9.9:53\"", s)
		}
		if err != nil {
			return w.entryErr("dns.bootstrap", i, err)
		}
		if slices.Contains(d.ListenAddrs, u.Addr) {
			return w.entryErrorf("dns.bootstrap", i, "%q is where nocontact itself listens: write another resolver, like \"9.9.9.9\"", s)
		}
		if !slices.Contains(d.BootstrapAddrs, u.Addr) {
			d.BootstrapAddrs = append(d.BootstrapAddrs, u.Addr)
		}
	}
	if len(d.BootstrapAddrs) == 0 {
		for i, u := range d.UpstreamAddrs {
			if h := urlHost(u.URL); h != "" {
				if _, err := netip.ParseAddr(h); err != nil {
					return w.entryErrorf("dns.upstreams", i, "%q names its server, %q, and nocontact cannot ask itself to look it up: "+
						"add bootstrap = [\"9.9.9.9\"] (a resolver for that one name), or write the server's IP address in place of the name", u.URL, h)
				}
			}
		}
	}

	if d.LANRateLimit < 0 || d.LANRateLimit > 1_000_000 {
		return w.errorf("dns.lan_rate_limit", "%d: want queries per second from 0 (no limit) to 1000000, like lan_rate_limit = 100", d.LANRateLimit)
	}
	if d.CacheSize <= 0 || d.CacheSize > 10_000_000 {
		return w.errorf("dns.cache_size", "%d: want a number of answers from 1 to 10000000, like cache_size = 10000", d.CacheSize)
	}
	var err error
	if d.MinTTLDuration, err = parseTTL(d.MinTTL); err != nil {
		return w.err("dns.min_ttl", err)
	}
	if d.MaxTTLDuration, err = parseTTL(d.MaxTTL); err != nil {
		return w.err("dns.max_ttl", err)
	}
	if d.MaxTTLDuration == 0 {
		return w.errorf("dns.max_ttl", "%q: want more than 0, like max_ttl = \"24h\"", d.MaxTTL)
	}
	if d.MinTTLDuration > d.MaxTTLDuration {
		return w.errorf("dns.min_ttl", "%q is longer than max_ttl %q: lower min_ttl or raise max_ttl", d.MinTTL, d.MaxTTL)
	}
	return d.validateEncrypted(w)
}

// parseTTL reads min_ttl or max_ttl: a duration in whole seconds or more,
// from 0 to a week.
func parseTTL(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	d, err := time.ParseDuration(t)
	if err != nil {
		if n, nerr := strconv.Atoi(t); nerr == nil {
			return 0, fmt.Errorf("%q: add a unit, like \"%ds\"", s, n)
		}
		return 0, fmt.Errorf("%q: want a number and a unit, like \"30s\", \"5m\" or \"24h\"", s)
	}
	if d < 0 || d > 7*24*time.Hour {
		return 0, fmt.Errorf("%q: want a duration from \"0s\" to \"168h\" (a week)", s)
	}
	if d%time.Second != 0 {
		return 0, fmt.Errorf("%q: DNS counts TTLs in whole seconds: write %q", s, d.Round(time.Second).String())
	}
	return d, nil
}

// urlHost returns the host of an https:// upstream, or "".
func urlHost(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// cleanDomains cleans each entry of a domain list (see cleanDomain) and
// drops duplicates, keeping the first.
func cleanDomains(list []string, key string, w where) ([]string, error) {
	out := make([]string, 0, len(list))
	for i, s := range list {
		d, err := cleanDomain(s)
		if err != nil {
			return nil, w.entryErr(key, i, err)
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out, nil
}

// cleanDomain turns a domain as a person may write it (spaces, capitals, a
// trailing dot) into the form the filter matches, or says what to write
// instead of a wildcard, a web address or an IP address.
func cleanDomain(s string) (string, error) {
	d := strings.ToLower(strings.TrimSpace(s))
	d = strings.TrimSuffix(d, ".")
	if strings.Contains(d, "://") || strings.ContainsAny(d, "/?#") {
		if h := hostOf(d); h != "" {
			return "", fmt.Errorf("%q: write just the domain, %q (it covers the whole site)", s, h)
		}
		return "", fmt.Errorf("%q: write just the domain, like \"example.com\"", s)
	}
	if rest, ok := strings.CutPrefix(d, "*."); ok && catalog.CheckDomain(rest) == nil {
		return "", fmt.Errorf("%q: write %q: it already covers every subdomain", s, rest)
	}
	if strings.Contains(d, "*") {
		return "", fmt.Errorf("%q: leave out the '*': a domain already covers every subdomain", s)
	}
	if h, port, err := net.SplitHostPort(d); err == nil && port != "" && catalog.CheckDomain(h) == nil {
		return "", fmt.Errorf("%q: write the domain without the port, %q", s, h)
	}
	if _, err := netip.ParseAddr(d); err == nil {
		return "", fmt.Errorf("%q is an IP address, but nocontact blocks names: write the site's domain, like \"example.com\"", s)
	}
	if err := catalog.CheckDomain(d); err != nil {
		return "", err
	}
	return d, nil
}

// hostOf finds the domain in a web address, without a "www." (the domain
// covers it anyway), or returns "" when there is no valid one.
func hostOf(addr string) string {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil {
		return ""
	}
	h := strings.TrimSuffix(u.Hostname(), ".")
	if rest, ok := strings.CutPrefix(h, "www."); ok && catalog.CheckDomain(rest) == nil {
		h = rest
	}
	if catalog.CheckDomain(h) != nil {
		return ""
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return ""
	}
	return h
}

// parseListen reads one [dns] listen entry: an IP address and a port.
func parseListen(s string) (netip.AddrPort, error) {
	t := strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(t); err == nil {
		return ap, nil
	}
	if a, err := netip.ParseAddr(t); err == nil {
		return netip.AddrPort{}, fmt.Errorf("%q: add a port, like %q", s, netip.AddrPortFrom(a, 53).String())
	}
	if host, port, err := net.SplitHostPort(t); err == nil {
		n, perr := strconv.ParseUint(port, 10, 16)
		if _, aerr := netip.ParseAddr(host); aerr == nil && perr != nil {
			return netip.AddrPort{}, fmt.Errorf("%q: the port must be a number from 0 to 65535", s)
		}
		if perr != nil {
			n = 53
		}
		like := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(n))
		return netip.AddrPort{}, fmt.Errorf("%q: write an IP address, like %q", s, like.String())
	}
	return netip.AddrPort{}, fmt.Errorf("%q: want an IP address and a port, like \"127.0.0.1:53\" or \"[::1]:53\"", s)
}

// parseUpstream reads one [dns] upstreams entry.
func parseUpstream(s string) (Upstream, error) {
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, system) {
		return Upstream{System: true}, nil
	}
	ap, err := netip.ParseAddrPort(t)
	if err != nil {
		if a, aerr := netip.ParseAddr(t); aerr == nil {
			ap, err = netip.AddrPortFrom(a, 53), nil
		}
	}
	switch {
	case err == nil && ap.Port() == 0:
		return Upstream{}, fmt.Errorf("%q: port 0 is not a port a resolver answers on: leave the port out to use 53", s)
	case err == nil && ap.Addr().IsUnspecified():
		return Upstream{}, fmt.Errorf("%q is not the address of a resolver: write one, like \"9.9.9.9\", or \"system\"", s)
	case err == nil:
		return Upstream{Addr: ap}, nil
	case len(t) >= 6 && strings.EqualFold(t[:6], "tls://"):
		return parseTLS(s, t[6:])
	case len(t) >= 8 && strings.EqualFold(t[:8], "https://"):
		return parseHTTPS(s, t)
	case strings.Contains(t, "://"):
		return Upstream{}, fmt.Errorf("%q: an encrypted upstream starts with tls:// or https://, like \"tls://dns.quad9.net@9.9.9.9\" or \"https://dns.quad9.net/dns-query\"", s)
	}
	host := t
	if h, _, err := net.SplitHostPort(t); err == nil {
		host = h
	}
	if host != "" && catalog.CheckDomain(strings.TrimSuffix(host, ".")) == nil {
		// Looking the name up would need a resolver, which is what this
		// entry is meant to be.
		return Upstream{}, fmt.Errorf("%q: write the resolver's IP address, not its name, like \"9.9.9.9\", or \"system\"", s)
	}
	return Upstream{}, fmt.Errorf("%q: want \"system\", an IP address like \"9.9.9.9\", or an address and port like \"9.9.9.9:53\"", s)
}

// parseTLS reads the part after "tls://" of a DNS over TLS upstream:
// "IP[:port]" or "NAME@IP[:port]".
func parseTLS(s, rest string) (Upstream, error) {
	like := `like "tls://dns.quad9.net@9.9.9.9" or "tls://9.9.9.9:853"`
	name, addr := "", rest
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		name, addr = strings.ToLower(strings.TrimSuffix(rest[:i], ".")), rest[i+1:]
		if catalog.CheckDomain(name) != nil {
			return Upstream{}, fmt.Errorf("%q: %q before the @ must be the name on the server's certificate, %s", s, rest[:i], like)
		}
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		a, aerr := netip.ParseAddr(addr)
		if aerr != nil {
			if catalog.CheckDomain(strings.TrimSuffix(addr, ".")) == nil {
				return Upstream{}, fmt.Errorf("%q: write the server's IP address after the name, %s (nocontact cannot look the name up)", s, like)
			}
			return Upstream{}, fmt.Errorf("%q: want an IP address, %s", s, like)
		}
		ap = netip.AddrPortFrom(a, 853)
	}
	if ap.Port() == 0 || ap.Addr().IsUnspecified() {
		return Upstream{}, fmt.Errorf("%q: want the server's IP address and a port other than 0, %s", s, like)
	}
	return Upstream{Addr: ap, TLS: true, Name: name}, nil
}

// parseHTTPS reads a DNS over HTTPS upstream.
func parseHTTPS(s, t string) (Upstream, error) {
	like := `like "https://dns.quad9.net/dns-query"`
	u, err := url.Parse(t)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return Upstream{}, fmt.Errorf("%q: want a DNS over HTTPS address, %s", s, like)
	}
	u.Scheme = "https"
	h := u.Hostname()
	if _, err := netip.ParseAddr(h); err != nil && catalog.CheckDomain(strings.TrimSuffix(strings.ToLower(h), ".")) != nil {
		return Upstream{}, fmt.Errorf("%q: %q is not a server name or IP address, %s", s, h, like)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return Upstream{}, fmt.Errorf("%q: the port must be a number from 1 to 65535", s)
		}
	}
	if u.Path == "" {
		return Upstream{}, fmt.Errorf("%q: add the path, usually /dns-query, %s", s, like)
	}
	return Upstream{URL: u.String()}, nil
}

// parseLANClient reads one [dns] lan_clients entry: a network in CIDR form
// or a single address.
func parseLANClient(s string) (netip.Prefix, error) {
	t := strings.TrimSpace(s)
	p, err := netip.ParsePrefix(t)
	if err != nil {
		a, aerr := netip.ParseAddr(t)
		if aerr != nil {
			return netip.Prefix{}, fmt.Errorf("%q: want a network like \"192.168.1.0/24\" or one device's address like \"192.168.1.20\"", s)
		}
		a = a.WithZone("")
		p = netip.PrefixFrom(a, a.BitLen())
	}
	p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-(p.Addr().BitLen()-p.Addr().Unmap().BitLen())).Masked()
	if !isLocalNetwork(p) {
		return netip.Prefix{}, fmt.Errorf("%q reaches beyond a home or office network, and nocontact must not answer the whole internet: "+
			"list only your own network, like \"192.168.1.0/24\" or \"fd00::/64\"", s)
	}
	return p, nil
}

// localNetworks are the ranges a LAN client may come from: private IPv4
// (RFC 1918), shared address space (RFC 6598), link-local, and IPv6
// unique-local and link-local.
var localNetworks = [...]netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
}

// isLocalNetwork reports whether all of p lies inside one local range.
func isLocalNetwork(p netip.Prefix) bool {
	for _, l := range localNetworks {
		if l.Bits() <= p.Bits() && l.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// nonNil gives an empty slice for nil, so that a config compares and prints
// the same whether a list was empty in the file or never set.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
