package firewall

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// windowsFirewall (ModeWindowsFirewall) is the layer as Windows Firewall
// rules in a group of their own, "nocontact", made and removed with
// PowerShell's NetSecurity module (netsh cannot name a group):
//
//   - nocontact-dns-udp and nocontact-dns-tcp block ports 53 and 853 to
//     every address but loopback and the daemon's upstreams;
//   - nocontact-doh-udp and nocontact-doh-tcp block port 443 to the
//     encrypted-DNS addresses, and exist only while there are some (a
//     rule with no remote address would block HTTPS everywhere).
//
// A block rule of Windows Firewall wins over every allow rule, and none
// can leave out one program, so the exception for nocontact's own
// questions is by address. Apply replaces the group whole; Remove
// deletes it, and no other rule is touched.
type windowsFirewall struct {
	env Env
	// doh says whether the last Apply made the encrypted-DNS rules, for
	// Check.
	doh bool
}

func (w *windowsFirewall) Mode() Mode { return ModeWindowsFirewall }

func (w *windowsFirewall) powershell(ctx context.Context, script string) ([]byte, error) {
	out, _, err := w.env.Run.Run(ctx, "powershell.exe", "-NoProfile", "-NonInteractive", "-Command", script)
	return out, err
}

// RenderWindows returns the PowerShell script Apply runs for r, one
// command a line.
func RenderWindows(r Rules) string {
	lines := []string{
		"$ErrorActionPreference = 'Stop'",
		"Remove-NetFirewallRule -Group " + psQuote(Name) + " -ErrorAction SilentlyContinue",
	}
	rule := func(id, what, proto, ports string, remote []string) {
		lines = append(lines, fmt.Sprintf("New-NetFirewallRule -Name %s -DisplayName %s -Group %s -Direction Outbound -Action Block -Protocol %s -RemotePort %s -RemoteAddress %s | Out-Null",
			psQuote(Name+"-"+id), psQuote("nocontact: "+what), psQuote(Name), proto, ports, psList(remote)))
	}
	keep := append([]netip.Addr{}, r.upstreams()...)
	others := complement(keep)
	for _, proto := range []string{"UDP", "TCP"} {
		rule("dns-"+strings.ToLower(proto), "DNS around the filter ("+proto+" 53, 853)", proto, "53,853", others)
	}
	if doh := r.dohWithoutUpstreams(); len(doh) > 0 {
		var list []string
		for _, a := range doh {
			list = append(list, a.String())
		}
		for _, proto := range []string{"UDP", "TCP"} {
			rule("doh-"+strings.ToLower(proto), "encrypted DNS services ("+proto+" 443)", proto, "443", list)
		}
	}
	return strings.Join(lines, "\n")
}

func (w *windowsFirewall) Apply(ctx context.Context, r Rules) error {
	if _, err := w.powershell(ctx, strings.ReplaceAll(RenderWindows(r), "\n", "; ")); err != nil {
		return fmt.Errorf("making nocontact's Windows Firewall rules: %w", err)
	}
	w.doh = len(r.dohWithoutUpstreams()) > 0
	w.env.Log.Info("firewall layer in force", "group", Name)
	return nil
}

// windowsCheck prints, as JSON, the names of the group's rules that are
// on and block, and the firewall profiles that are off.
const windowsCheck = `$r = @(Get-NetFirewallRule -Group 'nocontact' -ErrorAction SilentlyContinue | ` +
	`Where-Object { "$($_.Enabled)" -eq 'True' -and "$($_.Action)" -eq 'Block' } | ForEach-Object { $_.Name }); ` +
	`$p = @(Get-NetFirewallProfile | Where-Object { "$($_.Enabled)" -ne 'True' } | ForEach-Object { $_.Name }); ` +
	`ConvertTo-Json -Compress -InputObject @{ Rules = $r; Off = $p }`

func (w *windowsFirewall) Check(ctx context.Context) error {
	out, err := w.powershell(ctx, windowsCheck)
	if err != nil {
		return fmt.Errorf("listing nocontact's Windows Firewall rules: %w", err)
	}
	var got struct{ Rules, Off []string }
	if err := json.Unmarshal(out, &got); err != nil {
		return fmt.Errorf("reading nocontact's Windows Firewall rules from PowerShell: %w (it printed %q)", err, out)
	}
	want := []string{Name + "-dns-udp", Name + "-dns-tcp"}
	if w.doh {
		want = append(want, Name+"-doh-udp", Name+"-doh-tcp")
	}
	for _, id := range want {
		if !slices.Contains(got.Rules, id) {
			return fmt.Errorf("%w: the rule %s is gone or turned off", ErrRemoved, id)
		}
	}
	if len(got.Off) > 0 {
		return fmt.Errorf("the Windows Firewall is turned off for the %s profile, so nocontact's rules do nothing there: turn it back on with Set-NetFirewallProfile -Profile %s -Enabled True",
			strings.Join(got.Off, ", "), strings.Join(got.Off, ","))
	}
	return nil
}

func (w *windowsFirewall) Remove(ctx context.Context) error {
	if _, err := w.powershell(ctx, "Remove-NetFirewallRule -Group "+psQuote(Name)+" -ErrorAction SilentlyContinue"); err != nil {
		return fmt.Errorf("removing nocontact's Windows Firewall rules: %w", err)
	}
	w.doh = false
	return nil
}

// complement returns the address ranges of IPv4 and IPv6 that are
// neither loopback nor in keep, as Windows Firewall writes them ("a-b",
// or "a" alone).
func complement(keep []netip.Addr) []string {
	type span struct{ lo, hi netip.Addr }
	var out []string
	for _, fam := range []struct {
		all  span
		hole []span
	}{
		{span{netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("255.255.255.255")},
			[]span{{netip.MustParseAddr("127.0.0.0"), netip.MustParseAddr("127.255.255.255")}}},
		{span{netip.MustParseAddr("::"), netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")},
			[]span{{netip.IPv6Loopback(), netip.IPv6Loopback()}}},
	} {
		holes := fam.hole
		for _, a := range keep {
			if a.Is4() == fam.all.lo.Is4() {
				holes = append(holes, span{a, a})
			}
		}
		slices.SortFunc(holes, func(x, y span) int { return x.lo.Compare(y.lo) })
		next, done := fam.all.lo, false
		for _, h := range holes {
			if next.Compare(h.lo) < 0 {
				out = append(out, rangeText(next, h.lo.Prev()))
			}
			if h.hi.Compare(next) >= 0 {
				if h.hi == fam.all.hi {
					done = true
					break
				}
				next = h.hi.Next()
			}
		}
		if !done {
			out = append(out, rangeText(next, fam.all.hi))
		}
	}
	return out
}

func rangeText(lo, hi netip.Addr) string {
	if lo == hi {
		return lo.String()
	}
	return lo.String() + "-" + hi.String()
}

// psQuote quotes s as a PowerShell single-quoted string.
func psQuote(s string) string {
	return "'" + strings.NewReplacer("'", "''", "\u2018", "\u2018\u2018", "\u2019", "\u2019\u2019").Replace(s) + "'"
}

func psList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = psQuote(s)
	}
	return strings.Join(q, ",")
}
