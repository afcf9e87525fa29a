package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kardianos/service"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/daemon/control"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/examples"
	"github.com/nocontact/nocontact/installer"
)

// `nocontact start` is the guided way into a pact: the questions of the
// advice this tool exists for (why, how long, what stays open, where else
// he shows up, the late hours, how hard changing your mind should be), the
// pact said back in words, and only then a settings file, written
// atomically, that the running filter reads at once (or that install
// installs). Every question has a flag, so a script can do the same.

// startAnswers are the answers to start's questions.
type startAnswers struct {
	why      string        // "heal", "clarity" or "hurt"
	reason   string        // in the person's words
	length   config.Span   // how long, or
	until    time.Time     // until when
	keepOpen []string      // names as written, each valid for keep_open
	also     []string      // groups beyond "all"
	quiet    [2]string     // from, to; empty for none
	cooldown time.Duration // how long a loosening waits
	strict   bool
}

// whyOptions are the reasons start offers, and the words each suggests.
var whyOptions = []struct {
	value, label, reason string
}{
	{"heal", "To heal", "I want to heal."},
	{"clarity", "To get clarity", "I need distance to see clearly."},
	{"hurt", "After abuse or cheating: no way back", "I was hurt, and I deserve peace."},
}

// lengthOptions are the lengths start offers, as the advice gives them.
var lengthOptions = []option{
	{"48h", "48 hours"}, {"2w", "2 weeks"}, {"30d", "30 days"}, {"90d", "90 days"},
	{"date", "Until a date"}, {"own", "Another length"},
}

// extraGroups are the groups start asks about after "all": the places he
// may show up that "all" leaves open (issue 19).
var extraGroups = []catalog.Category{catalog.Video, catalog.Payments, catalog.Location, catalog.Fitness, catalog.Music, catalog.Gaming}

