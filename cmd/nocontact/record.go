package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nocontact/nocontact/daemon/clock"
	"github.com/nocontact/nocontact/daemon/control"
)

// renderRecord writes the short summary of the record of attempts: what
// the person (or something on the machine) tried against the pact, said
// without blame. Nothing when the record is empty.
func renderRecord(w io.Writer, r control.Record) {
	parts := recordParts(r.Counts)
	if len(parts) == 0 {
		return
	}
	held := " Each time, the pact held."
	if r.Counts["port_stranger"] > 0 || r.Counts["not_running"] > 0 {
		// While another program answered, or nocontact was not running,
		// it cannot say the pact held.
		held = ""
	}
	fmt.Fprintf(w, "Since your pact began: %s.%s\n", strings.Join(parts, "; "), held)
}

// recordParts says each kind of event in words, in a fixed order.
func recordParts(c map[string]int) []string {
	var out []string
	if n := c["loosening_queued"]; n > 0 {
		s := count(n, "loosening", "loosenings") + " asked for"
		if m := c["loosening_cancelled"]; m > 0 {
			if m >= n {
				s += " and cancelled"
			} else {
				s += fmt.Sprintf(", %d of them cancelled", m)
			}
		}
		out = append(out, s)
	} else if m := c["loosening_cancelled"]; m > 0 {
		out = append(out, count(m, "waiting change", "waiting changes")+" cancelled")
	}
	if n := c["loosening_refused"]; n > 0 {
		out = append(out, count(n, "loosening", "loosenings")+" turned down because the pact is strict")
	}
	for _, k := range []struct{ kind, words string }{
		{"settings_moved_memory", "the settings pointed nocontact's memory elsewhere"},
		{"state_restored", "one copy of nocontact's memory was damaged or missing, and was restored"},
		{"state_lost", "nocontact's memory was lost, so everything was blocked again"},
		{"dns_rewritten", "the DNS settings were changed by something else"},
		{"hosts_edited", "nocontact's lines in the hosts file were edited"},
		{"not_running", "nocontact was not running"},
		{"clock_set", "the computer's clock was set"},
		{"clock_tampered", "the computer's boot clock was tampered with"},
		{"time_namespace", "nocontact was started with its clocks moved"},
		{"port_stranger", "another program listened where nocontact answers"},
		{"firewall_removed", "nocontact's firewall rules were removed"},
		{"browser_policy_removed", "a browser's policy against its own encrypted DNS was removed"},
	} {
		if n := c[k.kind]; n > 0 {
			out = append(out, k.words+" "+times(n))
		}
	}
	known := map[string]bool{"loosening_queued": true, "loosening_cancelled": true, "loosening_refused": true, "settings_moved_memory": true,
		"state_restored": true, "state_lost": true, "dns_rewritten": true, "hosts_edited": true,
		"not_running": true, "clock_set": true, "clock_tampered": true, "time_namespace": true,
		"firewall_removed": true, "browser_policy_removed": true, "port_stranger": true,
		"time_confirmed": true} // confirmed time is no attempt: not said
	other := 0
	for k, n := range c {
		if !known[k] {
			other += n
		}
	}
	if other > 0 {
		out = append(out, count(other, "other sign", "other signs")+" ('nocontact status --json' lists them)")
	}
	return out
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// renderWarnings writes what of the settings the running nocontact does
// not follow.
func renderWarnings(w io.Writer, ws []string) {
	for _, s := range ws {
		fmt.Fprintln(w, "Note: "+s)
	}
}

// renderClock says, when nocontact waits for time witnesses and the wait is
// worth telling, why the pact may seem to run late.
func renderClock(w io.Writer, c control.Clock) {
	lead := time.Duration(c.UnconfirmedSeconds) * time.Second
	if !c.Waiting || lead < clock.NoticeableClaim {
		return
	}
	fmt.Fprintf(w, "The computer's clock is %s ahead of the time nocontact saw pass (it was off, or its date was changed).\n", span(lead))
	fmt.Fprintln(w, "That time counts toward your pact once two time sources on the internet confirm it; nocontact asks them every few minutes.")
	fmt.Fprintln(w, "Until then your pact may end a little later than planned, never sooner.")
}
