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
	rec, err := loadFor(b.env, ModeNetworksetup)
	if err != nil {
		return err
	}
	if rec == nil {
		return fmt.Errorf("%w: they were never applied", ErrDrifted)
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
