package daemon

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/nocontact/dnsfilter/catalog"
)

// Issue 19: keep_open = ["messaging"] beside block = ["all"] leaves every
// messaging platform open, and only those; the log says what is kept open
// on purpose, by name.
func TestKeepOpenAGroupLeavesEveryPlatformOfItOpen(t *testing.T) {
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	f.write(t, `block = ["all"]`+"\nkeep_open = [\"messaging\"]\nlength = \"30d\"")
	d := f.start(t)
	ask := serve(t, d)
	messaging := cat.Category(catalog.Messaging)
	if len(messaging) < 5 {
		t.Fatalf("the catalog has %d messaging platforms", len(messaging))
	}
	pol := d.srv.Policy()
	for _, p := range messaging {
		for _, dom := range p.Domains {
			if r, blocked := pol.Blocks("www." + dom); blocked {
				t.Errorf("%s (%s) is blocked by %+v, want it kept open", dom, p.Name, r)
			}
		}
		// And through the filter itself: forwarded (the test's upstream,
		// a closed port, fails it), not answered with the block.
		if r := ask(p.Domains[0]); blockedAs(r, p.ID) {
			t.Errorf("%s: answered with the block", p.Domains[0])
		}
	}
	for name, platform := range map[string]string{"instagram.com": "instagram", "tinder.com": "tinder", "www.reddit.com": "reddit"} {
		if r := ask(name); !blockedAs(r, platform) {
			t.Errorf("%s: %v, want blocked as %s", name, r, platform)
		}
	}
	st := d.Status()
	for _, p := range messaging {
		if !slices.Contains(st.KeepOpen, p.ID) || slices.Contains(st.Blocked, p.ID) {
			t.Errorf("%s: kept open %v, blocked %v", p.ID, st.KeepOpen, slices.Contains(st.Blocked, p.ID))
		}
	}
	d.mu.Lock()
	d.logKeptOpen()
	d.mu.Unlock()
	if !strings.Contains(f.log.String(), "Kept open on purpose: Discord, ") {
		t.Errorf("the log does not say what is kept open, by name:\n%s", f.log)
	}
}

// A plan in phases, walked through the daemon with its fake clock: the
// next phase begins on schedule and the log says so, in words.
func TestPhaseBeginsOnScheduleInTheLog(t *testing.T) {
	f := newFixture(t)
	f.write(t, "block = [\"all\"]\nlength = \"2d\"\n[[phase]]\nlength = \"3d\"\nkeep_open = [\"whatsapp\"]\n[[phase.quiet_hours]]\nfrom = \"22:00\"\nto = \"07:00\"\nblock = [\"whatsapp\"]")
	d, clk := f.startSync(t)
	clk.advance(2 * 24 * time.Hour)
	d.step()
	st := d.Status()
	if slices.Contains(st.Blocked, "whatsapp") || !slices.Contains(st.Blocked, "instagram") || st.Phase != 2 {
		t.Errorf("in phase 2 at 21:00: phase %d, blocked %v", st.Phase, st.Blocked)
	}
	clk.advance(2 * time.Hour) // 23:00: quiet hours
	d.step()
	if st := d.Status(); !slices.Contains(st.Blocked, "whatsapp") {
		t.Errorf("at 23:00 in phase 2: WhatsApp open")
	}
}
