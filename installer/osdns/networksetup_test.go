package osdns

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nocontact/nocontact/installer/command/commandtest"
)

// mac is a fake macOS: network services and their hand-set DNS servers,
// answered and changed through networksetup command lines.
type mac struct {
	order    []string // as -listallnetworkservices prints them, '*' marking disabled
	servers  map[string][]string
	run      *commandtest.Fake
	stateDir string
}

func newMac(t *testing.T) *mac {
	m := &mac{
		order: []string{"Wi-Fi", "USB 10/100/1000 LAN", "*Thunderbolt Bridge", "Home VPN"},
		servers: map[string][]string{
			"Wi-Fi":               nil,                        // DHCP
			"USB 10/100/1000 LAN": {"9.9.9.9", "2620:fe::fe"}, // the user's own
			"Thunderbolt Bridge":  nil,                        // disabled
			"Home VPN":            {"10.8.0.1"},               // the user's own
		},
		stateDir: filepath.Join(t.TempDir(), "state"),
	}
	m.run = &commandtest.Fake{Replies: map[string]commandtest.Reply{
		// As macOS prints it; "Home VPN" has no device.
		"networksetup -listnetworkserviceorder": {Stdout: "An asterisk (*) denotes that a network service is disabled.\n" +
			"(1) Wi-Fi\n(Hardware Port: Wi-Fi, Device: en0)\n\n" +
			"(2) USB 10/100/1000 LAN\n(Hardware Port: USB 10/100/1000 LAN, Device: en7)\n\n" +
			"(*) Thunderbolt Bridge\n(Hardware Port: Thunderbolt Bridge, Device: bridge0)\n\n" +
			"(3) Home VPN\n(Hardware Port: L2TP, Device: )\n\n"},
		"ipconfig getpacket en0": {Stdout: dhcpPacket},
	}}
	m.run.Handle = func(line string) (commandtest.Reply, bool) {
		if line == "networksetup -listallnetworkservices" {
			out := "An asterisk (*) denotes that a network service is disabled.\n"
			for _, s := range m.order {
				out += s + "\n"
			}
			return commandtest.Reply{Stdout: out}, true
		}
		for name := range m.servers {
			q := commandtest.Lines("networksetup -getdnsservers " + quoteIfNeeded(name))
			if line == q {
				if len(m.servers[name]) == 0 {
					return commandtest.Reply{Stdout: "There aren't any DNS Servers set on " + name + ".\n"}, true
				}
				out := ""
				for _, s := range m.servers[name] {
					out += s + "\n"
				}
				return commandtest.Reply{Stdout: out}, true
			}
			prefix := "networksetup -setdnsservers " + quoteIfNeeded(name) + " "
			if len(line) > len(prefix) && line[:len(prefix)] == prefix {
				args := splitFields(line[len(prefix):])
				if len(args) == 1 && args[0] == "Empty" {
					args = nil
				}
				m.servers[name] = args
				return commandtest.Reply{}, true
			}
		}
		return commandtest.Reply{}, false
	}
	return m
}

// dhcpPacket is `ipconfig getpacket en0` on a Wi-Fi network whose DHCP
// server hands out two DNS servers.
const dhcpPacket = `op = BOOTREPLY
htype = 1
flags = 0
hlen = 6
hops = 0
xid = 0x2c6f6a1b
secs = 0
ciaddr = 192.168.1.23
yiaddr = 192.168.1.23
siaddr = 192.168.1.1
giaddr = 0.0.0.0
chaddr = a4:83:e7:1:2:3
sname = 
file = 
options:
Options count is 8
dhcp_message_type (uint8): ACK 0x5
server_identifier (ip): 192.168.1.1
lease_time (uint32): 0x15180
subnet_mask (ip): 255.255.255.0
router (ip_mult): {192.168.1.1}
domain_name_server (ip_mult): {192.168.1.1, 1.1.1.1}
domain_name (string): lan
end (none): 
`