func cmdStart(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "start")
	path, socket := controlFlags(fs)
	why := fs.String("why", "", "why: heal, clarity or hurt (after abuse or cheating, which suggests strict)")
	reason := fs.String("reason", "", "why, in your own words: shown to you when you want to end the pact early")
	length := fs.String("length", "", "how long, like 48h, 2w, 30d, 90d or 3mo")
	until := fs.String("until", "", "or until when, like 2027-01-31 (at the time of day you start) or 2027-01-31T21:00")
	keep := fs.String("keep-open", "", "platforms to keep open on purpose, by name, like whatsapp or whatsapp,telegram; \"none\" for none")
	also := fs.String("also", "", "groups to block besides \"all\": video, payments, location, fitness, music, gaming; \"none\" for none")
	quiet := fs.String("quiet", "", "quiet hours every night, like 22:00-07:00; \"none\" for none")
	cooldown := fs.String("cooldown", "", "how long changing your mind takes, like 24h (at most 30d)")
	strict := fs.Bool("strict", false, "no way back: nothing can loosen the pact or end it early")
	yes := fs.Bool("yes", false, "begin without asking: the questions not answered by a flag take their usual answer")
	install := fs.Bool("install", false, "install nocontact when it is not installed yet")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if !e.interactive && !*yes {
		return fmt.Errorf("%w: start asks questions, and no one can answer them here: answer them with flags (like --length 30d --keep-open whatsapp) and add --yes", errUsage)
	}
	cat, err := catalog.Builtin()
	if err != nil {
		return err
	}
	client, st, err := running(ctx, socket)
	if err != nil {
		return err
	}
	if st != nil && st.Pact.Active && !st.Pact.Trial {
		renderAlreadyOn(e.stdout, *st, time.Local)
		return errQuiet
	}
	file := settingsFile(fs, *path, st)
	if file == defaultConfig && !installDeps().isAdmin() {
		return fmt.Errorf("your pact is written in %s, which only an administrator may change: run 'sudo nocontact start' (or name another settings file with --config FILE)", file)
	}

	// The answers: flags first, then questions for the rest.
	var a startAnswers
	ask := e.interactive && !*yes
	given := func(name string) bool { return flagSet(fs, name) }
	if ask {
		fmt.Fprintln(e.stdout, "nocontact start: a few questions, then your pact in words, before anything begins.")
		fmt.Fprintln(e.stdout, "Press Enter to take the answer in [brackets].")
	}
	steps := []struct {
		flag string
		read func() error          // from the flag
		ask  func() error          // at the terminal
		def  func(a *startAnswers) // neither
	}{
		{"why", func() error { return a.setWhy(*why) }, func() error { return e.askWhy(&a) }, func(a *startAnswers) { a.why = "heal" }},
		{"reason", func() error { a.reason = strings.TrimSpace(*reason); return nil }, func() error { return e.askReason(&a) }, func(*startAnswers) {}},
		{"length", func() error { return a.setLength(*length, *until, e.clock()) }, func() error { return e.askLength(&a) }, func(a *startAnswers) { a.length = config.Span{Dur: 30 * 24 * time.Hour} }},
		{"keep-open", func() error { return a.setKeepOpen(*keep, cat) }, func() error { return e.askKeepOpen(&a, cat) }, func(*startAnswers) {}},
		{"also", func() error { return a.setAlso(*also) }, func() error { return e.askAlso(&a, cat) }, func(*startAnswers) {}},
		{"quiet", func() error { return a.setQuiet(*quiet) }, func() error { return e.askQuiet(&a) }, func(*startAnswers) {}},
		{"strict", func() error { a.strict = *strict; return nil }, func() error { return e.askStrict(&a) }, func(*startAnswers) {}},
		{"cooldown", func() error { return a.setCooldown(*cooldown) }, func() error { return e.askCooldown(&a) }, func(a *startAnswers) { a.cooldown = 24 * time.Hour }},
	}
	for _, s := range steps {
		flagged := given(s.flag) || (s.flag == "length" && given("until"))
		var err error
		switch {
		case flagged:
			err = s.read()
			if err != nil {
				err = fmt.Errorf("%w: --%s: %v", errUsage, s.flag, err)
			}
		case ask:
			err = s.ask()
		default:
			s.def(&a)
		}
		if errors.Is(err, errNoAnswer) {
			fmt.Fprintln(e.stdout, "Nothing was written; your settings are as they were.")
			return errQuiet
		}
		if err != nil {
			return err
		}
	}
	if a.reason == "" && !given("reason") && (ask || given("why")) {
		a.reason = a.suggestedReason()
	}

	start := e.clock().Truncate(time.Minute)
	end := a.end(start)
	fmt.Fprintln(e.stdout)
	renderPactSummary(e.stdout, a, start, end, cat, start.Location())
	if !*yes {
		ok, err := e.yesNo("\nBegin this pact?", false)
		if err != nil && !errors.Is(err, errNoAnswer) {
			return err
		}
		if !ok {
			fmt.Fprintln(e.stdout, "Nothing was written; your settings are as they were. You can run 'nocontact start' again whenever you want.")
			return nil
		}
	}

	// The file: the pact written anew, the rest of the file kept.
	old, err := os.ReadFile(file)
	switch {
	case errors.Is(err, os.ErrNotExist):
		old = examples.Config
		if file == defaultConfig {
			old = exampleForInstall()
		}
	case err != nil:
		return err
	}
	text := config.ReplacePact(old, a.toml(start, cat))
	if err := a.check(text, file, cat, start, end); err != nil {
		return fmt.Errorf("nothing was written: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	if err := writeSettings(file, text); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nYour pact is written in %s.\n", file)
	return e.takeEffect(ctx, client, file, text, *install, ask)
}

