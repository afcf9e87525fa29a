package pact

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/daemon/clock"
)

const day = 24 * time.Hour

func newYork(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatalf("time zone America/New_York: %v (the test binary embeds time/tzdata, so every zone should load)", err)
	}
	return loc
}

// t0 is a Sunday evening.
var t0 = time.Date(2026, 11, 22, 21, 0, 0, 0, time.UTC)

func base() Request {
	return Request{
		Length:    30 * day,
		Platforms: []string{"instagram", "whatsapp"},
		Domains:   []string{"their.example"},
		Allow:     []string{},
		Cooldown:  day,
		Quiet:     []Window{},
	}
}

var lateNight = Window{Days: config.AllDays, From: 22 * 60, To: 7 * 60, Platforms: []string{"whatsapp"}, Domains: []string{}, Zone: "UTC"}

func keys(cs []Change) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Key)
	}
	slices.Sort(out)
	return out
}

func TestClassify(t *testing.T) {
	start := t0.Add(day)
	tests := []struct {
		name    string
		from    func(r *Request)
		to      func(r *Request)
		applied []string
		queued  []string
		refused []string
	}{
		{"later end", nil, func(r *Request) { r.Length = 40 * day }, []string{"end:" + timeKey(t0.Add(40*day))}, nil, nil},
		{"earlier end", nil, func(r *Request) { r.Length = 20 * day }, nil, []string{"end:" + timeKey(t0.Add(20*day))}, nil},
		{"open-ended", nil, func(r *Request) { r.Length = 0 }, []string{"end:open"}, nil, nil},
		{"end given instead of length, earlier", nil, func(r *Request) { r.Length, r.End = 0, t0.Add(10*day) }, nil, []string{"end:" + timeKey(t0.Add(10*day))}, nil},
		{"platform added", nil, func(r *Request) { r.Platforms = append(r.Platforms, "tiktok") }, []string{"platform+:tiktok"}, nil, nil},
		{"platform removed", nil, func(r *Request) { r.Platforms = []string{"instagram"} }, nil, []string{"platform-:whatsapp"}, nil},
		{"platforms swapped (mixed)", nil, func(r *Request) { r.Platforms = []string{"instagram", "tiktok"} }, []string{"platform+:tiktok"}, []string{"platform-:whatsapp"}, nil},
		{"domain added", nil, func(r *Request) { r.Domains = append(r.Domains, "blog.example") }, []string{"domain+:blog.example"}, nil, nil},
		{"domain removed", nil, func(r *Request) { r.Domains = nil }, nil, []string{"domain-:their.example"}, nil},
		{"allow added", nil, func(r *Request) { r.Allow = []string{"help.instagram.com"} }, nil, []string{"allow+:help.instagram.com"}, nil},
		{"allow removed", func(r *Request) { r.Allow = []string{"help.instagram.com"} }, func(r *Request) { r.Allow = nil }, []string{"allow-:help.instagram.com"}, nil, nil},
		{"cooldown longer", nil, func(r *Request) { r.Cooldown = 2 * day }, []string{"cooldown:48h0m0s"}, nil, nil},
		{"cooldown shorter", nil, func(r *Request) { r.Cooldown = time.Hour }, nil, []string{"cooldown:1h0m0s"}, nil},
		{"strict on", nil, func(r *Request) { r.Strict = true }, []string{"strict:true"}, nil, nil},
		{"time witness added", nil, func(r *Request) { r.Witnesses = []string{"https://mine.example/"} }, nil, []string{"witness+:https://mine.example/"}, nil},
		{"time witness removed", func(r *Request) { r.Witnesses = []string{"https://a.example/"} }, func(r *Request) { r.Witnesses = nil }, []string{"witness-:https://a.example/"}, nil, nil},
		{"strict off (refused by strict)", func(r *Request) { r.Strict = true }, func(r *Request) { r.Strict = false }, nil, nil, []string{"strict:false"}},
		{"firewall on", nil, func(r *Request) { r.Firewall = true }, []string{"firewall:true"}, nil, nil},
		{"firewall off", func(r *Request) { r.Firewall = true }, func(r *Request) { r.Firewall = false }, nil, []string{"firewall:false"}, nil},
		{"firewall off (refused by strict)", func(r *Request) { r.Firewall, r.Strict = true, true }, func(r *Request) { r.Firewall = false }, nil, nil, []string{"firewall:false"}},
		{"quiet window added", nil, func(r *Request) { r.Quiet = []Window{lateNight} }, []string{"quiet+:" + lateNight.Key()}, nil, nil},
		{"quiet window removed", func(r *Request) { r.Quiet = []Window{lateNight} }, func(r *Request) { r.Quiet = nil }, nil, []string{"quiet-:" + lateNight.Key()}, nil},
		{"quiet window shortened", func(r *Request) { r.Quiet = []Window{lateNight} }, func(r *Request) {
			w := lateNight
			w.To = 6 * 60
			r.Quiet = []Window{w}
		}, []string{"quiet+:" + func() string { w := lateNight; w.To = 6 * 60; return w.Key() }()}, []string{"quiet-:" + lateNight.Key()}, nil},
		{"start earlier, with until", func(r *Request) { r.Start, r.Length, r.End = start, 0, start.Add(30*day) }, func(r *Request) { r.Start = start.Add(-12 * time.Hour) },
			[]string{"start:" + timeKey(start.Add(-12*time.Hour))}, nil, nil},
		{"start later, with until", func(r *Request) { r.Start, r.Length, r.End = start, 0, start.Add(30*day) }, func(r *Request) { r.Start = start.Add(12 * time.Hour) },
			nil, []string{"start:" + timeKey(start.Add(12*time.Hour))}, nil},
		{"start earlier, with a length (mixed)", func(r *Request) { r.Start = start }, func(r *Request) { r.Start = start.Add(-12 * time.Hour) },
			[]string{"start:" + timeKey(start.Add(-12*time.Hour))}, []string{"end:" + timeKey(start.Add(30*day-12*time.Hour))}, nil},
		{"start later, with a length (mixed)", func(r *Request) { r.Start = start }, func(r *Request) { r.Start = start.Add(day) },
			[]string{"end:" + timeKey(start.Add(31*day))}, []string{"start:" + timeKey(start.Add(day))}, nil},
		{"everything looser at once", nil, func(r *Request) {
			r.Length, r.Platforms, r.Domains, r.Allow, r.Cooldown = 10*day, nil, nil, []string{"x.example"}, 0
		}, nil, []string{"allow+:x.example", "cooldown:0s", "domain-:their.example", "end:" + timeKey(t0.Add(10*day)), "platform-:instagram", "platform-:whatsapp"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, to := base(), base()
			if tt.from != nil {
				tt.from(&from)
				tt.from(&to)
			}
			tt.to(&to)
			e := Adopt(from, t0, time.UTC)
			res := e.Reload(to, t0.Add(time.Hour))
			for _, c := range []struct {
				what      string
				got, want []string
			}{{"applied", keys(res.Applied), tt.applied}, {"queued", keys(res.Queued), tt.queued}, {"refused", keys(res.Refused), tt.refused}} {
				want := slices.Clone(c.want)
				if want == nil {
					want = []string{}
				}
				slices.Sort(want)
				if !slices.Equal(c.got, want) {
					t.Errorf("%s:\n\twant %q\n\t got %q", c.what, want, c.got)
				}
			}
			for _, q := range res.Queued {
				if q.What == "" || !q.Effective.Equal(t0.Add(time.Hour+day)) {
					t.Errorf("queued %s: effective %v, what %q; want the old cooldown from the request and a description", q.Key, q.Effective, q.What)
				}
			}
		})
	}
}

