package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nocontact/nocontact/daemon/attempts"
	"github.com/nocontact/nocontact/daemon/control"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/nocontact -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s changed; if the new wording is deliberate, run go test ./cmd/nocontact -update\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

func ptr[T any](v T) *T { return &v }

var (
	fixedNow = time.Date(2026, 12, 4, 1, 58, 0, 0, time.UTC)
	start    = time.Date(2026, 11, 22, 21, 0, 0, 0, time.UTC)
	end      = start.Add(30 * 24 * time.Hour)
)

func TestStatusGolden(t *testing.T) {
	health := control.Health{
		Listening: []string{"127.0.0.1:53", "[::1]:53"},
		Upstreams: []control.UpstreamHealth{{Addr: "192.0.2.53:53", OK: true}, {Addr: "192.0.2.54:53", OK: false}},
	}
	for _, tt := range []struct {
		name string
		st   control.Status
	}{
		{"status-active", control.Status{
			Now: fixedNow, Blocking: true,
			Pact:    control.Pact{Active: true, Start: start, End: ptr(end), Cooldown: "24h"},
			Blocked: []string{"instagram", "whatsapp", "tiktok"}, Domains: []string{"their-blog.example"},
			Allow: []string{"help.instagram.com"},
			Pending: []control.Pending{{ID: "c3", Change: "stop blocking whatsapp", Effective: fixedNow.Add(23*time.Hour + 12*time.Minute)},
				{ID: "c5", Change: "remove nocontact from this computer", Effective: fixedNow.Add(20 * time.Hour)}},
			Uninstall:  control.Uninstall{Requested: true, ID: "c5", Effective: ptr(fixedNow.Add(20 * time.Hour))},
			QuietHours: []control.QuietWindow{{Days: []string{"fri", "sat"}, From: "22:00", To: "07:00", Block: []string{"whatsapp", "instagram"}}},
			Attempts:   map[string]attempts.Count{"instagram": {Today: 14, Week: 30}, "tiktok": {Today: 0, Week: 2}, "whatsapp": {Today: 1, Week: 1}},
			Health:     health,
		}},
		{"status-strict", control.Status{
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
			Pact:    control.Pact{Active: true, Start: start, Cooldown: "24h"},
			Blocked: []string{"x"},
			Health:  health,
		}},
		{"status-completed", control.Status{
			Now:        fixedNow,
			Pact:       control.Pact{Start: start, End: ptr(start.Add(48 * time.Hour)), Cooldown: "24h", Completed: true},
			QuietHours: []control.QuietWindow{{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, From: "23:00", To: "06:00", Block: []string{"whatsapp"}, Active: true}},
			Health:     control.Health{Upstreams: []control.UpstreamHealth{{Addr: "192.0.2.53:53"}}},
			Uninstall:  control.Uninstall{Allowed: true},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			renderStatus(&b, tt.st, time.UTC)
			golden(t, tt.name, b.Bytes())
		})
	}
}

func TestUnlockAndCancelGolden(t *testing.T) {
	var b bytes.Buffer
	renderUnlock(&b, control.UnlockResult{Pending: &control.Pending{ID: "c4", Change: "end the pact", Effective: fixedNow.Add(24 * time.Hour)}}, fixedNow, time.UTC)
	b.WriteString("--\n")
	renderUnlock(&b, control.UnlockResult{Refused: true, End: ptr(end)}, fixedNow, time.UTC)
	b.WriteString("--\n")
	renderUnlock(&b, control.UnlockResult{NoPact: true}, fixedNow, time.UTC)
	b.WriteString("--\n")
	renderCancel(&b, control.CancelResult{Cancelled: []control.Pending{{ID: "c4", Change: "end the pact"}}})
	renderCancel(&b, control.CancelResult{})
	golden(t, "unlock-cancel", b.Bytes())
}

func TestManyAttemptsGolden(t *testing.T) {
	counts := map[string]attempts.Count{}
	for i, id := range []string{"badoo", "bumble", "discord", "facebook", "hinge", "instagram", "tiktok", "x"} {
		counts[id] = attempts.Count{Today: i % 3, Week: 10 + i}
	}
	var b bytes.Buffer
	renderAttempts(&b, counts)
	golden(t, "attempts-many", b.Bytes())
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
