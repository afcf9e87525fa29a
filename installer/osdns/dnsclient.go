package osdns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// dnsClient (ModeDNSClient) sets the DNS servers of every Windows network
// adapter with PowerShell's DnsClient module, through the runner:
//
//	Set-DnsClientServerAddress -InterfaceAlias A -ServerAddresses '127.0.0.1','::1'
//
// What was there before is read from the registry, not from
// Get-DnsClientServerAddress, because only the registry tells servers set
// by hand (the NameServer value of the adapter's Tcpip and Tcpip6
// Interfaces key) from servers that came from DHCP (NameServer empty).
// Restore resets the adapter to DHCP (-ResetServerAddresses) and then, if
// the user had set servers by hand, sets exactly those again; resetting
// first makes the result exact for each address family, whichever had
// servers of its own. PowerShell rather than netsh: netsh prints its
// results in the language of the system, which cannot be parsed reliably.
type dnsClient struct{ env Env }

func (b *dnsClient) Mode() Mode { return ModeDNSClient }

// adapterQuery prints, as JSON, each adapter's alias, its hand-set IPv4
// and IPv6 servers ("" when they come from DHCP), and the IPv4 servers
// DHCP gave it (DhcpNameServer, which only the IPv4 Tcpip key has).
const adapterQuery = `$ErrorActionPreference = 'Stop'; ` +
	`$a = @(Get-NetAdapter | ForEach-Object { ` +
	`$k = 'HKLM:\SYSTEM\CurrentControlSet\Services\Tcpip{0}\Parameters\Interfaces\' + $_.InterfaceGuid; ` +
	`$p4 = Get-ItemProperty -LiteralPath ($k -f '') -ErrorAction SilentlyContinue; ` +
	`$p6 = Get-ItemProperty -LiteralPath ($k -f '6') -ErrorAction SilentlyContinue; ` +
	`[pscustomobject]@{ Alias = $_.InterfaceAlias; ` +
	`V4 = [string]$p4.NameServer; V6 = [string]$p6.NameServer; D4 = [string]$p4.DhcpNameServer } }); ` +
	`ConvertTo-Json -Compress -InputObject $a`

type adapter struct {
	Alias  string
	V4, V6 string
	// D4 is DhcpNameServer: the IPv4 servers DHCP gave the adapter,
	// separated by spaces (or commas on some versions). Only read for
	// the forwarding list, never restored.
	D4 string `json:",omitempty"`
}

func splitServers(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == ';' })
}

// static returns the hand-set servers, IPv4 first; none means DHCP.
func (a adapter) static() []string {
	return append(splitServers(a.V4), splitServers(a.V6)...)
}

// inUse returns the servers the adapter was asking: per address family,
// the hand-set ones, or else (IPv4 only) the ones DHCP gave it. What is
// not an address is left out: this list is a best effort for "system"
// upstreams, never written back.
func (a adapter) inUse() []string {
	v4 := a.V4
	if strings.TrimSpace(v4) == "" {
		v4 = a.D4
	}
	return parseServerList(v4 + " " + a.V6)
}

// parseServerList returns the addresses in a registry list of servers
// (separated by spaces, commas or semicolons), without duplicates; what
// is not an address is left out.
func parseServerList(s string) []string {
	var out []string
	for _, f := range splitServers(s) {
		a, err := netip.ParseAddr(f)
		if err != nil || a.Zone() != "" {
			continue
		}
		if t := a.String(); !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func (b *dnsClient) powershell(ctx context.Context, script string) ([]byte, error) {
	out, _, err := b.env.Run.Run(ctx, "powershell.exe", "-NoProfile", "-NonInteractive", "-Command", script)
	return out, err
}

func (b *dnsClient) adapters(ctx context.Context) ([]adapter, error) {
	out, err := b.powershell(ctx, adapterQuery)
	if err != nil {
		return nil, err
	}
	var list []adapter
	if err := json.Unmarshal(out, &list); err != nil {
		return nil, fmt.Errorf("reading the network adapters' DNS servers from PowerShell: %w (it printed %q)", err, out)
	}
	for _, a := range list {
		for _, s := range a.static() {
			if _, err := netip.ParseAddr(s); err != nil {
				return nil, fmt.Errorf("adapter %q has DNS server %q in the registry, not an address", a.Alias, s)
			}
		}
	}
	return list, nil
}

// psQuote quotes s as a PowerShell single-quoted string, in which only a
// quote character needs escaping, by doubling it; PowerShell also takes
// the typographic single quotes as quotes.
func psQuote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\'', '\u2018', '\u2019', '\u201a', '\u201b':
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}

func psList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = psQuote(s)
	}
	return strings.Join(q, ",")
}

