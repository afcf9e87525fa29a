// Package export writes what nocontact blocks in the formats that other
// DNS software reads, so that a router, a Pi-hole or a home DNS server can
// carry the same block: a hosts file, dnsmasq, unbound, adblock-style
// filter lists (AdGuard Home, Pi-hole), a response policy zone (BIND, Knot,
// PowerDNS) and JSON.
//
// It is handed the list (dnsfilter's Policy.Blocklist makes it) and only
// writes it: it decides nothing about what is blocked. Where a format can
// say so, an allow entry inside a blocked domain is written as an
// exception, and the names nocontact answers "does not exist" are written
// that way; where it cannot, the header of the file says what is lost.
package export

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// List is what a filter blocks at one moment.
type List struct {
	// Blocked are the blocked domains, each with all its subdomains,
	// sorted; none lies inside another blocked one unless an allow entry
	// lies between them. Blocked names are answered 0.0.0.0 and ::.
	Blocked []Domain `json:"blocked"`
	// Allow are the exceptions: names, with their subdomains, that stay
	// reachable although they lie inside a blocked domain. Sorted.
	Allow []string `json:"allow"`
	// NXDomain are names answered "does not exist" (NXDOMAIN), each with
	// its subdomains: iCloud Private Relay's, so that Safari does not go
	// around the filter, and Firefox's canary, which turns Firefox's own
	// encrypted DNS off. Sorted.
	NXDomain []string `json:"nxdomain"`
}

// Domain is one blocked domain and the platform it belongs to ("" for a
// domain of the person's own).
type Domain struct {
	Domain   string `json:"domain"`
	Platform string `json:"platform,omitempty"`
}

// FirefoxCanary is the name whose NXDOMAIN answer turns Firefox's own
// encrypted DNS off. An A record of 0.0.0.0 does not, so the formats that
// cannot answer NXDOMAIN leave it out.
const FirefoxCanary = "use-application-dns.net"

// Formats are the format names Write takes, in the order `nocontact
// export` lists them.
var Formats = []string{"hosts", "dnsmasq", "unbound", "adblock", "rpz", "json"}

// RPZOrigin is the zone name the response policy zone is written for; the
// file itself uses relative names, so any zone name works.
const RPZOrigin = "rpz.nocontact"

// Options say how to write.
type Options struct {
	// Serial is the RPZ zone's SOA serial; a server that transfers the
	// zone to others wants it to grow with every export. Zero means 1.
	Serial uint32
	// Source says where the list came from, for the header ("the running
	// nocontact", "settings file /etc/nocontact/nocontact.toml").
	Source string
}

// ErrUnknownFormat is returned by Write for a format not in Formats.
var ErrUnknownFormat = errors.New("unknown export format")