// takeEffect has the running filter read the new settings, or offers to
// install nocontact so that something holds the pact.
func (e *env) takeEffect(ctx context.Context, client *control.Client, file string, text []byte, install, ask bool) error {
	if client != nil {
		if _, err := client.Reload(ctx); err != nil {
			return fmt.Errorf("nocontact could not read your new settings: %w", explain(err))
		}
		st, err := client.Status(ctx)
		if err != nil {
			return explain(err)
		}
		e.sayBegun(st)
		return nil
	}
	d := installDeps()
	svc, err := d.service(d.paths)
	registered := false
	if err == nil {
		_, serr := svc.Status()
		registered = serr == nil || !errors.Is(serr, service.ErrNotInstalled)
	}
	if registered {
		fmt.Fprintln(e.stdout, "nocontact is installed but not running, so nothing holds this pact yet.")
		fmt.Fprintln(e.stdout, "Start it (on Linux: sudo systemctl start nocontact); it reads your pact when it starts.")
		return nil
	}
	cat, err := catalog.Builtin()
	if err != nil {
		return err
	}
	if cfg, err := config.Parse(strings.NewReader(string(text)), file, cat); err == nil {
		if err := installer.ListensForTheSystem(cfg); err != nil {
			fmt.Fprintln(e.stdout, "nocontact is not installed on this computer yet, so nothing holds this pact.")
			fmt.Fprintf(e.stdout, "To install it with these settings, have them listen where the computer asks, in the [dns] table of %s:\n", file)
			fmt.Fprintln(e.stdout, `  listen = ["127.0.0.1:53", "[::1]:53"]`)
			fmt.Fprintf(e.stdout, "then run: sudo nocontact install --config %s\n", file)
			return nil
		}
	}
	want := install
	if !want && ask {
		fmt.Fprintln(e.stdout, "\nnocontact is not installed on this computer yet, so nothing holds this pact.")
		ok, err := e.yesNo("Install it now? It points this computer's DNS at nocontact and starts it with the computer.", true)
		if err != nil && !errors.Is(err, errNoAnswer) {
			return err
		}
		want = ok
	}
	if !want {
		fmt.Fprintf(e.stdout, "To make it hold, install nocontact: sudo nocontact install --config %s\n", file)
		return nil
	}
	in, err := d.installer(e, cat)
	if err != nil {
		return err
	}
	if err := in.Install(ctx, installer.InstallOptions{Config: text, Name: file}); err != nil {
		return err
	}
	// The service answers DNS by now; its control socket opens a moment
	// after. What it holds is the truth (a memory kept from an earlier
	// install can make it differ from the file), so ask it, on the
	// service's own socket.
	socket := func() (string, error) { return d.paths.ControlSocket, nil }
	for range 20 {
		_, st, err := running(ctx, socket)
		if err != nil {
			break
		}
		if st != nil {
			e.sayBegun(*st)
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
	fmt.Fprintln(e.stdout, "You can look at your pact any time: nocontact status")
	return nil
}

// sayBegun tells what the running filter holds after start.
func (e *env) sayBegun(st control.Status) {
	if st.Pact.Active && st.Pact.End != nil {
		fmt.Fprintf(e.stdout, "Your pact has begun. It ends on %s. You can look at it any time: nocontact status\n", when(*st.Pact.End, time.Local))
	} else {
		fmt.Fprintln(e.stdout, "nocontact has read your settings. You can look at your pact any time: nocontact status")
	}
}

// renderAlreadyOn says that a pact is on, and what start cannot do about
// it.
func renderAlreadyOn(w io.Writer, st control.Status, loc *time.Location) {
	if st.Pact.End != nil {
		fmt.Fprintf(w, "A pact is already on, until %s (in %s).\n", when(*st.Pact.End, loc), span(st.Pact.End.Sub(st.Now)))
	} else {
		fmt.Fprintln(w, "A pact is already on, until you unlock it.")
	}
	fmt.Fprintln(w, "start begins a new pact only once this one has ended. To make it longer: sudo nocontact extend 2w")
	fmt.Fprintln(w, "To change it, edit its settings and run 'sudo nocontact reload': anything stricter applies at once, anything looser waits out the cooldown.")
}

func (a *startAnswers) setWhy(s string) error {
	for _, o := range whyOptions {
		if strings.EqualFold(strings.TrimSpace(s), o.value) {
			a.why = o.value
			return nil
		}
	}
	return fmt.Errorf("%q: write heal, clarity or hurt", s)
}

func (a *startAnswers) suggestedReason() string {
	for _, o := range whyOptions {
		if o.value == a.why {
			return o.reason
		}
	}
	return ""
}

func (e *env) askWhy(a *startAnswers) error {
	opts := make([]option, len(whyOptions))
	for i, o := range whyOptions {
		opts[i] = option{o.value, o.label}
	}
	fmt.Fprintln(e.stdout)
	v, err := e.choose("Why are you going no contact?", opts, 1)
	a.why = v
	return err
}

func (e *env) askReason(a *startAnswers) error {
	fmt.Fprintln(e.stdout, "\nIn a sentence of your own, why? You will read it if you ever want to end the pact early.")
	r, err := e.ask(fmt.Sprintf("[%s] ", a.suggestedReason()))
	a.reason = r
	if len([]rune(r)) > 1000 {
		fmt.Fprintln(e.stdout, "  That is long: the first 1000 characters are kept.")
		a.reason = string([]rune(r)[:1000])
	}
	return err
}

// setLength reads --length or --until.
func (a *startAnswers) setLength(length, until string, now time.Time) error {
	if length != "" && until != "" {
		return errors.New("give --length or --until, not both")
	}
	if until != "" {
		t, err := parseUntil(until, now)
		a.until = t
		return err
	}
	sp, err := config.ParseSpan(length)
	if err == nil && sp.IsZero() {
		err = errors.New("that is no time at all: give a length, like 30d")
	}
	a.length = sp
	return err
}

// parseUntil reads a date ("2027-01-31", at the time of day of now) or a
// date and time ("2027-01-31T21:00", "2027-01-31 21:00"), local time; it
// must be after now.
func parseUntil(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	loc := now.Location()
	var t time.Time
	var err error
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err = time.ParseInLocation(layout, s, loc); err == nil {
			if layout == "2006-01-02" {
				t = time.Date(t.Year(), t.Month(), t.Day(), now.Hour(), now.Minute(), 0, 0, loc)
			}
			break
		}
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: write a date like 2027-01-31, or a date and time like 2027-01-31T21:00", s)
	}
	if !t.After(now) {
		return time.Time{}, fmt.Errorf("%s is not in the future: write a later date", t.Format("Mon 2 Jan 2006 at 15:04"))
	}
	return t, nil
}

func (e *env) askLength(a *startAnswers) error {
	def := 3
	if a.why == "hurt" {
		def = 4
	}
	fmt.Fprintln(e.stdout)
	for {
		v, err := e.choose("How long?", lengthOptions, def)
		if err != nil {
			return err
		}
		switch v {
		case "date":
			for range 3 {
				s, err := e.ask("Until which date? Like 2027-01-31 (it ends at this time of day), or 2027-01-31T21:00: ")
				if err != nil {
					return err
				}
				if a.until, err = parseUntil(s, e.clock()); err == nil {
					return nil
				}
				fmt.Fprintf(e.stdout, "  %v\n", err)
			}
			return errNoAnswer
		case "own":
			for range 3 {
				s, err := e.ask("How long? Like 6w (6 weeks), 3mo (3 months) or 45 days: ")
				if err != nil {
					return err
				}
				if err = a.setLength(s, "", e.clock()); err == nil {
					fmt.Fprintf(e.stdout, "  That is %s.\n", a.length.Words())
					return nil
				}
				fmt.Fprintf(e.stdout, "  %v\n", err)
			}
			return errNoAnswer
		default:
			return a.setLength(v, "", e.clock())
		}
	}
}

// names splits a list a person types: commas, spaces or "and".
func names(s string) []string {
	f := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return r == ',' || r == ' ' || r == ';' })
	return slices.DeleteFunc(f, func(x string) bool { return x == "and" || x == "" })
}

