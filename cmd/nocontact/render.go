package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/daemon/attempts"
	"github.com/nocontact/nocontact/daemon/clock"
	"github.com/nocontact/nocontact/daemon/control"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
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

// words names things for a person: platforms by their display name,
// groups by what they are.
type words struct{ cat *catalog.Catalog }

// name is a platform's display name; an id the catalog does not know
// (a domain of the person's own) is itself.
func (n words) name(id string) string {
	if n.cat == nil {
		return id
	}
	return n.cat.DisplayName(id)
}

func (n words) names(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = n.name(id)
	}
	return out
}

// groupNouns say what one platform of each group is, for "every social
// network", "every messaging app but WhatsApp".
var groupNouns = map[catalog.Category]string{
	catalog.Social: "social network", catalog.Messaging: "messaging app", catalog.Dating: "dating app",
	catalog.Forums: "forum", catalog.Video: "video site", catalog.Payments: "payment app",
	catalog.Location: "location-sharing app", catalog.Fitness: "fitness app", catalog.Music: "music app",
	catalog.Gaming: "gaming network",
}

// blocked says what ids and domains are, by group: "every social network,
// dating app and forum; every messaging app but WhatsApp; their-blog.example".
// A group of which more than three platforms are left open is listed by
// name.
func (n words) blocked(ids, domains []string) string {
	if n.cat == nil {
		return listNames(append(slices.Clone(ids), domains...))
	}
	in := map[string]bool{}
	for _, id := range ids {
		in[id] = true
	}
	var full, parts, single []string
	for _, g := range catalog.Groups() {
		var b, open []string
		for _, p := range n.cat.Category(g.Name) {
			if in[p.ID] {
				b = append(b, p.Name)
				delete(in, p.ID)
			} else {
				open = append(open, p.Name)
			}
		}
		switch {
		case len(b) == 0:
		case len(open) == 0 && len(b) > 1:
			full = append(full, groupNouns[g.Name])
		case len(open) <= 3 && len(b) > len(open) && len(b) > 1:
			parts = append(parts, "every "+groupNouns[g.Name]+" but "+listNames(open))
		default:
			single = append(single, b...)
		}
	}
	for _, id := range ids {
		if in[id] { // not in a group: the encrypted-DNS services
			single = append(single, n.name(id))
		}
	}
	single = append(single, domains...)
	if len(single) > 0 {
		parts = append(parts, listNames(single))
	}
	if len(full) > 0 {
		parts = append([]string{"every " + listNames(full)}, parts...)
	}
	return strings.Join(parts, "; ")
}

// window says a quiet-hours window: "every day 22:00-07:00: Instagram,
// Tinder and WhatsApp".
func (n words) window(q control.QuietWindow) string {
	days := strings.Join(q.Days, ", ")
	if len(q.Days) == 7 {
		days = "every day"
	}
	var ids, domains []string
	for _, b := range q.Block {
		if n.cat != nil {
			if _, ok := n.cat.Lookup(b); !ok {
				domains = append(domains, b)
				continue
			}
		}
		ids = append(ids, b)
	}
	return fmt.Sprintf("%s %s-%s: %s", days, q.From, q.To, n.blocked(ids, domains))
}

// cooldownWords is how long changing your mind takes, in words.
func cooldownWords(p control.Pact) string {
	return config.DurationWords(time.Duration(p.CooldownSeconds) * time.Second)
}

// lastDay is how close to its end a pact is said to be in its last day.
const lastDay = 24 * time.Hour

