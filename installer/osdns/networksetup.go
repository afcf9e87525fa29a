package osdns

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// networksetup (ModeNetworksetup) sets the DNS servers of every enabled
// macOS network service with networksetup(8), saving each service's own
// servers first (none: they come from DHCP).
type networksetup struct{ env Env }

func (b *networksetup) Mode() Mode { return ModeNetworksetup }

// services lists the enabled network services. networksetup prints a
// note first ("An asterisk (*) denotes that a network service is
// disabled.") and marks disabled services with a leading '*'.
func (b *networksetup) services(ctx context.Context) ([]string, error) {
	out, _, err := b.env.Run.Run(ctx, "networksetup", "-listallnetworkservices")
	if err != nil {
		return nil, err
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" || strings.HasPrefix(line, "*") || strings.HasPrefix(line, "An asterisk (*)") {
			continue
		}
		names = append(names, line)
	}
	return names, nil
}

// servers returns the servers set by hand on a service; none means DHCP
// ("There aren't any DNS Servers set on Wi-Fi.").
func (b *networksetup) servers(ctx context.Context, service string) ([]string, error) {
	out, _, err := b.env.Run.Run(ctx, "networksetup", "-getdnsservers", service)
	if err != nil {
		return nil, err
	}
	var list []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "There aren't any DNS Servers set on") {
			continue
		}
		if _, err := netip.ParseAddr(line); err != nil {
			return nil, fmt.Errorf("networksetup -getdnsservers %q printed %q, not an address", service, line)
		}
		list = append(list, line)
	}
	return list, nil
}

func (b *networksetup) Apply(ctx context.Context) error {
	rec, err := loadFor(b.env, ModeNetworksetup)
	if err != nil {
		return err
	}
	fresh := rec == nil
	if fresh {
		rec = &record{Mode: ModeNetworksetup}
	}
	names, err := b.services(ctx)
	if err != nil {
		return err
	}
	// Save the originals of the services not in the record yet, all of
	// them before changing any.
	added := false
	var devices map[string]string // read once, when a service is new
	for _, name := range names {
		if rec.service(name) != nil {
			continue
		}
		list, err := b.servers(ctx, name)
		if err != nil {
			return err
		}
		if slices.Equal(list, Servers) {
			// Ours already, and no record of what was there before: the
			// best guess is DHCP, and it is logged.
			b.env.Log.Warn("a network service already points at nocontact and its original servers are unknown; uninstall will leave it on DHCP", "service", name)
			list = nil
		}
		rec.Services = append(rec.Services, savedServers{Name: name, Servers: list})
		if len(list) == 0 && devices == nil {
			devices = b.devices(ctx)
		}
		if fwd := b.inUse(ctx, name, list, devices[name]); len(fwd) > 0 {
			rec.Forward = append(rec.Forward, savedServers{Name: name, Servers: fwd})
		}
		added = true
		b.env.Log.Info("saved the original DNS servers", "service", name, "servers", list)
	}
	if added || fresh {
		if err := saveRecord(b.env.StateDir, rec); err != nil {
			return err
		}
	}
	for _, name := range names {
		args := append([]string{"-setdnsservers", name}, Servers...)
		if _, _, err := b.env.Run.Run(ctx, "networksetup", args...); err != nil {
			return err
		}
	}
	return b.flush(ctx)
}

func (b *networksetup) Check(ctx context.Context) error {
	if _, err := appliedRecord(b.env, ModeNetworksetup); err != nil {
		return err
	}
	names, err := b.services(ctx)
	if err != nil {
		return err
	}
	for _, name := range names {
		list, err := b.servers(ctx, name)
		if err != nil {
			return err
		}
		if !slices.Equal(list, Servers) {
			return fmt.Errorf("%w: network service %q uses %q", ErrDrifted, name, describe(list))
		}
	}
	return nil
}

