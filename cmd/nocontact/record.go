package main

import (
	"fmt"
	"io"
	"strings"

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
	fmt.Fprintf(w, "Since your pact began: %s. Each time, the pact held.\n", strings.Join(parts, "; "))
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
		{"port_stranger", "another program listened where nocontact answers"},
	} {
		if n := c[k.kind]; n > 0 {
			out = append(out, k.words+" "+times(n))
		}
	}
	known := map[string]bool{"loosening_queued": true, "loosening_cancelled": true, "loosening_refused": true, "settings_moved_memory": true,
		"state_restored": true, "state_lost": true, "dns_rewritten": true, "hosts_edited": true, "port_stranger": true}
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
