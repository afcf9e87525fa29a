package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/nocontact/config"
	daemonpkg "github.com/nocontact/nocontact/daemon"
	"github.com/nocontact/nocontact/daemon/attempts"
	"github.com/nocontact/nocontact/daemon/control"
	"github.com/nocontact/nocontact/daemon/pact"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/internal/golden"
)

func ptr[T any](v T) *T { return &v }

var (
	fixedNow = time.Date(2026, 12, 4, 1, 58, 0, 0, time.UTC)
	start    = time.Date(2026, 11, 22, 21, 0, 0, 0, time.UTC)
	end      = start.Add(30 * 24 * time.Hour)
	day      = 24 * time.Hour
)

func builtin(t *testing.T) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

var health = control.Health{
	Listening: []string{"127.0.0.1:53", "[::1]:53"},
	Upstreams: []control.UpstreamHealth{{Addr: "192.0.2.53:53", OK: true}},
}

// pactOf is a pact engine adopting the [pact] (and more) of a settings
// file at start, as the daemon would, in UTC.
func pactOf(t *testing.T, settings string) *pact.Engine {
	t.Helper()
	c, err := config.ParseEnv(strings.NewReader(settings), "test.toml", builtin(t), config.Env{Location: time.UTC, StateDir: func() string { return "/state" }})
	if err != nil {
		t.Fatal(err)
	}
	return pact.Adopt(pact.FromConfig(c), start, time.UTC)
}

// statusAt is what `nocontact status` receives from e at t.
func statusAt(e *pact.Engine, t time.Time) control.Status {
	e.Advance(t)
	st := daemonpkg.PactStatus(e.Status(t))
	st.Health = health
	return st
}

const (
	keptOpenPact = `[pact]
block = ["all"]
keep_open = ["whatsapp"]
length = "30d"
reason = "I deserve peace, and he is not good for me."
`
	threePhasePlan = `[pact]
block = ["all"]
length = "30d"
reason = "I want to heal."

[[phase]]
length = "60d"
keep_open = ["whatsapp"]
  [[phase.quiet_hours]]
  from = "22:00"
  to = "07:00"
  block = ["whatsapp"]

[[phase]]
length = "30d"
block = []
  [[phase.quiet_hours]]
  days = ["fri", "sat"]
  from = "23:00"
  to = "06:00"
  block = ["whatsapp", "instagram"]
`
)