func (a *startAnswers) setKeepOpen(s string, cat *catalog.Catalog) error {
	a.keepOpen = nil
	if strings.EqualFold(strings.TrimSpace(s), "none") {
		return nil
	}
	all, _ := cat.Expand(catalog.All)
	for _, n := range names(s) {
		ids, err := cat.Expand(n)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(ids, func(id string) bool { return slices.Contains(all, id) }) {
			return fmt.Errorf("%q is not among the platforms a pact blocks (\"all\"), so it is open anyway", n)
		}
		a.keepOpen = append(a.keepOpen, n)
	}
	return nil
}

func (e *env) askKeepOpen(a *startAnswers, cat *catalog.Catalog) error {
	all, _ := cat.Expand(catalog.All)
	fmt.Fprintf(e.stdout, "\nYour pact blocks every social network, messaging app, dating app and forum nocontact knows:\n%d platforms ('nocontact platforms' lists them).\n", len(all))
	fmt.Fprintln(e.stdout, "Should one or two stay open on purpose, like WhatsApp for the children or for work?")
	for range 3 {
		s, err := e.ask("Type their names, or press Enter for none: ")
		if err != nil {
			return err
		}
		if err := a.setKeepOpen(s, cat); err != nil {
			fmt.Fprintf(e.stdout, "  %v\n", trimUnknown(err))
			continue
		}
		if len(a.keepOpen) > 0 {
			fmt.Fprintf(e.stdout, "  Kept open on purpose: %s.\n", listNames(words{cat}.names(a.keepOpenIDs(cat))))
		}
		return nil
	}
	return errNoAnswer
}

