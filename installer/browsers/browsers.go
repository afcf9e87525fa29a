// Package browsers turns off the browsers' own encrypted DNS with the
// browsers' machine policies, and gives back exactly what was there.
//
// A browser with DNS over HTTPS turned on by hand (no administrator
// rights needed) or pointed at a resolver's address sends its lookups
// around the filter. Every browser honours a machine policy that turns
// that off and greys out the setting; this package writes that one
// setting, and nothing else of the browser changes:
//
//   - Firefox: DNSOverHTTPS {"Enabled": false, "Locked": true}. Linux:
//     /etc/firefox/policies/policies.json (what distributions' and the
//     snap's Firefox read first) and the distribution/policies.json of
//     every Firefox installed in a folder of its own (what Mozilla's own
//     builds read); macOS: the distribution/policies.json in each
//     Firefox app; Windows: the registry,
//     HKLM\SOFTWARE\Policies\Mozilla\Firefox\DNSOverHTTPS. A policies.json
//     that is already there keeps every other policy: the key is merged
//     in.
//   - Chrome, Chromium, Edge, Brave: DnsOverHttpsMode = "off". Linux: a
//     file of nocontact's own, zz-nocontact.json, in each browser's
//     managed policy folder (the browser merges every file there, the
//     last in name order winning); Windows: the HKLM policy keys; macOS:
//     the managed preferences file of the browser's bundle ID in
//     /Library/Managed Preferences (see macos.go for why that and not
//     /Library/Preferences).
//
// Like installer/osdns, the first Apply saves a record of everything it
// is about to change (each file's bytes and mode, or that it was
// missing; each folder it creates; each registry value and key) in the
// state directory before it changes it, Restore puts back exactly that
// and deletes the record, and both are idempotent. Apply is also the
// re-assert: it writes what is missing again and says which policies it
// put back. Everything is reached through Env.Root (a temporary folder
// in tests) and a command.Runner (plutil on macOS, reg.exe on Windows),
// so every OS's code is tested on any. This package must not decide
// *when* the policies are kept: that is the daemon's business.
package browsers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"github.com/nocontact/nocontact/installer/atomicfile"
	"github.com/nocontact/nocontact/installer/command"
)

// Env is what the policies may touch.
type Env struct {
	// Root is prefixed to every system path: "/" on a real system, a
	// temporary directory in tests. Empty means "/". Not used on Windows,
	// where the policies live in the registry.
	Root string
	// StateDir is where the record of the originals is kept, as a full
	// path (not under Root). Required.
	StateDir string
	// Run runs plutil (macOS) and reg.exe (Windows).
	Run command.Runner
	// Log receives what each step does. Nil means quiet.
	Log *slog.Logger
	// GOOS picks the browsers' places; "" means the running system's.
	GOOS string
}

// RecordFile is the name of the record in Env.StateDir.
const RecordFile = "browsers-original.json"

// Status is one browser's policy as Check found it.
type Status struct {
	Browser string // "Firefox", "Google Chrome", ...
	Where   string // the file or registry key
	OK      bool
	Problem string // what is wrong, when not OK
}

// record is the saved originals.
type record struct {
	// Files holds every file Apply wrote, as it was before the first
	// write.
	Files []savedFile `json:"files,omitempty"`
	// Dirs are the folders Apply created, outermost first.
	Dirs []string `json:"dirs,omitempty"`
	// Values holds every registry value Apply set, as it was before.
	Values []savedValue `json:"values,omitempty"`
	// Keys are the registry keys Apply created, outermost first.
	Keys []string `json:"keys,omitempty"`
}

type savedFile struct {
	Path   string      `json:"path"` // slash-separated, relative to Root
	Exists bool        `json:"exists"`
	Data   []byte      `json:"data,omitempty"`
	Perm   fs.FileMode `json:"perm,omitempty"`
}

type savedValue struct {
	Key    string `json:"key"`
	Name   string `json:"name"`
	Exists bool   `json:"exists"`
	Type   string `json:"type,omitempty"`
	Data   string `json:"data,omitempty"`
}

func (env Env) norm() Env {
	if env.Root == "" {
		env.Root = "/"
	}
	if env.Log == nil {
		env.Log = slog.New(slog.DiscardHandler)
	}
	if env.GOOS == "" {
		env.GOOS = runtime.GOOS
	}
	return env
}