func blocks(e *Engine, t time.Time, name string) bool {
	s := e.Snapshot(t).Spec
	return slices.Contains(s.Platforms, name) || slices.Contains(s.Domains, name)
}

func TestTightenNowLoosenAfterCooldown(t *testing.T) {
	e := Adopt(base(), t0, time.UTC)
	t1 := t0.Add(time.Hour)
	r := base()
	r.Platforms = []string{"instagram", "tiktok"} // whatsapp out, tiktok in
	e.Reload(r, t1)
	if !blocks(e, t1, "tiktok") {
		t.Error("tiktok, a tightening, is not blocked at once")
	}
	if !blocks(e, t1, "whatsapp") {
		t.Error("whatsapp, a loosening, was unblocked at once")
	}
	if got := e.NextTransition(t1); !got.Equal(t1.Add(day)) {
		t.Errorf("next transition %v, want the maturity %v", got, t1.Add(day))
	}
	e.Advance(t1.Add(day - time.Second))
	if !blocks(e, t1.Add(day-time.Second), "whatsapp") {
		t.Error("whatsapp unblocked before the cooldown passed")
	}
	res := e.Advance(t1.Add(day))
	if blocks(e, t1.Add(day), "whatsapp") || len(res.Applied) != 1 {
		t.Errorf("whatsapp still blocked after the cooldown (%+v)", res)
	}
}

