package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // America/New_York, on machines without a zone database
)

func TestParseDuration(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		in   string
		want time.Duration
		err  string // a part of the error; "" for none
	}{
		{"48h", 48 * time.Hour, ""},
		{"2w", 14 * day, ""},
		{"1w3d", 10 * day, ""},
		{"90d", 90 * day, ""},
		{" 4s ", 4 * time.Second, ""},
		{"1h30min", 90 * time.Minute, ""},
		{"0s", 0, ""},
		{"3d1w", 10 * day, ""},
		{"3 d", 3 * day, ""},
		{"24H", 24 * time.Hour, ""},
		{"30 days", 30 * day, ""},
		{"1 day", day, ""},
		{"2 weeks", 14 * day, ""},
		{"1 week and 3 days", 10 * day, ""},
		{"1 week, 3 days", 10 * day, ""},
		{"12 hours", 12 * time.Hour, ""},
		{"90 minutes", 90 * time.Minute, ""},
		{"", 0, "is empty"},
		{"5x", 0, `"x" is not a unit: want a number and a unit, like "48h", "2w", "30d" or "3mo"`},
		{"24", 0, `the number 24 has no unit: write "24d" for 24 days or "24h" for 24 hours`},
		{"1m", 0, `"1m": did you mean 1 month ("1mo") or 1 minute ("1min")?`},
		{"30m", 0, `did you mean 30 months ("30mo") or 30 minutes ("30min")?`},
		{"1h30m", 0, `did you mean 30 months`},
		{"1y", 0, `write years as months, like "12mo"`},
		{"1mo", 0, `months are not allowed here, since they are not all the same length: write days, like "30d"`},
		{"h", 0, "want a number and a unit"},
		{"1.5h", 0, "want a number and a unit"},
		{"-3d", 0, "want a number and a unit"},
		{"36500d", 36500 * day, ""},
		{"36501d", 0, "longer than 100 years"},
		{"99999999999999999999s", 0, "longer than 100 years"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if tt.err == "" {
				if err != nil || got != tt.want {
					t.Errorf("want %v, got %v (%v)", tt.want, got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("want an error containing %q, got %v, %v", tt.err, got, err)
			}
		})
	}
}

// TestMonths checks calendar months: a month from the 31st is the last
// day of the next month, and "3mo" from 31 January ends on 30 April.
func TestMonths(t *testing.T) {
	ny := newYorkZone(t)
	for _, tt := range []struct {
		in    string
		from  time.Time
		want  time.Time
		words string
	}{
		{"3mo", time.Date(2027, 1, 31, 20, 47, 0, 0, ny), time.Date(2027, 4, 30, 20, 47, 0, 0, ny), "3 months"},
		{"1 month", time.Date(2027, 1, 31, 9, 0, 0, 0, ny), time.Date(2027, 2, 28, 9, 0, 0, 0, ny), "1 month"},
		{"1mo", time.Date(2028, 1, 31, 9, 0, 0, 0, ny), time.Date(2028, 2, 29, 9, 0, 0, 0, ny), "1 month"},
		{"2 months", time.Date(2026, 11, 22, 21, 0, 0, 0, ny), time.Date(2027, 1, 22, 21, 0, 0, 0, ny), "2 months"},
		{"12mo", time.Date(2026, 3, 8, 12, 0, 0, 0, ny), time.Date(2027, 3, 8, 12, 0, 0, 0, ny), "12 months"},
		{"1mo2w", time.Date(2026, 12, 1, 8, 0, 0, 0, ny), time.Date(2027, 1, 15, 8, 0, 0, 0, ny), "1 month 2 weeks"},
		{"30d", time.Date(2026, 12, 1, 8, 0, 0, 0, ny), time.Date(2026, 12, 31, 8, 0, 0, 0, ny), "30 days"},
	} {
		sp, err := ParseSpan(tt.in)
		if err != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		if got := sp.After(tt.from, ny); !got.Equal(tt.want) {
			t.Errorf("%q after %v: got %v, want %v", tt.in, tt.from, got, tt.want)
		}
		if got := sp.Words(); got != tt.words {
			t.Errorf("%q in words: %q, want %q", tt.in, got, tt.words)
		}
		back, err := ParseSpan(sp.String())
		if err != nil || back != sp {
			t.Errorf("%q written back as %q reads %+v (%v), want %+v", tt.in, sp.String(), back, err, sp)
		}
	}
	// A month counts on the local calendar: 1 a.m. on 31 January in New
	// York is already 1 February in UTC, and still ends on 28 February.
	from := time.Date(2027, 1, 31, 1, 0, 0, 0, ny).UTC()
	if got, want := (Span{Months: 1}).After(from, ny), time.Date(2027, 2, 28, 1, 0, 0, 0, ny); !got.Equal(want) {
		t.Errorf("a month after %v in New York: %v, want %v", from, got, want)
	}
}

