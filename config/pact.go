package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/nocontact/nocontact/dnsfilter/catalog"
)

// This file holds the keys that describe the pact's period, the quiet hours
// and the daemon's state directory, beside the block lists of config.go.

// QuietHours is one [[quiet_hours]] table: a window of the week that blocks
// even outside the pact (late-night texting).
type QuietHours struct {
	// Days lists the days the window starts on: "mon" … "sun" (or the full
	// names), in any case. Default: every day. A window that crosses
	// midnight belongs to the day it starts.
	Days []string `toml:"days"`
	// From and To are local times, "HH:MM" (24-hour clock). To may be
	// earlier than From: the window then ends on the next day. Both are
	// required and must differ.
	From string `toml:"from"`
	To   string `toml:"to"`
	// Block names the platforms blocked in the window, like pact.block.
	// Default: the pact's block list and its extra domains.
	Block []string `toml:"block"`

	// DayMask has bit time.Weekday set for each day of Days.
	DayMask uint8 `toml:"-"`
	// FromMinute and ToMinute are From and To in minutes after midnight.
	FromMinute int `toml:"-"`
	ToMinute   int `toml:"-"`
	// Platforms is Block resolved by the catalog (or the pact's
	// platforms), never nil.
	Platforms []string `toml:"-"`
	// Domains are the pact's extra domains when Block is missing, else
	// empty; never nil.
	Domains []string `toml:"-"`
}

// Daemon is the [daemon] table: where the background service keeps its
// state.
type Daemon struct {
	// StateDir is the directory of the state file (the active pact, the
	// pending changes, the clock ledger). It must be an absolute path.
	// Default: /var/lib/nocontact on Linux, /Library/Application
	// Support/nocontact on macOS, %ProgramData%\nocontact on Windows; for a
	// process without administrator rights, the user's own state directory
	// ($XDG_STATE_HOME/nocontact or ~/.local/state/nocontact on Linux,
	// ~/Library/Application Support/nocontact on macOS,
	// %LOCALAPPDATA%\nocontact on Windows). Parse fills it in.
	StateDir string `toml:"state_dir"`
	// ControlSocket is where the daemon answers `nocontact status`,
	// `unlock`, `cancel` and `reload`: a unix socket path, or a named pipe
	// on Windows. Default: /run/nocontact.sock on Linux,
	// /var/run/nocontact.sock on macOS, \\.\pipe\nocontact on Windows; for
	// a process without administrator rights, nocontact.sock in
	// $XDG_RUNTIME_DIR (Linux) or in the state directory, and
	// \\.\pipe\nocontact-USER on Windows. Parse fills it in.
	ControlSocket string `toml:"control_socket"`

	// Written lists the keys of this table the file itself sets
	// ("state_dir", "control_socket"), before defaults are filled in: the
	// installed service ignores them, and says so.
	Written []string `toml:"-"`
}

// Env is what Parse learns of the machine for the defaults that depend on
// it. The zero Env means this machine.
type Env struct {
	// StateDir returns the default [daemon] state_dir; nil means
	// DefaultStateDir.
	StateDir func() string
	// Location is the zone of dates written without an offset; nil means
	// time.Local.
	Location *time.Location
}

func (e Env) location() *time.Location {
	if e.Location == nil {
		return time.Local
	}
	return e.Location
}

// maxCooldown bounds the cooldown: a typo like "24d" for "24h" applies at
// once (a longer cooldown is a tightening) and would then take weeks to
// undo.
const maxCooldown = 30 * 24 * time.Hour

// maxDuration bounds every duration so that adding one to a date cannot
// overflow.
const maxDuration = 100 * 365 * 24 * time.Hour

// readTimes takes start and until from the file as decoded into maps,
// where a date without an offset can still be told from one with an
// offset, and reads the former in loc.
func (p *Pact) readTimes(raw map[string]any, w where, loc *time.Location) error {
	tbl, _ := raw["pact"].(map[string]any)
	for _, k := range []struct {
		name string
		dst  *time.Time
	}{{"start", &p.Start}, {"until", &p.Until}} {
		v, ok := tbl[k.name].(time.Time)
		if !ok {
			*k.dst = time.Time{}
			continue
		}
		switch v.Location().String() {
		case "time-local":
			return w.errorf("pact."+k.name, "a time alone is not enough: write the date too, like %s = %s", k.name, example("pact."+k.name))
		case "datetime-local", "date-local":
			v = time.Date(v.Year(), v.Month(), v.Day(), v.Hour(), v.Minute(), v.Second(), v.Nanosecond(), loc)
		}
		*k.dst = v
	}
	return nil
}