func TestSameRequestTwiceAndRestart(t *testing.T) {
	e := Adopt(base(), t0, time.UTC)
	r := base()
	r.Platforms = []string{"instagram"}
	t1 := t0.Add(time.Hour)
	first := e.Reload(r, t1).Queued
	if len(first) != 1 {
		t.Fatalf("queued %v", first)
	}
	if res := e.Reload(r, t1.Add(10*time.Hour)); res.Changed() {
		t.Errorf("the same request again changed something: %+v", res)
	}
	// A restart: the state goes through JSON into a new engine.
	e2 := New(e.State(), time.UTC)
	e2.Reload(r, t1.Add(11*time.Hour))
	st := e2.Status(t1.Add(11 * time.Hour))
	if len(st.Pending) != 1 || !st.Pending[0].Effective.Equal(first[0].Effective) || st.Pending[0].ID != first[0].ID {
		t.Errorf("after a restart: pending %+v, want %+v", st.Pending, first)
	}
}

func TestRevertedEditDropsPending(t *testing.T) {
	e := Adopt(base(), t0, time.UTC)
	r := base()
	r.Platforms = []string{"instagram"}
	e.Reload(r, t0.Add(time.Hour))
	res := e.Reload(base(), t0.Add(2*time.Hour))
	if len(res.Dropped) != 1 || len(e.Status(t0).Pending) != 0 {
		t.Errorf("revert: dropped %v, pending %v", res.Dropped, e.Status(t0).Pending)
	}
}

func TestCancel(t *testing.T) {
	e := Adopt(base(), t0, time.UTC)
	r := base()
	r.Platforms = []string{"instagram"}
	r.Cooldown = time.Hour
	t1 := t0.Add(time.Hour)
	e.Reload(r, t1)
	st := e.Status(t1)
	if len(st.Pending) != 2 {
		t.Fatalf("pending %v", st.Pending)
	}
	if _, err := e.Cancel("99", t1); !errors.Is(err, ErrNoChange) {
		t.Errorf("Cancel of an unknown id: %v", err)
	}
	got, err := e.Cancel(st.Pending[0].ID, t1)
	if err != nil || len(got) != 1 || len(e.Status(t1).Pending) != 1 {
		t.Fatalf("Cancel one: %v, %v; pending %v", got, err, e.Status(t1).Pending)
	}
	if got, _ := e.Cancel("all", t1); len(got) != 1 {
		t.Errorf("Cancel all: %v", got)
	}
	// The file still asks, but a cancelled change stays cancelled ...
	e.Reload(r, t1.Add(time.Minute))
	e.Advance(t1.Add(2 * day))
	if !blocks(e, t1.Add(2*day), "whatsapp") || len(e.Status(t1).Pending) != 0 {
		t.Error("a cancelled change came back or took effect")
	}
	// ... until the file asks for something else.
	r.Domains = nil
	res := e.Reload(r, t1.Add(3*day))
	if len(res.Queued) != 3 {
		t.Errorf("after a new edit: queued %v, want the three loosenings", keys(res.Queued))
	}
}