// trimUnknown says an unknown name without the advice meant for a
// settings file.
func trimUnknown(err error) string {
	s := err.Error()
	if i := strings.Index(s, "? "); i >= 0 && strings.Contains(s, "did you mean") {
		return s[:i+1]
	}
	return s
}

func (a *startAnswers) keepOpenIDs(cat *catalog.Catalog) []string {
	ids, _ := cat.Resolve(a.keepOpen)
	all, _ := cat.Expand(catalog.All)
	return slices.DeleteFunc(ids, func(id string) bool { return !slices.Contains(all, id) })
}

func (a *startAnswers) setAlso(s string) error {
	a.also = nil
	if strings.EqualFold(strings.TrimSpace(s), "none") {
		return nil
	}
	for _, n := range names(s) {
		g, ok := catalog.LookupGroup(n)
		if !ok || g.InAll {
			var list []string
			for _, c := range extraGroups {
				list = append(list, string(c))
			}
			if hint := catalog.Nearest(n, list); hint != "" {
				return fmt.Errorf("%q is not one of the groups: did you mean %s?", n, hint)
			}
			return fmt.Errorf("%q is not one of the groups: %s", n, strings.Join(list, ", "))
		}
		if !slices.Contains(a.also, string(g.Name)) {
			a.also = append(a.also, string(g.Name))
		}
	}
	return nil
}

func (e *env) askAlso(a *startAnswers, cat *catalog.Catalog) error {
	fmt.Fprintln(e.stdout, "\nDoes he also show up in any of these places? They are blocked only if you name them,")
	fmt.Fprintln(e.stdout, "because blocking them costs you something too:")
	for _, c := range extraGroups {
		g, _ := catalog.LookupGroup(string(c))
		var ns []string
		for _, p := range cat.Category(c) {
			ns = append(ns, p.Name)
		}
		if len(ns) > 4 {
			ns = append(ns[:4], "and more")
		}
		fmt.Fprintf(e.stdout, "  %-9s %s\n", c, strings.Join(ns, ", "))
		fmt.Fprint(e.stdout, wrap("            ", g.Cost))
	}
	for range 3 {
		s, err := e.ask("Type the ones to block too, like: video payments (or press Enter for none): ")
		if err != nil {
			return err
		}
		if err := a.setAlso(s); err != nil {
			fmt.Fprintf(e.stdout, "  %v\n", err)
			continue
		}
		return nil
	}
	return errNoAnswer
}

func (a *startAnswers) setQuiet(s string) error {
	a.quiet = [2]string{}
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "none") {
		return nil
	}
	from, to, ok := strings.Cut(s, "-")
	from, to = strings.TrimSpace(from), strings.TrimSpace(to)
	if !ok || !validClock(from) || !validClock(to) || from == to {
		return fmt.Errorf("%q: write the hours like 22:00-07:00 (24-hour clock)", s)
	}
	a.quiet = [2]string{from, to}
	return nil
}