// Apply writes the policy of every browser found (on Windows, of every
// browser nocontact knows: a policy key of a browser that is not there
// does nothing), saving the originals first. putBack lists the policies
// it wrote again after an earlier Apply had written them: someone
// removed them.
func Apply(ctx context.Context, env Env) (putBack []string, err error) {
	env = env.norm()
	if env.StateDir == "" {
		return nil, errors.New("browsers: no state directory to keep the original policies in")
	}
	unlock, err := lockRecord(env.StateDir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rec, err := loadRecord(env.StateDir)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		rec = &record{}
	}
	if env.GOOS == "windows" {
		return env.applyRegistry(ctx, rec)
	}
	for _, t := range env.fileTargets() {
		had := rec.file(t.path) != nil
		wrote, err := env.applyFile(ctx, rec, t)
		if err != nil {
			return putBack, fmt.Errorf("turning off %s's own encrypted DNS: %w", t.browser, err)
		}
		if wrote && had {
			putBack = append(putBack, t.browser+" ("+env.sysPath(t.path)+")")
		}
	}
	return putBack, nil
}

// Check says, for every browser found, whether its policy is in force.
func Check(ctx context.Context, env Env) ([]Status, error) {
	env = env.norm()
	if env.GOOS == "windows" {
		return env.checkRegistry(ctx)
	}
	var out []Status
	for _, t := range env.fileTargets() {
		st := Status{Browser: t.browser, Where: env.sysPath(t.path), OK: true}
		if problem := env.checkFile(ctx, t); problem != "" {
			st.OK, st.Problem = false, problem
		}
		out = append(out, st)
	}
	return out, nil
}

// Restore puts back every file and registry value the record holds,
// exactly, removes the folders and keys Apply created (when nothing else
// is in them now), and deletes the record. Without a record it does
// nothing.
func Restore(ctx context.Context, env Env) error {
	env = env.norm()
	if _, err := os.Stat(env.StateDir); err != nil {
		return nil // no state folder, no record
	}
	unlock, err := lockRecord(env.StateDir)
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := loadRecord(env.StateDir)
	if err != nil || rec == nil {
		return err
	}
	for i := len(rec.Files) - 1; i >= 0; i-- {
		if err := env.put(rec.Files[i]); err != nil {
			return err
		}
	}
	for i := len(rec.Dirs) - 1; i >= 0; i-- {
		p := env.sysPath(rec.Dirs[i])
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			env.Log.Info("left a folder nocontact created, because something else is in it now", "dir", p, "err", err)
		}
	}
	if err := env.restoreRegistry(ctx, rec); err != nil {
		return err
	}
	if err := os.Remove(recordPath(env.StateDir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the record of the browsers' original policies: %w", err)
	}
	return nil
}

// Installed reports whether a record of the original policies exists.
func Installed(stateDir string) bool {
	_, err := os.Stat(recordPath(stateDir))
	return err == nil
}

func recordPath(stateDir string) string { return filepath.Join(stateDir, RecordFile) }

func loadRecord(stateDir string) (*record, error) {
	var r record
	found, err := atomicfile.ReadJSON(recordPath(stateDir), &r)
	switch {
	case err != nil && found:
		return nil, fmt.Errorf("the record of the browsers' original policies: %w; put the policy files back by hand and delete it", err)
	case err != nil:
		return nil, fmt.Errorf("reading the record of the browsers' original policies: %w", err)
	case !found:
		return nil, nil
	}
	return &r, nil
}

func saveRecord(stateDir string, r *record) error {
	if err := atomicfile.WriteJSON(recordPath(stateDir), r); err != nil {
		return fmt.Errorf("saving the browsers' original policies: %w", err)
	}
	return nil
}

func (r *record) file(rel string) *savedFile {
	for i := range r.Files {
		if r.Files[i].Path == rel {
			return &r.Files[i]
		}
	}
	return nil
}

func (r *record) value(key, name string) *savedValue {
	i := slices.IndexFunc(r.Values, func(v savedValue) bool { return v.Key == key && v.Name == name })
	if i < 0 {
		return nil
	}
	return &r.Values[i]
}
