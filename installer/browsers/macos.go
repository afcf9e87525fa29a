package browsers

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/nocontact/nocontact/installer/atomicfile"
)

// On macOS, Chrome, Chromium, Edge and Brave read their policies through
// CFPreferences, under their bundle ID, and take a value as a mandatory
// machine policy only when CFPreferences says it is forced
// (CFPreferencesAppValueIsForced; Chromium's policy_loader_mac). Only
// managed preferences are forced: a plist in
// /Library/Managed Preferences, which MDM profiles write. A value in
// /Library/Preferences (`defaults write /Library/Preferences/
// com.google.Chrome ...`) is read as a *recommended* policy, which the
// person can override in the browser's settings: it would change the
// default and lock nothing. So nocontact writes the managed preferences
// file itself. A system with no MDM profile for the browser may clear
// that folder (at a restart or a profile refresh); the daemon writes it
// again while the pact holds, and doctor says when it is missing. A file
// that is there (from an MDM profile) gets the one key with plutil,
// which keeps its format and its other keys.
//
// Firefox on macOS reads distribution/policies.json inside the app
// (Firefox.app/Contents/Resources/distribution), which Mozilla documents
// for machine policies; an update of Firefox replaces the app and the
// daemon writes it again.
var macChromium = []struct {
	browser, app, id string
}{
	{"Google Chrome", "Applications/Google Chrome.app", "com.google.Chrome"},
	{"Chromium", "Applications/Chromium.app", "org.chromium.Chromium"},
	{"Microsoft Edge", "Applications/Microsoft Edge.app", "com.microsoft.Edge"},
	{"Brave", "Applications/Brave Browser.app", "com.brave.Browser"},
}

var macFirefox = []string{"Applications/Firefox.app", "Applications/Firefox Developer Edition.app", "Applications/Firefox Nightly.app"}

// MacPlist is nocontact's own managed preferences file for a
// Chromium-family browser on macOS.
var MacPlist = []byte(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>DnsOverHttpsMode</key>
	<string>off</string>
</dict>
</plist>
`)

func (env Env) macTargets() []target {
	var out []target
	for _, app := range macFirefox {
		if env.exists(app) {
			out = append(out, target{"Firefox", app + "/Contents/Resources/distribution/policies.json", firefoxJSON})
		}
	}
	for _, c := range macChromium {
		if env.exists(c.app) {
			out = append(out, target{c.browser, "Library/Managed Preferences/" + c.id + ".plist", macPlist})
		}
	}
	return out
}

// plistMode returns DnsOverHttpsMode of the plist at p, "" when it has
// none.
func (env Env) plistMode(ctx context.Context, p string) string {
	if env.Run == nil {
		return ""
	}
	out, _, err := env.Run.Run(ctx, "plutil", "-extract", "DnsOverHttpsMode", "raw", "-o", "-", p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func (env Env) applyPlist(ctx context.Context, rec *record, t target) (bool, error) {
	now, err := env.capture(t.path)
	if err != nil {
		return false, err
	}
	p := env.sysPath(t.path)
	if now.Exists && env.plistMode(ctx, p) == "off" {
		return false, nil
	}
	if err := env.prepare(rec, t.path); err != nil {
		return false, err
	}
	if now.Exists {
		if env.Run == nil {
			return false, fmt.Errorf("%s: no command runner for plutil", p)
		}
		if _, _, err := env.Run.Run(ctx, "plutil", "-replace", "DnsOverHttpsMode", "-string", "off", p); err != nil {
			return false, err
		}
	} else {
		if err := os.MkdirAll(env.sysPath("Library/Managed Preferences"), 0o755); err != nil {
			return false, err
		}
		if err := atomicfile.WriteFile(p, MacPlist, 0o644); err != nil {
			return false, err
		}
	}
	env.Log.Info("turned off a browser's own encrypted DNS", "browser", t.browser, "file", p)
	return true, nil
}

func (env Env) checkPlist(ctx context.Context, t target) string {
	p := env.sysPath(t.path)
	if _, err := os.Stat(p); err != nil {
		return "the managed preferences file is missing"
	}
	if m := env.plistMode(ctx, p); m != "off" {
		return fmt.Sprintf("DnsOverHttpsMode is %q, not \"off\"", m)
	}
	return ""
}
