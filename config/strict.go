package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"github.com/nocontact/nocontact/dnsfilter/catalog"
)

// fileError is a problem at a place in the file: "nocontact.toml:7:
// dns.listen: …". The line is left out when it is not known.
type fileError struct {
	file string
	line int
	key  string // "pact.block"; empty when the message names the key itself
	err  error
}

func (e *fileError) Error() string {
	var b strings.Builder
	b.WriteString(e.file)
	if e.line > 0 {
		fmt.Fprintf(&b, ":%d", e.line)
	}
	b.WriteString(": ")
	if e.key != "" {
		b.WriteString(e.key)
		b.WriteString(": ")
	}
	b.WriteString(e.err.Error())
	return b.String()
}

func (e *fileError) Unwrap() error { return e.err }

// where makes errors that point into one file.
type where struct {
	file  string
	lines keyLines // nil when there is no file, as for Default
}

// err places err at key.
func (w where) err(key string, err error) error {
	return &fileError{file: w.file, line: w.lines.line(key), key: key, err: err}
}

func (w where) errorf(key, format string, args ...any) error {
	return w.err(key, fmt.Errorf(format, args...))
}

// entryErr places err at entry i of the list under key.
func (w where) entryErr(key string, i int, err error) error {
	return &fileError{file: w.file, line: w.lines.entryLine(key, 0, i), key: key, err: err}
}

func (w where) entryErrorf(key string, i int, format string, args ...any) error {
	return w.entryErr(key, i, fmt.Errorf(format, args...))
}

// syntaxError turns an error from the TOML decoder on text into one line
// that names the file and the line and, for the usual mistakes, says what to
// fix.
func syntaxError(file, text string, err error) error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", file, err)
	}
	line := syntaxLine(text, pe.Position)
	if key := keyOnLine(text, line); key != "" {
		// The decoder names the key it last finished, which is the one
		// before when the mistake follows a value (length = 30d).
		pe.LastKey = key
	}
	return &fileError{file: file, line: line, err: &tomlError{pe: pe}}
}

// keyOnLine returns the key defined on line n of text, with its table
// ("pact.length"), or "" when the line defines none that can be told.
func keyOnLine(text string, n int) string {
	lines := strings.Split(text[bomLen(text):], "\n")
	if n < 1 || n > len(lines) {
		return ""
	}
	k, _, ok := strings.Cut(lines[n-1], "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" || strings.ContainsAny(k, "[]\"'# ") {
		return ""
	}
	table := ""
	for i := n - 2; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if strings.HasPrefix(l, "[") {
			table = strings.Trim(l, "[] ")
			if j := strings.IndexByte(table, '#'); j >= 0 {
				table = strings.Trim(table[:j], "[] ")
			}
			break
		}
	}
	if table == "" || strings.Contains(k, ".") {
		return k
	}
	return table + "." + k
}

// syntaxLine finds the line of a syntax error from its byte offset. The
// decoder's own line is one too far when the error is at the end of a line
// ("[pact" then a newline says line 2) or after a byte-order mark, while
// the offset is right; it counts from after the mark.
func syntaxLine(text string, p toml.Position) int {
	text = text[bomLen(text):]
	if p.Start <= 0 || p.Start > len(text) {
		return p.Line
	}
	return 1 + strings.Count(text[:p.Start], "\n")
}

// tomlError is a toml.ParseError told in a sentence.
type tomlError struct{ pe toml.ParseError }

func (e *tomlError) Unwrap() error { return e.pe }

func (e *tomlError) Error() string {
	msg := strings.TrimSuffix(e.pe.Message, ".")
	if r, n := utf8.DecodeRuneInString(msg); n > 0 && unicode.IsUpper(r) {
		if r2, _ := utf8.DecodeRuneInString(msg[n:]); !unicode.IsUpper(r2) {
			msg = string(unicode.ToLower(r)) + msg[n:]
		}
	}
	if hint := syntaxHint(e.pe); hint != "" {
		return "not valid TOML: " + msg + ": " + hint
	}
	return "not valid TOML: " + msg
}