func TestShorterCooldownWaitsTheOldOne(t *testing.T) {
	e := Adopt(base(), t0, time.UTC)
	r := base()
	r.Cooldown = time.Hour
	e.Reload(r, t0)
	// An hour later the person also removes whatsapp: the 24h cooldown is
	// still in force.
	r.Platforms = []string{"instagram"}
	res := e.Reload(r, t0.Add(time.Hour))
	if len(res.Queued) != 1 || !res.Queued[0].Effective.Equal(t0.Add(25*time.Hour)) {
		t.Fatalf("queued %+v, want whatsapp at t0+25h", res.Queued)
	}
	e.Advance(t0.Add(day))
	if e.Status(t0.Add(day)).Active.Cooldown != time.Hour {
		t.Fatal("the shorter cooldown did not apply after 24h")
	}
	// Now the short cooldown is in force.
	r.Domains = nil
	res = e.Reload(r, t0.Add(day))
	if len(res.Queued) != 1 || !res.Queued[0].Effective.Equal(t0.Add(day+time.Hour)) {
		t.Errorf("queued %+v, want the domain at t0+25h", res.Queued)
	}
}

func TestStrict(t *testing.T) {
	r := base()
	r.Strict, r.Length = true, 90*day
	e := Adopt(r, t0, time.UTC)
	t1 := t0.Add(time.Hour)

	loose := r
	loose.Platforms = []string{"instagram", "tiktok"}
	loose.Length = 10 * day
	res := e.Reload(loose, t1)
	if keys(res.Applied)[0] != "platform+:tiktok" || len(res.Queued) != 0 || len(res.Refused) != 2 {
		t.Errorf("strict: applied %v, queued %v, refused %v", keys(res.Applied), keys(res.Queued), keys(res.Refused))
	}
	if _, _, err := e.Unlock(t1); !errors.Is(err, ErrStrict) {
		t.Errorf("Unlock in strict mode: %v, want ErrStrict", err)
	}
	st := e.Status(t1)
	if len(st.Refused) != 3 || !st.StrictNow || len(st.Pending) != 0 {
		t.Errorf("status: refused %v, strict %v, pending %v", st.Refused, st.StrictNow, st.Pending)
	}
	// Asked again, still refused, no duplicate.
	if res := e.Reload(loose, t1.Add(day)); len(res.Refused) != 0 || len(e.Status(t1).Refused) != 3 {
		t.Errorf("refused again: %v", res.Refused)
	}
	// At the end: the blocks lift with no cooldown, strict lapses, and the
	// loosenings the file still asks for wait the cooldown like any other.
	end := t0.Add(90 * day)
	if got := e.NextTransition(t1.Add(day)); got.After(end) {
		t.Errorf("next transition %v after the end %v", got, end)
	}
	res = e.Advance(end)
	if !res.Completed.Equal(end) || blocks(e, end, "instagram") {
		t.Errorf("at the end: completed %v, instagram blocked %v", res.Completed, blocks(e, end, "instagram"))
	}
	if st := e.Status(end); st.StrictNow || len(st.Refused) != 0 || st.PactOn || st.Completed.IsZero() {
		t.Errorf("after the end: %+v", st)
	}
}

func TestStrictRefusesQueuedLoosenings(t *testing.T) {
	e := Adopt(base(), t0, time.UTC)
	r := base()
	r.Platforms = []string{"instagram"}
	e.Reload(r, t0)
	r.Strict = true
	res := e.Reload(r, t0.Add(time.Hour))
	if len(e.Status(t0).Pending) != 0 || len(res.Refused) != 1 {
		t.Errorf("strict on: pending %v, refused %v", e.Status(t0).Pending, res.Refused)
	}
}

