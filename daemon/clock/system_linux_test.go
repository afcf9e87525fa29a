package clock

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseOffsets(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"monotonic 0 0\nboottime -900 0\n":                      -15 * time.Minute,
		"monotonic           0         0\nboottime 86400 500\n": 24*time.Hour + 500,
		"boottime 0 0\n": 0,
		"":               0,
		"boottime x 0\n": 0,
	} {
		if got := parseOffsets([]byte(in)); got != want {
			t.Errorf("parseOffsets(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestSystemInATimeNamespace runs this test binary again in a time
// namespace whose boot clock is 15 minutes behind, and checks that its
// reading of the boot clock is the same as outside, with the offset named.
func TestSystemInATimeNamespace(t *testing.T) {
	if os.Getenv("CLOCK_TIMENS_CHILD") != "" {
		r, err := System().Read()
		if err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("BOOT " + strconv.FormatInt(int64(r.Boot), 10) + " OFF " + strconv.FormatInt(int64(r.NSOffset), 10) + "\n")
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a time namespace: run `sudo go test ./daemon/clock -run TimeNamespace` (CI runs it as root)")
	}
	before, err := System().Read()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "--fork", "--time", "--boottime", "-900", os.Args[0], "-test.run=^TestSystemInATimeNamespace$", "-test.v")
	cmd.Env = append(os.Environ(), "CLOCK_TIMENS_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("unshare --time: %v\n%s", err, out)
	}
	var boot, off int64
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) == 4 && f[0] == "BOOT" {
			boot, _ = strconv.ParseInt(f[1], 10, 64)
			off, _ = strconv.ParseInt(f[3], 10, 64)
		}
	}
	after, _ := System().Read()
	if time.Duration(off) != -15*time.Minute {
		t.Errorf("offset seen in the namespace: %v, want -15m\n%s", time.Duration(off), out)
	}
	if b := time.Duration(boot); b < before.Boot || b > after.Boot {
		t.Errorf("boot clock in the namespace %v, want between %v and %v (the offset taken out)", b, before.Boot, after.Boot)
	}
}
