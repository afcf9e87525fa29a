package browsers

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nocontact/nocontact/installer/command/commandtest"
	"github.com/nocontact/nocontact/internal/golden"
)

// tree lists every folder and file under root with its mode and content,
// for "byte-identical" comparisons.
func tree(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(&b, "%s %v", rel, fi.Mode())
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %q", data)
		}
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func write(t *testing.T, root, rel, data string, perm os.FileMode) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, root, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// theirFirefoxPolicies is a policies.json of the person's (or the
// distribution's) own, with DoH turned on by a policy.
const theirFirefoxPolicies = `{
  "policies": {
    "DisableTelemetry": true,
    "DNSOverHTTPS": {"Enabled": true, "ProviderURL": "https://doh.example/dns-query"},
    "Homepage": {"URL": "https://example.org/", "Locked": false}
  },
  "comment": "kept"
}
`

func TestMergeFirefox(t *testing.T) {
	got, err := MergeFirefox([]byte(theirFirefoxPolicies))
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "firefox-merged.json", got)
	if p := firefoxOff(got); p != "" {
		t.Errorf("merged: %s", p)
	}
	own, err := MergeFirefox(nil)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "firefox-own.json", own)
	again, _ := MergeFirefox(got)
	if string(again) != string(got) {
		t.Errorf("merging twice changed it:\n%s", again)
	}
	for _, bad := range []string{"{", "[]", `{"policies": 3}`, "{} {}"} {
		if _, err := MergeFirefox([]byte(bad)); err == nil {
			t.Errorf("MergeFirefox(%q): no error", bad)
		}
	}
}

// TestLinux: a Firefox from the distribution with a policies file of its
// own (merged, and /etc left absent so as not to hide it), a snap-less
// system, Chrome with another policy file beside ours, Brave not
// installed. Apply, Check, a removal put back, and Restore to the byte.
func TestLinux(t *testing.T) {
	ctx := context.Background()
	root, state := t.TempDir(), t.TempDir()
	write(t, root, "usr/lib/firefox/application.ini", "[App]\nName=Firefox\n", 0o644)
	write(t, root, "usr/lib/firefox/distribution/policies.json", theirFirefoxPolicies, 0o640)
	write(t, root, "opt/google/chrome/chrome", "", 0o755)
	write(t, root, "etc/opt/chrome/policies/managed/company.json", `{"HomepageLocation": "https://example.org/", "DnsOverHttpsMode": "automatic"}`, 0o644)
	write(t, root, "opt/microsoft/msedge/msedge", "", 0o755)
	before := tree(t, root)
	env := Env{Root: root, StateDir: state, GOOS: "linux"}

	st, err := Check(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 3 || st[0].OK || st[1].OK || st[2].OK || !strings.Contains(st[1].Problem, `"automatic", set by company.json`) {
		t.Errorf("Check before Apply: %+v", st)
	}
	back, err := Apply(ctx, env)
	if err != nil || len(back) != 0 {
		t.Fatalf("Apply: %v, put back %v", err, back)
	}
	golden.Check(t, "linux-firefox-distribution.json", []byte(read(t, root, "usr/lib/firefox/distribution/policies.json")))
	golden.Check(t, "linux-chrome.json", []byte(read(t, root, "etc/opt/chrome/policies/managed/"+ChromiumFile)))
	if _, err := os.Stat(filepath.Join(root, "etc/firefox")); err == nil {
		t.Error("/etc/firefox was created, hiding the distribution's own policies")
	}
	if fi, _ := os.Stat(filepath.Join(root, "usr/lib/firefox/distribution/policies.json")); fi.Mode().Perm() != 0o640 {
		t.Errorf("the merged file's mode is %v, want the original 0640", fi.Mode().Perm())
	}
	st, _ = Check(ctx, env)
	for _, s := range st {
		if !s.OK {
			t.Errorf("Check after Apply: %+v", s)
		}
	}
	if back, _ := Apply(ctx, env); len(back) != 0 {
		t.Errorf("a second Apply put back %v", back)
	}

	// Someone removes Chrome's policy and edits Firefox's.
	if err := os.Remove(filepath.Join(root, "etc/opt/chrome/policies/managed", ChromiumFile)); err != nil {
		t.Fatal(err)
	}
	write(t, root, "usr/lib/firefox/distribution/policies.json", theirFirefoxPolicies, 0o640)
	back, err = Apply(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Firefox (" + filepath.Join(root, "usr/lib/firefox/distribution/policies.json") + ")",
		"Google Chrome (" + filepath.Join(root, "etc/opt/chrome/policies/managed", ChromiumFile) + ")",
	}
	if !slices.Equal(back, want) {
		t.Errorf("put back %q, want %q", back, want)
	}

	if err := Restore(ctx, env); err != nil {
		t.Fatal(err)
	}
	if after := tree(t, root); after != before {
		t.Errorf("after Restore:\n%s\nwant, byte for byte:\n%s", after, before)
	}
	if Installed(state) {
		t.Error("the record is still there")
	}
	if err := Restore(ctx, env); err != nil {
		t.Errorf("a second Restore: %v", err)
	}
}

// TestLinuxSnapFirefox: the snap reads only /etc/firefox/policies, which
// is created, with its folders, and removed again.
func TestLinuxSnapFirefox(t *testing.T) {
	ctx := context.Background()
	root, state := t.TempDir(), t.TempDir()
	write(t, root, "snap/firefox/current/firefox.launcher", "", 0o755)
	write(t, root, "etc/hostname", "box\n", 0o644)
	write(t, root, "snap/chromium/current/x", "", 0o644)
	before := tree(t, root)
	env := Env{Root: root, StateDir: state, GOOS: "linux"}
	if _, err := Apply(ctx, env); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "linux-firefox-etc.json", []byte(read(t, root, linuxFirefoxEtc)))
	if got := read(t, root, "etc/chromium-browser/policies/managed/"+ChromiumFile); got != string(ChromiumPolicy) {
		t.Errorf("chromium-browser: %q", got)
	}
	if err := Restore(ctx, env); err != nil {
		t.Fatal(err)
	}
	if after := tree(t, root); after != before {
		t.Errorf("after Restore:\n%s\nwant:\n%s", after, before)
	}
}

