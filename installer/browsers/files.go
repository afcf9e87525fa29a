package browsers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nocontact/nocontact/installer/atomicfile"
)

// kind is how a target file holds the policy.
type kind int

const (
	firefoxJSON  kind = iota // a Firefox policies.json: the key merged in
	chromiumJSON             // a file of nocontact's own in a managed policy folder
	macPlist                 // a managed preferences plist (macos.go)
)

// target is one file that holds a browser's policy.
type target struct {
	browser string
	path    string // slash-separated, relative to Root
	kind    kind
}

// ChromiumFile is nocontact's own file in a Chromium-family browser's
// managed policy folder. Its name sorts after the usual ones, because
// the browser lets the last file in name order win a conflict.
const ChromiumFile = "zz-nocontact.json"

// LinuxFirefoxDirs are the folders (without the leading "/") Firefox is
// installed in, by distributions and by hand; a folder counts when it has
// application.ini. The systemd unit lets the service write in them.
var LinuxFirefoxDirs = []string{
	"usr/lib/firefox", "usr/lib/firefox-esr", "usr/lib64/firefox", "usr/lib64/firefox-esr",
	"usr/lib/firefox-developer-edition", "usr/lib/firefox-nightly", "opt/firefox", "opt/firefox-esr",
}

// linuxChromium are the Chromium-family browsers: where each is
// installed (any one counts) and the managed policy folder it reads.
var linuxChromium = []struct {
	browser  string
	installs []string
	policies string
}{
	{"Google Chrome", []string{"opt/google/chrome"}, "etc/opt/chrome/policies/managed"},
	{"Chromium", []string{"usr/lib/chromium", "usr/lib64/chromium", "usr/lib64/chromium-browser"}, "etc/chromium/policies/managed"},
	// Ubuntu's chromium-browser (a snap since 19.10) reads its own folder.
	{"Chromium", []string{"usr/lib/chromium-browser", "snap/chromium"}, "etc/chromium-browser/policies/managed"},
	{"Microsoft Edge", []string{"opt/microsoft/msedge"}, "etc/opt/edge/policies/managed"},
	{"Brave", []string{"opt/brave.com/brave"}, "etc/brave/policies/managed"},
}

// linuxFirefoxEtc is the policies file distribution and snap builds of
// Firefox read first: when it exists, they ignore distribution/.
const linuxFirefoxEtc = "etc/firefox/policies/policies.json"

func (env Env) exists(rel string) bool {
	_, err := os.Stat(env.sysPath(rel))
	return err == nil
}

func (env Env) sysPath(rel string) string {
	return filepath.Join(env.Root, filepath.FromSlash(rel))
}

// fileTargets lists the files of the browsers found, Linux or macOS.
func (env Env) fileTargets() []target {
	if env.GOOS == "darwin" {
		return env.macTargets()
	}
	var out []target
	firefox, distOwn := false, false
	for _, d := range LinuxFirefoxDirs {
		if !env.exists(d + "/application.ini") {
			continue
		}
		firefox = true
		p := d + "/distribution/policies.json"
		if env.exists(p) {
			distOwn = true
		}
		out = append(out, target{"Firefox", p, firefoxJSON})
	}
	snap := env.exists("snap/firefox")
	// The file in /etc shadows every distribution/policies.json, so it
	// is created only where that hides nothing the person had: a snap
	// (which reads nothing else), or no distribution file of their own.
	// One that is there already is merged into.
	if env.exists(linuxFirefoxEtc) || snap || (firefox && !distOwn) {
		out = append([]target{{"Firefox", linuxFirefoxEtc, firefoxJSON}}, out...)
	}
	for _, c := range linuxChromium {
		if slices.ContainsFunc(c.installs, env.exists) {
			out = append(out, target{c.browser, c.policies + "/" + ChromiumFile, chromiumJSON})
		}
	}
	return out
}

