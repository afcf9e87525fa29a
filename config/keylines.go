package config

import (
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// The toml package knows the line of every key, but keeps it in an
// unexported field of MetaData and shows it only in its own error messages.
// To put the line in our errors too, scanKeyLines reads the document again
// with just enough TOML to follow tables, keys, strings, arrays and inline
// tables. It runs only on text the decoder has accepted; on anything else it
// still returns (never panics or loops) but may miss keys, and a missing key
// only drops the line from a message.

// keyLines maps each key of a document, as toml.Key.String writes it
// ("pact.block", `dns."a b"`), to its definitions: one for most keys, one
// per table for the keys of an array of tables.
type keyLines map[string][]keyDef

// keyDef is where a key is defined.
type keyDef struct {
	line    int
	entries []int // the line of each entry when the value is an array
}

// line is the line of key's first definition, or 0 when not known.
func (kl keyLines) line(key string) int {
	if defs := kl[key]; len(defs) > 0 {
		return defs[0].line
	}
	return 0
}

// entryLine is the line of entry i of the array at definition def of key,
// falling back to the line of the definition, then of the first one. A
// negative i asks for the definition itself.
func (kl keyLines) entryLine(key string, def, i int) int {
	defs := kl[key]
	if def < 0 || def >= len(defs) {
		return kl.line(key)
	}
	d := defs[def]
	if i >= 0 && i < len(d.entries) {
		return d.entries[i]
	}
	return d.line
}

func scanKeyLines(src string) keyLines {
	s := &keyScanner{src: src, lines: keyLines{}}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			s.newlines = append(s.newlines, i)
		}
	}
	s.pos = bomLen(src) // it holds no newline, so lines stay right
	s.document()
	return s.lines
}

// bomLen is the length of the byte-order mark at the start of src, which the
// decoder skips (UTF-16 ones too, though it then wants UTF-8).
func bomLen(src string) int {
	for _, bom := range []string{"\xef\xbb\xbf", "\xff\xfe", "\xfe\xff"} {
		if strings.HasPrefix(src, bom) {
			return len(bom)
		}
	}
	return 0
}

type keyScanner struct {
	src      string
	pos      int
	newlines []int // offsets of '\n', to turn an offset into a line
	lines    keyLines
	headers  []tableHeader
}

// tableHeader is a [table] or [[table]] line of a document.
type tableHeader struct {
	line int    // 1-based
	name string // "pact", "phase.quiet_hours"
}

// scanHeaders returns the table header lines of src, in order.
func scanHeaders(src string) []tableHeader {
	s := &keyScanner{src: src, lines: keyLines{}}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			s.newlines = append(s.newlines, i)
		}
	}
	s.pos = bomLen(src)
	s.document()
	return s.headers
}

func (s *keyScanner) eof() bool { return s.pos >= len(s.src) }

func (s *keyScanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.src[s.pos]
}

func (s *keyScanner) lineAt(off int) int {
	n, _ := slices.BinarySearch(s.newlines, off)
	return n + 1
}

// define records a definition of path at offset off and returns the key and
// the index of the definition. The tables a dotted key opens implicitly get a
// definition too, unless they have one.
func (s *keyScanner) define(path []string, off int) (string, int) {
	line := s.lineAt(off)
	for i := 1; i < len(path); i++ {
		k := toml.Key(path[:i]).String()
		if len(s.lines[k]) == 0 {
			s.lines[k] = []keyDef{{line: line}}
		}
	}
	k := toml.Key(path).String()
	s.lines[k] = append(s.lines[k], keyDef{line: line})
	return k, len(s.lines[k]) - 1
}

func (s *keyScanner) document() {
	var table []string
	for {
		s.skipBlank(true)
		if s.eof() {
			return
		}
		start := s.pos
		if s.peek() == '[' {
			s.pos++
			if s.peek() == '[' {
				s.pos++
			}
			table = s.key()
			if len(table) > 0 {
				s.define(table, start)
				s.headers = append(s.headers, tableHeader{line: s.lineAt(start), name: toml.Key(table).String()})
			}
			s.skipLine()
		} else {
			k := s.key()
			if len(k) == 0 {
				s.skipLine()
				continue
			}
			path := append(slices.Clip(table), k...)
			s.skipBlank(false)
			if s.peek() == '=' {
				s.pos++
			}
			key, def := s.define(path, start)
			s.value(path, key, def)
		}
		if s.pos == start {
			s.pos++
		}
	}
}

// key reads a key, dotted or not, with its parts unquoted; nil when there
// is none here.
func (s *keyScanner) key() []string {
	var parts []string
	for {
		s.skipBlank(false)
		var part string
		switch c := s.peek(); c {
		case '"', '\'':
			s.pos++
			part = s.quoted(c)
		default:
			start := s.pos
			for !s.eof() && isBareKeyChar(s.peek()) {
				s.pos++
			}
			if s.pos == start {
				return parts
			}
			part = s.src[start:s.pos]
		}
		parts = append(parts, part)
		s.skipBlank(false)
		if s.peek() != '.' {
			return parts
		}
		s.pos++
	}
}

func isBareKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// value skips the value of path. key and def name its definition, whose
// entry lines are recorded when the value is an array; def is -1 for values
// inside arrays.
func (s *keyScanner) value(path []string, key string, def int) {
	s.skipBlank(false)
	rest := s.src[s.pos:]
	switch {
	case strings.HasPrefix(rest, `"""`), strings.HasPrefix(rest, `'''`):
		s.pos += 3
		s.multiline(rest[0])
	case strings.HasPrefix(rest, `"`), strings.HasPrefix(rest, `'`):
		s.pos++
		s.quoted(rest[0])
	case strings.HasPrefix(rest, "["):
		s.array(path, key, def)
	case strings.HasPrefix(rest, "{"):
		s.inlineTable(path)
	default:
		// Numbers, booleans and dates; a date may hold a space.
		for !s.eof() && !strings.ContainsRune(",]}#\r\n", rune(s.peek())) {
			s.pos++
		}
	}
}

func (s *keyScanner) array(path []string, key string, def int) {
	s.pos++ // [
	for {
		s.skipBlank(true)
		switch s.peek() {
		case 0:
			if s.eof() {
				return
			}
		case ']':
			s.pos++
			return
		case ',':
			s.pos++
			continue
		}
		start := s.pos
		if def >= 0 {
			d := &s.lines[key][def]
			d.entries = append(d.entries, s.lineAt(start))
		}
		s.value(path, key, -1)
		if s.pos == start {
			s.pos++
		}
	}
}

func (s *keyScanner) inlineTable(path []string) {
	s.pos++ // {
	for {
		s.skipBlank(true)
		switch s.peek() {
		case 0:
			if s.eof() {
				return
			}
		case '}':
			s.pos++
			return
		case ',':
			s.pos++
			continue
		}
		start := s.pos
		k := s.key()
		if len(k) == 0 {
			s.pos++
			continue
		}
		inner := append(slices.Clip(path), k...)
		s.skipBlank(false)
		if s.peek() == '=' {
			s.pos++
		}
		key, def := s.define(inner, start)
		s.value(inner, key, def)
	}
}

// quoted reads a one-line string after its opening quote q and returns its
// text, with the escapes of basic strings undone.
func (s *keyScanner) quoted(q byte) string {
	var b strings.Builder
	for !s.eof() {
		c := s.peek()
		switch {
		case c == q:
			s.pos++
			return b.String()
		case c == '\n':
			return b.String()
		case c == '\\' && q == '"':
			s.escape(&b)
		default:
			b.WriteByte(c)
			s.pos++
		}
	}
	return b.String()
}

// escape undoes one escape of a basic string, at the backslash.
func (s *keyScanner) escape(b *strings.Builder) {
	s.pos++ // \
	if s.eof() {
		return
	}
	c := s.peek()
	s.pos++
	digits := 0
	switch c {
	case 'b':
		b.WriteByte('\b')
		return
	case 't':
		b.WriteByte('\t')
		return
	case 'n':
		b.WriteByte('\n')
		return
	case 'f':
		b.WriteByte('\f')
		return
	case 'r':
		b.WriteByte('\r')
		return
	case 'e':
		b.WriteByte(0x1b)
		return
	case '"', '\\':
		b.WriteByte(c)
		return
	case 'x':
		digits = 2
	case 'u':
		digits = 4
	case 'U':
		digits = 8
	}
	if digits == 0 || s.pos+digits > len(s.src) {
		b.WriteByte('\\')
		b.WriteByte(c)
		return
	}
	n, err := strconv.ParseUint(s.src[s.pos:s.pos+digits], 16, 32)
	if err != nil {
		b.WriteByte('\\')
		b.WriteByte(c)
		return
	}
	s.pos += digits
	b.WriteRune(rune(n))
}

// multiline skips a multi-line string after its opening triple quote q.
// The closing triple quote may have one or two more quotes before it, which
// belong to the text.
func (s *keyScanner) multiline(q byte) {
	delim := strings.Repeat(string(q), 3)
	for !s.eof() {
		if strings.HasPrefix(s.src[s.pos:], delim) {
			s.pos += 3
			for i := 0; i < 2 && s.peek() == q; i++ {
				s.pos++
			}
			return
		}
		if q == '"' && s.peek() == '\\' {
			s.pos++
		}
		s.pos++
	}
}

// skipBlank skips spaces, tabs and comments, and newlines when newlines is
// set.
func (s *keyScanner) skipBlank(newlines bool) {
	for !s.eof() {
		switch c := s.peek(); {
		case c == ' ' || c == '\t':
			s.pos++
		case c == '#':
			for !s.eof() && s.peek() != '\n' {
				s.pos++
			}
		case (c == '\n' || c == '\r') && newlines:
			s.pos++
		default:
			return
		}
	}
}

// skipLine moves past the end of the line.
func (s *keyScanner) skipLine() {
	for !s.eof() && s.peek() != '\n' {
		s.pos++
	}
	if !s.eof() {
		s.pos++
	}
}