// syntaxHint says how to fix the usual TOML mistakes, going by the
// decoder's message, with an example for the key it was reading.
func syntaxHint(pe toml.ParseError) string {
	has := func(s string) bool { return strings.Contains(pe.Message, s) }
	like := `, like "instagram"`
	ex := example(pe.LastKey)
	name := pe.LastKey
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	if ex != "" {
		like = ", like " + name + " = " + ex
	}
	if (ex == "true" || ex == "false") && has("expected value but found") {
		return "write true or false, like " + name + " = true, without quotes"
	}
	switch {
	case has("has already been defined"):
		return "a key or table may appear only once: keep one"
	case has("expected value but found '\\n'"):
		return "write a value after '='" + like
	case has(`'"""'`), has(`"'''"`):
		return "close the text with three quotes"
	case has("unexpected EOF"):
		return "the file ends in the middle of a value: close every quote, '[' and '{'"
	case has("expected value but found"), has("nvalid float"), has("Invalid integer"), has("expected a digit"), has("invalid datetime"), has("expected a top-level item to end"):
		return "put text in double quotes" + like
	case has("comma (',') or array terminator"), has("unexpected comma"):
		return `separate the entries of a list with commas and close it with ']', like ["instagram", "tiktok"]`
	case has("strings cannot contain newlines"):
		return "close the quotes on the same line"
	case has("expected '.' or '='"):
		return `write a key, '=' and a value, like block = ["all"]`
	case has("table name"):
		return "close the table name with ']', like [pact]"
	case has("NULL bytes"):
		return "save the file as UTF-8 text"
	}
	return ""
}

// configType is the type the schema of the file is read from.
var configType = reflect.TypeFor[Config]()

// A section is a table of the file, read from the tags of a struct field of
// Config, so that adding a key to a struct adds it to the file.
type section struct {
	name  string
	list  bool           // [[name]]: a slice of structs, the table may repeat
	keys  []string       // in declaration order
	types []reflect.Type // the Go type of each key
}

func (s section) keyType(k string) (reflect.Type, bool) {
	i := slices.Index(s.keys, k)
	if i < 0 {
		return nil, false
	}
	return s.types[i], true
}

func (s section) header() string {
	if s.list {
		return "[[" + s.name + "]]"
	}
	return "[" + s.name + "]"
}

// schema lists the sections of a file decoded into t: each field of t with a
// toml tag is a table, each tagged field of that table a key. Fields tagged
// "-" are derived and not part of the file.
func schema(t reflect.Type) []section {
	var secs []section
	for f := range t.Fields() {
		name := tagName(f)
		if name == "" {
			continue
		}
		st := f.Type
		s := section{name: name}
		if st.Kind() == reflect.Slice {
			s.list, st = true, st.Elem()
		}
		if st.Kind() != reflect.Struct {
			continue
		}
		for kf := range st.Fields() {
			if k := tagName(kf); k != "" {
				s.keys = append(s.keys, k)
				s.types = append(s.types, kf.Type)
			}
		}
		secs = append(secs, s)
	}
	return secs
}

func tagName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	return name
}

