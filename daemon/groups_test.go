package daemon

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/nocontact/nocontact/daemon/clock"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
)

// syncClock is a fake clock the filter's goroutines may read while the
// test moves it.
type syncClock struct {
	mu sync.Mutex
	r  clock.Reading
}

func (c *syncClock) Read() (clock.Reading, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.r, nil
}

func (c *syncClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.r.Boot += d
	c.r.Wall = c.r.Wall.Add(d)
}

// startSync is fixture.start with a clock safe to move while serving.
func (f *fixture) startSync(t *testing.T) (*Daemon, *syncClock) {
	t.Helper()
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	clk := &syncClock{r: f.clk.reading()}
	d, err := New(Options{ConfigPath: f.cfg, Catalog: cat, Clock: clk, Location: time.UTC,
		Logger: slog.New(slog.DiscardHandler), Witness: func(url string) clock.Witness { return offline{url} }})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d, clk
}

// serve starts d's filter on loopback without the run loop and returns a
// function that asks it for a name's A record.
func serve(t *testing.T, d *Daemon) func(name string) *dns.Msg {
	t.Helper()
	if err := d.srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := d.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	addr := d.srv.Addrs()[0].String()
	return func(name string) *dns.Msg {
		t.Helper()
		q := new(dns.Msg)
		q.SetQuestion(dns.Fqdn(name), dns.TypeA)
		q.SetEdns0(1232, false) // for the extended error that names the platform
		r, _, err := (&dns.Client{Timeout: 6 * time.Second}).Exchange(q, addr)
		if err != nil {
			t.Fatalf("asking %s: %v", name, err)
		}
		return r
	}
}

// blockedAs reports whether r is nocontact's blocked answer (0.0.0.0) and
// names platform in its extended error.
func blockedAs(r *dns.Msg, platform string) bool {
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		return false
	}
	a, ok := r.Answer[0].(*dns.A)
	if !ok || !a.A.IsUnspecified() {
		return false
	}
	if o := r.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if ede, ok := e.(*dns.EDNS0_EDE); ok && strings.HasPrefix(ede.ExtraText, platform+" ") {
				return true
			}
		}
	}
	return false
}

// The groups reach the filter: block = ["all", "video", "payments"] in the
// settings file makes the daemon's filter answer youtube.com and venmo.com
// with the block, as their platforms, and leaves the groups not named open.
func TestGroupsInBlockReachTheFilter(t *testing.T) {
	f := newFixture(t)
	f.write(t, `block = ["all", "video", "payments"]`+"\nlength = \"30d\"")
	d := f.start(t)
	ask := serve(t, d)
	for name, platform := range map[string]string{
		"youtube.com": "youtube", "www.youtube.com": "youtube", "i.ytimg.com": "youtube",
		"venmo.com": "venmo", "api.venmo.com": "venmo", "cash.app": "cash-app",
		"www.twitch.tv": "twitch", "instagram.com": "instagram", "www.reddit.com": "reddit",
	} {
		if r := ask(name); !blockedAs(r, platform) {
			t.Errorf("%s: %v, want blocked as %s", name, r, platform)
		}
	}
	// Music and gaming were not named: the filter forwards them (and the
	// test's upstream, a closed port, fails them).
	for _, name := range []string{"open.spotify.com", "store.steampowered.com", "www.strava.com"} {
		if r := ask(name); r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 {
			t.Errorf("%s: %v, want it forwarded, not blocked", name, r)
		}
	}
	st := d.Status()
	for _, id := range []string{"youtube", "twitch", "venmo", "cash-app", "instagram"} {
		if !slices.Contains(st.Blocked, id) {
			t.Errorf("status blocks %v, lacks %s", st.Blocked, id)
		}
	}
	for _, id := range []string{"spotify", "steam", "strava", "life360"} {
		if slices.Contains(st.Blocked, id) {
			t.Errorf("status blocks %s, which no group named holds", id)
		}
	}
}

// Adding a group to the block list is a tightening, applied at once;
// taking it out again is a loosening of each of its platforms, which waits
// out the cooldown; the pact engine compares the expanded platforms, so
// naming one of them by itself keeps it out of the loosening.
func TestGroupsTightenAtOnceLoosenAfterCooldown(t *testing.T) {
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	video, err := cat.Expand("video")
	if err != nil || len(video) < 2 {
		t.Fatalf("Expand(video) = %v, %v", video, err)
	}
	f := newFixture(t)
	f.write(t, `block = ["all"]`+"\nlength = \"30d\"")
	d, clk := f.startSync(t)
	start := clk.r.Wall
	ask := serve(t, d)
	if r := ask("youtube.com"); blockedAs(r, "youtube") {
		t.Fatal("youtube.com blocked by \"all\", want it open until video is named")
	}

	f.write(t, `block = ["all", "video"]`+"\nlength = \"30d\"")
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	st := d.Status()
	if len(st.Pending) != 0 {
		t.Errorf("adding a group queued %v, want it applied at once", st.Pending)
	}
	for _, id := range video {
		if !slices.Contains(st.Blocked, id) {
			t.Errorf("after adding video: %s not blocked", id)
		}
	}
	if r := ask("youtube.com"); !blockedAs(r, "youtube") {
		t.Errorf("youtube.com after adding video: %v, want blocked at once", r)
	}

	// Taking the group out again, but keeping YouTube by name.
	f.write(t, `block = ["all", "YouTube"]`+"\nlength = \"30d\"")
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	st = d.Status()
	var pending []string
	for _, c := range st.Pending {
		pending = append(pending, c.What)
		if want := start.Add(24 * time.Hour); !c.Effective.Equal(want) {
			t.Errorf("%q effective %v, want after the cooldown, %v", c.What, c.Effective, want)
		}
	}
	cat, err = catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, id := range video {
		if id != "youtube" {
			want = append(want, "stop blocking "+cat.DisplayName(id))
		}
	}
	slices.Sort(pending)
	slices.Sort(want)
	if !slices.Equal(pending, want) {
		t.Errorf("pending after removing video:\n\t got %q\n\twant %q", pending, want)
	}
	for _, id := range video {
		if !slices.Contains(st.Blocked, id) {
			t.Errorf("%s unblocked before the cooldown", id)
		}
	}
	if r := ask("www.twitch.tv"); !blockedAs(r, "twitch") {
		t.Errorf("twitch during the cooldown: %v, want still blocked", r)
	}

	// The cooldown passes: the group's other platforms open, YouTube stays.
	clk.advance(24 * time.Hour)
	st = d.Status()
	d.mu.Lock()
	d.publish(d.clk.Now())
	d.mu.Unlock()
	if len(st.Pending) != 0 || slices.Contains(st.Blocked, "twitch") || !slices.Contains(st.Blocked, "youtube") {
		t.Errorf("after the cooldown: blocked %v, pending %v; want youtube alone of the video group", st.Blocked, st.Pending)
	}
	if r := ask("www.twitch.tv"); blockedAs(r, "twitch") {
		t.Error("twitch still blocked after the cooldown")
	}
	if r := ask("youtube.com"); !blockedAs(r, "youtube") {
		t.Error("youtube, named by itself, unblocked with its group")
	}
}
