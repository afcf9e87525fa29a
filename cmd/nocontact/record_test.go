package main

import (
	"strings"
	"testing"

	"github.com/nocontact/nocontact/daemon/control"
)

func TestRenderRecord(t *testing.T) {
	for _, tt := range []struct {
		counts map[string]int
		want   string
	}{
		{nil, ""},
		{map[string]int{"loosening_queued": 3, "loosening_cancelled": 2, "dns_rewritten": 2},
			"Since your pact began: 3 loosenings asked for, 2 of them cancelled; the DNS settings were changed by something else twice. Each time, the pact held.\n"},
		{map[string]int{"loosening_queued": 1, "loosening_cancelled": 1, "loosening_refused": 1, "state_lost": 1, "not_running": 3, "clock_set": 1},
			"Since your pact began: 1 loosening asked for and cancelled; 1 loosening turned down because the pact is strict; nocontact's memory was lost, so everything was blocked again once; nocontact was not running 3 times; the computer's clock was set once.\n"},
		{map[string]int{"firewall_removed": 2, "browser_policy_removed": 1},
			"Since your pact began: nocontact's firewall rules were removed twice; a browser's policy against its own encrypted DNS was removed once. Each time, the pact held.\n"},
		{map[string]int{"something_new": 2}, "Since your pact began: 2 other signs ('nocontact status --json' lists them). Each time, the pact held.\n"},
	} {
		var b strings.Builder
		renderRecord(&b, control.Record{Counts: tt.counts})
		if b.String() != tt.want {
			t.Errorf("%v:\n got %q\nwant %q", tt.counts, b.String(), tt.want)
		}
	}
}

func TestRenderClock(t *testing.T) {
	var b strings.Builder
	renderClock(&b, control.Clock{Waiting: true, UnconfirmedSeconds: 60})
	if b.Len() != 0 {
		t.Errorf("a minute's wait is told: %q", b.String())
	}
	renderClock(&b, control.Clock{Waiting: true, UnconfirmedSeconds: 60 * 24 * 3600})
	if s := b.String(); !strings.Contains(s, "60 days ahead") || !strings.Contains(s, "never sooner") {
		t.Errorf("60 days waiting: %q", s)
	}
}
