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

// nmNoStubPath is the resolv.conf NetworkManager writes with the servers
// it got (even when it hands them to systemd-resolved, whose stub its
// own resolv.conf then names).
const nmNoStubPath = "run/NetworkManager/no-stub-resolv.conf"

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
//     127.0.0.53 and DHCP keeps the per-link servers current;
//   - resolvconf: the nameservers resolv.conf lists now, after ours;
//   - macOS and Windows: the servers each service or adapter was asking
//     at install, hand-set or from DHCP (the record's forwarding list);
//     a record from before that list existed gives the hand-set ones.
//
// nocontact's own addresses and resolved's stubs (127.0.0.53, 127.0.0.54,
// which lead back to us) are left out. When that leaves none, the
// forwarding list saved at install is used: resolved's and
// NetworkManager's servers as they were then.
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
		if len(rec.Forward) == 0 {
			for _, s := range rec.Services {
				names = append(names, s.Servers...)
			}
		}
	}
	out := usable(names)
	if len(out) == 0 {
		var fwd []string
		for _, s := range rec.Forward {
			fwd = append(fwd, s.Servers...)
		}
		out = usable(fwd)
	}
	return out, nil
}

// usable returns the addresses among names that are neither ours nor a
// stub that leads back to us, on port 53, without duplicates.
func usable(names []string) []netip.AddrPort {
	var out []netip.AddrPort
	for _, n := range names {
		a, err := netip.ParseAddr(n)
		if err != nil {
			continue
		}
		a = a.Unmap()
		ap := netip.AddrPortFrom(a, 53)
		if !isOurs(a) && !isStub(a) && !containsAP(out, ap) {
			out = append(out, ap)
		}
	}
	return out
}

// isStub reports whether a is one of systemd-resolved's local stubs,
// which forward to resolved and so, once it is pointed at us, to us.
func isStub(a netip.Addr) bool {
	s := a.Unmap().String()
	return s == "127.0.0.53" || s == "127.0.0.54"
}

// saveForward records, once, the servers listed in data (a resolv.conf
// as its owner writes it) as the forwarding list, under name, when any of
// them is usable. It is for "system" upstreams only, so a failure is
// logged, not returned.
func (env Env) saveForward(rec *record, name string, data []byte) {
	if len(rec.Forward) > 0 {
		return
	}
	var list []string
	for _, ap := range usable(nameservers(data)) {
		list = append(list, ap.Addr().String())
	}
	if len(list) == 0 {
		return
	}
	rec.Forward = append(rec.Forward, savedServers{Name: name, Servers: list})
	if err := saveRecord(env.StateDir, rec); err != nil {
		env.Log.Warn("could not save the servers the system was asking, for \"system\" upstreams", "err", err)
		return
	}
	env.Log.Info("saved the servers the system was asking, for \"system\" upstreams", "from", name, "servers", list)
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
