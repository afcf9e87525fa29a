package osdns

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nocontact/nocontact/installer/command"
	"github.com/nocontact/nocontact/installer/command/commandtest"
)

// windows is a fake Windows: adapters with their hand-set IPv4 and IPv6
// servers as the registry holds them, changed by the exact PowerShell
// commands the backend must run.
type windows struct {
	adapters []adapter
	run      *commandtest.Fake
	stateDir string
}

func ps(script string) string {
	return command.Line("powershell.exe", "-NoProfile", "-NonInteractive", "-Command", script)
}

func setCmd(alias, list string) string {
	return ps("$ErrorActionPreference = 'Stop'; Set-DnsClientServerAddress -InterfaceAlias " + alias + " -ServerAddresses " + list)
}

func resetCmd(alias string) string {
	return ps("$ErrorActionPreference = 'Stop'; Set-DnsClientServerAddress -InterfaceAlias " + alias + " -ResetServerAddresses")
}

func newWindows(t *testing.T) *windows {
	w := &windows{
		adapters: []adapter{
			{Alias: "Ethernet", D4: "192.168.1.1 192.168.1.2"},                                  // DHCP
			{Alias: "Wi-Fi", V4: "1.1.1.1,1.0.0.1", V6: "2606:4700:4700::1111", D4: "10.0.0.1"}, // the user's own
			{Alias: "Bob's USB", V4: "192.168.8.1"},                                             // own IPv4, IPv6 from DHCP
			{Alias: "Hotspot", D4: "172.20.10.1,192.168.1.1"},                                   // DHCP, comma-separated
		},
		stateDir: filepath.Join(t.TempDir(), "state"),
		run:      &commandtest.Fake{},
	}
	w.run.Handle = func(line string) (commandtest.Reply, bool) {
		if line == ps(adapterQuery) {
			b, _ := json.Marshal(w.adapters)
			return commandtest.Reply{Stdout: string(b) + "\r\n"}, true
		}
		for i, a := range w.adapters {
			if line == resetCmd(psQuote(a.Alias)) {
				w.adapters[i].V4, w.adapters[i].V6 = "", ""
				return commandtest.Reply{}, true
			}
			prefix := strings.TrimSuffix(setCmd(psQuote(a.Alias), "X"), `X"`)
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				var v4, v6 []string
				for _, s := range strings.Split(strings.TrimSuffix(rest, `"`), ",") {
					s = strings.Trim(s, "'")
					if strings.Contains(s, ":") {
						v6 = append(v6, s)
					} else {
						v4 = append(v4, s)
					}
				}
				w.adapters[i].V4, w.adapters[i].V6 = strings.Join(v4, ","), strings.Join(v6, ",")
				return commandtest.Reply{}, true
			}
		}
		return commandtest.Reply{}, false
	}
	return w
}

func (w *windows) backend(t *testing.T) Configurator {
	c, err := NewFor(ModeDNSClient, Env{StateDir: w.stateDir, Run: w.run})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDNSClientApplyAndRestoreExactCommands(t *testing.T) {
	w := newWindows(t)
	orig := append([]adapter(nil), w.adapters...)
	c := w.backend(t)
	if err := c.Apply(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := commandtest.Lines(
		ps(adapterQuery),
		setCmd(`'Ethernet'`, `'127.0.0.1','::1'`),
		setCmd(`'Wi-Fi'`, `'127.0.0.1','::1'`),
		setCmd(`'Bob''s USB'`, `'127.0.0.1','::1'`),
		setCmd(`'Hotspot'`, `'127.0.0.1','::1'`),
		"ipconfig /flushdns",
	)
	if d := commandtest.Diff(want, w.run.Ran()); d != "" {
		t.Error("Apply:", d)
	}
	// "system" upstreams: what each adapter was asking, DHCP's included.
	got, err := OriginalResolvers(Env{StateDir: w.stateDir})
	if want := "[192.168.1.1:53 192.168.1.2:53 1.1.1.1:53 1.0.0.1:53 [2606:4700:4700::1111]:53 192.168.8.1:53 172.20.10.1:53]"; err != nil || fmt.Sprint(got) != want {
		t.Errorf("OriginalResolvers = %v, %v; want %s", got, err, want)
	}
	if err := c.Check(t.Context()); err != nil {
		t.Errorf("Check = %v", err)
	}
	w.adapters[0].V4 = "8.8.8.8"
	if err := c.Check(t.Context()); !errors.Is(err, ErrDrifted) || !strings.Contains(err.Error(), "8.8.8.8") {
		t.Errorf("Check after a change = %v, want ErrDrifted naming 8.8.8.8", err)
	}
	if err := c.Apply(t.Context()); err != nil {
		t.Fatal(err)
	}

	w.run.Reset()
	if err := c.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	want = commandtest.Lines(
		ps(adapterQuery),
		resetCmd(`'Ethernet'`),
		resetCmd(`'Wi-Fi'`),
		setCmd(`'Wi-Fi'`, `'1.1.1.1','1.0.0.1','2606:4700:4700::1111'`),
		resetCmd(`'Bob''s USB'`),
		setCmd(`'Bob''s USB'`, `'192.168.8.1'`),
		resetCmd(`'Hotspot'`),
		"ipconfig /flushdns",
	)
	if d := commandtest.Diff(want, w.run.Ran()); d != "" {
		t.Error("Restore:", d)
	}
	for i := range orig {
		if w.adapters[i] != orig[i] {
			t.Errorf("adapter %d after Restore = %+v, want %+v", i, w.adapters[i], orig[i])
		}
	}
	w.run.Reset()
	if err := c.Restore(t.Context()); err != nil || w.run.Ran() != "" {
		t.Errorf("second Restore: %v, ran %q; want nothing", err, w.run.Ran())
	}
}

func TestPSQuote(t *testing.T) {
	for in, want := range map[string]string{
		"Ethernet 2":    `'Ethernet 2'`,
		"Bob's":         `'Bob''s'`,
		"Bob\u2019s":    "'Bob\u2019\u2019s'",
		"$(rm -r C:\\)": `'$(rm -r C:\)'`,
	} {
		if got := psQuote(in); got != want {
			t.Errorf("psQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func FuzzParseServerList(f *testing.F) {
	f.Add("192.168.1.1 192.168.1.2")
	f.Add("1.1.1.1,1.0.0.1;;fe80::1%12 x")
	f.Fuzz(func(t *testing.T, s string) {
		for _, a := range parseServerList(s) {
			if p, err := netip.ParseAddr(a); err != nil || p.String() != a {
				t.Errorf("not an address: %q", a)
			}
		}
	})
}
