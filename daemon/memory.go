package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nocontact/nocontact/daemon/clock"
	"github.com/nocontact/nocontact/daemon/pact"
	"github.com/nocontact/nocontact/daemon/statefile"
)

// The pact's memory (its terms, pending changes, record of attempts and
// the clock ledger) is kept twice: in the state folder and, for the
// installed service, in the settings folder (on a trial run, beside the
// first in the state folder). Each copy is written atomically and carries
// a checksum; the state folder's is written first, so that at any moment
// at least one copy is whole and the copy is at most one save behind. At
// start the newer whole copy wins, and a missing or damaged copy is
// written again from it (and the event recorded). When neither is whole
// and something says a pact existed, the daemon does not start afresh: it
// blocks everything (see pact.LostRequest), and the settings are a
// loosening of that, queued behind the cooldown.

// copyName is the second copy's file name in a trial run's state folder
// (the installed service's is the installer's CopyName, in the settings
// folder).
const copyName = "pact-copy"

// persisted is the body of each copy.
type persisted struct {
	// Gen counts the saves: of two whole copies, the higher is newer.
	Gen   uint64       `json:"gen"`
	Pact  pact.State   `json:"pact"`
	Clock clock.Ledger `json:"clock"`
	// Settings is the text of the last settings file that loaded, and
	// SettingsFile its path: the installed service runs with them when the
	// file has a mistake, so that a typo never leaves the machine without
	// DNS.
	Settings     string `json:"settings,omitempty"`
	SettingsFile string `json:"settings_file,omitempty"`
	// Ignored is the [daemon] state_dir and control_socket the settings
	// last asked for and the installed service ignored (noted once per
	// new value).
	Ignored string `json:"ignored,omitempty"`
}

// copyState is what was found of one copy.
type copyState struct {
	path string
	p    persisted
	err  error // nil: whole; fs.ErrNotExist: missing; else damaged
}

func (c copyState) missing() bool { return errors.Is(c.err, fs.ErrNotExist) }

// words says what became of the copy, for the log and the record.
func (c copyState) words() string {
	if c.missing() {
		return "the copy in " + filepath.Dir(c.path) + " was missing"
	}
	return "the copy in " + filepath.Dir(c.path) + " was damaged (" + c.err.Error() + ")"
}

// readCopy reads one copy; a body that passes the checksum but does not
// decode is moved aside like any damaged file.
func readCopy(path string) copyState {
	c := copyState{path: path}
	body, err := statefile.Read(path, stateVersion)
	if err != nil {
		c.err = err
		return c
	}
	if err := json.Unmarshal(body, &c.p); err != nil {
		aside := path + ".damaged-" + time.Now().UTC().Format("20060102T150405Z") //nolint:forbidigo // only names the file kept for inspection; no pact time
		if rerr := renameAside(path, aside); rerr != nil {
			aside = ""
		}
		c.err = &statefile.DamagedError{Path: path, Aside: aside, Reason: "not valid: " + err.Error()}
	}
	return c
}

// memory is the outcome of reading both copies.
type memory struct {
	p      persisted
	found  bool     // at least one copy was whole
	lost   []string // what became of each copy that was not whole
	traces []string // signs that a pact existed, when no copy was whole
}

// readMemory reads both copies and picks the newer whole one.
func (d *Daemon) readMemory() memory {
	var m memory
	copies := []copyState{readCopy(d.path), readCopy(d.copyPath)}
	best := -1
	for i, c := range copies {
		if c.err != nil {
			continue
		}
		if best < 0 || c.p.Gen > copies[best].p.Gen {
			best = i
		}
	}
	for _, c := range copies {
		if c.err != nil {
			m.lost = append(m.lost, c.words())
		}
	}
	if best >= 0 {
		m.p, m.found = copies[best].p, true
		return m
	}
	for _, c := range copies {
		if !c.missing() {
			m.traces = append(m.traces, c.words())
		}
	}
	return m
}

// tracesOfAPact lists what shows that a pact was kept here before, when
// both copies are missing: a state file moved aside as damaged, the lock
// or the attempt counts of an earlier run, and what the installed machine
// shows (its record of the DNS settings, nocontact's hosts section).
func (d *Daemon) tracesOfAPact(lockExisted bool) []string {
	var out []string
	if lockExisted {
		out = append(out, "the lock of an earlier nocontact in "+d.dir)
	}
	for _, pattern := range []string{d.path + ".damaged-*", d.copyPath + ".damaged-*"} {
		if m, _ := filepath.Glob(pattern); len(m) > 0 {
			out = append(out, "a damaged copy kept for inspection ("+m[0]+")")
		}
	}
	if _, err := os.Stat(filepath.Join(d.dir, attemptsName)); err == nil {
		out = append(out, "the attempt counts of an earlier nocontact")
	}
	if sys := d.opts.System; sys != nil {
		if sys.Installed() {
			out = append(out, "the record of the DNS settings nocontact took over")
		}
		out = append(out, sys.Traces()...)
	}
	return out
}

// save writes both copies: the state folder's first. The caller holds
// d.mu or is the only goroutine.
func (d *Daemon) save() error {
	d.gen++
	body, err := json.MarshalIndent(persisted{
		Gen: d.gen, Pact: d.eng.State(), Clock: d.clk.Ledger(),
		Settings: d.settingsText, SettingsFile: d.settingsFile, Ignored: d.ignored,
	}, "", "  ")
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range []string{d.path, d.copyPath} {
		if err := statefile.Write(p, stateVersion, body); err != nil {
			errs = append(errs, fmt.Errorf("saving the pact in %s: %w", p, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	d.saved = d.clk.Ledger().Trusted
	return nil
}

// ignoredKeys returns the [daemon] keys of the settings the installed
// service ignores, as "state_dir = ..., control_socket = ...", or "".
func (d *Daemon) ignoredKeys(written []string, stateDir, socket string) string {
	if !d.opts.Service {
		return ""
	}
	var out []string
	for _, k := range written {
		switch k {
		case "state_dir":
			if stateDir != d.dir {
				out = append(out, fmt.Sprintf("state_dir = %q", stateDir))
			}
		case "control_socket":
			if socket != d.socket {
				out = append(out, fmt.Sprintf("control_socket = %q", socket))
			}
		}
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}