func TestDurationWords(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                          "no time",
		24 * time.Hour:             "1 day",
		48 * time.Hour:             "2 days",
		36 * time.Hour:             "1 day 12 hours",
		7 * 24 * time.Hour:         "1 week",
		14 * 24 * time.Hour:        "2 weeks",
		30 * 24 * time.Hour:        "30 days",
		10 * 24 * time.Hour:        "10 days",
		90 * time.Minute:           "1 hour 30 minutes",
		4 * time.Second:            "4 seconds",
		time.Hour + 4*time.Second:  "1 hour 4 seconds",
		90 * 24 * time.Hour:        "90 days",
		24*time.Hour + time.Minute: "1 day 1 minute",
	} {
		if got := DurationWords(d); got != want {
			t.Errorf("DurationWords(%v) = %q, want %q", d, got, want)
		}
	}
}

func newYorkZone(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatalf("time zone America/New_York: %v (the test binary embeds time/tzdata, so every zone should load)", err)
	}
	return loc
}

// FuzzDuration checks that ParseSpan never panics, never returns a
// negative or over-long length, that every error starts with what was
// written, and that what it accepted reads back the same from its own
// writing and with "0s" added.
func FuzzDuration(f *testing.F) {
	for _, s := range []string{"48h", "2w", "1w3d", "90d", "5x", "", "1.5h", "999999999999w", "3mo", "1 month 2 weeks", "1m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := ParseSpan(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("%q", s)) {
				t.Errorf("error does not start with what was written: %v", err)
			}
			return
		}
		if sp.Dur < 0 || sp.Dur > maxDuration || sp.Months < 0 || sp.Months > maxMonths {
			t.Errorf("%q gives %+v", s, sp)
		}
		again, err := ParseSpan(strings.TrimSpace(s) + "0s")
		if err != nil || again != sp {
			t.Errorf("%q+0s gives %+v (%v), want %+v", s, again, err, sp)
		}
		back, err := ParseSpan(sp.String())
		if err != nil || back != sp {
			t.Errorf("%q written back as %q gives %+v (%v)", s, sp.String(), back, err)
		}
	})
}

