package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestScanKeyLines(t *testing.T) {
	tests := []struct {
		name string
		text string
		want map[string]int // key → line of its first definition
	}{
		{"tables and keys",
			"# top\n[pact]\nblock = [\"all\"]\n\n[dns]\n  listen = []  # trailing\n",
			map[string]int{"pact": 2, "pact.block": 3, "dns": 5, "dns.listen": 6}},
		{"dotted and quoted keys",
			"a . b = 1\n\"c d\".'e' = 2\n[\"x.y\"]\nz = 3\n\"\\u0041\\t\" = 4\n",
			map[string]int{"a": 1, "a.b": 1, `"c d"`: 2, `"c d".e`: 2, `"x.y"`: 3, `"x.y".z`: 4, `"x.y"."A\t"`: 5}},
		{"things that look like keys inside values",
			"a = \"\"\"\nb = 1\n[c]\n\"\"\"\nd = '''\n[e]\n'''\nf = [\n  \"g = 1\", # h = 2\n  [1, 2],\n]\ni = 1\n",
			map[string]int{"a": 1, "d": 5, "f": 8, "i": 12}},
		{"multi-line string ending in quotes",
			"a = \"\"\"x\"\"\"\"\"\nb = '''y''''\nc = \"\\\"\"\nd = 1\n",
			map[string]int{"a": 1, "b": 2, "c": 3, "d": 4}},
		{"inline tables",
			"t = { a = 1, b = { c = [ { d = 2 } ] } }\nu = 3\n",
			map[string]int{"t": 1, "t.a": 1, "t.b": 1, "t.b.c": 1, "t.b.c.d": 1, "u": 2}},
		{"dates hold spaces",
			"a = 1979-05-27 07:32:00Z\nb = 2\n",
			map[string]int{"a": 1, "b": 2}},
		{"crlf and a byte-order mark",
			"\xef\xbb\xbfa = 1\r\n[t]\r\nb = 2\r\n",
			map[string]int{"a": 1, "t": 2, "t.b": 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var raw map[string]any
			if _, err := toml.Decode(tt.text, &raw); err != nil {
				t.Fatalf("the test document is not valid TOML: %v", err)
			}
			kl := scanKeyLines(tt.text)
			for k, want := range tt.want {
				if got := kl.line(k); got != want {
					t.Errorf("line of %s: want %d, got %d", k, want, got)
				}
			}
			if extra := slices.DeleteFunc(keysOf(kl), func(k string) bool { _, ok := tt.want[k]; return ok }); len(extra) > 0 {
				t.Errorf("keys found that are not in the document: %q", extra)
			}
		})
	}
}

func keysOf(kl keyLines) []string {
	var out []string
	for k := range kl {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestScanKeyLinesEntries(t *testing.T) {
	const text = "[[q]]\nl = [\n  \"a\",\n\n  # note\n  \"b\", \"c\"\n]\n[[q]]\nl = [\"d\",\n\"e\"]\n"
	kl := scanKeyLines(text)
	tests := []struct {
		def, entry, want int
	}{
		{0, -1, 2}, {0, 0, 3}, {0, 1, 6}, {0, 2, 6}, {0, 3, 2},
		{1, -1, 9}, {1, 0, 9}, {1, 1, 10},
		{2, 0, 2}, // no third table: the first definition
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("def %d entry %d", tt.def, tt.entry), func(t *testing.T) {
			if got := kl.entryLine("q.l", tt.def, tt.entry); got != tt.want {
				t.Errorf("entryLine: want %d, got %d", tt.want, got)
			}
		})
	}
	if got := kl.line("missing"); got != 0 {
		t.Errorf("line of a missing key: want 0, got %d", got)
	}
}

// checkKeyLines checks scanKeyLines against the decoder: every key the
// decoder reports is found, as often as the decoder reports it, on a line
// that holds its last part.
func checkKeyLines(t *testing.T, text string) {
	var raw map[string]any
	md, err := toml.Decode(text, &raw)
	if err != nil {
		return
	}
	kl := scanKeyLines(text)
	lines := strings.Split(text, "\n")
	seen := map[string]int{}
	for _, k := range md.Keys() {
		ks := k.String()
		seen[ks]++
		defs := kl[ks]
		if len(defs) < seen[ks] {
			t.Errorf("key %s: the decoder has %d definitions, the scan %d", ks, seen[ks], len(defs))
			continue
		}
		line := defs[seen[ks]-1].line
		last := k[len(k)-1]
		if line < 1 || line > len(lines) {
			t.Errorf("key %s: line %d is outside the text", ks, line)
			continue
		}
		// A quoted key may be written with escapes; a bare one is there as
		// it is.
		if l := lines[line-1]; !strings.ContainsAny(l, `"'`) && !strings.Contains(l, last) {
			t.Errorf("key %s: line %d is %q", ks, line, lines[line-1])
		}
	}
}

func TestScanKeyLinesMatchesDecoder(t *testing.T) {
	for _, text := range []string{
		"[a]\nb = 1\n[[c]]\nd = 2\n[[c]]\nd = 3\n[a.e]\nf = [{g = 1}, {g = 2}]\n",
		"x = {y = {z = 1}}\n[w]\nv.u = 'q'\n",
		"a.b = 1\n[a]\nc = 2\n",
	} {
		checkKeyLines(t, text)
	}
}

func FuzzKeyLines(f *testing.F) {
	f.Add("[a]\nb = 1\n[[c]]\nd = 2\n[[c]]\nd = 3\n")
	f.Add("a = \"\"\"\n[b]\n\"\"\"\nc = ['''x''', {d.e = 1}]\n")
	f.Add("\"k\\u0041\" = 1979-05-27 07:32:00Z # c\n")
	f.Fuzz(func(t *testing.T, text string) {
		scanKeyLines(text) // must return on any text
		checkKeyLines(t, text)
	})
}