func TestPeriodEndAndQuietHoursGoOn(t *testing.T) {
	r := base()
	r.Length = 3 * day
	r.Quiet = []Window{lateNight}
	e := Adopt(r, t0, time.UTC) // 21:00
	end := t0.Add(3 * day)
	if got := e.NextTransition(t0); !got.Equal(t0.Add(time.Hour)) {
		t.Errorf("next transition %v, want 22:00 when the quiet hours start", got)
	}
	e.Advance(end)
	st := e.Status(end)
	if st.PactOn || !st.Completed.Equal(end) || blocks(e, end, "instagram") {
		t.Errorf("at the end: %+v", st)
	}
	night := end.Add(2 * time.Hour) // 23:00
	if !blocks(e, night, "whatsapp") || blocks(e, night, "instagram") {
		t.Error("quiet hours did not go on after the pact ended")
	}
	// The same request later does not start the pact again.
	if res := e.Reload(r, end.Add(day)); res.Changed() {
		t.Errorf("reload after the end: %+v", res)
	}
}

func TestUnlock(t *testing.T) {
	e := Adopt(base(), t0, time.UTC)
	t1 := t0.Add(time.Hour)
	c, _, err := e.Unlock(t1)
	if err != nil || !c.Effective.Equal(t1.Add(day)) || c.ID == "" {
		t.Fatalf("Unlock: %+v, %v", c, err)
	}
	again, _, _ := e.Unlock(t1.Add(time.Hour))
	if again.ID != c.ID || !again.Effective.Equal(c.Effective) {
		t.Errorf("Unlock again: %+v, want the first %+v", again, c)
	}
	e.Reload(base(), t1.Add(2*time.Hour)) // a reload keeps it: it is not from the file
	e.Advance(c.Effective)
	if st := e.Status(c.Effective); st.PactOn || !st.Unlocked || blocks(e, c.Effective, "instagram") {
		t.Errorf("after the unlock: %+v", st)
	}
	if res := e.Reload(base(), c.Effective.Add(time.Hour)); res.Changed() {
		t.Errorf("the same file after an unlock started the pact again: %+v", res)
	}
	if _, _, err := e.Unlock(c.Effective.Add(time.Hour)); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Unlock after the end: %v", err)
	}
	// A new period in the file is a new pact, at once.
	r := base()
	r.Start, r.Length = c.Effective.Add(2*time.Hour), 7*day
	e.Reload(r, c.Effective.Add(2*time.Hour))
	if !blocks(e, c.Effective.Add(2*time.Hour), "instagram") {
		t.Error("a new period did not start a new pact")
	}
}

func TestCancelUnlock(t *testing.T) {
	e := Adopt(base(), t0, time.UTC)
	c, _, _ := e.Unlock(t0)
	if _, err := e.Cancel(c.ID, t0); err != nil {
		t.Fatal(err)
	}
	e.Advance(t0.Add(2 * day))
	if !blocks(e, t0.Add(2*day), "instagram") {
		t.Error("a cancelled unlock took effect")
	}
}

func TestQuietAcrossMidnight(t *testing.T) {
	loc := newYork(t)
	fri := Window{Days: 1 << time.Friday, From: 22 * 60, To: 7 * 60, Platforms: []string{"whatsapp"}, Domains: []string{}}
	r := base()
	r.Platforms, r.Domains, r.Length, r.Quiet = []string{}, []string{}, 0, []Window{fri}
	at := func(d, h, m int) time.Time { return time.Date(2026, 11, d, h, m, 0, 0, loc) } // Fri 27 Nov 2026
	e := Adopt(r, at(26, 12, 0), loc)
	for _, tt := range []struct {
		t    time.Time
		want bool
	}{
		{at(26, 23, 0), false}, // Thursday night
		{at(27, 21, 59), false},
		{at(27, 22, 0), true},
		{at(28, 0, 30), true}, // Saturday, in Friday's window
		{at(28, 6, 59), true},
		{at(28, 7, 0), false},
		{at(28, 23, 0), false},
	} {
		if got := blocks(e, tt.t, "whatsapp"); got != tt.want {
			t.Errorf("%v: blocked %v, want %v", tt.t, got, tt.want)
		}
	}
	if got, want := e.NextTransition(at(26, 12, 0)), at(27, 22, 0); !got.Equal(want) {
		t.Errorf("next transition %v, want %v", got, want)
	}
	if got, want := e.NextTransition(at(27, 22, 0)), at(28, 7, 0); !got.Equal(want) {
		t.Errorf("next transition %v, want %v", got, want)
	}
}

