package dnsfilter

import (
	"net"
	"strings"

	"github.com/miekg/dns"
)

const (
	// BlockedTTL is the TTL of every blocked answer: short, so that when a
	// block lifts, browsers and the OS forget it within half a minute.
	BlockedTTL = 30
	// UDPSize is the EDNS0 payload size we advertise and answer within
	// (the DNS Flag Day 2020 value, which avoids IP fragmentation).
	UDPSize = 1232
	// soaNS and soaMbox name the made-up zone that blocked NODATA answers
	// carry in their SOA; .invalid never resolves (RFC 6761).
	soaNS   = "blocked.nocontact.invalid."
	soaMbox = "hostmaster.nocontact.invalid."
)

// Special names answered locally, whatever the upstreams say.
const (
	// Firefox turns its own DNS over HTTPS off when this resolves to
	// NXDOMAIN ("canary domain").
	firefoxCanary = "use-application-dns.net."
	// iCloud Private Relay is not used when these do not resolve.
	relayMask   = "mask.icloud.com."
	relayMaskH2 = "mask-h2.icloud.com."
	// Discovery of Designated Resolvers (RFC 9462): answering NODATA keeps
	// clients from upgrading to an encrypted resolver that skips us.
	ddrName = "_dns.resolver.arpa."
)

// specialName is a name nocontact answers itself, whatever the upstreams
// say.
type specialName struct {
	name     string // fully qualified, lower-case
	subtree  bool   // its subdomains too
	blocking bool   // only while the policy blocks anything
	rcode    int
	why      string // for `nocontact check`
}

var specialNames = [...]specialName{
	{firefoxCanary, true, false, dns.RcodeNameError, "Firefox's canary: answered NXDOMAIN so Firefox turns its own encrypted DNS off"},
	{relayMask, false, true, dns.RcodeNameError, "iCloud Private Relay: answered NXDOMAIN so Safari does not go around the filter"},
	{relayMaskH2, false, true, dns.RcodeNameError, "iCloud Private Relay: answered NXDOMAIN so Safari does not go around the filter"},
	{ddrName, false, false, dns.RcodeSuccess, "encrypted-resolver discovery (RFC 9462): answered with no records so clients keep asking nocontact"},
}

// findSpecial returns the special name that covers name under policy p.
func findSpecial(name string, p *Policy) (specialName, bool) {
	if len(name) == 0 || name[len(name)-1] != '.' {
		name += "."
	}
	for _, sn := range specialNames {
		if sn.blocking && !p.Blocking() {
			continue
		}
		if strings.EqualFold(name, sn.name) || (sn.subtree && hasSuffixFold(name, "."+sn.name)) {
			return sn, true
		}
	}
	return specialName{}, false
}

// special answers the names nocontact always answers itself. It returns nil
// for any other name.
func special(q *dns.Msg, p *Policy) *dns.Msg {
	if sn, ok := findSpecial(q.Question[0].Name, p); ok {
		return reply(q, sn.rcode)
	}
	return nil
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// reply makes an empty answer to q with the given rcode, recursion
// available, and our OPT record if q had one.
func reply(q *dns.Msg, rcode int) *dns.Msg {
	m := new(dns.Msg)
	m.SetRcode(q, rcode)
	m.RecursionAvailable = true
	if o := q.IsEdns0(); o != nil {
		m.SetEdns0(UDPSize, o.Do())
	}
	return m
}

// blockedAnswer is what a client gets for a blocked name, whatever the type:
// 0.0.0.0 for A, :: for AAAA, and for every other type NOERROR with no
// answer and an SOA of the blocked domain in the authority section. When
// the client speaks EDNS, an Extended DNS Error 15 ("Blocked", RFC 8914)
// names the platform.
func blockedAnswer(q *dns.Msg, domain, platform string) *dns.Msg {
	m := reply(q, dns.RcodeSuccess)
	qq := q.Question[0]
	hdr := dns.RR_Header{Name: qq.Name, Class: dns.ClassINET, Ttl: BlockedTTL}
	switch {
	case qq.Qtype == dns.TypeA && qq.Qclass == dns.ClassINET:
		hdr.Rrtype = dns.TypeA
		m.Answer = []dns.RR{&dns.A{Hdr: hdr, A: net.IPv4zero.To4()}}
	case qq.Qtype == dns.TypeAAAA && qq.Qclass == dns.ClassINET:
		hdr.Rrtype = dns.TypeAAAA
		m.Answer = []dns.RR{&dns.AAAA{Hdr: hdr, AAAA: net.IPv6zero}}
	default:
		m.Ns = []dns.RR{&dns.SOA{
			Hdr:     dns.RR_Header{Name: dns.Fqdn(domain), Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: BlockedTTL},
			Ns:      soaNS,
			Mbox:    soaMbox,
			Serial:  1,
			Refresh: 3600,
			Retry:   600,
			Expire:  86400,
			Minttl:  BlockedTTL,
		}}
	}
	if o := m.IsEdns0(); o != nil {
		what := platform
		if what == "" {
			what = domain
		}
		o.Option = append(o.Option, &dns.EDNS0_EDE{
			InfoCode:  dns.ExtendedErrorCodeBlocked,
			ExtraText: what + " is blocked by nocontact",
		})
	}
	return m
}

// anyAnswer answers a query for ANY the way RFC 8482 suggests, with one
// synthesized HINFO record, without asking upstream: ANY is mostly used
// for amplification, and no client we serve needs it.
func anyAnswer(q *dns.Msg) *dns.Msg {
	m := reply(q, dns.RcodeSuccess)
	qq := q.Question[0]
	m.Answer = []dns.RR{&dns.HINFO{
		Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeHINFO, Class: qq.Qclass, Ttl: 3600},
		Cpu: "RFC8482",
	}}
	return m
}
