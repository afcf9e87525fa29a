package osdns

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
)

// resolvedDropInPath is resolved's configuration drop-in. Drop-ins are
// read in name order after resolved.conf, hence "99-".
const resolvedDropInPath = "etc/systemd/resolved.conf.d/99-nocontact.conf"

// resolvedDropIn makes the filter resolved's only global DNS server and
// routes every name to the global servers. Why each line, from
// resolved.conf(5) and the "Protocols and routing" section of
// systemd-resolved.service(8):
//
//   - "DNS=" then "DNS=127.0.0.1 ::1": DNS= is a list, and an assignment
//     in a drop-in adds to the servers resolved.conf already lists; the
//     empty assignment first resets the list, so that no server of the
//     user's resolved.conf stays beside ours.
//   - "Domains=~.": a query goes to the scopes (the global one and each
//     link's) whose routing domains match the name best; a link that
//     matches no domain but is a "DNS default route" (every link with DHCP
//     servers and no "~" domain of its own) is only used when NO scope
//     matches. "~." matches every name, so with it on the global scope
//     the per-link servers from DHCP are never asked for names they have
//     no routing domain for: they cannot answer around the filter, and
//     there is no need to clear them (resolvectl revert would also undo
//     what NetworkManager or networkd set, which Restore could not give
//     back exactly). Two cases still go to a link, by the same rules: a
//     name under a link's own search or routing domain (a DHCP "lan"
//     domain), which is longer and so wins, and a link that carries "~."
//     itself, which ties with ours and is asked too (NetworkManager can
//     set that). Neither is prevented here: only changing the link's own
//     settings would, and NetworkManager or networkd set them again.
//     The user's global Domains= stay: Domains= is not reset.
//   - "DNSOverTLS=no": resolved would otherwise talk TLS to 127.0.0.1:853
//     when the user turned DNS-over-TLS on, and nocontact serves plain DNS.
var resolvedDropIn = []byte(`# Written by nocontact: every lookup goes to its filter on 127.0.0.1 and ::1.
# ` + "`nocontact uninstall`" + ` removes this file.
[Resolve]
DNS=
DNS=127.0.0.1 ::1
Domains=~.
DNSOverTLS=no
`)

// resolvedBackend (ModeResolved): resolv.conf keeps pointing at
// resolved's stub (127.0.0.53), which programs reading resolv.conf use,
// and programs using nss-resolve or resolved's D-Bus API go the same way;
// resolved itself is pointed at the filter.
type resolvedBackend struct{ env Env }

func (b *resolvedBackend) Mode() Mode { return ModeResolved }

func (b *resolvedBackend) Apply(ctx context.Context) error {
	rec, err := b.env.saveFiles(ModeResolved, resolvedDropInPath)
	if err != nil {
		return err
	}
	// What resolved forwards to before our drop-in, for "system"
	// upstreams when its live list has only ours one day.
	if up, err := b.env.read(resolvedUplinkPath); err == nil {
		b.env.saveForward(rec, resolvedUplinkPath, up)
	}
	if err := b.env.write(resolvedDropInPath, resolvedDropIn, 0o644); err != nil {
		return err
	}
	return b.reload(ctx)
}

// Check reads the drop-in and asks resolved which global servers it uses
// now: a drop-in in place that resolved never read counts as drifted.
func (b *resolvedBackend) Check(ctx context.Context) error {
	if _, err := appliedRecord(b.env, ModeResolved); err != nil {
		return err
	}
	got, err := b.env.read(resolvedDropInPath)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, resolvedDropIn) {
		return fmt.Errorf("%w: %s was changed or removed", ErrDrifted, b.env.sysPath(resolvedDropInPath))
	}
	out, _, err := b.env.Run.Run(ctx, "resolvectl", "dns")
	if err != nil {
		return err
	}
	global, ok := resolvectlGlobal(out)
	if !ok {
		return fmt.Errorf("resolvectl dns printed no Global line: %q", out)
	}
	if !slices.Equal(global, Servers) {
		return fmt.Errorf("%w: systemd-resolved's global DNS servers are %q, want %q", ErrDrifted, strings.Join(global, " "), strings.Join(Servers, " "))
	}
	return nil
}

func (b *resolvedBackend) Restore(ctx context.Context) error {
	rec, err := loadFor(b.env, ModeResolved)
	if err != nil || rec == nil {
		return err
	}
	for _, sf := range rec.Files {
		if err := b.env.put(sf); err != nil {
			return err
		}
	}
	if err := b.reload(ctx); err != nil {
		return err
	}
	return removeRecord(b.env.StateDir)
}

// reload makes resolved read its configuration again (SIGHUP since
// systemd 251, a restart before: reload-or-restart picks) and forget the
// answers it cached from other servers.
func (b *resolvedBackend) reload(ctx context.Context) error {
	b.env.Log.Info("reloading systemd-resolved")
	if _, _, err := b.env.Run.Run(ctx, "systemctl", "reload-or-restart", "systemd-resolved.service"); err != nil {
		return err
	}
	_, _, err := b.env.Run.Run(ctx, "resolvectl", "flush-caches")
	return err
}

// resolvectlGlobal returns the servers on the "Global:" line of
// `resolvectl dns`, which prints one line for the global scope and one per
// link: "Global: 127.0.0.1 ::1", "Link 2 (eth0): 192.168.1.1".
func resolvectlGlobal(out []byte) ([]string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Global:")
		if ok {
			return strings.Fields(rest), true
		}
	}
	return nil, false
}