// checkKeys makes the decoding strict: every key of the file must be in the
// schema of t, and every value of the type its field wants. md and raw come
// from decoding the file into a map[string]any.
func checkKeys(md toml.MetaData, raw map[string]any, w where, t reflect.Type) error {
	secs := schema(t)
	find := func(name string) *section {
		for i := range secs {
			if secs[i].name == name {
				return &secs[i]
			}
		}
		return nil
	}
	// Unknown keys first, in the order of the file.
	for _, k := range md.Keys() {
		s := find(k[0])
		if s == nil {
			return unknownTopLevel(md, k, secs, w)
		}
		if len(k) > 1 {
			kt, ok := s.keyType(k[1])
			if !ok {
				return unknownKey(k, s, secs, w)
			}
			// A table inside a table, like [[phase.quiet_hours]]: its
			// keys are checked against its own struct.
			if inner, ok := nestedSection(s.name+"."+k[1], kt); ok && len(k) > 2 {
				if _, ok := inner.keyType(k[2]); !ok {
					return &fileError{file: w.file, line: w.lines.line(k.String()), err: fmt.Errorf("unknown key %q: %sthe keys of %s are %s",
						k.String(), didYouMean(k[2], inner.keys), inner.header(), strings.Join(inner.keys, ", "))}
				}
			}
		}
	}
	// Then the types, section by section.
	seen := map[string]int{}
	for _, s := range secs {
		v, ok := raw[s.name]
		if !ok {
			continue
		}
		tables, ok := sectionTables(v, s.list)
		if !ok {
			how := "write " + s.header() + " on a line of its own, with its keys below it"
			return w.errorf(s.name, "want a table: %s", how)
		}
		for i, tbl := range tables {
			for j, k := range s.keys {
				v, ok := tbl[k]
				if !ok {
					continue
				}
				key := s.name + "." + k
				if inner, ok := nestedSection(key, s.types[j]); ok {
					if err := checkNested(inner, v, w, seen); err != nil {
						return err
					}
					continue
				}
				if msg, entry := typeProblem(s.types[j], k, v, example(key)); msg != "" {
					line := w.lines.entryLine(key, i, entry)
					if s.list {
						// A table may leave the key out: count per table.
						line = w.tableLine(s.name, i, k, entry)
					}
					return &fileError{file: w.file, line: line, key: key, err: errors.New(msg)}
				}
			}
		}
	}
	return nil
}

// nestedSection describes the key name of Go type t as a section of its
// own when it holds tables ([[phase.quiet_hours]]), or reports false.
func nestedSection(name string, t reflect.Type) (section, bool) {
	s := section{name: name}
	if t.Kind() == reflect.Slice {
		s.list, t = true, t.Elem()
	}
	if t.Kind() != reflect.Struct || t == timeType {
		return section{}, false
	}
	for kf := range t.Fields() {
		if k := tagName(kf); k != "" {
			s.keys = append(s.keys, k)
			s.types = append(s.types, kf.Type)
		}
	}
	return s, true
}

// checkNested checks the types of the keys of a nested section's tables,
// v as decoded into any. seen counts the tables of each nested section
// checked so far, so that a problem is placed in its own table: the n-th
// [[phase.quiet_hours]] of the file, across phases.
func checkNested(s section, v any, w where, seen map[string]int) error {
	tables, ok := sectionTables(v, s.list)
	if !ok {
		return w.errorf(s.name, "want a table: write %s on a line of its own, with its keys below it", s.header())
	}
	for _, tbl := range tables {
		n := seen[s.name]
		seen[s.name] = n + 1
		for j, k := range s.keys {
			v, ok := tbl[k]
			if !ok {
				continue
			}
			key := s.name + "." + k
			if msg, entry := typeProblem(s.types[j], k, v, example(key)); msg != "" {
				return &fileError{file: w.file, line: w.tableLine(s.name, n, k, entry), key: key, err: errors.New(msg)}
			}
		}
	}
	return nil
}

// sectionTables gives the tables of a section as decoded into any: one for
// [name], one per [[name]].
func sectionTables(v any, list bool) ([]map[string]any, bool) {
	if !list {
		m, ok := v.(map[string]any)
		return []map[string]any{m}, ok
	}
	switch v := v.(type) {
	case []map[string]any:
		return v, true
	case []any:
		out := make([]map[string]any, 0, len(v))
		for _, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, false
			}
			out = append(out, m)
		}
		return out, true
	}
	return nil, false
}

