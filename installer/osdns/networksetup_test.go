package osdns

import (
	"errors"
	"path/filepath"
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
	m.run = &commandtest.Fake{Replies: map[string]commandtest.Reply{}}
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