func TestPeriodAndQuietHours(t *testing.T) {
	ny := time.FixedZone("test-zone", -5*3600)
	env := Env{Location: ny, StateDir: func() string { return "/state" }}
	tests := []struct {
		name  string
		text  string
		err   string // the whole first part of the error; "" for none
		check func(c *Config) string
	}{
		{"local start", "[pact]\nstart = 2026-11-22T21:00:00\nlength = \"30d\"\n", "", func(c *Config) string {
			if want := time.Date(2026, 11, 22, 21, 0, 0, 0, ny); !c.Pact.Start.Equal(want) || c.Pact.LengthDur != 30*24*time.Hour {
				return "start " + c.Pact.Start.String() + ", want " + want.String()
			}
			return ""
		}},
		{"local date", "[pact]\nuntil = 2026-12-22\n", "", func(c *Config) string {
			if want := time.Date(2026, 12, 22, 0, 0, 0, 0, ny); !c.Pact.Until.Equal(want) {
				return "until " + c.Pact.Until.String()
			}
			return ""
		}},
		{"default state dir from env", "", "", func(c *Config) string {
			if c.Daemon.StateDir != "/state" {
				return "state dir " + c.Daemon.StateDir
			}
			return ""
		}},
		{"strict with until", "[pact]\nstrict = true\nuntil = 2027-01-01T00:00:00Z\n", "", nil},
		{"both", "[pact]\nlength = \"30d\"\nuntil = 2026-12-22T21:00:00Z\n", "f.toml:3: pact.until: write either length or until, not both", nil},
		{"bad length", "[pact]\n\nlength = \"a month\"\n", `f.toml:3: pact.length: "a month": want a number and a unit, like "48h"`, nil},
		{"zero length", "[pact]\nlength = \"0d\"\n", `f.toml:2: pact.length: "0d" is no time at all`, nil},
		{"bad cooldown", "[pact]\ncooldown = \"5x\"\n", `f.toml:2: pact.cooldown: "5x": "x" is not a unit: want a number and a unit`, nil},
		{"huge cooldown", "[pact]\ncooldown = \"31d\"\n", `f.toml:2: pact.cooldown: "31d" is longer than 30 days`, nil},
		{"strict open-ended", "[pact]\nstrict = true\n", "f.toml:2: pact.strict: a strict pact cannot be loosened before it ends, so it must have an end", nil},
		{"until before start", "[pact]\nstart = 2026-11-22T21:00:00Z\nuntil = 2026-11-01T21:00:00Z\n", "f.toml:3: pact.until: the end 2026-11-01T21:00:00Z is not after the start", nil},
		{"quoted date", "[pact]\nstart = \"2026-11-22\"\n", "f.toml:2: pact.start: write the date without quotes, like start = 2026-11-22T21:00:00", nil},
		{"time alone", "[pact]\nstart = 21:00:00\n", "f.toml:2: pact.start: a time alone is not enough", nil},
		{"length a number", "[pact]\nlength = 30\n", `f.toml:2: pact.length: want a length in quotes, with its unit: write length = "30d" for 30 days, or "30h" for 30 hours`, nil},
		{"state dir relative", "[daemon]\nstate_dir = \"state\"\n", `f.toml:2: daemon.state_dir: "state" is not a full path`, nil},
		{"quiet bad day in second", "[[quiet_hours]]\nfrom = \"22:00\"\nto = \"07:00\"\n[[quiet_hours]]\nfrom = \"22:00\"\nto = \"07:00\"\ndays = [\n\"fri\",\n\"friyay\",\n]\n",
			`f.toml:9: quiet_hours.days: "friyay" is not a day`, nil},
		{"quiet no days", "[[quiet_hours]]\ndays = []\nfrom = \"22:00\"\nto = \"07:00\"\n", "f.toml:2: quiet_hours.days: the list is empty", nil},
		{"quiet missing from", "[[quiet_hours]]\nto = \"07:00\"\n", "f.toml:1: quiet_hours.from: missing", nil},
		{"quiet missing to", "[[quiet_hours]]\nfrom = \"07:00\"\n", "f.toml:1: quiet_hours.to: missing", nil},
		{"quiet bad time", "[[quiet_hours]]\nfrom = \"10pm\"\nto = \"07:00\"\n", `f.toml:2: quiet_hours.from: "10pm": want a time of day on the 24-hour clock`, nil},
		{"quiet 24:00", "[[quiet_hours]]\nfrom = \"22:00\"\nto = \"24:00\"\n", `f.toml:3: quiet_hours.to: "24:00": write "00:00" for midnight`, nil},
		{"quiet same", "[[quiet_hours]]\nfrom = \"22:00\"\nto = \"22:00\"\n", "f.toml:3: quiet_hours.to: the window starts and ends at 22:00", nil},
		{"quiet empty block", "[[quiet_hours]]\nfrom = \"22:00\"\nto = \"23:00\"\nblock = []\n", "f.toml:4: quiet_hours.block: the list is empty", nil},
		{"quiet unknown platform", "[[quiet_hours]]\nfrom = \"22:00\"\nto = \"23:00\"\nblock = [\"whatsapp\",\n\"myspace\"]\n", `f.toml:5: quiet_hours.block: `, nil},
		{"quiet block all", "[pact]\nblock = [\"ig\"]\n[[quiet_hours]]\nfrom = \"22:00\"\nto = \"23:00\"\nblock = [\"all\"]\n", "", func(c *Config) string {
			if q := c.QuietHours[0]; len(q.Platforms) != 3 || q.DayMask != AllDays || len(q.Domains) != 0 {
				return "want every platform on every day"
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseEnv(strings.NewReader(tt.text), "f.toml", newCatalog(t), env)
			if tt.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("want an error starting %q, got %v", tt.err, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseEnv: %v", err)
			}
			if tt.check != nil {
				if msg := tt.check(c); msg != "" {
					t.Error(msg)
				}
			}
		})
	}
}

func TestStateDirFor(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	none := env(nil)
	tests := []struct {
		goos       string
		privileged bool
		getenv     func(string) string
		want       string
	}{
		{"linux", true, none, "/var/lib/nocontact"},
		{"linux", false, none, "/home/me/.local/state/nocontact"},
		{"linux", false, env(map[string]string{"XDG_STATE_HOME": "/x/state"}), "/x/state/nocontact"},
		{"linux", false, env(map[string]string{"XDG_STATE_HOME": "relative"}), "/home/me/.local/state/nocontact"},
		{"freebsd", true, none, "/var/lib/nocontact"},
		{"darwin", true, none, "/Library/Application Support/nocontact"},
		{"darwin", false, none, "/home/me/Library/Application Support/nocontact"},
		{"windows", true, env(map[string]string{"ProgramData": `D:\ProgramData`}), `D:\ProgramData\nocontact`},
		{"windows", true, none, `C:\ProgramData\nocontact`},
		{"windows", false, env(map[string]string{"LOCALAPPDATA": `C:\Users\me\AppData\Local`}), `C:\Users\me\AppData\Local\nocontact`},
	}
	for _, tt := range tests {
		if got := stateDirFor(tt.goos, tt.privileged, tt.getenv, "/home/me"); got != tt.want {
			t.Errorf("%s privileged=%v: want %q, got %q", tt.goos, tt.privileged, tt.want, got)
		}
	}
}

// TestQuietHoursTypeLine checks that a wrong type in a later [[quiet_hours]]
// is placed in its own table when an earlier one leaves the key out.
func TestQuietHoursTypeLine(t *testing.T) {
	text := "[[quiet_hours]]\nfrom = \"22:00\"\nto = \"07:00\"\n\n[[quiet_hours]]\nfrom = \"22:00\"\nto = \"07:00\"\nblock = \"whatsapp\"\n"
	_, err := parse(t, text)
	if want := `nocontact.toml:8: quiet_hours.block: want a list in brackets: write block = ["whatsapp"]`; err == nil || err.Error() != want {
		t.Errorf("want %q, got %v", want, err)
	}
}

func TestControlSocketDefaults(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tt := range []struct {
		goos       string
		privileged bool
		getenv     func(string) string
		want       string
	}{
		{"linux", true, env(nil), "/run/nocontact.sock"},
		{"linux", false, env(map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000"}), "/run/user/1000/nocontact.sock"},
		{"linux", false, env(map[string]string{"XDG_RUNTIME_DIR": "relative"}), "/home/me/.local/state/nocontact/nocontact.sock"},
		{"linux", false, env(nil), "/home/me/.local/state/nocontact/nocontact.sock"},
		{"darwin", true, env(nil), "/var/run/nocontact.sock"},
		{"darwin", false, env(nil), "/home/me/.local/state/nocontact/nocontact.sock"},
		{"windows", true, env(nil), `\\.\pipe\nocontact`},
		{"windows", false, env(map[string]string{"USERNAME": "sam"}), `\\.\pipe\nocontact-sam`},
	} {
		if got := controlSocketFor(tt.goos, tt.privileged, tt.getenv, "/home/me/.local/state/nocontact"); got != tt.want {
			t.Errorf("%s privileged=%v: got %q, want %q", tt.goos, tt.privileged, got, tt.want)
		}
	}
}