// Restore sets every saved service back to its own servers, or to DHCP
// ("Empty"). A service that no longer exists is skipped, with a log line.
func (b *networksetup) Restore(ctx context.Context) error {
	rec, err := loadFor(b.env, ModeNetworksetup)
	if err != nil || rec == nil {
		return err
	}
	all, err := b.allServices(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range rec.Services {
		if !slices.Contains(all, s.Name) {
			b.env.Log.Warn("a network service is gone; nothing to restore", "service", s.Name)
			continue
		}
		args := []string{"-setdnsservers", s.Name}
		if len(s.Servers) == 0 {
			args = append(args, "Empty")
		} else {
			args = append(args, s.Servers...)
		}
		b.env.Log.Info("restoring the original DNS servers", "service", s.Name, "servers", s.Servers)
		if _, _, err := b.env.Run.Run(ctx, "networksetup", args...); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := b.flush(ctx); err != nil {
		return err
	}
	return removeRecord(b.env.StateDir)
}

// allServices lists every network service, disabled ones too (without
// their '*'): a service disabled since Apply still gets its servers back.
func (b *networksetup) allServices(ctx context.Context) ([]string, error) {
	out, _, err := b.env.Run.Run(ctx, "networksetup", "-listallnetworkservices")
	if err != nil {
		return nil, err
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" || strings.HasPrefix(line, "An asterisk (*)") {
			continue
		}
		names = append(names, strings.TrimPrefix(line, "*"))
	}
	return names, nil
}

// flush empties the system's DNS cache, so that no answer from the old
// servers outlives the switch.
func (b *networksetup) flush(ctx context.Context) error {
	if _, _, err := b.env.Run.Run(ctx, "dscacheutil", "-flushcache"); err != nil {
		return err
	}
	_, _, err := b.env.Run.Run(ctx, "killall", "-HUP", "mDNSResponder")
	return err
}

func (r *record) service(name string) *savedServers {
	for i := range r.Services {
		if r.Services[i].Name == name {
			return &r.Services[i]
		}
	}
	return nil
}

func describe(list []string) string {
	if len(list) == 0 {
		return "DHCP"
	}
	return strings.Join(list, " ")
}

// devices maps each network service to its device ("en0"), from
// `networksetup -listnetworkserviceorder`. It is only for the forwarding
// list, so a failure is logged and gives none.
func (b *networksetup) devices(ctx context.Context) map[string]string {
	out, _, err := b.env.Run.Run(ctx, "networksetup", "-listnetworkserviceorder")
	if err != nil {
		b.env.Log.Warn("could not map the network services to their devices; the servers they got from DHCP are not saved for \"system\" upstreams", "err", err)
		return map[string]string{}
	}
	return parseServiceOrder(out)
}

// inUse returns the servers a service was asking before nocontact: its
// hand-set ones, or else the ones its device got from DHCP, read from the
// DHCP packet (`ipconfig getpacket DEVICE`; `ipconfig getoption DEVICE
// domain_name_server` would print only the first). A service without a
// device (a VPN) or without a DHCP lease gives none. IPv6 servers learnt
// from router advertisements are not in the packet and are not saved.
func (b *networksetup) inUse(ctx context.Context, service string, static []string, device string) []string {
	if len(static) > 0 {
		return static
	}
	if device == "" {
		return nil
	}
	out, _, err := b.env.Run.Run(ctx, "ipconfig", "getpacket", device)
	if err != nil {
		// No DHCP lease on that device: nothing to save.
		b.env.Log.Info("no DHCP packet for a network service", "service", service, "device", device, "err", err)
		return nil
	}
	list := parseDHCPNameServers(out)
	b.env.Log.Info("saved the DNS servers DHCP gave a network service, for \"system\" upstreams", "service", service, "device", device, "servers", list)
	return list
}

// parseServiceOrder reads `networksetup -listnetworkserviceorder`:
//
//	An asterisk (*) denotes that a network service is disabled.
//	(1) Wi-Fi
//	(Hardware Port: Wi-Fi, Device: en0)
//
//	(*) Old VPN
//	(Hardware Port: L2TP, Device: )
//
// into service name → device, leaving out services without a device. A
// service's name is the text after its "(N) " or "(*) "; the device is
// what follows the last ", Device: " on the next line, which must be a
// single word.
func parseServiceOrder(out []byte) map[string]string {
	m := map[string]string{}
	current := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if rest, ok := strings.CutPrefix(line, "(Hardware Port: "); ok {
			i := strings.LastIndex(rest, ", Device: ")
			name := current
			current = ""
			if i < 0 || name == "" || !strings.HasSuffix(rest, ")") {
				continue
			}
			dev := strings.TrimSuffix(rest[i+len(", Device: "):], ")")
			if dev == "" || strings.ContainsAny(dev, " \t(),") {
				continue
			}
			m[name] = dev
			continue
		}
		current = ""
		rest, ok := strings.CutPrefix(line, "(")
		if !ok {
			continue
		}
		num, name, ok := strings.Cut(rest, ") ")
		if !ok || name == "" || (num != "*" && strings.Trim(num, "0123456789") != "") || num == "" {
			continue
		}
		current = name
	}
	return m
}

// parseDHCPNameServers returns the addresses of the domain_name_server
// option in `ipconfig getpacket` output:
//
//	domain_name_server (ip_mult): {192.168.1.1, 192.168.1.2}
//
// Anything that is not an address is left out.
func parseDHCPNameServers(out []byte) []string {
	var list []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(line, "domain_name_server ")
		if !ok {
			continue
		}
		_, rest, ok = strings.Cut(rest, ":")
		if !ok {
			continue
		}
		rest = strings.TrimSpace(rest)
		rest, ok = strings.CutPrefix(rest, "{")
		if !ok {
			continue
		}
		rest, _, ok = strings.Cut(rest, "}")
		if !ok {
			continue
		}
		for _, f := range strings.Split(rest, ",") {
			a, err := netip.ParseAddr(strings.TrimSpace(f))
			if err != nil || a.Zone() != "" {
				continue
			}
			if s := a.String(); !slices.Contains(list, s) {
				list = append(list, s)
			}
		}
	}
	return list
}
