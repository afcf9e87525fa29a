package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nocontact/nocontact/dnsfilter/catalog"
)

// TestAddToDNS adds entries to [dns] lists written every way a person
// writes them, and checks the text stays as it was around them and parses
// to the lists with the entries added.
func TestAddToDNS(t *testing.T) {
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join("..", "examples", "nocontact.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, text string
		want       string // "" when only the parsed lists are checked
	}{
		{"empty file", "", "\n[dns]\nlan_clients = [\"192.168.1.0/24\"]\nlisten = [\"192.168.1.20:53\"]\n"},
		{"no dns table", "[pact]\nlength = \"30d\"", "[pact]\nlength = \"30d\"\n\n[dns]\nlan_clients = [\"192.168.1.0/24\"]\nlisten = [\"192.168.1.20:53\"]\n"},
		{"table without the keys", "[dns]  # mine\ncache_size = 10\n",
			"[dns]  # mine\nlan_clients = [\"192.168.1.0/24\"]\nlisten = [\"192.168.1.20:53\"]\ncache_size = 10\n"},
		{"table last line", "[dns]", "[dns]\nlan_clients = [\"192.168.1.0/24\"]\nlisten = [\"192.168.1.20:53\"]\n"},
		{"lists there", "[dns]\nlisten = [\"127.0.0.1:53\"] # here\nlan_clients = []\n",
			"[dns]\nlisten = [\"192.168.1.20:53\", \"127.0.0.1:53\"] # here\nlan_clients = [\"192.168.1.0/24\"]\n"},
		{"multi-line with comments", "[dns]\nlisten = [\n  # loopback\n  \"127.0.0.1:53\",\n]\n", ""},
		{"dotted at the top", "dns.listen = [\"127.0.0.1:53\"]\ndns.lan_clients = []\n", ""},
		{"the example file", string(example), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := AddToDNS([]byte(tt.text), "listen", "192.168.1.20:53")
			if err == nil {
				out, err = AddToDNS(out, "lan_clients", "192.168.1.0/24")
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != "" && string(out) != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", out, tt.want)
			}
			c, err := Parse(strings.NewReader(string(out)), "edited.toml", cat)
			if err != nil {
				t.Fatalf("the edited file does not load: %v\n%s", err, out)
			}
			if !slices.Contains(c.DNS.Listen, "192.168.1.20:53") || !slices.Contains(c.DNS.LANClients, "192.168.1.0/24") {
				t.Errorf("lists after the edit: listen %v, lan_clients %v", c.DNS.Listen, c.DNS.LANClients)
			}
			// Nothing of the original is lost.
			for _, line := range strings.Split(tt.text, "\n") {
				if strings.HasPrefix(strings.TrimSpace(line), "#") && !strings.Contains(string(out), line) {
					t.Errorf("comment %q lost", line)
				}
			}
		})
	}
	for _, text := range []string{"dns = { listen = [\"127.0.0.1:53\"] }\n", "[dns]\nlisten = \"127.0.0.1:53\"\n"} {
		if _, err := AddToDNS([]byte(text), "listen", "192.168.1.20:53"); err == nil || !strings.Contains(err.Error(), "by hand") {
			t.Errorf("%q: %v, want an error saying to add it by hand", text, err)
		}
	}
}
