package config

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// AddToDNS returns the settings text with entries added to the [dns] list
// key (like "listen" or "lan_clients"), everything else (comments,
// order, spacing) as it was: the entries go first in the list when the
// key is there, on a line of their own under [dns] when it is not, and in
// a new [dns] table at the end when there is none. A file that writes the
// list in a way this does not follow (an inline table, a key split over
// dotted tables) is an error that says what to write by hand. The caller
// parses the result to check it (see Parse).
func AddToDNS(text []byte, key string, entries ...string) ([]byte, error) {
	if len(entries) == 0 {
		return text, nil
	}
	var quoted []string
	for _, e := range entries {
		quoted = append(quoted, strconv.Quote(e))
	}
	byHand := fmt.Errorf("cannot add %s to [dns] %s in this file: add it by hand, like %s = [%s]",
		strings.Join(quoted, ", "), key, key, strings.Join(quoted, ", "))
	lines := scanKeyLines(string(text))
	offsets := lineOffsets(text)
	if n := lines.line("dns." + key); n > 0 {
		line := lineText(text, offsets, n)
		loc := regexp.MustCompile(`^\s*(?:dns\s*\.\s*)?` + regexp.QuoteMeta(key) + `\s*=\s*\[`).FindIndex(line)
		if loc == nil || len(lines["dns."+key]) != 1 {
			return nil, byHand
		}
		at := offsets[n-1] + loc[1]
		add := strings.Join(quoted, ", ")
		if rest := bytes.TrimLeft(text[at:], " \t"); len(rest) == 0 || rest[0] != ']' {
			add += ", "
		}
		return splice(text, at, add), nil
	}
	newLine := key + " = [" + strings.Join(quoted, ", ") + "]\n"
	if n := lines.line("dns"); n > 0 {
		line := lineText(text, offsets, n)
		if !regexp.MustCompile(`^\s*\[\s*dns\s*\]\s*(#.*)?$`).Match(line) {
			return nil, byHand
		}
		next := len(text)
		if n < len(offsets) {
			next = offsets[n]
		}
		if next == len(text) && (len(text) == 0 || text[len(text)-1] != '\n') {
			newLine = "\n" + newLine
		}
		return splice(text, next, newLine), nil
	}
	out := bytes.Clone(text)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, "\n[dns]\n"+newLine...), nil
}

// lineOffsets returns the offset of the start of each line.
func lineOffsets(text []byte) []int {
	offs := []int{0}
	for i, c := range text {
		if c == '\n' && i+1 < len(text) {
			offs = append(offs, i+1)
		}
	}
	return offs
}

// lineText returns line n (from 1), without its line break.
func lineText(text []byte, offsets []int, n int) []byte {
	if n < 1 || n > len(offsets) {
		return nil
	}
	line := text[offsets[n-1]:]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	return bytes.TrimSuffix(line, []byte("\r"))
}

func splice(text []byte, at int, s string) []byte {
	out := make([]byte, 0, len(text)+len(s))
	out = append(out, text[:at]...)
	out = append(out, s...)
	return append(out, text[at:]...)
}
