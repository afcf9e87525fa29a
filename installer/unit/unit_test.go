package unit

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nocontact/nocontact/internal/golden"
)

var linux = Paths{Executable: "/usr/local/bin/nocontact", Config: "/etc/nocontact/nocontact.toml", StateDir: "/var/lib/nocontact", ControlSocket: "/run/nocontact.sock"}
var mac = Paths{Executable: "/usr/local/bin/nocontact", Config: "/Library/Application Support/nocontact/nocontact.toml"}

func TestSystemdGolden(t *testing.T) {
	u := Systemd(linux)
	golden.Check(t, "nocontact.service", []byte(u))
	for _, line := range []string{
		"Restart=always", "After=network-online.target", "Wants=network-online.target nss-lookup.target",
		"Before=nss-lookup.target", "ExecStart=/usr/local/bin/nocontact run --service --config /etc/nocontact/nocontact.toml",
		"ExecReload=/usr/local/bin/nocontact reload --socket /run/nocontact.sock",
		// Stopping by hand is refused; killing brings it back.
		"RefuseManualStop=yes",
		// The sandbox: writes only where the daemon writes.
		"ProtectSystem=strict", "ReadWritePaths=/etc -/var/lib/nocontact -/run -/usr/lib/firefox -/usr/lib/firefox-esr -/usr/lib64/firefox -/usr/lib64/firefox-esr -/usr/lib/firefox-developer-edition -/usr/lib/firefox-nightly -/opt/firefox -/opt/firefox-esr",
		"CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_NET_ADMIN",
		"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
		"SystemCallFilter=@system-service", "NoNewPrivileges=yes", "ProtectHome=yes", "PrivateTmp=yes",
	} {
		if !strings.Contains(u, "\n"+line+"\n") {
			t.Errorf("unit has no line %q", line)
		}
	}
	golden.Check(t, "nocontact-odd-paths.service", []byte(Systemd(Paths{Executable: "/opt/no contact/bin/nocontact", Config: `/etc/100%"sure"/$HOME.toml`, StateDir: "/srv/no contact/100%/$state", ControlSocket: "/srv/no contact/c.sock"})))
	// Without a state folder or socket the unit writes only /etc; a
	// settings folder elsewhere (the second copy of the pact) is writable
	// too.
	if u := Systemd(Paths{Executable: "/usr/local/bin/nocontact", Config: "/etc/nocontact/nocontact.toml"}); !strings.Contains(u, "\nReadWritePaths=/etc -/usr/lib/firefox -/usr/lib/firefox-esr -/usr/lib64/firefox -/usr/lib64/firefox-esr -/usr/lib/firefox-developer-edition -/usr/lib/firefox-nightly -/opt/firefox -/opt/firefox-esr\n") {
		t.Errorf("unit without state folder or socket:\n%s", u)
	}
	if u := Systemd(Paths{Executable: "/usr/local/bin/nocontact", Config: "/opt/nc/nocontact.toml", StateDir: "/var/lib/nocontact"}); !strings.Contains(u, "\nReadWritePaths=/etc -/opt/nc -/var/lib/nocontact -/usr/lib/firefox -/usr/lib/firefox-esr -/usr/lib64/firefox -/usr/lib64/firefox-esr -/usr/lib/firefox-developer-edition -/usr/lib/firefox-nightly -/opt/firefox -/opt/firefox-esr\n") {
		t.Errorf("unit with the settings in /opt/nc:\n%s", u)
	}
}

// TestStopDropIn: the drop-in that lets install and uninstall stop the
// service says exactly the opposite of the unit's refusal, and lives
// under /run (gone at reboot).
func TestStopDropIn(t *testing.T) {
	if !strings.HasPrefix(StopDropIn, "/run/systemd/system/nocontact.service.d/") || !strings.HasSuffix(StopDropIn, ".conf") {
		t.Errorf("StopDropIn = %q", StopDropIn)
	}
	if !strings.Contains(StopDropInText, "\n[Unit]\nRefuseManualStop=no\n") {
		t.Errorf("StopDropInText:\n%s", StopDropInText)
	}
}

