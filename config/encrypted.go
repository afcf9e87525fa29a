package config

import (
	"net/netip"
	"slices"
	"strings"
)

// Default ports of the encrypted endpoints for the devices of the LAN.
const (
	DefaultTLSPort   = 853
	DefaultHTTPSPort = 443
)

// validateEncrypted checks [dns] tls_listen and https_listen: each a
// definite address (the certificate names it, so not 0.0.0.0 or ::), not
// one that plain DNS or the other endpoint already uses.
func (d *DNS) validateEncrypted(w where) error {
	d.TLSListen = nonNil(d.TLSListen)
	d.HTTPSListen = nonNil(d.HTTPSListen)
	var err error
	if d.TLSListenAddrs, err = d.parseEncrypted(w, "dns.tls_listen", d.TLSListen, DefaultTLSPort, nil); err != nil {
		return err
	}
	d.HTTPSListenAddrs, err = d.parseEncrypted(w, "dns.https_listen", d.HTTPSListen, DefaultHTTPSPort, d.TLSListenAddrs)
	return err
}

func (d *DNS) parseEncrypted(w where, key string, list []string, port uint16, taken []netip.AddrPort) ([]netip.AddrPort, error) {
	out := make([]netip.AddrPort, 0, len(list))
	for i, s := range list {
		t := strings.TrimSpace(s)
		ap, err := netip.ParseAddrPort(t)
		if err != nil {
			a, aerr := netip.ParseAddr(t)
			if aerr != nil {
				return nil, w.entryErrorf(key, i, "%q: want this computer's address on your network, with a port or without, like %q", s,
					netip.AddrPortFrom(netip.MustParseAddr("192.168.1.20"), port).String())
			}
			ap = netip.AddrPortFrom(a, port)
		}
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		switch {
		case ap.Addr().IsUnspecified():
			return nil, w.entryErrorf(key, i, "%q: write this computer's own address on your network, like %q: the certificate phones check names it",
				s, netip.AddrPortFrom(netip.MustParseAddr("192.168.1.20"), port).String())
		case ap.Addr().Zone() != "":
			return nil, w.entryErrorf(key, i, "%q: an address with a zone cannot be on a certificate: use the computer's IPv4 or global IPv6 address", s)
		case slices.Contains(d.ListenAddrs, ap):
			return nil, w.entryErrorf(key, i, "%q is already in listen, for plain DNS: use another port, like %q", s, netip.AddrPortFrom(ap.Addr(), port).String())
		case slices.Contains(taken, ap):
			return nil, w.entryErrorf(key, i, "%q is already in tls_listen: DNS over HTTPS needs a port of its own, like %q", s,
				netip.AddrPortFrom(ap.Addr(), DefaultHTTPSPort).String())
		case slices.Contains(out, ap):
			return nil, w.entryErrorf(key, i, "%q is listed twice: remove one", s)
		}
		out = append(out, ap)
	}
	return out, nil
}
