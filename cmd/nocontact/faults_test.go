//go:build !windows

package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/nocontact/nocontact/dnsfilter/dnstest"
	"github.com/nocontact/nocontact/internal/wait"
)

// long reports whether the long-running fault variants were asked for
// (NOCONTACT_LONG=1; see RELIABILITY.md).
func long() bool { return os.Getenv("NOCONTACT_LONG") == "1" }

// load sends queries with random names from its own sockets (many source
// ports) until stop is closed, and reports how many it sent.
func load(addr string, stop <-chan struct{}) <-chan int {
	done := make(chan int, 1)
	go func() {
		n := 0
		defer func() { done <- n }()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			c, err := net.Dial("udp", addr)
			if err != nil {
				continue
			}
			q := new(dns.Msg)
			q.SetQuestion(fmt.Sprintf("n%d.example.org.", i), dns.TypeA)
			b, _ := q.Pack()
			c.Write(b)
			c.Close()
			n++
		}
	}()
	return done
}

func TestKillNineUnderLoad(t *testing.T) {
	t.Parallel()
	rounds := 8
	if long() {
		rounds = 100
	}
	up := upstreamZone(t).String()
	dir := t.TempDir()
	cfg, state := filepath.Join(dir, "nocontact.toml"), filepath.Join(dir, "state")
	sock := filepath.Join(dir, "c.sock")
	text := func(block string) string {
		return fmt.Sprintf("[pact]\nblock = [%s]\nlength = \"30d\"\ncooldown = \"1h\"\n[dns]\nlisten = [\"127.0.0.1:0\"]\nupstreams = [%q]\n"+
			"[daemon]\nstate_dir = %q\ncontrol_socket = %q\n", block, up, state, sock)
	}
	writeConfig(t, cfg, text(`"instagram", "tiktok"`))
	d := startDaemon(t, cfg)
	d.query(t, "instagram.com.", dns.TypeA)  // one attempt
	writeConfig(t, cfg, text(`"instagram"`)) // a loosening: queued for an hour
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitFor(t, "change queued")
	before := statusJSON(t, sock)
	if len(before.Pending) != 1 {
		t.Fatalf("pending %+v, want the unblocking of tiktok", before.Pending)
	}
	wait.For(t, "the attempt counts on disk", func() bool {
		_, err := os.Stat(filepath.Join(state, "attempts"))
		return err == nil
	})

	sent := 0
	for round := range rounds {
		stop := make(chan struct{})
		done := load(d.addr, stop)
		// Let the load run against the daemon, then kill it mid-flight.
		d.query(t, "example.org.", dns.TypeA)
		d.cmd.Process.Signal(syscall.SIGKILL)
		d.cmd.Wait()
		close(stop)
		sent += <-done

		d = startDaemon(t, cfg)
		after := statusJSON(t, sock)
		if len(after.Pending) != 1 || after.Pending[0].ID != before.Pending[0].ID || !after.Pending[0].Effective.Equal(before.Pending[0].Effective) {
			t.Fatalf("round %d: pending %+v, want %+v unchanged", round, after.Pending, before.Pending)
		}
		if after.Pact.Start != before.Pact.Start || *after.Pact.End != *before.Pact.End {
			t.Fatalf("round %d: pact %+v, want %+v", round, after.Pact, before.Pact)
		}
		if after.Attempts["instagram"].Today < 1 {
			t.Fatalf("round %d: attempts %+v, want the one from before the kills", round, after.Attempts)
		}
		if !isBlocked(d.query(t, "www.tiktok.com.", dns.TypeA)) || !isBlocked(d.query(t, "instagram.com.", dns.TypeA)) {
			t.Fatalf("round %d: tiktok or instagram not blocked after a kill -9", round)
		}
	}
	t.Logf("%d kill -9 rounds, %d queries sent under load", rounds, sent)
}