// TestMacOS: Firefox's policies.json inside the app, Chrome's managed
// preferences written whole, Edge's (from an MDM profile) given the key
// with plutil; Restore gives back every byte.
func TestMacOS(t *testing.T) {
	ctx := context.Background()
	root, state := t.TempDir(), t.TempDir()
	write(t, root, "Applications/Firefox.app/Contents/Info.plist", "<plist/>", 0o644)
	write(t, root, "Applications/Google Chrome.app/Contents/Info.plist", "<plist/>", 0o644)
	write(t, root, "Applications/Microsoft Edge.app/Contents/Info.plist", "<plist/>", 0o644)
	edge := "Library/Managed Preferences/com.microsoft.Edge.plist"
	write(t, root, edge, "bplist00-from-MDM", 0o644)
	before := tree(t, root)
	run := &commandtest.Fake{Handle: func(line string) (commandtest.Reply, bool) {
		// plutil, as far as the test needs: the file says "off" once
		// ours or replaced.
		switch {
		case strings.HasPrefix(line, "plutil -extract DnsOverHttpsMode raw -o - "):
			p := strings.Trim(strings.TrimPrefix(line, "plutil -extract DnsOverHttpsMode raw -o - "), `"`)
			b, _ := os.ReadFile(p)
			if strings.Contains(string(b), "<string>off</string>") || strings.HasSuffix(string(b), "+DnsOverHttpsMode=off") {
				return commandtest.Reply{Stdout: "off\n"}, true
			}
			return commandtest.Reply{Stderr: "Could not extract value", Err: commandtest.ErrExit}, true
		case strings.HasPrefix(line, "plutil -replace DnsOverHttpsMode -string off "):
			p := strings.Trim(strings.TrimPrefix(line, "plutil -replace DnsOverHttpsMode -string off "), `"`)
			b, _ := os.ReadFile(p)
			_ = os.WriteFile(p, append(b, "+DnsOverHttpsMode=off"...), 0o644)
			return commandtest.Reply{}, true
		}
		return commandtest.Reply{}, false
	}}
	env := Env{Root: root, StateDir: state, GOOS: "darwin", Run: run}
	if _, err := Apply(ctx, env); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "macos-firefox.json", []byte(read(t, root, "Applications/Firefox.app/Contents/Resources/distribution/policies.json")))
	golden.Check(t, "macos-chrome.plist", []byte(read(t, root, "Library/Managed Preferences/com.google.Chrome.plist")))
	golden.Check(t, "macos-commands.txt", []byte(strings.ReplaceAll(run.Ran(), root, "ROOT")+"\n"))
	st, _ := Check(ctx, env)
	if len(st) != 3 {
		t.Fatalf("Check: %+v", st)
	}
	for _, s := range st {
		if !s.OK {
			t.Errorf("Check after Apply: %+v", s)
		}
	}
	if err := Restore(ctx, env); err != nil {
		t.Fatal(err)
	}
	if after := tree(t, root); after != before {
		t.Errorf("after Restore:\n%s\nwant:\n%s", after, before)
	}
}

