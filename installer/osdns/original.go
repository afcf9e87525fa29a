package osdns

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path"
	"strings"
)

// resolvedUplinkPath is the resolv.conf systemd-resolved writes with the
// servers it forwards to (global and per link), as opposed to its stub.
const resolvedUplinkPath = "run/systemd/resolve/resolv.conf"

// Installed reports whether a record of the original settings exists in
// stateDir: nocontact took over the system's DNS and has not given it
// back.
func Installed(stateDir string) bool {
	_, err := os.Stat(recordPath(stateDir))
	return err == nil
}

// OriginalResolvers returns the resolvers the system asked before
// nocontact took over its DNS, for the filter's "system" upstreams, so
// that it never forwards to itself through settings that now name it.
// None (and no error) without a record. Per mechanism:
//
//   - resolv.conf and NetworkManager: the nameservers of the saved
//     resolv.conf (or, if it was a link, of the file it points at now);
//   - systemd-resolved: the servers resolved itself forwards to now
//     (/run/systemd/resolve/resolv.conf), since the saved stub names only
//     127.0.0.53 and DHCP keeps the per-link servers current; the caller
//     removes nocontact's own addresses from them;
//   - resolvconf: the nameservers resolv.conf lists now, after ours;
//   - macOS and Windows: the servers set by hand before, per service or
//     adapter. Those that came from DHCP were not recorded, so a machine
//     where every one did gives none, and the caller falls back.
func OriginalResolvers(env Env) ([]netip.AddrPort, error) {
	rec, err := loadRecord(env.StateDir)
	if err != nil || rec == nil {
		return nil, err
	}
	if env.Root == "" {
		env.Root = "/"
	}
	var names []string
	switch rec.Mode {
	case ModeFile, ModeNetworkManager:
		if sf := rec.file(resolvConfPath); sf != nil && sf.Exists && sf.Link == "" {
			names = nameservers(sf.Data)
		} else if sf != nil && sf.Link != "" {
			// It was a link (to NetworkManager's file under /run, say):
			// what it points at, as its owner keeps writing it.
			target := sf.Link
			if !path.IsAbs(target) {
				target = path.Join(path.Dir("/"+resolvConfPath), target)
			}
			b, err := env.read(strings.TrimPrefix(target, "/"))
			if err != nil {
				return nil, err
			}
			names = nameservers(b)
		}
	case ModeResolved:
		b, err := env.read(resolvedUplinkPath)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		names = nameservers(b)
	case ModeResolvconf:
		b, err := env.read(resolvConfPath)
		if err != nil {
			return nil, err
		}
		names = nameservers(b)
	case ModeNetworksetup, ModeDNSClient:
		for _, s := range rec.Services {
			names = append(names, s.Servers...)
		}
	}
	var out []netip.AddrPort
	for _, n := range names {
		a, err := netip.ParseAddr(n)
		if err != nil {
			continue
		}
		ap := netip.AddrPortFrom(a.Unmap(), 53)
		if !isOurs(a) && !containsAP(out, ap) {
			out = append(out, ap)
		}
	}
	return out, nil
}

// isOurs reports whether a is one of the addresses Apply points the
// system at.
func isOurs(a netip.Addr) bool {
	for _, s := range Servers {
		if a.Unmap().String() == s {
			return true
		}
	}
	return false
}

func containsAP(list []netip.AddrPort, ap netip.AddrPort) bool {
	for _, x := range list {
		if x == ap {
			return true
		}
	}
	return false
}
