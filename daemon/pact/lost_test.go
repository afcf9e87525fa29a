package pact

import (
	"slices"
	"testing"
	"time"
)

// TestLostRequestFailsClosed adopts the lost-memory pact, then the looser
// settings a person at 2 a.m. would write beside the damage: everything
// stays blocked, and the settings wait out the cooldown.
func TestLostRequestFailsClosed(t *testing.T) {
	every := []string{"facebook", "instagram", "tiktok", "whatsapp"}
	for _, tt := range []struct {
		name     string
		req      func(r *Request)
		queued   []string // change keys
		strict   bool
		end      time.Time
		cooldown time.Duration
	}{
		{"nothing blocked, no cooldown", func(r *Request) {
			r.Platforms, r.Domains, r.Cooldown, r.Length = []string{}, []string{}, 0, time.Hour
		}, []string{"cooldown:0s", "end:" + timeKey(t0.Add(time.Hour)), "platform-:facebook", "platform-:instagram", "platform-:tiktok", "platform-:whatsapp"}, false, time.Time{}, day},
		{"an allow entry and a longer cooldown", func(r *Request) {
			r.Allow, r.Cooldown = []string{"help.instagram.com"}, 2*day
		}, []string{"allow+:help.instagram.com", "end:" + timeKey(t0.Add(30*day)), "platform-:facebook", "platform-:tiktok"}, false, time.Time{}, 2 * day},
		{"strict, ending in an hour", func(r *Request) {
			r.Strict, r.Length = true, time.Hour
		}, []string{}, true, t0.Add(day), day},
		{"strict, 30 days", func(r *Request) { r.Strict = true }, []string{}, true, t0.Add(30 * day), day},
		{"the firewall layer off", func(r *Request) { r.Firewall = false },
			[]string{"end:" + timeKey(t0.Add(30*day)), "firewall:false", "platform-:facebook", "platform-:tiktok"}, false, time.Time{}, day},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := base()
			req.Hosts = true    // as the settings ask by default
			req.Firewall = true // the settings' default
			tt.req(&req)
			e := Adopt(LostRequest(req, every, day, t0), t0, time.UTC)
			res := e.Reload(req, t0)
			if got := keys(res.Queued); !slices.Equal(got, tt.queued) {
				t.Errorf("queued %q, want %q", got, tt.queued)
			}
			a := e.State().Active
			if !a.Firewall {
				t.Error("the lost-memory pact has the firewall layer off")
			}
			if a.Strict != tt.strict || !a.End.Equal(tt.end) || a.Cooldown != tt.cooldown {
				t.Errorf("active strict %v end %v cooldown %v, want %v %v %v", a.Strict, a.End, a.Cooldown, tt.strict, tt.end, tt.cooldown)
			}
			for _, p := range every {
				if !blocks(e, t0.Add(time.Minute), p) {
					t.Errorf("%s not blocked after the memory was lost", p)
				}
			}
			if len(req.Domains) > 0 && !blocks(e, t0.Add(time.Minute), "their.example") {
				t.Error("the settings' own domain is not blocked")
			}
		})
	}
}