func unknownTopLevel(md toml.MetaData, k toml.Key, secs []section, w where) error {
	var names []string
	for _, s := range secs {
		names = append(names, s.header())
	}
	tables := strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
	line := w.lines.line(k.String())
	typ := md.Type(k...)
	if len(k) > 1 || typ == "Hash" || typ == "ArrayHash" {
		top := toml.Key{k[0]}
		for _, s := range secs {
			if strings.EqualFold(s.name, k[0]) {
				return &fileError{file: w.file, line: line, err: fmt.Errorf("unknown table %s: write it in lower case, %s", fmtTable(top, typ), s.header())}
			}
		}
		var names []string
		for _, s := range secs {
			names = append(names, s.name)
		}
		hint := ""
		if n := catalog.Nearest(k[0], names); n != "" {
			for _, s := range secs {
				if s.name == n {
					hint = "did you mean " + s.header() + "? "
				}
			}
		}
		return &fileError{file: w.file, line: line, err: fmt.Errorf("unknown table %s: %sthe tables are %s", fmtTable(top, typ), hint, tables)}
	}
	for _, s := range secs {
		if _, ok := s.keyType(k[0]); ok {
			return &fileError{file: w.file, line: line, err: fmt.Errorf("unknown key %q outside any table: put it under %s", k.String(), s.header())}
		}
	}
	return &fileError{file: w.file, line: line, err: fmt.Errorf("unknown key %q: the file has the tables %s, and no keys outside them", k.String(), tables)}
}

func fmtTable(k toml.Key, typ string) string {
	if typ == "ArrayHash" {
		return "[[" + k.String() + "]]"
	}
	return "[" + k.String() + "]"
}

func unknownKey(k toml.Key, s *section, secs []section, w where) error {
	line := w.lines.line(k.String())
	name := toml.Key(k[:2]).String()
	for _, known := range s.keys {
		if strings.EqualFold(known, k[1]) {
			return &fileError{file: w.file, line: line, err: fmt.Errorf("unknown key %q: write it in lower case, %s", name, known)}
		}
	}
	for _, other := range secs {
		if _, ok := other.keyType(k[1]); ok && other.name != s.name {
			return &fileError{file: w.file, line: line, err: fmt.Errorf("unknown key %q: %s belongs in %s", name, k[1], other.header())}
		}
	}
	return &fileError{file: w.file, line: line, err: fmt.Errorf("unknown key %q: %sthe keys of %s are %s", name, didYouMean(k[1], s.keys), s.header(), strings.Join(s.keys, ", "))}
}

// didYouMean is "did you mean block? " when one of names is near word,
// else "".
func didYouMean(word string, names []string) string {
	if n := catalog.Nearest(word, names); n != "" {
		return "did you mean " + n + "? "
	}
	return ""
}

// example is a value for each key, shown when the file gives one of the
// wrong type. A new key adds a line here; a test checks none is missing.
func example(key string) string {
	switch key {
	case "pact.block":
		return `["instagram"]`
	case "pact.domains":
		return `["example.com"]`
	case "pact.allow":
		return `["help.instagram.com"]`
	case "dns.listen":
		return `["127.0.0.1:53"]`
	case "dns.upstreams":
		return `["system"]`
	case "dns.lan_clients":
		return `["192.168.1.0/24"]`
	case "dns.tls_listen":
		return `["192.168.1.20:853"]`
	case "dns.https_listen":
		return `["192.168.1.20:443"]`
	case "pact.start":
		return "2026-11-22T21:00:00"
	case "pact.length":
		return `"30d"`
	case "pact.until":
		return "2026-12-22T21:00:00"
	case "pact.cooldown":
		return `"24h"`
	case "pact.strict":
		return "false"
	case "quiet_hours.days":
		return `["fri", "sat"]`
	case "quiet_hours.from":
		return `"22:00"`
	case "quiet_hours.to":
		return `"07:00"`
	case "quiet_hours.block":
		return `["whatsapp", "instagram"]`
	case "daemon.control_socket":
		return `"/run/nocontact.sock"`
	case "daemon.state_dir":
		return `"/var/lib/nocontact"`
	case "dns.bootstrap":
		return `["9.9.9.9"]`
	case "dns.lan_rate_limit":
		return `100`
	case "dns.cache_size":
		return `10000`
	case "dns.min_ttl":
		return `"0s"`
	case "dns.max_ttl":
		return `"24h"`
	case "hosts_file.enabled":
		return "true"
	case "firewall.enabled":
		return "true"
	case "pact.keep_open", "phase.keep_open":
		return `["whatsapp"]`
	case "pact.reason":
		return `"I deserve peace"`
	case "pact.trial", "pact.confirm_after_cooldown":
		return "true"
	case "phase.length":
		return `"60d"`
	case "phase.until":
		return "2027-02-20T21:00:00"
	case "phase.block":
		return `["all"]`
	case "phase.domains":
		return `["example.com"]`
	case "phase.quiet_hours":
		return "a [[phase.quiet_hours]] table"
	case "phase.quiet_hours.days":
		return example("quiet_hours.days")
	case "phase.quiet_hours.from":
		return example("quiet_hours.from")
	case "phase.quiet_hours.to":
		return example("quiet_hours.to")
	case "phase.quiet_hours.block":
		return example("quiet_hours.block")
	case "clock.witnesses":
		return `["https://www.google.com/", "https://www.wikipedia.org/"]`
	}
	return ""
}