// validClock reports whether s is "HH:MM" on the 24-hour clock.
func validClock(s string) bool {
	t, err := time.Parse("15:04", s)
	return err == nil && t.Format("15:04") == s
}

func (e *env) askQuiet(a *startAnswers) error {
	fmt.Fprintln(e.stdout, "\nLate at night is often the hardest. Quiet hours close everything you chose, the channel")
	fmt.Fprintln(e.stdout, "kept open included, every night at those hours, during the pact and after it.")
	for range 3 {
		s, err := e.ask("Quiet hours? Type them like 22:00-07:00, or press Enter for none: ")
		if err != nil {
			return err
		}
		if err := a.setQuiet(s); err != nil {
			fmt.Fprintf(e.stdout, "  %v\n", err)
			continue
		}
		return nil
	}
	return errNoAnswer
}

func (e *env) askStrict(a *startAnswers) error {
	fmt.Fprintln(e.stdout)
	var err error
	if a.why == "hurt" {
		fmt.Fprintln(e.stdout, "After abuse or cheating, many choose a pact with no way back: strict, so that nothing,")
		fmt.Fprintln(e.stdout, "not even waiting, can end it early.")
		a.strict, err = e.yesNo("Make it strict?", true)
	} else {
		a.strict, err = e.yesNo("Make it strict, with no way to end it early at all?", false)
	}
	return err
}

func (a *startAnswers) setCooldown(s string) error {
	d, err := config.ParseDuration(s)
	if err != nil {
		return err
	}
	if d > 30*24*time.Hour {
		return fmt.Errorf("%q is longer than 30 days: write at most 30d", s)
	}
	a.cooldown = d
	return nil
}

func (e *env) askCooldown(a *startAnswers) error {
	if a.strict {
		// Nothing loosens a strict pact before its end, so the cooldown
		// only counts for the quiet hours after it.
		a.cooldown = 24 * time.Hour
		return nil
	}
	fmt.Fprintln(e.stdout, "\nIf you want to change your mind, how long should it take? Anything looser waits that long;")
	fmt.Fprintln(e.stdout, "blocking more never waits. A day is usual: long enough for a hard night to pass.")
	for range 3 {
		s, err := e.ask("[24h] ")
		if err != nil {
			return err
		}
		if s == "" {
			s = "24h"
		}
		if err := a.setCooldown(s); err != nil {
			fmt.Fprintf(e.stdout, "  %v\n", err)
			continue
		}
		fmt.Fprintf(e.stdout, "  That is %s.\n", config.DurationWords(a.cooldown))
		return nil
	}
	return errNoAnswer
}

// end is when the pact ends, started at start.
func (a *startAnswers) end(start time.Time) time.Time {
	if !a.until.IsZero() {
		return a.until
	}
	return a.length.After(start, start.Location())
}

// platforms returns what the pact blocks and what it keeps open, as the
// settings will resolve them.
func (a *startAnswers) platforms(cat *catalog.Catalog) (blocked, kept []string) {
	all, _ := cat.Resolve(append([]string{catalog.All}, a.also...))
	kept = a.keepOpenIDs(cat)
	blocked = slices.DeleteFunc(slices.Clone(all), func(id string) bool { return slices.Contains(kept, id) })
	return blocked, kept
}

