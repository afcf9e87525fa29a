package installer

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/nocontact/nocontact/config"
)

// Canary is a name only nocontact answers the way it does: Firefox's
// check for a network that wants its encrypted DNS off, which nocontact
// answers NXDOMAIN (public resolvers answer it normally).
const Canary = "use-application-dns.net"

// FilterAnswers asks the filter at addr about Canary, over UDP, and
// returns nil when the answer is nocontact's: NXDOMAIN.
func FilterAnswers(ctx context.Context, addr netip.AddrPort) error {
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(Canary), dns.TypeA)
	r, _, err := c.ExchangeContext(ctx, m, addr.String())
	if err != nil {
		return fmt.Errorf("no answer from %s: %w", addr, err)
	}
	if r.Rcode != dns.RcodeNameError {
		return fmt.Errorf("%s answered %s for %s, which is not nocontact's answer (NXDOMAIN): another DNS server listens there", addr, dns.RcodeToString[r.Rcode], Canary)
	}
	return nil
}

// ListenProbe returns the address FilterAnswers should ask for cfg: its
// first listen address, with a wildcard replaced by the loopback.
func ListenProbe(cfg *config.Config) (netip.AddrPort, error) {
	if len(cfg.DNS.ListenAddrs) == 0 {
		return netip.AddrPort{}, errors.New("the settings list no listen address")
	}
	a := cfg.DNS.ListenAddrs[0]
	if a.Addr().IsUnspecified() {
		lo := netip.MustParseAddr("127.0.0.1")
		if a.Addr().Is6() {
			lo = netip.IPv6Loopback()
		}
		a = netip.AddrPortFrom(lo, a.Port())
	}
	return a, nil
}

// Answers is Installer.Answers for the real filter.
func Answers(ctx context.Context, cfg *config.Config) error {
	a, err := ListenProbe(cfg)
	if err != nil {
		return err
	}
	return FilterAnswers(ctx, a)
}