// typeProblem says what is wrong when the TOML value v cannot be decoded
// into a key of Go type t, and at which entry of a list (-1 for the whole
// value). It returns "" when v fits. Types it does not know are left to
// the decoder.
func typeProblem(t reflect.Type, k string, v any, example string) (string, int) {
	like := ""
	if example != "" {
		like = ", like " + k + " = " + example
	}
	switch {
	case t == timeType:
		if _, ok := v.(time.Time); ok {
			return "", -1
		}
		if s, ok := v.(string); ok {
			return fmt.Sprintf("write the date without quotes, like %s = %s (got %q)", k, example, s), -1
		}
		return fmt.Sprintf("want a date and time without quotes%s", like), -1
	case reflect.PointerTo(t).Implements(textUnmarshaler) || t.Kind() == reflect.String:
		if _, ok := v.(string); ok {
			return "", -1
		}
		if n, ok := v.(int64); ok && (k == "length" || k == "cooldown") {
			return fmt.Sprintf("want a length in quotes, with its unit: write %s = \"%dd\" for %d days, or \"%dh\" for %d hours", k, n, n, n, n), -1
		}
		if n, ok := v.(int64); ok && strings.HasSuffix(k, "_ttl") {
			return fmt.Sprintf("want a length in quotes, with its unit: write %s = \"%ds\" for %d seconds", k, n, n), -1
		}
		if isScalar(v) {
			return fmt.Sprintf("want text in quotes: write %s = %q", k, fmt.Sprint(v)), -1
		}
		return fmt.Sprintf("want text in quotes%s", like), -1
	case t.Kind() == reflect.Bool:
		if _, ok := v.(bool); ok {
			return "", -1
		}
		if s, ok := v.(string); ok && (s == "true" || s == "false") {
			return fmt.Sprintf("write %s = %s, without quotes", k, s), -1
		}
		return fmt.Sprintf("want true or false%s", like), -1
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		if _, ok := v.(int64); ok {
			return "", -1
		}
		return fmt.Sprintf("want a whole number%s", like), -1
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		list, ok := v.([]any)
		if !ok {
			if s, ok := v.(string); ok {
				return fmt.Sprintf("want a list in brackets: write %s = [%q]", k, s), -1
			}
			return fmt.Sprintf("want a list in brackets%s", like), -1
		}
		for i, e := range list {
			if _, ok := e.(string); ok {
				continue
			}
			if isScalar(e) {
				return fmt.Sprintf("entry %d is %s without quotes: write %q", i+1, describe(e), fmt.Sprint(e)), i
			}
			return fmt.Sprintf("entry %d is %s, but each entry must be text in quotes%s", i+1, describe(e), like), i
		}
	}
	return "", -1
}

var (
	textUnmarshaler = reflect.TypeFor[interface{ UnmarshalText([]byte) error }]()
	timeType        = reflect.TypeFor[time.Time]()
)

func isScalar(v any) bool {
	switch v.(type) {
	case string, bool, int64, float64:
		return true
	}
	return false
}

// describe names a decoded TOML value's kind in plain words.
func describe(v any) string {
	switch v := v.(type) {
	case string:
		return "text"
	case bool:
		return fmt.Sprintf("%t", v)
	case int64, float64:
		return fmt.Sprintf("the number %v", v)
	case time.Time:
		return "a date"
	case []any, []map[string]any:
		return "a list"
	case map[string]any:
		return "a table"
	}
	return "a value"
}