// toml writes the answers as the pact tables of a settings file.
func (a *startAnswers) toml(start time.Time, cat *catalog.Catalog) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Your pact, as 'nocontact start' wrote it on %s. Blocking more applies\n", when(start, start.Location()))
	b.WriteString("# at once; anything looser waits out the cooldown. 'nocontact status' shows it.\n")
	b.WriteString("[pact]\n")
	fmt.Fprintf(&b, "start = %s\n", start.Format(time.RFC3339))
	if !a.until.IsZero() {
		fmt.Fprintf(&b, "until = %s\n", a.until.Format(time.RFC3339))
	} else {
		fmt.Fprintf(&b, "length = %s   # %s\n", config.Quote(a.length.String()), a.length.Words())
	}
	block := []string{config.Quote(catalog.All)}
	for _, g := range a.also {
		block = append(block, config.Quote(g))
	}
	fmt.Fprintf(&b, "block = [%s]\n", strings.Join(block, ", "))
	if len(a.keepOpen) > 0 {
		var ks []string
		for _, k := range a.keepOpen {
			ks = append(ks, config.Quote(k))
		}
		fmt.Fprintf(&b, "keep_open = [%s]   # %s\n", strings.Join(ks, ", "), listNames(words{cat}.names(a.keepOpenIDs(cat))))
	}
	fmt.Fprintf(&b, "cooldown = %s   # %s\n", config.Quote(config.Span{Dur: a.cooldown}.String()), config.DurationWords(a.cooldown))
	fmt.Fprintf(&b, "strict = %t\n", a.strict)
	b.WriteString("confirm_after_cooldown = true   # ending early is asked twice\n")
	if a.reason != "" {
		fmt.Fprintf(&b, "reason = %s\n", config.Quote(a.reason))
	}
	if a.quiet[0] != "" {
		fmt.Fprintf(&b, "\n[[quiet_hours]]\nfrom = %s\nto = %s\n", config.Quote(a.quiet[0]), config.Quote(a.quiet[1]))
	}
	return b.String()
}

// check reads the text to be written as the daemon will, and refuses it
// unless it says exactly the pact shown.
func (a *startAnswers) check(text []byte, file string, cat *catalog.Catalog, start, end time.Time) error {
	c, err := config.Parse(strings.NewReader(string(text)), file, cat)
	if err != nil {
		return fmt.Errorf("the settings would not read back (%w): fix or move %s and run start again", err, file)
	}
	blocked, kept := a.platforms(cat)
	got := config.Span{Months: c.Pact.LengthMonths, Dur: c.Pact.LengthDur}
	gotEnd := c.Pact.Until
	if gotEnd.IsZero() {
		gotEnd = got.After(c.Pact.Start, start.Location())
	}
	if !c.Pact.Start.Equal(start) || !gotEnd.Equal(end) || !slices.Equal(c.Pact.Platforms, blocked) || !slices.Equal(c.Pact.KeptOpen, kept) ||
		c.Pact.CooldownDur != a.cooldown || c.Pact.Strict != a.strict || c.Pact.Trial || c.Pact.Reason != a.reason ||
		len(c.Phases) != 0 || (len(c.QuietHours) > 0) != (a.quiet[0] != "") {
		return fmt.Errorf("the settings would read back as another pact than the one shown: move %s aside and run start again", file)
	}
	return nil
}

// renderPactSummary says the pact in words before it begins: what, until
// when, how hard changing your mind is, and why.
func renderPactSummary(w io.Writer, a startAnswers, start, end time.Time, cat *catalog.Catalog, loc *time.Location) {
	n := words{cat}
	blocked, kept := a.platforms(cat)
	what := n.blocked(blocked, nil)
	what = strings.ToUpper(what[:1]) + what[1:]
	long := a.length.Words()
	if !a.until.IsZero() {
		long = span(end.Sub(start))
	}
	fmt.Fprintln(w, "Your pact, in words:")
	fmt.Fprintf(w, "  %s,\n", what)
	fmt.Fprintf(w, "  from now until %s (%s).\n", when(end, loc), long)
	if len(kept) > 0 {
		fmt.Fprintf(w, "  Kept open on purpose: %s.\n", n.blocked(kept, nil))
	}
	if a.quiet[0] != "" {
		fmt.Fprintf(w, "  Quiet hours every night %s-%s, everything you chose closed, during the pact and after it.\n", a.quiet[0], a.quiet[1])
	}
	if a.strict {
		fmt.Fprintln(w, "  It is strict: nothing can loosen it or end it early. Only blocking more works, at once.")
	} else {
		fmt.Fprintf(w, "  Changing your mind takes %s, and ending early is asked twice.\n", config.DurationWords(a.cooldown))
	}
	if a.reason != "" {
		fmt.Fprintf(w, "  Why: %q\n", a.reason)
	}
}
