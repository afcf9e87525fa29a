//go:build !windows

package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nocontact/nocontact/dnsfilter/export"
)

// TestExportCommand: export gives what the running filter blocks (the
// live pact: a domain the settings add after start, by reload, is in
// it), from the settings file when asked or when none runs, and refuses
// a format it does not know.
func TestExportCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sock := filepath.Join(openDir(t), "c.sock")
	cfg := filepath.Join(dir, "nocontact.toml")
	text := "[pact]\nblock = [\"instagram\"]\nallow = [\"help.instagram.com\"]\nlength = \"30d\"\n" +
		"[dns]\nlisten = [\"127.0.0.1:0\"]\nupstreams = [\"" + upstreamZone(t).String() + "\"]\n" +
		"[daemon]\nstate_dir = \"" + filepath.Join(dir, "state") + "\"\ncontrol_socket = \"" + sock + "\"\n"
	writeConfig(t, cfg, text)

	// Nothing runs yet: the settings file, said so.
	code, out, errs := cli(t, nil, binary, "export", "--format", "unbound", "--config", cfg)
	if code != 0 || !strings.Contains(out, `local-zone: "instagram.com." always_null`) || !strings.Contains(out, `local-zone: "help.instagram.com." transparent`) ||
		!strings.Contains(errs, "nocontact is not running") {
		t.Fatalf("export with nothing running: %d\n%s\n%s", code, out, errs)
	}

	d := startDaemon(t, cfg)
	writeConfig(t, cfg, strings.Replace(text, "length", "domains = [\"their-blog.example\"]\nlength", 1))
	if code, _, errs := cli(t, nil, binary, "reload", "--socket", sock); code != 0 {
		t.Fatalf("reload: %s", errs)
	}
	d.waitFor(t, "config reloaded")
	code, out, errs = cli(t, nil, binary, "export", "--format", "json", "--socket", sock)
	if code != 0 {
		t.Fatalf("export --format json: %d %s", code, errs)
	}
	var l export.List
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("the json does not parse: %v\n%s", err, out)
	}
	has := func(d string) bool {
		for _, b := range l.Blocked {
			if b.Domain == d {
				return true
			}
		}
		return false
	}
	if !has("instagram.com") || !has("their-blog.example") || len(l.Allow) != 1 || l.Allow[0] != "help.instagram.com" {
		t.Errorf("the running filter's list: %+v", l)
	}

	out2 := filepath.Join(dir, "block.rpz")
	if code, _, errs := cli(t, nil, binary, "export", "--format", "rpz", "-o", out2, "--socket", sock); code != 0 || !strings.Contains(errs, "Wrote") {
		t.Errorf("export -o: %d %s", code, errs)
	}
	if code, _, errs := cli(t, nil, binary, "export", "--format", "bind", "--socket", sock); code == 0 || !strings.Contains(errs, "hosts, dnsmasq, unbound, adblock, rpz, json") {
		t.Errorf("an unknown format: %d %s", code, errs)
	}
}
