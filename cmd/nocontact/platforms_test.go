package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/internal/golden"
)

// TestPlatformsGolden keeps the whole of `nocontact platforms` in a golden
// file, so that a change to the catalog or to the words shows in review.
func TestPlatformsGolden(t *testing.T) {
	code, out, errOut := runCLI(t, "platforms")
	if code != 0 || errOut != "" {
		t.Fatalf("nocontact platforms: exit %d, stderr %q", code, errOut)
	}
	golden.Check(t, "platforms"+".golden", []byte(out))
}

// TestPlatformsListsEveryPlatformUnderItsGroup checks what the golden file
// cannot: every platform of the catalog is listed once, under its group's
// heading, and every group says what blocking it costs.
func TestPlatformsListsEveryPlatformUnderItsGroup(t *testing.T) {
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	out := platformsText(cat)
	sections := strings.Split(out, "\n\n")
	section := func(heading string) string {
		for i, s := range sections {
			if strings.HasPrefix(s, heading) && i+1 < len(sections) {
				return s + "\n" + sections[i+1]
			}
		}
		t.Fatalf("no section %q in:\n%s", heading, out)
		return ""
	}
	for _, g := range catalog.Groups() {
		sec := section(g.Title + ": write \"" + string(g.Name) + "\"")
		if !strings.Contains(strings.Join(strings.Fields(sec), " "), g.Cost) {
			t.Errorf("section %s does not say what blocking it costs", g.Name)
		}
		if g.InAll != strings.Contains(sec, "; part of \"all\"") {
			t.Errorf("section %s says wrongly whether it is part of \"all\"", g.Name)
		}
		for _, p := range cat.Category(g.Name) {
			if !strings.Contains(sec, "    "+p.Name+" ") || !strings.Contains(sec, " "+p.ID) {
				t.Errorf("%s (%s) is not listed under %s", p.Name, p.ID, g.Title)
			}
		}
	}
	for _, p := range cat.Category(catalog.Bypass) {
		if !strings.Contains(section("Encrypted DNS:"), p.ID) {
			t.Errorf("%s is not listed under Encrypted DNS", p.ID)
		}
	}
	for _, p := range cat.Platforms() {
		if n := strings.Count(out, "    "+p.Name+"  "); n != 1 {
			t.Errorf("%s is listed %d times, want once", p.Name, n)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if len(line) > 78 && !strings.HasPrefix(line, "    ") {
			t.Errorf("a line of text wider than 78 columns: %q", line)
		}
	}
	if code, _, errOut := runCLI(t, "platforms", "instagram"); code != 2 || !strings.Contains(errOut, "no names") {
		t.Errorf("nocontact platforms instagram: exit %d, %q; want a usage error", code, errOut)
	}
}

// `check` expands groups the way the filter does: block = ["all", "video",
// "payments"] blocks youtube.com and venmo.com under their platforms, and
// leaves the groups not named open.
func TestCheckWithGroups(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nocontact.toml")
	writeConfig(t, cfg, `[pact]
block = ["all", "video", "payments"]
[daemon]
control_socket = "`+filepath.Join(dir, "c.sock")+`"
`)
	code, out, stderr := runCLI(t, "check", "--config", cfg,
		"www.youtube.com", "venmo.com", "boards.4chan.org", "www.reddit.com", "open.spotify.com", "mail.google.com")
	if code != 0 {
		t.Fatalf("status %d: %s", code, stderr)
	}
	want := []string{
		"blocked  www.youtube.com  by YouTube: youtube.com",
		"blocked  venmo.com  by Venmo: venmo.com",
		"blocked  boards.4chan.org  by 4chan: 4chan.org",
		"blocked  www.reddit.com  by Reddit: reddit.com",
		"allowed  open.spotify.com  Spotify: spotify.com is not blocked now",
		"allowed  mail.google.com  no rule covers it: forwarded",
	}
	if got := strings.Split(strings.TrimSpace(out), "\n"); !slices.Equal(got, want) {
		t.Errorf("check:\n\t got %q\n\twant %q", got, want)
	}
}