// TestStatusGolden: what `nocontact status` says at the moments that
// matter, from a pact engine's own status wherever one can give it.
func TestStatusGolden(t *testing.T) {
	cat := builtin(t)
	kept := pactOf(t, keptOpenPact)
	plan := pactOf(t, threePhasePlan)
	p2, p3 := start.Add(30*day), start.Add(90*day)
	lastDay := pactOf(t, "[pact]\nblock = [\"all\", \"video\"]\nlength = \"30d\"\ncooldown = \"12h\"\n")
	ended := pactOf(t, "[pact]\nblock = [\"all\"]\nlength = \"48h\"\nreason = \"I need clarity.\"\n[[quiet_hours]]\nfrom = \"23:00\"\nto = \"06:00\"\nblock = [\"whatsapp\"]\n")
	strict := pactOf(t, "[pact]\nblock = [\"all\"]\nlength = \"90d\"\nstrict = true\nreason = \"After what he did, no way back.\"\n")
	strict.Reload(pact.FromConfig(mustParse(t, "[pact]\nblock = [\"all\"]\nkeep_open = [\"instagram\"]\nlength = \"90d\"\nstrict = true\nreason = \"After what he did, no way back.\"\n")), start.Add(3*day))
	confirm := pactOf(t, keptOpenPact)
	if _, _, err := confirm.Unlock(start.Add(10 * day)); err != nil {
		t.Fatal(err)
	}
	early := pactOf(t, keptOpenPact)
	c, _, _ := early.Unlock(start.Add(10 * day))
	early.Advance(c.Effective.Add(time.Hour))
	if _, _, err := early.Unlock(c.Effective.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	trial := pactOf(t, "[pact]\nblock = [\"all\"]\nlength = \"30d\"\ntrial = true\n")
	shorter := pactOf(t, keptOpenPact)
	shorter.Reload(pact.FromConfig(mustParse(t, strings.Replace(keptOpenPact, `block = ["all"]`, `block = ["all", "video"]`, 1)+"[[quiet_hours]]\nfrom = \"22:00\"\nto = \"07:00\"\n")), start.Add(3*day))
	shorter.Reload(pact.FromConfig(mustParse(t, strings.Replace(keptOpenPact, `"whatsapp"`, `"whatsapp", "telegram"`, 1))), start.Add(5*day))

	withAttempts := func(st control.Status) control.Status {
		st.Attempts = map[string]attempts.Count{"instagram": {Today: 14, Week: 30}, "tiktok": {Today: 0, Week: 2}, "x": {Today: 1, Week: 1}}
		return st
	}
	for _, tt := range []struct {
		name string
		st   control.Status
	}{
		{"status-first-day", withAttempts(statusAt(kept, start.Add(2*time.Hour)))},
		{"status-kept-open-changing", statusAt(shorter, start.Add(5*day+time.Hour))},
		{"status-phase-1", statusAt(plan, start.Add(12*day))},
		{"status-phase-2-begins", statusAt(plan, p2)},
		{"status-phase-2-at-night", statusAt(plan, p2.Add(20*day+2*time.Hour))},
		{"status-phase-3", statusAt(plan, p3.Add(5*day))},
		{"status-last-day", statusAt(lastDay, end.Add(-5*time.Hour))},
		{"status-ended", statusAt(ended, start.Add(3*day+2*time.Hour))},
		{"status-ended-early", statusAt(early, c.Effective.Add(2*time.Hour))},
		{"status-strict", statusAt(strict, start.Add(4*day))},
		{"status-confirm-waiting", statusAt(confirm, start.Add(11*day+3*time.Hour))},
		{"status-trial", statusAt(trial, start.Add(2*day))},
		{"status-active", control.Status{
			Now: fixedNow, Blocking: true,
			Pact:    control.Pact{Active: true, Start: start, End: ptr(end), Cooldown: "1d", CooldownSeconds: 86400, ConfirmAfterCooldown: true},
			Blocked: []string{"instagram", "whatsapp", "tiktok"}, Domains: []string{"their-blog.example"},
			Allow: []string{"help.instagram.com"},
			Pending: []control.Pending{{ID: "3", Change: "stop blocking WhatsApp", Effective: fixedNow.Add(23*time.Hour + 12*time.Minute)},
				{ID: "5", Change: "remove nocontact from this computer", Effective: fixedNow.Add(20 * time.Hour)}},
			Uninstall:  control.Uninstall{Requested: true, ID: "5", Effective: ptr(fixedNow.Add(20 * time.Hour))},
			QuietHours: []control.QuietWindow{{Days: []string{"fri", "sat"}, From: "22:00", To: "07:00", Block: []string{"whatsapp", "instagram"}}},
			Attempts:   map[string]attempts.Count{"instagram": {Today: 14, Week: 30}, "tiktok": {Today: 0, Week: 2}, "whatsapp": {Today: 1, Week: 1}},
			Health: control.Health{Listening: []string{"127.0.0.1:53", "[::1]:53"},
				Upstreams: []control.UpstreamHealth{{Addr: "192.0.2.53:53", OK: true}, {Addr: "192.0.2.54:53", OK: false}}},
		}},
		{"status-port-stranger", control.Status{
			Now: fixedNow, Blocking: true,
			Pact:    control.Pact{Active: true, Start: start, End: ptr(start.Add(90 * 24 * time.Hour)), Cooldown: "3d", Strict: true},
			Blocked: []string{"instagram"},
			Refused: []control.Refused{{Change: "stop blocking instagram", Until: start.Add(90 * 24 * time.Hour)}},
			Health: control.Health{Listening: []string{"127.0.0.1:53"}, Reasserts: 2,
				Strangers: []control.Stranger{{Proto: "udp", Addr: "127.0.0.1:53", PID: 4242, Command: "/usr/sbin/unbound -d"}}},
			Record: control.Record{Counts: map[string]int{"port_stranger": 1}},
		}},
		{"status-open-ended", control.Status{
			Now: fixedNow, Blocking: true,
			Pact:    control.Pact{Active: true, Start: start, Cooldown: "1d", CooldownSeconds: 86400},
			Blocked: []string{"x"},
			Health:  health,
		}},
		{"status-no-pact", control.Status{Now: fixedNow, Health: control.Health{Upstreams: []control.UpstreamHealth{{Addr: "192.0.2.53:53"}}}, Uninstall: control.Uninstall{Allowed: true}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			renderStatus(&b, tt.st, time.UTC, cat)
			golden.Check(t, tt.name+".golden", b.Bytes())
		})
	}
}

func mustParse(t *testing.T, text string) *config.Config {
	t.Helper()
	c, err := config.ParseEnv(strings.NewReader(text), "test.toml", builtin(t), config.Env{Location: time.UTC, StateDir: func() string { return "/state" }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPhaseTransitionsGolden: what the log says as a three-phase plan
// goes from one phase to the next, and at its end.
func TestPhaseTransitionsGolden(t *testing.T) {
	plan := pactOf(t, threePhasePlan+"[[quiet_hours]]\nfrom = \"02:00\"\nto = \"05:00\"\nblock = [\"whatsapp\"]\n")
	var b bytes.Buffer
	for _, at := range []time.Time{start.Add(30 * day), start.Add(30*day + time.Minute), start.Add(90 * day), start.Add(120 * day)} {
		res := plan.Advance(at)
		if res.Phase != nil {
			b.WriteString(res.Phase.Words + "\n")
		}
		if !res.Completed.IsZero() {
			b.WriteString("Ended, still on: " + res.StillOn + "\n")
		}
	}
	golden.Check(t, "phase-transitions"+".golden", b.Bytes())
}

func TestUnlockGolden(t *testing.T) {
	cat := builtin(t)
	_ = cat
	var b bytes.Buffer
	sep := func(what string) { b.WriteString("-- " + what + "\n") }

	kept := pactOf(t, keptOpenPact)
	st := statusAt(kept, start.Add(10*day))
	sep("asked for the first time: what it shows before the sentence")
	renderUnlockIntro(&b, st, time.UTC)
	res := control.UnlockResult{Pending: &control.Pending{ID: "4", Change: "end the pact early", Effective: st.Now.Add(day), Confirm: true, Ending: true,
		ConfirmBy: ptr(st.Now.Add(2 * day))}}
	sep("asked for")
	renderUnlock(&b, res, st, time.UTC)
	sep("asked again")
	res.Again = true
	renderUnlock(&b, res, st, time.UTC)

	c, _, _ := kept.Unlock(start.Add(10 * day))
	st = statusAt(kept, c.Effective.Add(3*time.Hour))
	sep("the cooldown has passed: what it shows before the sentence")
	renderUnlockIntro(&b, st, time.UTC)
	sep("confirmed")
	renderUnlock(&b, control.UnlockResult{Pending: &control.Pending{ID: c.ID, Change: c.What, Effective: st.Now}, Ended: true, Confirmed: true}, st, time.UTC)

	noConfirm := pactOf(t, "[pact]\nblock = [\"instagram\"]\nconfirm_after_cooldown = false\n")
	st = statusAt(noConfirm, start.Add(3*day))
	sep("a pact with no end, without confirmation")
	renderUnlockIntro(&b, st, time.UTC)
	sep("queued")
	renderUnlock(&b, control.UnlockResult{Pending: &control.Pending{ID: "2", Change: "end the pact early", Effective: st.Now.Add(day), Ending: true}}, st, time.UTC)

	strict := pactOf(t, "[pact]\nblock = [\"all\"]\nlength = \"90d\"\nstrict = true\nreason = \"After what he did, no way back.\"\n")
	st = statusAt(strict, start.Add(3*day))
	sep("strict")
	renderUnlock(&b, control.UnlockResult{Refused: true, End: st.Pact.End}, st, time.UTC)
	trial := pactOf(t, "[pact]\nblock = [\"all\"]\nlength = \"30d\"\ntrial = true\n")
	st = statusAt(trial, start.Add(3*day))
	sep("a trial")
	renderUnlock(&b, control.UnlockResult{Ended: true, Pending: &control.Pending{ID: "", Change: "end the pact early", Effective: st.Now}}, st, time.UTC)
	sep("no pact")
	renderUnlock(&b, control.UnlockResult{NoPact: true}, control.Status{Now: fixedNow}, time.UTC)
	sep("cancel")
	renderCancel(&b, control.CancelResult{Cancelled: []control.Pending{{ID: "4", Change: "end the pact early"}}})
	renderCancel(&b, control.CancelResult{})
	golden.Check(t, "unlock"+".golden", b.Bytes())
}

func TestExtendGolden(t *testing.T) {
	before := control.Status{Now: fixedNow, Pact: control.Pact{Active: true, Start: start, End: ptr(end)}}
	after := before
	after.Pact.End = ptr(end.Add(14 * day))
	var b bytes.Buffer
	renderExtended(&b, config.Span{Dur: 14 * day}, &before, after, time.UTC)
	renderExtended(&b, config.Span{Months: 1}, &before, control.Status{Now: fixedNow, Pact: control.Pact{Active: true, Start: start}}, time.UTC)
	golden.Check(t, "extend"+".golden", b.Bytes())
}

func TestManyAttemptsGolden(t *testing.T) {
	counts := map[string]attempts.Count{}
	for i, id := range []string{"badoo", "bumble", "discord", "facebook", "hinge", "instagram", "tiktok", "x"} {
		counts[id] = attempts.Count{Today: i % 3, Week: 10 + i}
	}
	var b bytes.Buffer
	renderAttempts(&b, counts, builtin(t))
	golden.Check(t, "attempts-many"+".golden", b.Bytes())
}

func TestSpan(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Second:                "less than a minute",
		time.Minute:                     "1 minute",
		90 * time.Minute:                "1 hour 30 minutes",
		2 * time.Hour:                   "2 hours",
		24 * time.Hour:                  "1 day",
		12*24*time.Hour + 4*time.Hour:   "12 days 4 hours",
		12*24*time.Hour + 4*time.Minute: "12 days",
	} {
		if got := span(d); got != want {
			t.Errorf("span(%v) = %q, want %q", d, got, want)
		}
	}
}
