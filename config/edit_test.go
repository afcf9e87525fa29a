package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestExtend(t *testing.T) {
	cat := newCatalog(t)
	env := Env{Location: time.UTC, StateDir: func() string { return "/state" }}
	for _, tt := range []struct {
		name, text string
		by         Span
		want       string // a line of the result
	}{
		{"length", "# notes\n[pact]\nlength = \"30d\"   # a month, roughly\nblock = [\"all\"]\n", Span{Dur: 14 * 24 * time.Hour}, "length = \"44d\"  # a month, roughly\n"},
		{"months", "[pact]\nlength = \"3mo\"\n", Span{Dur: 7 * 24 * time.Hour}, "length = \"3mo7d\"\n"},
		{"until", "[pact]\nuntil = 2026-12-22T21:00:00Z\n", Span{Months: 1}, "until = 2027-01-22T21:00:00Z\n"},
		{"last phase", "[pact]\nlength = \"30d\"\n[[phase]]\nlength = \"60d\"\nkeep_open = [\"whatsapp\"]\n[[phase]]\nlength = \"2w\"\nblock = []\n",
			Span{Dur: 7 * 24 * time.Hour}, "[[phase]]\nlength = \"21d\"\nblock = []\n"},
		{"dotted key", "pact.length = \"30d\"\n", Span{Dur: 24 * time.Hour}, "pact.length = \"31d\"\n"},
		{"crlf", "[pact]\r\nlength = \"30d\"\r\n", Span{Dur: 24 * time.Hour}, "length = \"31d\"\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Extend([]byte(tt.text), "f.toml", tt.by, cat, env)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("got\n%s\nwant it to hold\n%s", out, tt.want)
			}
			if strings.Count(string(out), "\n") != strings.Count(tt.text, "\n") {
				t.Errorf("lines added or lost:\n%s", out)
			}
		})
	}
	for _, tt := range []struct{ name, text, want string }{
		{"no end", "[pact]\nblock = [\"all\"]\n", ErrNoEnd.Error()},
		{"inline table", "pact = { length = \"30d\" }\n", "could not be changed in place"},
		{"a mistake", "[pact]\nlength = \"1m\"\n", "did you mean"},
	} {
		_, err := Extend([]byte(tt.text), "f.toml", Span{Dur: 24 * time.Hour}, cat, env)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error with %q", tt.name, err, tt.want)
		}
		if tt.name == "no end" && !errors.Is(err, ErrNoEnd) {
			t.Errorf("no end: %v does not wrap ErrNoEnd", err)
		}
	}
}

func TestReplacePact(t *testing.T) {
	old := "# top notes\n\n[pact] # the pact\nblock = [\"ig\"]\n\"quoted\" = \"[not a table]\"\n\n[[quiet_hours]]\nfrom = \"01:00\"\n\n[dns]\n# kept\nlisten = [\"127.0.0.1:53\"]\n" +
		"[[phase]]\nblock = []\n[[phase.quiet_hours]]\nfrom = \"1:00\"\n[daemon]\nstate_dir = \"/x\"\n"
	got := string(ReplacePact([]byte(old), "[pact]\nblock = [\"all\"]\n"))
	want := "# top notes\n\n[pact]\nblock = [\"all\"]\n\n[dns]\n# kept\nlisten = [\"127.0.0.1:53\"]\n[daemon]\nstate_dir = \"/x\"\n"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	if got := string(ReplacePact(nil, "[pact]\n")); got != "[pact]\n\n" {
		t.Errorf("from nothing: %q", got)
	}
}

func TestQuote(t *testing.T) {
	for _, s := range []string{`I said "no".`, "back\\slash", "tab\there", "line\nbreak", "é ü 💔", "\x01"} {
		c, err := parse(t, "[pact]\nreason = "+Quote(s)+"\n")
		if err != nil {
			t.Fatalf("%q quoted as %s: %v", s, Quote(s), err)
		}
		if c.Pact.Reason != strings.TrimSpace(s) {
			t.Errorf("%q read back as %q", s, c.Pact.Reason)
		}
	}
}
