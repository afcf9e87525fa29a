package config

import (
	"strings"
	"testing"
	"time"
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
		{"1h30m", 90 * time.Minute, ""},
		{"0s", 0, ""},
		{"3d1w", 10 * day, ""},
		{"", 0, "is empty"},
		{"5x", 0, `want a number and a unit among s, m, h, d and w`},
		{"24", 0, "the number 24 has no unit"},
		{"h", 0, "want a number and a unit"},
		{"1.5h", 0, "want a number and a unit"},
		{"-3d", 0, "want a number and a unit"},
		{"3 d", 0, "want a number and a unit"},
		{"24H", 0, "want a number and a unit"},
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

// FuzzDuration checks that ParseDuration never panics, never returns a
// negative or over-long duration, and agrees with itself on a re-written
// form of what it accepted.
func FuzzDuration(f *testing.F) {
	for _, s := range []string{"48h", "2w", "1w3d", "90d", "5x", "", "1.5h", "999999999999w"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			if !strings.Contains(err.Error(), "s, m, h, d and w") {
				t.Errorf("error does not say the rule: %v", err)
			}
			return
		}
		if d < 0 || d > maxDuration {
			t.Errorf("%q gives %v", s, d)
		}
		again, err := ParseDuration(strings.TrimSpace(s) + "0s")
		if err != nil || again != d {
			t.Errorf("%q+0s gives %v (%v), want %v", s, again, err, d)
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
		{"bad length", "[pact]\n\nlength = \"a month\"\n", `f.toml:3: pact.length: "a month": want a number and a unit among s, m, h, d and w`, nil},
		{"zero length", "[pact]\nlength = \"0d\"\n", `f.toml:2: pact.length: "0d" is no time at all`, nil},
		{"bad cooldown", "[pact]\ncooldown = \"5x\"\n", `f.toml:2: pact.cooldown: "5x": want a number and a unit`, nil},
		{"huge cooldown", "[pact]\ncooldown = \"31d\"\n", `f.toml:2: pact.cooldown: "31d" is longer than 30 days`, nil},
		{"strict open-ended", "[pact]\nstrict = true\n", "f.toml:2: pact.strict: a strict pact cannot be loosened before it ends, so it must have an end", nil},
		{"until before start", "[pact]\nstart = 2026-11-22T21:00:00Z\nuntil = 2026-11-01T21:00:00Z\n", "f.toml:3: pact.until: the end 2026-11-01T21:00:00Z is not after the start", nil},
		{"quoted date", "[pact]\nstart = \"2026-11-22\"\n", "f.toml:2: pact.start: write the date without quotes, like start = 2026-11-22T21:00:00", nil},
		{"time alone", "[pact]\nstart = 21:00:00\n", "f.toml:2: pact.start: a time alone is not enough", nil},
		{"length a number", "[pact]\nlength = 30\n", `f.toml:2: pact.length: want text in quotes: write length = "30"`, nil},
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