func TestQuietAcrossDST(t *testing.T) {
	loc := newYork(t)
	r := base()
	w := lateNight
	w.Zone = "" // as the config asks: in the machine's zone
	r.Platforms, r.Domains, r.Length, r.Quiet = []string{}, []string{}, 0, []Window{w}
	for _, tt := range []struct {
		name  string
		night time.Time // 22:00 local the evening before the change
		hours time.Duration
	}{
		{"spring forward", time.Date(2026, 3, 7, 22, 0, 0, 0, loc), 8 * time.Hour},
		{"fall back", time.Date(2026, 10, 31, 22, 0, 0, 0, loc), 10 * time.Hour},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := Adopt(r, tt.night.Add(-time.Hour), loc)
			if got := e.NextTransition(tt.night.Add(-time.Hour)); !got.Equal(tt.night) {
				t.Errorf("start: %v, want %v", got, tt.night)
			}
			end := e.NextTransition(tt.night)
			if got := end.Sub(tt.night); got != tt.hours {
				t.Errorf("the window lasts %v (until %v), want %v", got, end, tt.hours)
			}
			if h, m, _ := end.In(loc).Clock(); h != 7 || m != 0 {
				t.Errorf("the window ends at %v local, want 07:00", end.In(loc))
			}
			if !blocks(e, end.Add(-time.Minute), "whatsapp") || blocks(e, end, "whatsapp") {
				t.Error("blocked at the wrong times around the end")
			}
		})
	}
}

// fakeMachine is a machine's clocks for the engine on the trusted clock.
type fakeMachine struct{ r clock.Reading }

func (f *fakeMachine) Read() (clock.Reading, error) { return f.r, nil }

func TestWallClockJumpsAndReboot(t *testing.T) {
	m := &fakeMachine{clock.Reading{BootID: "a", Boot: time.Hour, Wall: t0}}
	c := clock.New(m, clock.Ledger{})
	r := base()
	r.Length = 3 * day
	e := Adopt(r, c.Now(), time.UTC)
	r.Platforms = []string{"instagram"}
	e.Reload(r, c.Now())

	// Forward a month within the boot: nothing ends, nothing matures.
	m.r.Boot += time.Minute
	m.r.Wall = m.r.Wall.AddDate(0, 1, 0)
	now := c.Now()
	e.Advance(now)
	if !blocks(e, now, "whatsapp") || !blocks(e, now, "instagram") {
		t.Error("moving the clock forward a month ended the pact or the cooldown")
	}
	// Back a day: the trusted clock goes on; the cooldown still matures on
	// time.
	m.r.Wall = m.r.Wall.AddDate(0, -1, -1)
	m.r.Boot += day
	now = c.Now()
	e.Advance(now)
	if blocks(e, now, "whatsapp") {
		t.Error("moving the clock back stranded the loosening")
	}
	// A reboot with the wall clock still a day behind: time does not go
	// back, and the pact still ends on time.
	ledger, state := c.Ledger(), e.State()
	m.r = clock.Reading{BootID: "b", Boot: time.Minute, Wall: m.r.Wall.Add(time.Hour)}
	c2 := clock.New(m, ledger)
	e2 := New(state, time.UTC)
	e2.Reload(r, c2.Now())
	if !blocks(e2, c2.Now(), "instagram") {
		t.Error("the pact ended at the reboot")
	}
	m.r.Boot += 2*day - time.Minute
	e2.Advance(c2.Now())
	if blocks(e2, c2.Now(), "instagram") {
		t.Errorf("the pact did not end after 3 days of trusted time (now %v)", c2.Now())
	}
}