func TestLaunchdGolden(t *testing.T) {
	p := Launchd(mac)
	golden.Check(t, "nocontact.plist", []byte(p))
	// Well-formed, and says what launchd needs.
	d := xml.NewDecoder(strings.NewReader(p))
	d.Strict = true
	var text []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("plist is not well-formed XML: %v", err)
		}
		if cd, ok := tok.(xml.CharData); ok && strings.TrimSpace(string(cd)) != "" {
			text = append(text, string(cd))
		}
		if se, ok := tok.(xml.StartElement); ok && (se.Name.Local == "true" || se.Name.Local == "false") {
			text = append(text, "<"+se.Name.Local+">")
		}
	}
	got := strings.Join(text, "|")
	for _, want := range []string{"RunAtLoad|<true>", "KeepAlive|<true>", "/usr/local/bin/nocontact|run|--service|--config|/Library/Application Support/nocontact/nocontact.toml"} {
		if !strings.Contains(got, want) {
			t.Errorf("plist lacks %q: %s", want, got)
		}
	}
	golden.Check(t, "nocontact-odd-paths.plist", []byte(Launchd(Paths{Executable: "/opt/a&b/nocontact", Config: "/x/<y>.toml"})))
}

// TestConfigForKardianos: the texts reach kardianos unchanged (no "{{"),
// and the options it reads itself are set.
func TestConfigForKardianos(t *testing.T) {
	c, err := Config(linux)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"SystemdScript", "LaunchdConfig"} {
		s, _ := c.Option[key].(string)
		if s == "" || strings.Contains(s, "{{") {
			t.Errorf("option %s = %q: want a text without template actions", key, s)
		}
	}
	if c.Option["OnFailure"] != "restart" || c.Option["OnFailureDelayDuration"] != "5s" || c.Option["KeepAlive"] != true || c.Option["RunAtLoad"] != true || c.Option["Restart"] != "always" {
		t.Errorf("options = %v", c.Option)
	}
	if c.Name != "nocontact" || c.Executable != linux.Executable || strings.Join(c.Arguments, " ") != "run --service --config /etc/nocontact/nocontact.toml" {
		t.Errorf("config = %+v", c)
	}
	if _, err := Config(Paths{Executable: "/x/{{Name}}", Config: "/c"}); err == nil {
		t.Error(`a path with "{{": no error`)
	}
}

// TestSystemdAnalyzeVerify runs systemd's own checker over the unit, with
// the binary replaced by one that exists (verify checks that).
func TestSystemdAnalyzeVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not found; install it (Debian: apt-get install systemd) to check the unit with systemd's own parser")
	}
	dir := t.TempDir()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The plain paths, and paths that need quoting and escaping.
	odd := filepath.Join(dir, "no contact", "100%")
	if err := os.MkdirAll(odd, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(odd, "nocontact")); err != nil {
		t.Fatal(err)
	}
	for i, p := range []Paths{
		{Executable: bin, Config: "/etc/nocontact/nocontact.toml", StateDir: "/var/lib/nocontact", ControlSocket: "/run/nocontact.sock"},
		{Executable: filepath.Join(odd, "nocontact"), Config: `/etc/"x"/$HOME.toml`, StateDir: dir + "/state 1", ControlSocket: dir + "/run 1/c.sock"},
	} {
		unitDir := filepath.Join(dir, fmt.Sprint(i))
		if err := os.MkdirAll(unitDir, 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(unitDir, "nocontact.service")
		if err := os.WriteFile(path, []byte(Systemd(p)), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("systemd-analyze", "verify", "--man=no", path)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		// Offline (no systemd as PID 1, as in CI containers) verify still
		// parses the unit; it may then also complain about units of the
		// host it cannot load, which are not ours. Only lines about our
		// file count.
		var ours []string
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.Contains(line, "nocontact.service") {
				ours = append(ours, line)
			}
		}
		if len(ours) > 0 {
			t.Errorf("systemd-analyze verify %s (%v):\n%s", p.Executable, err, strings.Join(ours, "\n"))
		}
		t.Logf("systemd-analyze verify %s: %v\n%s", p.Executable, err, out.String())
	}
}
