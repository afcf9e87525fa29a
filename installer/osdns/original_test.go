package osdns

import (
	"fmt"
	"net/netip"
	"os"
	"testing"
)

func TestOriginalResolvers(t *testing.T) {
	ap := func(s ...string) string {
		var out []netip.AddrPort
		for _, a := range s {
			out = append(out, netip.AddrPortFrom(netip.MustParseAddr(a), 53))
		}
		return fmt.Sprint(out)
	}
	tests := []struct {
		name  string
		mode  Mode
		files map[string]string
		// after Apply, the system may change (a file DHCP keeps current)
		after map[string]string
		link  string // resolv.conf is a link to this, before Apply
		want  string
	}{
		{"plain file", ModeFile, map[string]string{"etc/resolv.conf": dhcpResolvConf}, nil, "", ap("192.168.1.1")},
		{"plain file, ours and a v6 listed too", ModeFile, map[string]string{"etc/resolv.conf": "nameserver 127.0.0.1\nnameserver 2001:db8::53\nnameserver 192.0.2.1\n"}, nil, "", ap("2001:db8::53", "192.0.2.1")},
		{"NetworkManager's link", ModeFile, map[string]string{"run/NetworkManager/resolv.conf": "nameserver 192.0.2.7\n"}, nil, "../run/NetworkManager/resolv.conf", ap("192.0.2.7")},
		{"resolved: what it forwards to now", ModeResolved,
			map[string]string{"etc/resolv.conf": "nameserver 127.0.0.53\n"},
			map[string]string{"run/systemd/resolve/resolv.conf": "nameserver 127.0.0.1\nnameserver ::1\nnameserver 192.168.1.1\n"}, "", ap("192.168.1.1")},
		{"resolvconf: the interfaces' after ours", ModeResolvconf, nil,
			map[string]string{"etc/resolv.conf": "nameserver 127.0.0.1\nnameserver ::1\nnameserver 192.168.1.1\n"}, "", ap("192.168.1.1")},
		{"no servers at all", ModeFile, map[string]string{"etc/resolv.conf": "# empty\n"}, nil, "", "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMachine(t, tt.files)
			if got, err := OriginalResolvers(m.env()); err != nil || got != nil {
				t.Fatalf("before Apply: %v, %v; want none", got, err)
			}
			if tt.link != "" {
				os.MkdirAll(m.path("etc"), 0o755)
				if err := os.Symlink(tt.link, m.path("etc/resolv.conf")); err != nil {
					t.Fatal(err)
				}
			}
			if err := m.backend(tt.mode).Apply(t.Context()); err != nil {
				t.Fatal(err)
			}
			for rel, data := range tt.after {
				m.write(rel, data)
			}
			got, err := OriginalResolvers(m.env())
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != tt.want {
				t.Errorf("OriginalResolvers = %v, want %s", got, tt.want)
			}
			if !Installed(m.state) {
				t.Error("Installed = false after Apply")
			}
			if err := Restore(t.Context(), m.env()); err != nil {
				t.Fatal(err)
			}
			if Installed(m.state) {
				t.Error("Installed = true after Restore")
			}
		})
	}
}

func TestOriginalResolversMacOS(t *testing.T) {
	m := newMachine(t, nil)
	saveRecord(m.state, &record{Mode: ModeNetworksetup, Services: []savedServers{{Name: "Wi-Fi", Servers: []string{"9.9.9.9", "149.112.112.112"}}, {Name: "Ethernet"}}})
	got, err := OriginalResolvers(m.env())
	if want := "[9.9.9.9:53 149.112.112.112:53]"; err != nil || fmt.Sprint(got) != want {
		t.Errorf("OriginalResolvers = %v, %v; want %s", got, err, want)
	}
}