func TestWhatIsPlain(t *testing.T) {
	e := Adopt(base(), t0, time.UTC)
	r := base()
	r.Platforms, r.Cooldown, r.Length = []string{"instagram"}, time.Hour, 10*day
	res := e.Reload(r, t0)
	var whats []string
	for _, c := range res.Queued {
		whats = append(whats, c.What)
	}
	got := strings.Join(whats, "; ")
	want := "end the pact earlier, on Wed 2 Dec 2026 at 21:00 instead of on Tue 22 Dec 2026 at 21:00; stop blocking whatsapp; make the cooldown 1 hour instead of 1 day"
	if got != want {
		t.Errorf("descriptions:\n\twant %q\n\t got %q", want, got)
	}
}

func TestUninstallIsALoosening(t *testing.T) {
	e := Adopt(base(), t0, time.UTC)
	t1 := t0.Add(time.Hour)
	c, allowed, res, err := e.Uninstall(t1)
	if err != nil || allowed || c.ID == "" || !c.Effective.Equal(t1.Add(day)) || len(res.Queued) != 1 {
		t.Fatalf("Uninstall during the pact: %+v allowed %v, %v", c, allowed, err)
	}
	// Asked again: the same request, its first time kept, still waiting.
	again, allowed, _, _ := e.Uninstall(t1.Add(time.Hour))
	if allowed || again.ID != c.ID || !again.Effective.Equal(c.Effective) {
		t.Errorf("Uninstall again: %+v allowed %v, want the first %+v", again, allowed, c)
	}
	// A reload keeps it: it is not from the file.
	e.Reload(base(), t1.Add(2*time.Hour))
	if st := e.Status(t1.Add(2 * time.Hour)); len(st.Pending) != 1 || st.Uninstall != nil || !st.Binding {
		t.Errorf("after a reload: pending %v, uninstall %v, binding %v", st.Pending, st.Uninstall, st.Binding)
	}
	if got := e.NextTransition(t1.Add(2 * time.Hour)); !got.Equal(c.Effective) {
		t.Errorf("next transition %v, want the maturity %v", got, c.Effective)
	}
	// Matured: allowed, and the pact itself still blocks until then.
	e.Advance(c.Effective)
	if !blocks(e, c.Effective, "instagram") {
		t.Error("a matured uninstall lifted the blocks; it only allows removing nocontact")
	}
	m, allowed, _, err := e.Uninstall(c.Effective.Add(time.Minute))
	if err != nil || !allowed || m.ID != c.ID {
		t.Errorf("Uninstall after the cooldown: %+v allowed %v, %v", m, allowed, err)
	}
	// It survives a restart.
	e2 := New(e.State(), time.UTC)
	if _, allowed, _, _ := e2.Uninstall(c.Effective.Add(time.Hour)); !allowed {
		t.Error("the matured uninstall did not survive a restart")
	}
	// Cancelled after maturing: asked again, it waits again.
	if out, err := e2.Cancel(c.ID, c.Effective.Add(time.Hour)); err != nil || len(out) != 1 {
		t.Fatalf("Cancel the matured uninstall: %v, %v", out, err)
	}
	if _, allowed, _, _ := e2.Uninstall(c.Effective.Add(2 * time.Hour)); allowed {
		t.Error("after cancelling, uninstall was allowed without a new cooldown")
	}
}

func TestUninstallCancelledBeforeMaturing(t *testing.T) {
	e := Adopt(base(), t0, time.UTC)
	c, _, _, _ := e.Uninstall(t0)
	if _, err := e.Cancel(c.ID, t0); err != nil {
		t.Fatal(err)
	}
	e.Advance(t0.Add(2 * day))
	if _, allowed, _, _ := e.Uninstall(t0.Add(2 * day)); allowed {
		t.Error("a cancelled uninstall request was honoured")
	}
}