// renderStatus writes what `nocontact status` shows.
func renderStatus(w io.Writer, st control.Status, loc *time.Location, cat *catalog.Catalog) {
	n := words{cat}
	p := st.Pact
	ended := p.Completed && p.End != nil
	switch {
	case p.Active && p.Trial:
		fmt.Fprintln(w, "A trial is on: it blocks what your settings say, and holds you to nothing.")
		fmt.Fprintln(w, "Any change applies at once, and it can be stopped at any time. To begin a real pact: sudo nocontact start")
	case p.Active && p.End != nil:
		total := p.End.Sub(p.Start)
		day := int(st.Now.Sub(p.Start)/(24*time.Hour)) + 1
		days := int((total + 24*time.Hour - 1) / (24 * time.Hour))
		if days > 1 {
			fmt.Fprintf(w, "Your pact is on: day %d of %d.\n", min(day, days), days)
		} else {
			fmt.Fprintln(w, "Your pact is on.")
		}
		fmt.Fprintf(w, "  Started  %s\n", when(p.Start, loc))
		fmt.Fprintf(w, "  Ends     %s\n", when(*p.End, loc))
		fmt.Fprintf(w, "  %s  %s left\n", progressBar(p.Start, *p.End, st.Now), span(p.End.Sub(st.Now)))
	case p.Active:
		fmt.Fprintln(w, "Your pact is on.")
		fmt.Fprintf(w, "  Started  %s\n", when(p.Start, loc))
		fmt.Fprintf(w, "  It has no end date: it lasts until you unlock it (%s so far).\n", span(st.Now.Sub(p.Start)))
	case ended && p.EndedEarly:
		fmt.Fprintf(w, "Your pact ended on %s, when you chose to end it.\n", when(*p.End, loc))
	case ended:
		fmt.Fprintf(w, "Your pact is complete: it ended on %s. You kept it to the end.\n", when(*p.End, loc))
	case p.Completed:
		fmt.Fprintln(w, "Your pact has ended.")
	case !p.Start.IsZero() && st.Now.Before(p.Start):
		fmt.Fprintf(w, "Your pact starts on %s (in %s).\n", when(p.Start, loc), span(p.Start.Sub(st.Now)))
	default:
		fmt.Fprintln(w, "No pact is on. To begin one: sudo nocontact start")
	}
	if p.Reason != "" && (p.Active || st.Now.Before(p.Start)) {
		fmt.Fprintf(w, "  Why you made it: %q\n", p.Reason)
	}
	if ph := p.Phase; ph != nil && p.Active {
		fmt.Fprintln(w)
		if ph.Ends != nil {
			fmt.Fprintf(w, "Phase %d of %d, until %s.\n", ph.Number, ph.Of, when(*ph.Ends, loc))
		} else {
			fmt.Fprintf(w, "Phase %d of %d, until you unlock it.\n", ph.Number, ph.Of)
		}
		if nx := ph.Next; nx != nil {
			fmt.Fprintf(w, "Then phase %d, from %s (in %s):\n  %s.\n", nx.Number, when(nx.Starts, loc), span(nx.Starts.Sub(st.Now)), n.phase(nx, st, loc))
		}
	}

	fmt.Fprintln(w)
	over := !p.Active && p.Completed
	switch {
	case len(st.Blocked) > 0 || len(st.Domains) > 0:
		fmt.Fprintf(w, "Blocked now: %s.\n", n.blocked(st.Blocked, st.Domains))
	case !over:
		fmt.Fprintln(w, "Nothing is blocked right now.")
	}
	if len(p.KeepOpen) > 0 {
		var open, closed []string
		for _, id := range p.KeepOpen {
			if slices.Contains(st.Blocked, id) {
				closed = append(closed, n.name(id))
			} else {
				open = append(open, n.name(id))
			}
		}
		switch {
		case len(closed) == 0:
			fmt.Fprintf(w, "Kept open on purpose: %s.\n", listNames(open))
		case len(open) == 0:
			fmt.Fprintf(w, "Kept open on purpose: %s, but closed now, in quiet hours.\n", listNames(closed))
		default:
			fmt.Fprintf(w, "Kept open on purpose: %s; and %s, but closed now, in quiet hours.\n", listNames(open), listNames(closed))
		}
	}
	if len(st.Allow) > 0 {
		fmt.Fprintf(w, "Open inside what is blocked: %s.\n", listNames(st.Allow))
	}
	if p.Active && !p.Trial {
		switch {
		case p.Strict:
			fmt.Fprintln(w, "It is strict: nothing can loosen it or end it before its end. Blocking more still works at once.")
		case p.ConfirmAfterCooldown:
			fmt.Fprintf(w, "Changing your mind takes %s: anything looser waits that long, and ending early is asked twice.\n", cooldownWords(p))
		default:
			fmt.Fprintf(w, "Changing your mind takes %s: anything looser waits that long.\n", cooldownWords(p))
		}
		if p.End != nil && p.End.Sub(st.Now) <= lastDay {
			fmt.Fprintf(w, "\nThis is the last day of your pact: it ends in %s. If you want more time, it is yours to take,\nat once: sudo nocontact extend 2w\n", span(p.End.Sub(st.Now)))
		}
	}
	if over {
		if len(st.QuietHours) > 0 {
			fmt.Fprintln(w, "Still on: the quiet hours below, which go on after the pact.")
		} else {
			fmt.Fprintln(w, "Nothing of it is blocked any more.")
		}
		fmt.Fprintln(w, "To begin a new pact: sudo nocontact start")
	}

	var waiting, asking []control.Pending
	for _, c := range st.Pending {
		if c.Confirm && !c.Effective.After(st.Now) {
			asking = append(asking, c)
		} else {
			waiting = append(waiting, c)
		}
	}
	for _, c := range asking {
		fmt.Fprintf(w, "\nYour request to %s has waited out its cooldown.\n", c.Change)
		fmt.Fprintf(w, "It happens only if you confirm it: run 'sudo nocontact unlock' again before %s (in %s).\n", when(*c.ConfirmBy, loc), span(c.ConfirmBy.Sub(st.Now)))
		fmt.Fprintf(w, "If you do nothing, it lapses and your pact goes on. To drop it now: nocontact cancel %s\n", c.ID)
	}
	if len(waiting) > 0 {
		fmt.Fprintln(w, "\nWaiting to take effect:")
		for _, c := range waiting {
			fmt.Fprintf(w, "  %s, on %s (in %s). To undo: nocontact cancel %s\n",
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
			fmt.Fprintf(w, "  %s%s\n", n.window(q), now)
		}
	}

	if len(st.Attempts) > 0 {
		fmt.Fprintln(w)
		renderAttempts(w, st.Attempts, cat)
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
	for _, s := range st.Health.Strangers {
		fmt.Fprintf(w, "Another program, %s, listens on %s %s, where nocontact answers: it may answer lookups nocontact would block. 'sudo nocontact doctor' says how to stop it.\n",
			strangerWho(s), s.Proto, s.Addr)
	}
}

// phase says what the next phase does, beside what is blocked now:
// "WhatsApp open, the rest as now; quiet hours every day 22:00-07:00:
// WhatsApp; until ...".
func (n words) phase(nx *control.NextPhase, st control.Status, loc *time.Location) string {
	var parts []string
	opened := slices.DeleteFunc(slices.Clone(st.Blocked), func(id string) bool { return slices.Contains(nx.Blocked, id) })
	added := slices.DeleteFunc(slices.Clone(nx.Blocked), func(id string) bool { return slices.Contains(st.Blocked, id) })
	switch {
	case len(nx.Blocked) == 0 && len(nx.Domains) == 0:
		parts = append(parts, "nothing blocked all day")
	case len(added) == 0 && len(opened) > 0 && len(opened) <= 5:
		parts = append(parts, listNames(n.names(opened))+" open, the rest blocked as now")
	case len(added) == 0 && len(opened) == 0:
		parts = append(parts, "blocked as now")
	default:
		parts = append(parts, n.blocked(nx.Blocked, nx.Domains)+" blocked")
	}
	for _, q := range nx.QuietHours {
		parts = append(parts, "quiet hours "+n.window(q))
	}
	until := "until you unlock it"
	if nx.Ends != nil {
		until = "until " + when(*nx.Ends, loc)
	}
	return strings.Join(parts, "; ") + "; " + until
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
		fmt.Fprintf(w, "Uninstalling waits out the cooldown like any loosening: 'sudo nocontact uninstall' asks, and it is possible %s later.\n", cooldownWords(st.Pact))
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
// most today first, and a word for the urge behind them.
func renderAttempts(w io.Writer, counts map[string]attempts.Count, cat *catalog.Catalog) {
	n := words{cat}
	ids := slices.Sorted(maps.Keys(counts))
	slices.SortStableFunc(ids, func(a, b string) int {
		ca, cb := counts[a], counts[b]
		if ca.Today != cb.Today {
			return cb.Today - ca.Today
		}
		return cb.Week - ca.Week
	})
	today := 0
	for i, id := range ids {
		c := counts[id]
		today += c.Today
		if i == maxAttemptLines && len(ids) > maxAttemptLines+1 {
			rest, total := ids[i:], 0
			for _, r := range rest {
				total += counts[r].Week
			}
			fmt.Fprintf(w, "And %d other platforms, %s in all this week ('status --json' lists them).\n", len(rest), times(total))
			break
		}
		name := n.name(id)
		switch {
		case c.Today > 0 && c.Week > c.Today:
			fmt.Fprintf(w, "You reached for %s %s today (%s this week).\n", name, times(c.Today), times(c.Week))
		case c.Today > 0:
			fmt.Fprintf(w, "You reached for %s %s today.\n", name, times(c.Today))
		default:
			fmt.Fprintf(w, "You reached for %s %s this week, not today.\n", name, times(c.Week))
		}
	}
	if today > 0 {
		fmt.Fprintln(w, "That urge is normal; it passes. Each time, the pact held for you.")
	} else {
		fmt.Fprintln(w, "Not once today so far.")
	}
}
