package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// threePhases is the plan of the issue: 30 days of everything, then 60
// days with WhatsApp open and quiet hours, then quiet hours only.
const threePhases = `[pact]
block = ["all"]
length = "30d"
reason = "  I deserve peace.  "

[[phase]]
length = "60d"
keep_open = ["whatsapp"]

  [[phase.quiet_hours]]
  from = "22:00"
  to = "07:00"

[[phase]]
block = []
domains = []

  [[phase.quiet_hours]]
  days = ["fri", "sat"]
  from = "23:00"
  to = "06:00"
  block = ["messaging"]
`

func TestPhases(t *testing.T) {
	c, err := parse(t, threePhases)
	if err != nil {
		t.Fatal(err)
	}
	if c.Pact.Reason != "I deserve peace." || !c.Pact.ConfirmAfterCooldown || c.Pact.Trial {
		t.Errorf("reason %q, confirm %v, trial %v", c.Pact.Reason, c.Pact.ConfirmAfterCooldown, c.Pact.Trial)
	}
	if len(c.Phases) != 2 {
		t.Fatalf("phases: %+v", c.Phases)
	}
	p2, p3 := c.Phases[0], c.Phases[1]
	if p2.LengthDur != 60*24*time.Hour || !slices.Equal(p2.Platforms, []string{"instagram", "tinder"}) || !slices.Equal(p2.KeptOpen, []string{"whatsapp"}) {
		t.Errorf("phase 2: %+v", p2)
	}
	// Quiet hours in a phase close its whole block list, the kept-open
	// channel included.
	if q := p2.QuietHours; len(q) != 1 || !slices.Equal(q[0].Platforms, []string{"instagram", "whatsapp", "tinder"}) || q[0].FromMinute != 22*60 {
		t.Errorf("phase 2 quiet hours: %+v", q)
	}
	if len(p3.Platforms) != 0 || len(p3.KeptOpen) != 0 || p3.Length != "" {
		t.Errorf("phase 3: %+v", p3)
	}
	if q := p3.QuietHours; len(q) != 1 || !slices.Equal(q[0].Platforms, []string{"whatsapp"}) || q[0].DayMask != 1<<time.Friday|1<<time.Saturday {
		t.Errorf("phase 3 quiet hours: %+v", q)
	}
}

func TestKeepOpenGroup(t *testing.T) {
	// Issue 19: keep_open takes group names too.
	c, err := parse(t, "[pact]\nblock = [\"all\", \"video\"]\nkeep_open = [\"messaging\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Pact.Platforms, []string{"instagram", "tinder", "youtube"}) || !slices.Equal(c.Pact.KeptOpen, []string{"whatsapp"}) {
		t.Errorf("platforms %q, kept open %q", c.Pact.Platforms, c.Pact.KeptOpen)
	}
	// Top-level quiet hours without block close the kept-open channel too.
	c, err = parse(t, "[pact]\nblock = [\"all\"]\nkeep_open = [\"whatsapp\"]\n[[quiet_hours]]\nfrom = \"22:00\"\nto = \"07:00\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(c.QuietHours[0].Platforms, "whatsapp") {
		t.Errorf("quiet hours %q leave the kept-open channel out", c.QuietHours[0].Platforms)
	}
}

func TestPhaseErrors(t *testing.T) {
	for _, tt := range []struct{ name, text, want string }{
		{"first phase without end", "[pact]\n[[phase]]\nlength = \"1d\"\n",
			"nocontact.toml: pact.length: the first phase of a plan (this [pact] table) needs an end"},
		{"middle phase without end", "[pact]\nlength = \"30d\"\n[[phase]]\nkeep_open = [\"whatsapp\"]\n[[phase]]\nblock = []\n",
			"nocontact.toml:3: phase.length: phase 2 has no end, so the phases after it would never begin"},
		{"both", "[pact]\nlength = \"30d\"\n[[phase]]\nlength = \"1d\"\nuntil = 2027-01-01T00:00:00Z\n",
			"nocontact.toml:5: phase.until: write either length or until, not both"},
		{"m in a phase", "[pact]\nlength = \"30d\"\n[[phase]]\n\nlength = \"2m\"\n",
			`nocontact.toml:5: phase.length: "2m": did you mean 2 months ("2mo") or 2 minutes ("2min")?`},
		{"until before the one before", "[pact]\nuntil = 2027-01-01T00:00:00Z\n[[phase]]\nuntil = 2026-12-01T00:00:00Z\n",
			"nocontact.toml:4: phase.until: the end 2026-12-01T00:00:00Z is not after the end of the phase before it"},
		{"strict last phase open", "[pact]\nstrict = true\nlength = \"30d\"\n[[phase]]\nkeep_open = [\"whatsapp\"]\n",
			"nocontact.toml:4: pact.strict: a strict pact cannot be loosened before it ends, so its last phase must have an end"},
		{"keep_open of a phase", "[pact]\nlength = \"30d\"\nblock = [\"instagram\"]\n[[phase]]\nkeep_open = [\"tinder\"]\n",
			`nocontact.toml:5: phase.keep_open: "tinder" is not in the block list`},
		{"quiet hours of a second phase", "[pact]\nlength = \"30d\"\n[[phase]]\nlength = \"1d\"\n[[phase.quiet_hours]]\nfrom = \"22:00\"\nto = \"07:00\"\n[[phase]]\n[[phase.quiet_hours]]\nfrom = \"22:00\"\nto = \"10pm\"\n",
			`nocontact.toml:11: phase.quiet_hours.to: "10pm": want a time of day`},
		{"wrong type in phase quiet hours", "[pact]\nlength = \"30d\"\n[[phase]]\n[[phase.quiet_hours]]\nfrom = \"22:00\"\nto = \"07:00\"\n[[phase.quiet_hours]]\nfrom = 22\n",
			`nocontact.toml:8: phase.quiet_hours.from: want text in quotes: write from = "22"`},
		{"reason too long", "[pact]\nreason = \"" + strings.Repeat("a", 1001) + "\"\n",
			"nocontact.toml:2: pact.reason: 1001 characters is more than the 1000 a reason may have"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, tt.text)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("want an error starting\n\t%q\ngot\n\t%v", tt.want, err)
			}
		})
	}
}