// validatePeriod checks start, length, until, cooldown and strict.
func (p *Pact) validatePeriod(w where) error {
	if p.Length != "" && !p.Until.IsZero() {
		return w.errorf("pact.until", "write either length or until, not both: length counts from the start, until is the end itself")
	}
	p.LengthDur, p.LengthMonths = 0, 0
	if p.Length != "" {
		sp, err := ParseSpan(p.Length)
		if err != nil {
			return w.err("pact.length", err)
		}
		if sp.IsZero() {
			return w.errorf("pact.length", "%q is no time at all: write how long the pact lasts, like length = \"30d\"", p.Length)
		}
		p.LengthDur, p.LengthMonths = sp.Dur, sp.Months
	}
	if !p.Until.IsZero() && !p.Start.IsZero() && !p.Until.After(p.Start) {
		return w.errorf("pact.until", "the end %s is not after the start %s", p.Until.Format(time.RFC3339), p.Start.Format(time.RFC3339))
	}
	d, err := ParseDuration(p.Cooldown)
	if err != nil {
		return w.err("pact.cooldown", err)
	}
	if d > maxCooldown {
		return w.errorf("pact.cooldown", "%q is longer than 30 days, and a longer cooldown applies at once: write at most \"30d\" (did you mean \"24h\"?)", p.Cooldown)
	}
	p.CooldownDur = d
	return nil
}

// weekdays maps the day names of [[quiet_hours]] days to time.Weekday.
var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

// AllDays is the DayMask of every day of the week.
const AllDays uint8 = 1<<7 - 1

func (c *Config) validateQuietHours(cat *catalog.Catalog, w where) error {
	c.QuietHours = nonNil(c.QuietHours)
	return validateWindows(c.QuietHours, "quiet_hours", 0, cat, w, c.Pact.Covered, c.Pact.Domains)
}

// validateWindows checks the windows of list, tables named table in the
// file, the first of them the table's first-th; a window without block
// blocks defPlatforms and defDomains.
func validateWindows(list []QuietHours, table string, first int, cat *catalog.Catalog, w where, defPlatforms, defDomains []string) error {
	for n := range list {
		q := &list[n]
		at := func(key string, entry int, format string, args ...any) error {
			return &fileError{file: w.file, line: w.tableLine(table, first+n, key, entry), key: table + "." + key, err: fmt.Errorf(format, args...)}
		}
		if q.Days == nil {
			q.DayMask = AllDays
		} else {
			if len(q.Days) == 0 {
				return at("days", -1, `the list is empty, so this window would never start: list days, like days = ["fri", "sat"], or leave days out for every day`)
			}
			q.DayMask = 0
			for i, d := range q.Days {
				wd, ok := weekdays[strings.ToLower(strings.TrimSpace(d))]
				if !ok {
					return at("days", i, `%q is not a day: write mon, tue, wed, thu, fri, sat or sun`, d)
				}
				q.DayMask |= 1 << wd
			}
		}
		var err error
		if q.From == "" {
			return at("from", -1, `missing: write when the window starts, like from = "22:00"`)
		}
		if q.FromMinute, err = parseClock(q.From); err != nil {
			return at("from", -1, "%v", err)
		}
		if q.To == "" {
			return at("to", -1, `missing: write when the window ends, like to = "07:00"`)
		}
		if q.ToMinute, err = parseClock(q.To); err != nil {
			return at("to", -1, "%v", err)
		}
		if q.FromMinute == q.ToMinute {
			return at("to", -1, `the window starts and ends at %s: for a whole day write from = "00:00" and to = "23:59"`, q.From)
		}
		q.Domains = []string{}
		if q.Block == nil {
			q.Platforms = append([]string{}, defPlatforms...)
			q.Domains = append(q.Domains, defDomains...)
			continue
		}
		if len(q.Block) == 0 {
			return at("block", -1, `the list is empty, so this window blocks nothing: list platforms, like block = ["whatsapp"], or leave block out to use the pact's list`)
		}
		for i, b := range q.Block {
			if _, err := cat.Expand(b); err != nil {
				return &fileError{file: w.file, line: w.tableLine(table, first+n, "block", i), key: table + ".block", err: err}
			}
		}
		ids, err := cat.Resolve(q.Block)
		if err != nil {
			return at("block", -1, "%w", err)
		}
		q.Platforms = nonNil(ids)
	}
	return nil
}