// capture reads rel as it is now.
func (env Env) capture(rel string) (savedFile, error) {
	p := env.sysPath(rel)
	sf := savedFile{Path: rel}
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return sf, nil
	}
	if err != nil {
		return sf, err
	}
	if !fi.Mode().IsRegular() {
		return sf, fmt.Errorf("%s is not a regular file (%v): nocontact leaves it alone", p, fi.Mode().Type())
	}
	sf.Exists, sf.Perm = true, fi.Mode().Perm()
	if sf.Data, err = os.ReadFile(p); err != nil {
		return sf, err
	}
	if sf.Data == nil {
		sf.Data = []byte{}
	}
	return sf, nil
}

// put makes the file what sf says.
func (env Env) put(sf savedFile) error {
	p := env.sysPath(sf.Path)
	now, err := env.capture(sf.Path)
	if err != nil {
		return err
	}
	if !sf.Exists {
		if now.Exists {
			env.Log.Info("removing a policy file nocontact wrote", "file", p)
			return os.Remove(p)
		}
		return nil
	}
	if now.Exists && bytes.Equal(now.Data, sf.Data) && now.Perm == sf.Perm {
		return nil
	}
	env.Log.Info("restoring the original policy file", "file", p)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(p, sf.Data, sf.Perm)
}

// prepare saves the original of t (once) and the folders its write will
// create, before anything is written.
func (env Env) prepare(rec *record, rel string) error {
	changed := false
	if rec.file(rel) == nil {
		sf, err := env.capture(rel)
		if err != nil {
			return err
		}
		rec.Files = append(rec.Files, sf)
		changed = true
	}
	var missing []string
	for d := path.Dir(rel); d != "." && d != "/" && !env.exists(d); d = path.Dir(d) {
		missing = append([]string{d}, missing...)
	}
	for _, d := range missing {
		if !slices.Contains(rec.Dirs, d) {
			rec.Dirs = append(rec.Dirs, d)
			changed = true
		}
	}
	if changed {
		return saveRecord(env.StateDir, rec)
	}
	return nil
}

// applyFile writes t's policy when it is not in force, and reports
// whether it wrote.
func (env Env) applyFile(ctx context.Context, rec *record, t target) (bool, error) {
	if t.kind == macPlist {
		return env.applyPlist(ctx, rec, t)
	}
	now, err := env.capture(t.path)
	if err != nil {
		return false, err
	}
	var want []byte
	switch t.kind {
	case firefoxJSON:
		if want, err = MergeFirefox(now.Data); err != nil {
			return false, fmt.Errorf("%s: %w", env.sysPath(t.path), err)
		}
	case chromiumJSON:
		want = ChromiumPolicy
	}
	if now.Exists && bytes.Equal(now.Data, want) {
		return false, nil
	}
	if now.Exists && t.kind == firefoxJSON && firefoxOff(now.Data) == "" {
		return false, nil // in force, only written differently
	}
	if err := env.prepare(rec, t.path); err != nil {
		return false, err
	}
	perm := os.FileMode(0o644)
	if now.Exists {
		perm = now.Perm
	}
	p := env.sysPath(t.path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return false, err
	}
	if err := atomicfile.WriteFile(p, want, perm); err != nil {
		return false, err
	}
	env.Log.Info("turned off a browser's own encrypted DNS", "browser", t.browser, "file", p)
	return true, nil
}

// checkFile returns what is wrong with t's policy, "" when it is in
// force.
func (env Env) checkFile(ctx context.Context, t target) string {
	switch t.kind {
	case macPlist:
		return env.checkPlist(ctx, t)
	case firefoxJSON:
		b, err := os.ReadFile(env.sysPath(t.path))
		if err != nil {
			return "the policy file is missing"
		}
		return firefoxOff(b)
	}
	// Chromium: every file of the folder, the last in name order that
	// sets DnsOverHttpsMode winning.
	dir := env.sysPath(path.Dir(t.path))
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "the policy folder is missing"
	}
	mode, from := "", ""
	for _, e := range ents { // ReadDir sorts by name
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		var v map[string]any
		if json.Unmarshal(b, &v) != nil {
			continue
		}
		if m, ok := v["DnsOverHttpsMode"].(string); ok {
			mode, from = m, e.Name()
		}
	}
	switch {
	case mode == "":
		return "no policy sets DnsOverHttpsMode"
	case mode != "off":
		return fmt.Sprintf("DnsOverHttpsMode is %q, set by %s", mode, from)
	}
	return ""
}