func (b *dnsClient) set(ctx context.Context, alias string, servers []string) error {
	_, err := b.powershell(ctx, fmt.Sprintf("$ErrorActionPreference = 'Stop'; Set-DnsClientServerAddress -InterfaceAlias %s -ServerAddresses %s", psQuote(alias), psList(servers)))
	return err
}

func (b *dnsClient) reset(ctx context.Context, alias string) error {
	_, err := b.powershell(ctx, fmt.Sprintf("$ErrorActionPreference = 'Stop'; Set-DnsClientServerAddress -InterfaceAlias %s -ResetServerAddresses", psQuote(alias)))
	return err
}

func (b *dnsClient) flush(ctx context.Context) error {
	_, _, err := b.env.Run.Run(ctx, "ipconfig", "/flushdns")
	return err
}

func (b *dnsClient) Apply(ctx context.Context) error {
	rec, err := loadFor(b.env, ModeDNSClient)
	if err != nil {
		return err
	}
	fresh := rec == nil
	if fresh {
		rec = &record{Mode: ModeDNSClient}
	}
	list, err := b.adapters(ctx)
	if err != nil {
		return err
	}
	added := false
	for _, a := range list {
		if rec.service(a.Alias) != nil {
			continue
		}
		static := a.static()
		if slices.Equal(static, Servers) {
			b.env.Log.Warn("a network adapter already points at nocontact and its original servers are unknown; uninstall will leave it on DHCP", "adapter", a.Alias)
			static = nil
		}
		rec.Services = append(rec.Services, savedServers{Name: a.Alias, Servers: static})
		if static == nil {
			a.V4, a.V6 = "", "" // ours: what DHCP gives is what it asked
		}
		if fwd := a.inUse(); len(fwd) > 0 {
			rec.Forward = append(rec.Forward, savedServers{Name: a.Alias, Servers: fwd})
		}
		added = true
		b.env.Log.Info("saved the original DNS servers", "adapter", a.Alias, "servers", static)
	}
	if added || fresh {
		if err := saveRecord(b.env.StateDir, rec); err != nil {
			return err
		}
	}
	for _, a := range list {
		if err := b.set(ctx, a.Alias, Servers); err != nil {
			return err
		}
	}
	return b.flush(ctx)
}

func (b *dnsClient) Check(ctx context.Context) error {
	if _, err := appliedRecord(b.env, ModeDNSClient); err != nil {
		return err
	}
	list, err := b.adapters(ctx)
	if err != nil {
		return err
	}
	for _, a := range list {
		if got := a.static(); !slices.Equal(got, Servers) {
			return fmt.Errorf("%w: network adapter %q uses %s", ErrDrifted, a.Alias, describe(got))
		}
	}
	return nil
}

func (b *dnsClient) Restore(ctx context.Context) error {
	rec, err := loadFor(b.env, ModeDNSClient)
	if err != nil || rec == nil {
		return err
	}
	list, err := b.adapters(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range rec.Services {
		if !slices.ContainsFunc(list, func(a adapter) bool { return a.Alias == s.Name }) {
			b.env.Log.Warn("a network adapter is gone; nothing to restore", "adapter", s.Name)
			continue
		}
		b.env.Log.Info("restoring the original DNS servers", "adapter", s.Name, "servers", s.Servers)
		if err := b.reset(ctx, s.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		if len(s.Servers) > 0 {
			if err := b.set(ctx, s.Name, s.Servers); err != nil {
				errs = append(errs, err)
			}
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
