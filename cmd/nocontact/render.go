package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nocontact/nocontact/daemon/attempts"
	"github.com/nocontact/nocontact/daemon/clock"
	"github.com/nocontact/nocontact/daemon/control"
)

// The words here are read by someone who may be having a hard moment:
// plain, calm, no jargon, no lecture.

const barWidth = 30

// when formats a moment for a person, in their local time.
func when(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("Mon 2 Jan 2006 at 15:04")
}

// span says how long d is in words, to the two largest units.
func span(d time.Duration) string {
	if d < time.Minute {
		return "less than a minute"
	}
	d = d.Round(time.Minute)
	days := int(d / (24 * time.Hour))
	hours := int(d % (24 * time.Hour) / time.Hour)
	mins := int(d % time.Hour / time.Minute)
	unit := func(n int, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	switch {
	case days > 0 && hours > 0:
		return unit(days, "day") + " " + unit(hours, "hour")
	case days > 0:
		return unit(days, "day")
	case hours > 0 && mins > 0:
		return unit(hours, "hour") + " " + unit(mins, "minute")
	case hours > 0:
		return unit(hours, "hour")
	}
	return unit(mins, "minute")
}

func progressBar(start, end, now time.Time) string {
	frac := 0.0
	if total := end.Sub(start); total > 0 {
		frac = float64(now.Sub(start)) / float64(total)
	}
	frac = min(max(frac, 0), 1)
	n := int(frac*barWidth + 0.5)
	return fmt.Sprintf("[%s%s] %3d%%", strings.Repeat("#", n), strings.Repeat("-", barWidth-n), int(frac*100))
}

// listNames joins names for a sentence: "a, b and c".
func listNames(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func times(n int) string {
	if n == 1 {
		return "once"
	}
	if n == 2 {
		return "twice"
	}
	return fmt.Sprintf("%d times", n)
}

// renderStatus writes what `nocontact status` shows.
func renderStatus(w io.Writer, st control.Status, loc *time.Location) {
	p := st.Pact
	switch {
	case p.Active:
		fmt.Fprintln(w, "Your pact is on.")
		fmt.Fprintf(w, "  Started  %s\n", when(p.Start, loc))
		if p.End != nil {
			fmt.Fprintf(w, "  Ends     %s\n", when(*p.End, loc))
			fmt.Fprintf(w, "  %s  %s left\n", progressBar(p.Start, *p.End, st.Now), span(p.End.Sub(st.Now)))
		} else {
			fmt.Fprintf(w, "  No end date: it lasts until you unlock it (%s so far).\n", span(st.Now.Sub(p.Start)))
		}
	case p.Completed && p.End != nil:
		fmt.Fprintf(w, "Your pact is complete: it ended on %s.\n", when(*p.End, loc))
	case p.Completed:
		fmt.Fprintln(w, "Your pact has ended.")
	case !p.Start.IsZero() && st.Now.Before(p.Start):
		fmt.Fprintf(w, "Your pact starts on %s (in %s).\n", when(p.Start, loc), span(p.Start.Sub(st.Now)))
	default:
		fmt.Fprintln(w, "No pact is on.")
	}

	fmt.Fprintln(w)
	if len(st.Blocked) == 0 && len(st.Domains) == 0 {
		fmt.Fprintln(w, "Nothing is blocked right now.")
	} else {
		fmt.Fprintf(w, "Blocked now: %s.\n", listNames(append(slices.Clone(st.Blocked), st.Domains...)))
	}
	if len(st.Allow) > 0 {
		fmt.Fprintf(w, "Kept open: %s.\n", listNames(st.Allow))
	}
	if p.Active {
		strict := "It can be ended early, after that wait."
		if p.Strict {
			strict = "It is strict: it cannot be loosened or ended before its end."
		}
		fmt.Fprintf(w, "Any loosening waits %s before it takes effect. %s\n", p.Cooldown, strict)
	}

	if len(st.Pending) > 0 {
		fmt.Fprintln(w, "\nWaiting to take effect:")
		for _, c := range st.Pending {
			fmt.Fprintf(w, "  %s on %s (in %s). To undo: nocontact cancel %s\n",
				c.Change, when(c.Effective, loc), span(c.Effective.Sub(st.Now)), c.ID)
		}
	}
	if len(st.Refused) > 0 {
		fmt.Fprintln(w, "\nNot possible while the strict pact lasts:")
		for _, r := range st.Refused {
			fmt.Fprintf(w, "  %s (you can ask again after %s)\n", r.Change, when(r.Until, loc))
		}
	}
	fmt.Fprintln(w)
	renderUninstallStatus(w, st, loc)
	if len(st.QuietHours) > 0 {
		fmt.Fprintln(w, "\nQuiet hours:")
		for _, q := range st.QuietHours {
			now := ""
			if q.Active {
				now = " (on now)"
			}
			fmt.Fprintf(w, "  %s %s-%s: %s%s\n", strings.Join(q.Days, ", "), q.From, q.To, listNames(q.Block), now)
		}
	}

	if len(st.Attempts) > 0 {
		fmt.Fprintln(w)
		renderAttempts(w, st.Attempts)
	}
	if parts := recordParts(st.Record.Counts); len(parts) > 0 {
		fmt.Fprintln(w)
		renderRecord(w, st.Record)
	}
	if len(st.Warnings) > 0 {
		fmt.Fprintln(w)
		renderWarnings(w, st.Warnings)
	}
	if st.Clock.Waiting && time.Duration(st.Clock.UnconfirmedSeconds)*time.Second >= clock.NoticeableClaim {
		fmt.Fprintln(w)
		renderClock(w, st.Clock)
	}

	fmt.Fprintln(w)
	if len(st.Health.Listening) == 0 {
		fmt.Fprintln(w, "Filter: NOT answering. Run 'nocontact doctor' to find out why.")
	} else {
		fmt.Fprintf(w, "Filter: answering on %s.\n", strings.Join(st.Health.Listening, ", "))
	}
	if len(st.Health.Upstreams) > 0 {
		var ok, bad []string
		for _, u := range st.Health.Upstreams {
			if u.OK {
				ok = append(ok, u.Addr)
			} else {
				bad = append(bad, u.Addr)
			}
		}
		switch {
		case len(bad) == 0:
			fmt.Fprintf(w, "Upstreams: %s answering.\n", strings.Join(ok, ", "))
		case len(ok) == 0:
			fmt.Fprintf(w, "Upstreams: none answering (%s); sites you have visited before still load from memory.\n", strings.Join(bad, ", "))
		default:
			fmt.Fprintf(w, "Upstreams: %s answering; %s not.\n", strings.Join(ok, ", "), strings.Join(bad, ", "))
		}
	}
	if st.Health.Reasserts > 0 {
		fmt.Fprintf(w, "Something changed this computer's DNS settings %s; nocontact put them back.\n", times(st.Health.Reasserts))
	}
}

// renderUninstallStatus writes the line that says whether uninstalling is
// possible now, and if not, when.
func renderUninstallStatus(w io.Writer, st control.Status, loc *time.Location) {
	u := st.Uninstall
	switch {
	case u.Allowed:
		fmt.Fprintln(w, "Uninstalling is allowed now: run 'sudo nocontact uninstall'.")
	case u.Requested && u.Effective != nil:
		fmt.Fprintf(w, "Uninstalling is queued: possible on %s. To undo: nocontact cancel %s\n", when(*u.Effective, loc), u.ID)
	case st.Pact.Strict && st.Pact.End != nil:
		fmt.Fprintf(w, "Uninstalling is not possible while the strict pact lasts; it will be from %s.\n", when(*st.Pact.End, loc))
	case st.Pact.Strict:
		fmt.Fprintln(w, "Uninstalling is not possible while the strict pact lasts.")
	default:
		fmt.Fprintf(w, "Uninstalling waits out the cooldown like any loosening: 'sudo nocontact uninstall' asks, and it is possible %s later.\n", st.Pact.Cooldown)
	}
}

// renderUnlock writes the answer to `nocontact unlock`.
func renderUnlock(w io.Writer, res control.UnlockResult, now time.Time, loc *time.Location) {
	switch {
	case res.NoPact:
		fmt.Fprintln(w, "No pact is on, so there is nothing to end.")
	case res.Refused && res.End != nil:
		fmt.Fprintf(w, "Your pact is strict, so it cannot be ended early.\nIt ends by itself on %s, in %s.\n", when(*res.End, loc), span(res.End.Sub(now)))
	case res.Refused:
		fmt.Fprintln(w, "Your pact is strict, so it cannot be ended early.")
	case res.Pending != nil:
		fmt.Fprintf(w, "Ending your pact is queued. It takes effect on %s, in %s.\n", when(res.Pending.Effective, loc), span(res.Pending.Effective.Sub(now)))
		fmt.Fprintf(w, "Until then everything stays blocked. If you change your mind: nocontact cancel %s\n", res.Pending.ID)
	}
}

// renderCancel writes the answer to `nocontact cancel`.
func renderCancel(w io.Writer, res control.CancelResult) {
	if len(res.Cancelled) == 0 {
		fmt.Fprintln(w, "Nothing was waiting, so nothing was cancelled.")
		return
	}
	for _, c := range res.Cancelled {
		fmt.Fprintf(w, "Cancelled: %s (%s). It will not happen.\n", c.Change, c.ID)
	}
}

// maxAttemptLines is how many platforms status names one by one; the
// rest are summed up in one line.
const maxAttemptLines = 5

// renderAttempts writes the attempt counts, the platforms reached for
// most today first.
func renderAttempts(w io.Writer, counts map[string]attempts.Count) {
	ids := slices.Sorted(maps.Keys(counts))
	slices.SortStableFunc(ids, func(a, b string) int {
		ca, cb := counts[a], counts[b]
		if ca.Today != cb.Today {
			return cb.Today - ca.Today
		}
		return cb.Week - ca.Week
	})
	for i, id := range ids {
		if i == maxAttemptLines && len(ids) > maxAttemptLines+1 {
			rest, total := ids[i:], 0
			for _, r := range rest {
				total += counts[r].Week
			}
			fmt.Fprintf(w, "And %d other platforms, %s in all this week ('status --json' lists them).\n", len(rest), times(total))
			return
		}
		c := counts[id]
		if c.Today > 0 {
			fmt.Fprintf(w, "You reached for %s %s today (%s this week).\n", id, times(c.Today), times(c.Week))
		} else {
			fmt.Fprintf(w, "You reached for %s %s this week, not today.\n", id, times(c.Week))
		}
	}
}