func TestUninstallWhenNothingBinds(t *testing.T) {
	r := base()
	r.Length = 3 * day
	e := Adopt(r, t0, time.UTC)
	end := t0.Add(3 * day)
	if _, allowed, _, _ := e.Uninstall(end); !allowed {
		t.Error("uninstall after the pact's end was not allowed at once")
	}
	// Quiet hours go on after the period, so they still bind.
	r.Quiet = []Window{lateNight}
	e = Adopt(r, t0, time.UTC)
	if _, allowed, res, _ := e.Uninstall(end); allowed || len(res.Queued) != 1 {
		t.Errorf("uninstall with quiet hours set: allowed %v, queued %v", allowed, res.Queued)
	}
}

func TestUninstallRefusedWhenStrict(t *testing.T) {
	r := base()
	r.Strict, r.Length = true, 90*day
	e := Adopt(r, t0, time.UTC)
	c, allowed, res, err := e.Uninstall(t0.Add(time.Hour))
	if !errors.Is(err, ErrStrict) || allowed || len(res.Refused) != 1 {
		t.Fatalf("Uninstall in strict mode: %+v allowed %v refused %v, %v; want ErrStrict", c, allowed, res.Refused, err)
	}
	if st := e.Status(t0.Add(time.Hour)); len(st.Refused) != 1 || len(st.Pending) != 0 {
		t.Errorf("status: refused %v, pending %v", st.Refused, st.Pending)
	}
	// A reload does not forget the refusal; the end does, and then it is
	// allowed at once.
	e.Reload(r, t0.Add(2*time.Hour))
	if st := e.Status(t0.Add(2 * time.Hour)); len(st.Refused) != 1 {
		t.Errorf("refusal lost on reload: %v", st.Refused)
	}
	if _, allowed, _, err := e.Uninstall(t0.Add(90 * day)); !allowed || err != nil {
		t.Errorf("Uninstall at the end of a strict pact: allowed %v, %v", allowed, err)
	}
}

func TestNewPactForgetsAMaturedUninstall(t *testing.T) {
	r := base()
	r.Length = 10 * day
	e := Adopt(r, t0, time.UTC)
	c, _, _, _ := e.Uninstall(t0)
	e.Advance(c.Effective)
	r2 := base()
	r2.Start, r2.Length = t0.Add(11*day), 7*day
	e.Reload(r2, t0.Add(11*day))
	if _, allowed, _, _ := e.Uninstall(t0.Add(11 * day)); allowed {
		t.Error("an uninstall allowed under the last pact carried over to a new one")
	}
}

// TestFirewallOffWaitsTheCooldown: turning the firewall layer off is a
// loosening like any other: the layer stays on until the cooldown has
// passed; a state from before the layer existed gets it at once.
func TestFirewallOffWaitsTheCooldown(t *testing.T) {
	r := base()
	r.Firewall = true
	e := Adopt(r, t0, time.UTC)
	if !e.Firewall() {
		t.Fatal("a pact that asks for the firewall layer does not have it")
	}
	off := base()
	t1 := t0.Add(time.Hour)
	res := e.Reload(off, t1)
	if len(res.Queued) != 1 || res.Queued[0].Op != OpFirewall || res.Queued[0].What != "turn the firewall layer off" {
		t.Fatalf("turning the firewall off: %+v, want one queued change", res)
	}
	if e.Advance(t1.Add(day - time.Second)); !e.Firewall() {
		t.Error("the firewall layer went off before the cooldown passed")
	}
	if e.Advance(t1.Add(day)); e.Firewall() {
		t.Error("the firewall layer is still on after the cooldown")
	}

	// A state written before the layer existed has no firewall field.
	old := New(State{Active: resolve(base(), time.Time{}, t0, time.UTC), NextID: 1}, time.UTC)
	if old.Firewall() {
		t.Fatal("an old state has the firewall on")
	}
	if res := old.Reload(r, t1); len(res.Applied) != 1 || res.Applied[0].Key != "firewall:true" || !old.Firewall() {
		t.Errorf("an old state asked for the firewall: %+v, want it applied at once", res)
	}
}