// fakeRegistry is reg.exe over a map, for the Windows policies.
type fakeRegistry struct {
	keys   map[string]bool              // key (upper case) → exists
	values map[string]map[string]string // key → name → "TYPE data"
}

func (r *fakeRegistry) handle(line string) (commandtest.Reply, bool) {
	args := splitLine(line)
	if len(args) < 3 || args[0] != "reg.exe" {
		return commandtest.Reply{}, false
	}
	key := strings.ToUpper(args[2])
	notFound := commandtest.Reply{Stderr: "ERROR: The system was unable to find the specified registry key or value.", Err: commandtest.ErrExit}
	switch args[1] {
	case "query":
		if !r.keys[key] {
			return notFound, true
		}
		if len(args) == 5 { // /v NAME
			v, ok := r.values[key][args[4]]
			if !ok {
				return notFound, true
			}
			f := strings.SplitN(v, " ", 2)
			return commandtest.Reply{Stdout: "\r\nHKEY_LOCAL_MACHINE" + args[2][4:] + "\r\n    " + args[4] + "    " + f[0] + "    " + f[1] + "\r\n\r\n"}, true
		}
		out := "\r\nHKEY_LOCAL_MACHINE" + args[2][4:] + "\r\n"
		for n, v := range r.values[key] {
			out += "    " + n + "    " + strings.Replace(v, " ", "    ", 1) + "\r\n"
		}
		for k, ok := range r.keys {
			if ok && strings.HasPrefix(k, key+`\`) {
				out += "\r\nHKEY_LOCAL_MACHINE" + k[4:] + "\r\n"
			}
		}
		return commandtest.Reply{Stdout: out}, true
	case "add": // KEY /v NAME /t TYPE /d DATA /f
		for k := key; strings.Contains(k, `\`); k = k[:strings.LastIndex(k, `\`)] {
			r.keys[k] = true
		}
		if r.values[key] == nil {
			r.values[key] = map[string]string{}
		}
		r.values[key][args[4]] = args[6] + " " + args[8]
	case "delete":
		if !r.keys[key] {
			return notFound, true
		}
		if len(args) == 6 { // /v NAME /f
			delete(r.values[key], args[4])
		} else {
			for k := range r.keys {
				if k == key || strings.HasPrefix(k, key+`\`) {
					delete(r.keys, k)
					delete(r.values, k)
				}
			}
		}
	}
	return commandtest.Reply{}, true
}

func (r *fakeRegistry) dump() string {
	var lines []string
	for k, ok := range r.keys {
		if ok {
			lines = append(lines, k)
		}
		for n, v := range r.values[k] {
			lines = append(lines, k+`\`+n+"="+v)
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// splitLine undoes command.Line's quoting, enough for these lines.
func splitLine(line string) []string {
	var out []string
	for len(line) > 0 {
		line = strings.TrimLeft(line, " ")
		if strings.HasPrefix(line, `"`) {
			end := strings.Index(line[1:], `"`) + 1
			out = append(out, strings.ReplaceAll(line[1:end], `\\`, `\`))
			line = line[end+1:]
			continue
		}
		end := strings.Index(line, " ")
		if end < 0 {
			end = len(line)
		}
		out = append(out, line[:end])
		line = line[end:]
	}
	return out
}

// TestWindows: Chrome's key exists with a policy of the company's and a
// DoH mode of its own (saved and put back), the other keys do not (made,
// then removed); Firefox's DNSOverHTTPS key is made under an existing
// Mozilla key that has other policies.
func TestWindows(t *testing.T) {
	ctx := context.Background()
	reg := &fakeRegistry{
		keys: map[string]bool{
			`HKLM\SOFTWARE`: true, `HKLM\SOFTWARE\POLICIES`: true,
			`HKLM\SOFTWARE\POLICIES\GOOGLE`: true, `HKLM\SOFTWARE\POLICIES\GOOGLE\CHROME`: true,
			`HKLM\SOFTWARE\POLICIES\MOZILLA`: true, `HKLM\SOFTWARE\POLICIES\MOZILLA\FIREFOX`: true,
		},
		values: map[string]map[string]string{
			`HKLM\SOFTWARE\POLICIES\GOOGLE\CHROME`:   {"HomepageLocation": "REG_SZ https://example.org/", "DnsOverHttpsMode": "REG_SZ secure"},
			`HKLM\SOFTWARE\POLICIES\MOZILLA\FIREFOX`: {"DisableTelemetry": "REG_DWORD 0x1"},
		},
	}
	before := reg.dump()
	run := &commandtest.Fake{Handle: reg.handle}
	env := Env{StateDir: t.TempDir(), GOOS: "windows", Run: run}
	if _, err := Apply(ctx, env); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "windows-registry.txt", []byte(reg.dump()+"\n"))
	golden.Check(t, "windows-apply-commands.txt", []byte(run.Ran()+"\n"))
	st, err := Check(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if !s.OK {
			t.Errorf("Check after Apply: %+v", s)
		}
	}
	delete(reg.values[`HKLM\SOFTWARE\POLICIES\MICROSOFT\EDGE`], "DnsOverHttpsMode")
	back, err := Apply(ctx, env)
	if err != nil || !slices.Equal(back, []string{`Microsoft Edge (HKLM\SOFTWARE\Policies\Microsoft\Edge\DnsOverHttpsMode)`}) {
		t.Errorf("Apply after a removal: %v, put back %q", err, back)
	}
	run.Reset()
	if err := Restore(ctx, env); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "windows-restore-commands.txt", []byte(run.Ran()+"\n"))
	if after := reg.dump(); after != before {
		t.Errorf("the registry after Restore:\n%s\nwant:\n%s", after, before)
	}
}

// TestApplyTwiceAtOnce: install and the running service both call Apply,
// in two processes, at nearly the same time; the lock makes the second
// find the record of the first, so the original stays the person's. (The
// window without the lock is narrow: this catches it rarely, and
// TestFirewallEndToEnd, where install and the service really race, did.)
func TestApplyTwiceAtOnce(t *testing.T) {
	for range 20 {
		root, state := t.TempDir(), t.TempDir()
		write(t, root, "usr/lib/firefox/application.ini", "", 0o644)
		write(t, root, "usr/lib/firefox/distribution/policies.json", theirFirefoxPolicies, 0o644)
		before := tree(t, root)
		env := Env{Root: root, StateDir: state, GOOS: "linux"}
		errs := make(chan error, 2)
		for range 2 {
			go func() { _, err := Apply(context.Background(), env); errs <- err }()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if err := Restore(context.Background(), env); err != nil {
			t.Fatal(err)
		}
		if after := tree(t, root); after != before {
			t.Fatalf("after two Applies at once and Restore:\n%s\nwant:\n%s", after, before)
		}
	}
}
