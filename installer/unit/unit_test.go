package unit

import (
	"bytes"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name string, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (go test -update rewrites it):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

var linux = Paths{Executable: "/usr/local/bin/nocontact", Config: "/etc/nocontact/nocontact.toml"}
var mac = Paths{Executable: "/usr/local/bin/nocontact", Config: "/Library/Application Support/nocontact/nocontact.toml"}

func TestSystemdGolden(t *testing.T) {
	u := Systemd(linux)
	golden(t, "nocontact.service", u)
	for _, line := range []string{
		"Restart=always", "After=network-online.target", "Wants=network-online.target nss-lookup.target",
		"Before=nss-lookup.target", "ExecStart=/usr/local/bin/nocontact run --service --config /etc/nocontact/nocontact.toml",
	} {
		if !strings.Contains(u, "\n"+line+"\n") {
			t.Errorf("unit has no line %q", line)
		}
	}
	golden(t, "nocontact-odd-paths.service", Systemd(Paths{Executable: "/opt/no contact/bin/nocontact", Config: `/etc/100%"sure"/$HOME.toml`}))
}

func TestLaunchdGolden(t *testing.T) {
	p := Launchd(mac)
	golden(t, "nocontact.plist", p)
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
	golden(t, "nocontact-odd-paths.plist", Launchd(Paths{Executable: "/opt/a&b/nocontact", Config: "/x/<y>.toml"}))
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
		{Executable: bin, Config: "/etc/nocontact/nocontact.toml"},
		{Executable: filepath.Join(odd, "nocontact"), Config: `/etc/"x"/$HOME.toml`},
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