// parseClock reads "HH:MM" into minutes after midnight.
func parseClock(s string) (int, error) {
	t := strings.TrimSpace(s)
	h, m, ok := strings.Cut(t, ":")
	hh, err1 := atoiDigits(h)
	mm, err2 := atoiDigits(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || len(h) == 0 || len(h) > 2 || hh > 23 || mm > 59 {
		if t == "24:00" {
			return 0, fmt.Errorf(`%q: write "00:00" for midnight`, s)
		}
		return 0, fmt.Errorf(`%q: want a time of day on the 24-hour clock, like "22:00" or "07:30"`, s)
	}
	return hh*60 + mm, nil
}

func atoiDigits(s string) (int, error) {
	if s == "" || len(s) > 2 {
		return 0, errors.New("not a number")
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errors.New("not a number")
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

func (d *Daemon) validate(w where) error {
	if d.StateDir != "" && !filepath.IsAbs(d.StateDir) {
		return w.errorf("daemon.state_dir", "%q is not a full path: write one that starts at the top, like state_dir = %s", d.StateDir, example("daemon.state_dir"))
	}
	if s := d.ControlSocket; s != "" && !filepath.IsAbs(s) && !strings.HasPrefix(s, `\\.\pipe\`) {
		return w.errorf("daemon.control_socket", "%q is not a full path: write one that starts at the top, like control_socket = %s", s, example("daemon.control_socket"))
	}
	return nil
}

func (d *Daemon) fillDefault(env Env) {
	d.Written = nil
	if d.StateDir != "" {
		d.Written = append(d.Written, "state_dir")
	}
	if d.ControlSocket != "" {
		d.Written = append(d.Written, "control_socket")
	}
	if d.StateDir == "" {
		if env.StateDir != nil {
			d.StateDir = env.StateDir()
		} else {
			d.StateDir = DefaultStateDir()
		}
	}
	if d.ControlSocket == "" {
		d.ControlSocket = controlSocketFor(runtime.GOOS, privileged(), os.Getenv, d.StateDir)
	}
}

// controlSocketFor is the default [daemon] control_socket for a system:
// the system's place for a privileged process, else one in the user's
// runtime or state directory, so a trial run needs no rights and two
// users' daemons do not meet.
func controlSocketFor(goos string, privileged bool, getenv func(string) string, stateDir string) string {
	switch goos {
	case "windows":
		if privileged {
			return `\\.\pipe\nocontact`
		}
		return `\\.\pipe\nocontact-` + getenv("USERNAME")
	case "darwin":
		if privileged {
			return "/var/run/nocontact.sock"
		}
		return filepath.Join(stateDir, "nocontact.sock")
	}
	if privileged {
		return "/run/nocontact.sock"
	}
	if x := getenv("XDG_RUNTIME_DIR"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "nocontact.sock")
	}
	return filepath.Join(stateDir, "nocontact.sock")
}

// DefaultStateDir is the state directory when the file names none: the
// system's for a privileged process (root, or an elevated Administrator),
// else the user's own, so that a trial run needs no rights.
func DefaultStateDir() string {
	home, _ := os.UserHomeDir()
	return stateDirFor(runtime.GOOS, privileged(), os.Getenv, home)
}

// stateDirFor is DefaultStateDir for a given system, kept apart so that a
// test can ask for every system.
func stateDirFor(goos string, privileged bool, getenv func(string) string, home string) string {
	const name = "nocontact"
	switch goos {
	case "windows":
		v, sub := "ProgramData", `C:\ProgramData`
		if !privileged {
			v, sub = "LOCALAPPDATA", home+`\AppData\Local`
		}
		if p := getenv(v); p != "" {
			sub = p
		}
		return strings.TrimRight(sub, `\`) + `\` + name
	case "darwin":
		if privileged {
			return "/Library/Application Support/" + name
		}
		if home == "" {
			return filepath.Join(os.TempDir(), name)
		}
		return filepath.Join(home, "Library", "Application Support", name)
	}
	if privileged {
		return "/var/lib/" + name
	}
	if x := getenv("XDG_STATE_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, name)
	}
	if home == "" {
		return filepath.Join(os.TempDir(), name)
	}
	return filepath.Join(home, ".local", "state", name)
}

// tableLine is the line of entry i (-1: the key itself) of key in the n-th
// [[table]] of the file, or of that table's header when the table does not
// set the key (a missing key), or 0 when not known. The definitions of a
// key are counted per table, since a table may leave a key out.
func (w where) tableLine(table string, n int, key string, entry int) int {
	tables := w.lines[table]
	if n < 0 || n >= len(tables) {
		return 0
	}
	start, end := tables[n].line, int(^uint(0)>>1)
	if n+1 < len(tables) {
		end = tables[n+1].line
	}
	for def, d := range w.lines[table+"."+key] {
		if d.line >= start && d.line < end {
			return w.lines.entryLine(table+"."+key, def, entry)
		}
	}
	return start
}