func (m *mac) backend(t *testing.T) Configurator {
	c, err := NewFor(ModeNetworksetup, Env{StateDir: m.stateDir, Run: m.run})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNetworksetupApplyAndRestoreExactCommands(t *testing.T) {
	m := newMac(t)
	c := m.backend(t)
	if err := c.Apply(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := commandtest.Lines(
		"networksetup -listallnetworkservices",
		`networksetup -getdnsservers Wi-Fi`,
		"networksetup -listnetworkserviceorder",
		"ipconfig getpacket en0",
		`networksetup -getdnsservers "USB 10/100/1000 LAN"`,
		`networksetup -getdnsservers "Home VPN"`,
		`networksetup -setdnsservers Wi-Fi 127.0.0.1 ::1`,
		`networksetup -setdnsservers "USB 10/100/1000 LAN" 127.0.0.1 ::1`,
		`networksetup -setdnsservers "Home VPN" 127.0.0.1 ::1`,
		"dscacheutil -flushcache",
		"killall -HUP mDNSResponder",
	)
	if d := commandtest.Diff(want, m.run.Ran()); d != "" {
		t.Error("Apply:", d)
	}
	if err := c.Check(t.Context()); err != nil {
		t.Errorf("Check = %v", err)
	}
	// "system" upstreams: what each service was asking, DHCP's included,
	// though every service now names nocontact.
	got, err := OriginalResolvers(Env{StateDir: m.stateDir})
	if want := "[192.168.1.1:53 1.1.1.1:53 9.9.9.9:53 [2620:fe::fe]:53 10.8.0.1:53]"; err != nil || fmt.Sprint(got) != want {
		t.Errorf("OriginalResolvers = %v, %v; want %s", got, err, want)
	}
	// The user (or a VPN client) puts their own servers back on one.
	m.servers["Home VPN"] = []string{"10.8.0.1"}
	if err := c.Check(t.Context()); !errors.Is(err, ErrDrifted) {
		t.Errorf("Check after a change = %v, want ErrDrifted", err)
	}
	// Re-asserting sets ours again without overwriting the saved original.
	if err := c.Apply(t.Context()); err != nil {
		t.Fatal(err)
	}
	m.run.Reset()
	if err := Restore(t.Context(), Env{StateDir: m.stateDir, Run: m.run}); err != nil {
		t.Fatal(err)
	}
	want = commandtest.Lines(
		"networksetup -listallnetworkservices",
		`networksetup -setdnsservers Wi-Fi Empty`,
		`networksetup -setdnsservers "USB 10/100/1000 LAN" 9.9.9.9 2620:fe::fe`,
		`networksetup -setdnsservers "Home VPN" 10.8.0.1`,
		"dscacheutil -flushcache",
		"killall -HUP mDNSResponder",
	)
	if d := commandtest.Diff(want, m.run.Ran()); d != "" {
		t.Error("Restore:", d)
	}
	m.run.Reset()
	if err := c.Restore(t.Context()); err != nil || m.run.Ran() != "" {
		t.Errorf("second Restore: %v, ran %q; want nothing", err, m.run.Ran())
	}
}

// TestNetworksetupNewServiceAndGoneService: a service that appears after
// install is saved before it is changed; one that disappears is skipped
// on restore.
func TestNetworksetupNewServiceAndGoneService(t *testing.T) {
	m := newMac(t)
	c := m.backend(t)
	if err := c.Apply(t.Context()); err != nil {
		t.Fatal(err)
	}
	m.servers["iPhone USB"] = []string{"172.20.10.1"}
	m.order = []string{"Wi-Fi", "USB 10/100/1000 LAN", "*Thunderbolt Bridge", "iPhone USB"} // Home VPN removed
	if err := c.Apply(t.Context()); err != nil {
		t.Fatal(err)
	}
	m.run.Reset()
	if err := c.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := commandtest.Lines(
		"networksetup -listallnetworkservices",
		`networksetup -setdnsservers Wi-Fi Empty`,
		`networksetup -setdnsservers "USB 10/100/1000 LAN" 9.9.9.9 2620:fe::fe`,
		`networksetup -setdnsservers "iPhone USB" 172.20.10.1`,
		"dscacheutil -flushcache",
		"killall -HUP mDNSResponder",
	)
	if d := commandtest.Diff(want, m.run.Ran()); d != "" {
		t.Error("Restore:", d)
	}
}

func TestNetworksetupFailedCommandCarriesStderr(t *testing.T) {
	m := newMac(t)
	m.run.Handle = nil
	m.run.Replies["networksetup -listallnetworkservices"] = commandtest.Reply{Stderr: "You must run this tool as root.", Err: commandtest.ErrExit}
	err := m.backend(t).Apply(t.Context())
	if err == nil || err.Error() != "networksetup -listallnetworkservices: exit status 1: You must run this tool as root." {
		t.Errorf("Apply = %v", err)
	}
}

// TestNetworksetupDHCPLookupFailuresAreNotFatal: the forwarding list is a
// best effort; the takeover and the exact restore data do not depend on it.
func TestNetworksetupDHCPLookupFailuresAreNotFatal(t *testing.T) {
	m := newMac(t)
	m.run.Replies["networksetup -listnetworkserviceorder"] = commandtest.Reply{Err: commandtest.ErrExit}
	if err := m.backend(t).Apply(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, err := OriginalResolvers(Env{StateDir: m.stateDir})
	if want := "[9.9.9.9:53 [2620:fe::fe]:53 10.8.0.1:53]"; err != nil || fmt.Sprint(got) != want {
		t.Errorf("OriginalResolvers = %v, %v; want the hand-set %s", got, err, want)
	}
	m = newMac(t)
	m.run.Replies["ipconfig getpacket en0"] = commandtest.Reply{Err: commandtest.ErrExit} // no lease
	if err := m.backend(t).Apply(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, _ := OriginalResolvers(Env{StateDir: m.stateDir}); len(got) != 3 {
		t.Errorf("OriginalResolvers without a lease = %v, want the 3 hand-set", got)
	}
}

func TestParseServiceOrder(t *testing.T) {
	out := "An asterisk (*) denotes that a network service is disabled.\r\n" +
		"(1) Wi-Fi\r\n(Hardware Port: Wi-Fi, Device: en0)\r\n\r\n" +
		"(2) My (odd), Device: name\n(Hardware Port: Odd, Device: x, Device: en5)\n\n" +
		"(*) Thunderbolt Bridge\n(Hardware Port: Thunderbolt Bridge, Device: bridge0)\n" +
		"(3) Home VPN\n(Hardware Port: L2TP, Device: )\n" +
		"(Hardware Port: orphan, Device: en9)\n" +
		"(x) Not a service\n(Hardware Port: X, Device: en8)\n"
	got := fmt.Sprint(parseServiceOrder([]byte(out)))
	if want := "map[My (odd), Device: name:en5 Thunderbolt Bridge:bridge0 Wi-Fi:en0]"; got != want {
		t.Errorf("parseServiceOrder = %s, want %s", got, want)
	}
}

func TestParseDHCPNameServers(t *testing.T) {
	for in, want := range map[string]string{
		dhcpPacket: "[192.168.1.1 1.1.1.1]",
		"domain_name_server (ip_mult): {10.0.0.1}\n":                       "[10.0.0.1]",
		"domain_name_server (ip_mult): {10.0.0.1, bogus, 10.0.0.1, ::1}\n": "[10.0.0.1 ::1]",
		"domain_name_server (ip_mult): {10.0.0.1\n":                        "[]",
		"domain_name (string): {10.0.0.1}\n":                               "[]",
		"":                                                                 "[]",
	} {
		if got := fmt.Sprint(parseDHCPNameServers([]byte(in))); got != want {
			t.Errorf("parseDHCPNameServers(%q) = %s, want %s", in, got, want)
		}
	}
}

func FuzzParseServiceOrder(f *testing.F) {
	f.Add([]byte("(1) Wi-Fi\n(Hardware Port: Wi-Fi, Device: en0)\n"))
	f.Add([]byte("(*) A\n(Hardware Port: B, Device: )\n(2) \n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for name, dev := range parseServiceOrder(b) {
			if name == "" || dev == "" || strings.ContainsAny(dev, " \t(),") {
				t.Errorf("service %q device %q", name, dev)
			}
		}
	})
}

func FuzzParseDHCPNameServers(f *testing.F) {
	f.Add([]byte(dhcpPacket))
	f.Add([]byte("domain_name_server (ip_mult): {1.2.3.4, fe80::1%en0}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, s := range parseDHCPNameServers(b) {
			if a, err := netip.ParseAddr(s); err != nil || a.String() != s {
				t.Errorf("not an address: %q", s)
			}
		}
	})
}