func TestDamagedStateFailsClosed(t *testing.T) {
	t.Parallel()
	up := upstreamZone(t).String()
	for _, damage := range []struct {
		name string
		do   func(path string)
	}{
		{"garbage", func(p string) {
			if err := os.WriteFile(p, []byte("\x00\xffnot a state file at all"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"truncated", func(p string) {
			b, _ := os.ReadFile(p)
			if err := os.WriteFile(p, b[:len(b)/2], 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"empty", func(p string) {
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(damage.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg, state := filepath.Join(dir, "nocontact.toml"), filepath.Join(dir, "state")
			writeConfig(t, cfg, pactConfig(t, up, state, `block = ["instagram"]`+"\nlength = \"30d\"\ncooldown = \"1h\""))
			d := startDaemon(t, cfg)
			d.cmd.Process.Signal(syscall.SIGTERM)
			d.waitFor(t, "stopped")
			d.cmd.Wait()
			damage.do(filepath.Join(state, "state"))

			// One copy damaged: restored from the other.
			d = startDaemonLog(t, cfg, "restored from the other")
			if !isBlocked(d.query(t, "instagram.com.", dns.TypeA)) {
				t.Error("instagram not blocked after the state was damaged")
			}
			if isBlocked(d.query(t, "www.whatsapp.com.", dns.TypeA)) {
				t.Error("whatsapp blocked: with one whole copy, the pact is as it was")
			}
			aside, _ := filepath.Glob(filepath.Join(state, "state.damaged-*"))
			if len(aside) != 1 {
				t.Errorf("damaged file kept aside: %v, want one", aside)
			}

			// Both copies damaged: everything is blocked.
			d.cmd.Process.Signal(syscall.SIGTERM)
			d.waitFor(t, "stopped")
			d.cmd.Wait()
			damage.do(filepath.Join(state, "state"))
			damage.do(filepath.Join(state, "pact-copy"))
			d = startDaemonLog(t, cfg, "the pact's memory is lost")
			for _, name := range []string{"instagram.com.", "www.whatsapp.com."} {
				if !isBlocked(d.query(t, name, dns.TypeA)) {
					t.Errorf("%s not blocked after both copies were damaged", name)
				}
			}
		})
	}
}

// TestFullDisk runs the daemon with its state on a tiny tmpfs in a private
// mount namespace, fills it, and checks that the daemon keeps answering
// and applying tightenings, says so once, and says when saving works again.
func TestFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs in a private mount namespace: run `sudo go test ./cmd/nocontact/ -run FullDisk` (CI runs it as root)")
	}
	for _, tool := range []string{"unshare", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (Debian package util-linux)", tool)
		}
	}
	t.Parallel()
	up := upstreamZone(t).String()
	dir := t.TempDir()
	cfg, state := filepath.Join(dir, "nocontact.toml"), filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	text := func(block string) string {
		return pactConfig(t, up, state, "block = ["+block+"]\nlength = \"30d\"\ncooldown = \"1h\"")
	}
	writeConfig(t, cfg, text(`"instagram"`))
	script := `mount -t tmpfs -o size=64k,mode=0700 nocontact-test "$1" && exec "$2" run --config "$3"`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", state, binary, cfg)
	d := startDaemonCmd(t, cmd, "")
	pid := strconv.Itoa(d.cmd.Process.Pid)
	// The shell exec'd the daemon, so its pid is the daemon's: fill its
	// tmpfs from inside its mount namespace.
	fill := exec.Command("nsenter", "-t", pid, "-m", "sh", "-c", `dd if=/dev/zero of="$1/fill" bs=1k 2>/dev/null; true`, "sh", state)
	if out, err := fill.CombinedOutput(); err != nil {
		t.Fatalf("filling the tmpfs: %v %s", err, out)
	}

	writeConfig(t, cfg, text(`"instagram", "tiktok"`)) // a tightening
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitFor(t, "could not save to its state folder")
	d.waitFor(t, "config reloaded")
	if !isBlocked(d.query(t, "www.tiktok.com.", dns.TypeA)) {
		t.Error("a tightening on a full disk did not apply")
	}
	writeConfig(t, cfg, text(`"instagram", "tiktok", "snapchat"`))
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitFor(t, "config reloaded")
	if strings.Count(d.log.String(), "could not save") != 1 {
		t.Errorf("the full disk was reported %d times, want once:\n%s", strings.Count(d.log.String(), "could not save"), d.log)
	}
	if !isBlocked(d.query(t, "www.snapchat.com.", dns.TypeA)) || !isBlocked(d.query(t, "instagram.com.", dns.TypeA)) {
		t.Error("the daemon stopped blocking on a full disk")
	}

	free := exec.Command("nsenter", "-t", pid, "-m", "rm", "-f", filepath.Join(state, "fill"))
	if out, err := free.CombinedOutput(); err != nil {
		t.Fatalf("freeing the tmpfs: %v %s", err, out)
	}
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitFor(t, "can save to its state folder again")
}

// peakRSS reads a process's peak resident memory in KiB.
func peakRSS(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("cannot read the daemon's memory: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Skip("no VmHWM in /proc/PID/status")
	return 0
}

// TestFloodOfRandomNames sends queries for random names from many source
// ports as fast as it can: the daemon's memory stays bounded, and blocked
// and cached names go on being answered during the flood.
func TestFloodOfRandomNames(t *testing.T) {
	total := 100_000
	if long() {
		total = 1_000_000
	}
	up := upstreamZone(t).String()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nocontact.toml")
	writeConfig(t, cfg, pactConfig(t, up, filepath.Join(dir, "state"), `block = ["instagram"]`))
	d := startDaemon(t, cfg)
	d.query(t, "example.org.", dns.TypeA) // now in the cache

	const senders = 8
	sent := make(chan int, senders)
	for w := range senders {
		go func() {
			n := 0
			q := new(dns.Msg)
			for i := w; i < total; {
				// A new socket, so a new source port, every 500 queries.
				c, err := net.Dial("udp", d.addr)
				if err != nil {
					continue
				}
				for j := 0; j < 500 && i < total; j, i = j+1, i+senders {
					q.SetQuestion(fmt.Sprintf("r%d-%x.flood.example.", i, i*7919), dns.TypeA)
					b, _ := q.Pack()
					c.Write(b)
					n++
				}
				c.Close()
			}
			sent <- n
		}()
	}
	// During the flood: a blocked and a cached name, asked as a person's
	// browser would, with retries.
	answered := 0
	c := &dns.Client{Timeout: 2 * time.Second}
	for range 20 {
		for _, name := range []string{"www.instagram.com.", "example.org."} {
			q := new(dns.Msg)
			q.SetQuestion(name, dns.TypeA)
			for try := 0; try < 3; try++ {
				if r, _, err := c.Exchange(q, d.addr); err == nil && len(r.Answer) == 1 {
					answered++
					break
				}
			}
		}
	}
	n := 0
	for range senders {
		n += <-sent
	}
	if answered != 40 {
		t.Errorf("during the flood %d of 40 questions for a blocked and a cached name were answered", answered)
	}
	if !isBlocked(d.query(t, "www.instagram.com.", dns.TypeA)) {
		t.Error("instagram not blocked after the flood")
	}
	rss := peakRSS(t, d.cmd.Process.Pid)
	if rss > 80*1024 {
		t.Errorf("peak memory %d MiB after %d queries, want under 80 MiB", rss/1024, n)
	}
	t.Logf("flood: %d queries sent, peak RSS %d MiB", n, rss/1024)
}

// TestNamesStayOutOfTheLog: at the default log level, no name anyone
// looked up reaches the log, blocked or not.
func TestNamesStayOutOfTheLog(t *testing.T) {
	t.Parallel()
	up := upstreamZone(t).String()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nocontact.toml")
	writeConfig(t, cfg, pactConfig(t, up, filepath.Join(dir, "state"), `block = ["instagram"]`))
	d := startDaemon(t, cfg)
	for _, name := range []string{"secret-4711.example.org.", "www.instagram.com.", "example.org.", "use-application-dns.net."} {
		d.query(t, name, dns.TypeA)
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.waitFor(t, "stopped")
	for _, name := range []string{"secret-4711", "www.instagram.com", "example.org", "use-application-dns"} {
		if strings.Contains(d.log.String(), name) {
			t.Errorf("the log names %q:\n%s", name, d.log)
		}
	}
}

// TestBadUpstreamsEndToEnd: with upstreams that never answer, answer
// slowly or answer garbage, the real daemon still answers every question
// within the 4-second budget (SERVFAIL at worst), and blocked and cached
// names at once.
func TestBadUpstreamsEndToEnd(t *testing.T) {
	t.Parallel()
	silent := dnstest.Serve(t, dnstest.Silent()).String()
	slow := dnstest.Serve(t, dnstest.Slow(3*time.Second, dnstest.NewZone(t, "example.org. 300 IN A 192.0.2.1"))).String()
	garbage := dnstest.Serve(t, dnstest.Garbage()).String()
	good := upstreamZone(t).String()

	start := func(ups ...string) *daemon {
		dir := t.TempDir()
		cfg := filepath.Join(dir, "nocontact.toml")
		text := pactConfig(t, ups[0], filepath.Join(dir, "state"), `block = ["instagram"]`)
		text = strings.Replace(text, fmt.Sprintf("upstreams = [%q]", ups[0]), `upstreams = ["`+strings.Join(ups, `", "`)+`"]`, 1)
		writeConfig(t, cfg, text)
		return startDaemon(t, cfg)
	}
	ask := func(d *daemon, name string) (*dns.Msg, time.Duration) {
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		begin := time.Now()
		r, _, err := (&dns.Client{Timeout: 10 * time.Second}).Exchange(q, d.addr)
		if err != nil {
			t.Errorf("%s: no answer: %v", name, err)
			return nil, time.Since(begin)
		}
		return r, time.Since(begin)
	}

	// Nothing usable upstream: SERVFAIL within the budget, for ten
	// clients at once.
	bad := start(silent, slow, garbage)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, took := ask(bad, fmt.Sprintf("q%d.example.org.", i))
			if r != nil && (r.Rcode != dns.RcodeServerFailure || took > 6*time.Second) {
				t.Errorf("bad upstreams: %s after %v, want SERVFAIL within 4 s", dns.RcodeToString[r.Rcode], took)
			}
		}()
	}
	wg.Wait()
	if r, _ := ask(bad, "www.instagram.com."); r == nil || !isBlocked(r) {
		t.Errorf("bad upstreams: a blocked name got %v", r)
	}

	// A good upstream behind two bad ones: the first question may run out
	// of budget on them (2 s a try, 4 s in all: a garbage answer is
	// ignored like a spoofed one, so it costs a whole try), but it is
	// answered within the budget, and the bad ones are moved to the back,
	// so the next question gets the good one's answer.
	mixed := start(silent, garbage, good)
	if r, took := ask(mixed, "other.example.org."); r == nil || took > 6*time.Second {
		t.Errorf("first question behind bad upstreams: %v after %v", r, took)
	}
	if r, took := ask(mixed, "example.org."); r == nil || len(r.Answer) != 1 || took > 6*time.Second {
		t.Errorf("good upstream behind bad ones: %v after %v", r, took)
	}
	if r, _ := ask(mixed, "example.org."); r == nil || len(r.Answer) != 1 {
		t.Errorf("cached name: %v", r)
	}
}