// Write writes l to w in format.
func Write(w io.Writer, format string, l List, o Options) error {
	bw := bufio.NewWriter(w)
	var err error
	switch format {
	case "hosts":
		writeHosts(bw, l, o)
	case "dnsmasq":
		writeDnsmasq(bw, l, o)
	case "unbound":
		writeUnbound(bw, l, o)
	case "adblock":
		writeAdblock(bw, l, o)
	case "rpz":
		writeRPZ(bw, l, o)
	case "json":
		err = writeJSON(bw, l)
	default:
		return fmt.Errorf("%w %q: choose one of %s", ErrUnknownFormat, format, strings.Join(Formats, ", "))
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

// header writes the lines every format starts with, each after prefix.
func header(w *bufio.Writer, prefix string, l List, o Options, notes ...string) {
	src := o.Source
	if src == "" {
		src = "nocontact"
	}
	lines := []string{
		fmt.Sprintf("What nocontact blocks, from %s: %d domains, each with its subdomains.", src, len(l.Blocked)),
		"Made by 'nocontact export'; export again when your pact changes, since this file does not follow it.",
	}
	lines = append(lines, notes...)
	for _, s := range lines {
		fmt.Fprintf(w, "%s %s\n", prefix, s)
	}
}

// hostsNames are the names a hosts file lists for a blocked domain: hosts
// files match whole names only, so the domain and its www name.
func hostsNames(d string, allow []string) []string {
	var out []string
	for _, n := range []string{d, "www." + d} {
		if !under(n, allow) {
			out = append(out, n)
		}
	}
	return out
}

// under reports whether name is one of domains or a subdomain of one.
func under(name string, domains []string) bool {
	for _, a := range domains {
		if name == a || strings.HasSuffix(name, "."+a) {
			return true
		}
	}
	return false
}

func writeHosts(w *bufio.Writer, l List, o Options) {
	header(w, "#", l, o,
		"A hosts file matches whole names only: each domain and its www name are listed, other subdomains are not blocked.",
		"Where you can, use another format (dnsmasq, unbound, adblock or rpz), which blocks every subdomain.")
	var names []string
	for _, d := range l.Blocked {
		names = append(names, hostsNames(d.Domain, l.Allow)...)
	}
	for _, d := range l.NXDomain {
		if d != FirefoxCanary { // it needs "does not exist", which a hosts file cannot say
			names = append(names, d)
		}
	}
	slices.Sort(names)
	for _, n := range slices.Compact(names) {
		fmt.Fprintf(w, "0.0.0.0 %s\n:: %s\n", n, n)
	}
}

func writeDnsmasq(w *bufio.Writer, l List, o Options) {
	header(w, "#", l, o,
		"For dnsmasq: put it in /etc/dnsmasq.d/ (or conf-file=THIS), then restart dnsmasq.")
	for _, d := range l.Blocked {
		fmt.Fprintf(w, "address=/%s/#\n", d.Domain)
	}
	// "#" as the server: these names go to the usual upstream servers,
	// the more specific name beating the blocked domain around it.
	for _, a := range l.Allow {
		fmt.Fprintf(w, "server=/%s/#\n", a)
	}
	for _, d := range l.NXDomain {
		fmt.Fprintf(w, "address=/%s/\n", d)
	}
}

func writeUnbound(w *bufio.Writer, l List, o Options) {
	header(w, "#", l, o,
		"For unbound: put it in /etc/unbound/unbound.conf.d/ (or include: THIS), then run 'unbound-control reload'.")
	fmt.Fprintln(w, "server:")
	for _, d := range l.Blocked {
		fmt.Fprintf(w, "\tlocal-zone: %q always_null\n", d.Domain+".")
	}
	for _, a := range l.Allow {
		fmt.Fprintf(w, "\tlocal-zone: %q transparent\n", a+".")
	}
	for _, d := range l.NXDomain {
		fmt.Fprintf(w, "\tlocal-zone: %q always_nxdomain\n", d+".")
	}
}

func writeAdblock(w *bufio.Writer, l List, o Options) {
	header(w, "!", l, o,
		"For AdGuard Home (Filters, DNS blocklists, Add blocklist, or Custom filtering rules) and Pi-hole (Adlists).",
		"Pi-hole does not read the @@ exceptions: add the allowed names to its allowlist by hand.")
	fmt.Fprintln(w, "! Title: nocontact")
	for _, d := range l.Blocked {
		fmt.Fprintf(w, "||%s^\n", d.Domain)
	}
	for _, a := range l.Allow {
		fmt.Fprintf(w, "@@||%s^\n", a)
	}
	for _, d := range l.NXDomain {
		if d != FirefoxCanary { // it needs "does not exist"; a plain rule gives 0.0.0.0, which does not turn Firefox's DNS off
			fmt.Fprintf(w, "||%s^\n", d)
		}
	}
}

func writeRPZ(w *bufio.Writer, l List, o Options) {
	header(w, ";", l, o,
		"A response policy zone for BIND, Knot Resolver or PowerDNS Recursor. For BIND: zone \""+RPZOrigin+"\" { type primary; file \"THIS\"; };",
		"and in options: response-policy { zone \""+RPZOrigin+"\"; }; (any zone name works: the names below are relative).")
	serial := o.Serial
	if serial == 0 {
		serial = 1
	}
	fmt.Fprintln(w, "$TTL 30")
	fmt.Fprintf(w, "@ IN SOA localhost. hostmaster.nocontact.invalid. %d 3600 600 86400 30\n", serial)
	fmt.Fprintln(w, "@ IN NS localhost.")
	for _, d := range l.Blocked {
		for _, n := range []string{d.Domain, "*." + d.Domain} {
			fmt.Fprintf(w, "%s A 0.0.0.0\n%s AAAA ::\n", n, n)
		}
	}
	for _, a := range l.Allow {
		fmt.Fprintf(w, "%s CNAME rpz-passthru.\n*.%s CNAME rpz-passthru.\n", a, a)
	}
	for _, d := range l.NXDomain {
		fmt.Fprintf(w, "%s CNAME .\n*.%s CNAME .\n", d, d)
	}
}

func writeJSON(w *bufio.Writer, l List) error {
	if l.Blocked == nil {
		l.Blocked = []Domain{}
	}
	if l.Allow == nil {
		l.Allow = []string{}
	}
	if l.NXDomain == nil {
		l.NXDomain = []string{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(l)
}
