package config

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nocontact/nocontact/dnsfilter/catalog"
)

// This file changes a settings file's text for the commands that write
// it (`nocontact start`, `nocontact extend`), keeping everything they do
// not change, notes included. Each result is parsed again before it is
// returned: a change that does not read back as meant is an error, never a
// file written.

// ErrNoEnd is wrapped by Extend when the pact has no end to move: it
// already lasts until it is unlocked.
var ErrNoEnd = errors.New("the pact has no end date: it lasts until it is unlocked")

// pactTables reports whether a table belongs to the pact, which start
// writes anew: [pact], [[quiet_hours]], [[phase]] and the tables inside
// them.
func pactTables(name string) bool {
	for _, t := range []string{"pact", "quiet_hours", "phase"} {
		if name == t || strings.HasPrefix(name, t+".") {
			return true
		}
	}
	return false
}

// ReplacePact returns text with its pact tables ([pact], [[quiet_hours]],
// [[phase]]) taken out and pact (the TOML of new ones) put in their place,
// after the notes at the top of the file; the other tables stay as they
// are written. A table runs from its header to the next header, so notes
// just above a header go with the table before it.
func ReplacePact(text []byte, pact string) []byte {
	src := string(text)
	lines := strings.SplitAfter(src, "\n")
	hs := scanHeaders(src)
	var b strings.Builder
	first := len(lines)
	if len(hs) > 0 {
		first = hs[0].line - 1
	}
	for _, l := range lines[:first] {
		b.WriteString(l)
	}
	if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
		b.WriteString("\n")
	}
	b.WriteString(strings.TrimRight(pact, "\n") + "\n\n")
	for k, h := range hs {
		if pactTables(h.name) {
			continue
		}
		end := len(lines)
		if k+1 < len(hs) {
			end = hs[k+1].line - 1
		}
		for _, l := range lines[h.line-1 : end] {
			b.WriteString(l)
		}
	}
	return []byte(b.String())
}

// Extend returns text with the pact's end moved by: the length (or
// until) of its last phase, the [pact] table or the last [[phase]],
// written anew in place. name names the file in errors. The pact must
// have an end (ErrNoEnd otherwise).
func Extend(text []byte, name string, by Span, cat *catalog.Catalog, env Env) ([]byte, error) {
	c, err := ParseEnv(bytes.NewReader(text), name, cat, env)
	if err != nil {
		return nil, err
	}
	if by.IsZero() {
		return nil, errors.New("extending by no time at all changes nothing: give a length, like 2w")
	}
	table, n := "pact", 0
	length, until := c.Pact.Length, c.Pact.Until
	if k := len(c.Phases); k > 0 {
		table, n = "phase", k-1
		length, until = c.Phases[k-1].Length, c.Phases[k-1].Until
	}
	key, value := "length", ""
	switch {
	case length != "":
		old, err := ParseSpan(length)
		if err != nil {
			return nil, err
		}
		value = Quote(old.Plus(by).String())
	case !until.IsZero():
		key = "until"
		value = by.After(until, env.location()).Format(time.RFC3339)
	default:
		return nil, ErrNoEnd
	}
	lines := scanKeyLines(string(text))
	w := where{file: name, lines: lines}
	line := lines.line(table + "." + key)
	if table == "phase" {
		line = w.tableLine("phase", n, key, -1)
	}
	out, ok := setValue(string(text), line, key, value)
	if !ok {
		return nil, fmt.Errorf("%s:%d: the %s of your pact could not be changed in place (is it written on one line, as %s = ...?): change it by hand", name, line, key, key)
	}
	// It must read back as the same settings with a later end.
	back, err := ParseEnv(strings.NewReader(out), name, cat, env)
	if err != nil {
		return nil, fmt.Errorf("%s: the changed file does not read back (%v): change the %s by hand", name, err, key)
	}
	if !sameButEnd(c, back) {
		return nil, fmt.Errorf("%s: the changed file reads back differently: change the %s by hand", name, key)
	}
	return []byte(out), nil
}

// sameButEnd reports whether b says what a says, but for the length or
// until of its last phase.
func sameButEnd(a, b *Config) bool {
	strip := func(c *Config) string {
		p := c.Pact
		if len(c.Phases) == 0 {
			p.Length, p.Until, p.LengthDur, p.LengthMonths = "", time.Time{}, 0, 0
		}
		phases := fmt.Sprintf("%+v", c.Phases)
		if k := len(c.Phases); k > 0 {
			last := c.Phases[k-1]
			last.Length, last.Until, last.LengthDur, last.LengthMonths = "", time.Time{}, 0, 0
			phases = fmt.Sprintf("%+v|%+v", c.Phases[:k-1], last)
		}
		return fmt.Sprintf("%+v|%s|%+v|%+v|%+v", p, phases, c.QuietHours, c.DNS, c.Daemon)
	}
	return strip(a) == strip(b)
}

// setValue replaces the value of key on line n (from 1) of text, keeping
// how the key is written, its indent and a note after the value. It
// reports false when the line does not define key on one line.
func setValue(text string, n int, key, value string) (string, bool) {
	lines := strings.SplitAfter(text, "\n")
	if n < 1 || n > len(lines) {
		return "", false
	}
	l := lines[n-1]
	eol := l[len(strings.TrimRight(l, "\r\n")):]
	l = strings.TrimRight(l, "\r\n")
	k, v, ok := strings.Cut(l, "=")
	if !ok || !strings.HasSuffix(strings.TrimSpace(k), key) {
		return "", false
	}
	v = strings.TrimLeft(v, " \t")
	rest := ""
	switch {
	case strings.HasPrefix(v, `"`):
		end := strings.IndexByte(v[1:], '"')
		if end < 0 {
			return "", false
		}
		rest = v[end+2:]
	default:
		if i := strings.IndexByte(v, '#'); i >= 0 {
			rest = v[i:]
		}
	}
	rest = strings.TrimSpace(rest)
	if rest != "" && !strings.HasPrefix(rest, "#") {
		return "", false // more on the line than a value and a note
	}
	nl := strings.TrimRight(k, " \t") + " = " + value
	if rest != "" {
		nl += "  " + rest
	}
	lines[n-1] = nl + eol
	return strings.Join(lines, ""), true
}

// Quote writes s as a TOML basic string.
func Quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