// ChromiumPolicy is nocontact's own managed policy file for Chrome,
// Chromium, Edge and Brave on Linux.
var ChromiumPolicy = []byte("{\n  \"DnsOverHttpsMode\": \"off\"\n}\n")

// firefoxDoH is the value of Firefox's DNSOverHTTPS policy nocontact
// writes; other keys of the person's own are kept beside it.
var firefoxDoH = []member{{"Enabled", json.RawMessage("false")}, {"Locked", json.RawMessage("true")}}

// MergeFirefox returns a Firefox policies.json with DNSOverHTTPS turned
// off and locked, keeping every other policy of data (empty: a file of
// its own) in its order.
func MergeFirefox(data []byte) ([]byte, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	top, err := readObject(data)
	if err != nil {
		return nil, fmt.Errorf("it is not valid JSON (%w), so Firefox ignores it: fix it, or remove it, and nocontact writes its own", err)
	}
	pol, err := readObject(top.get("policies", json.RawMessage("{}")))
	if err != nil {
		return nil, fmt.Errorf("its \"policies\" is not an object (%w): fix it", err)
	}
	doh, err := readObject(pol.get("DNSOverHTTPS", json.RawMessage("{}")))
	if err != nil {
		doh = object{} // not an object: Firefox would refuse it; ours replaces it
	}
	for _, m := range firefoxDoH {
		doh = doh.set(m.key, m.val)
	}
	pol = pol.set("DNSOverHTTPS", doh.marshal())
	top = top.set("policies", pol.marshal())
	var out bytes.Buffer
	if err := json.Indent(&out, top.marshal(), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// firefoxOff returns what is wrong with the DNSOverHTTPS policy of a
// policies.json, "" when it is off and locked.
func firefoxOff(data []byte) string {
	var v struct {
		Policies *struct {
			DNSOverHTTPS *struct {
				Enabled *bool
				Locked  *bool
			}
		} `json:"policies"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return "the policy file is not valid JSON, so Firefox ignores it"
	}
	switch {
	case v.Policies == nil || v.Policies.DNSOverHTTPS == nil:
		return "no DNSOverHTTPS policy"
	case v.Policies.DNSOverHTTPS.Enabled == nil || *v.Policies.DNSOverHTTPS.Enabled:
		return "DNSOverHTTPS is not turned off"
	case v.Policies.DNSOverHTTPS.Locked == nil || !*v.Policies.DNSOverHTTPS.Locked:
		return "DNSOverHTTPS is not locked, so it can be turned on in the settings"
	}
	return ""
}

// object is a JSON object with its members in order.
type object []member

type member struct {
	key string
	val json.RawMessage
}

func readObject(data []byte) (object, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not an object")
	}
	var o object
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		o = append(o, member{k, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("something follows the object")
	}
	return o, nil
}

func (o object) get(key string, def json.RawMessage) json.RawMessage {
	for _, m := range o {
		if m.key == key {
			return m.val
		}
	}
	return def
}

func (o object) set(key string, val json.RawMessage) object {
	for i, m := range o {
		if m.key == key {
			out := slices.Clone(o)
			out[i].val = val
			return out
		}
	}
	return append(slices.Clone(o), member{key, val})
}

func (o object) marshal() json.RawMessage {
	var b strings.Builder
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.val)
	}
	b.WriteByte('}')
	return json.RawMessage(b.String())
}
