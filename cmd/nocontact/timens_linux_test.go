package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/miekg/dns"
)

// TestTimeNamespaceKeepsThePact is issue 13's attack without a reboot: the
// real binary started again in a time namespace whose boot clock is 15
// minutes behind (and the date a day ahead would not matter either). The
// queued change keeps its time, the pact holds, and the record says what
// happened.
func TestTimeNamespaceKeepsThePact(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a time namespace: run `sudo go test ./cmd/nocontact -run TimeNamespace` (CI runs it as root)")
	}
	t.Parallel()
	up := upstreamZone(t).String()
	dir := t.TempDir()
	cfg, state := filepath.Join(dir, "nocontact.toml"), filepath.Join(dir, "state")
	writeConfig(t, cfg, pactConfig(t, up, state, `block = ["instagram", "tiktok"]`+"\nlength = \"30d\"\ncooldown = \"1h\""))
	d := startDaemon(t, cfg)
	writeConfig(t, cfg, pactConfig(t, up, state, `block = ["instagram"]`+"\nlength = \"30d\"\ncooldown = \"1h\""))
	d.cmd.Process.Signal(syscall.SIGHUP)
	queued := d.waitFor(t, "change queued")
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.waitFor(t, "stopped")
	d.cmd.Wait()

	d = startDaemonCmd(t, exec.Command("unshare", "--fork", "--time", "--boottime", "-900", binary, "run", "--config", cfg), "change pending")
	if got, want := effectiveRE.FindStringSubmatch(d.pending), effectiveRE.FindStringSubmatch(queued); got == nil || want == nil || got[1] != want[1] {
		t.Errorf("in the time namespace the change is due %v, want %v", got, want)
	}
	if !isBlocked(d.query(t, "www.tiktok.com.", dns.TypeA)) {
		t.Error("tiktok unblocked in the time namespace")
	}
	st := statusJSON(t, filepath.Join(state, "c.sock"))
	if st.Record.Counts["time_namespace"] != 1 {
		t.Errorf("record %v, want the time namespace noted", st.Record.Counts)
	}
	if st.Record.Counts["not_running"] != 1 {
		t.Errorf("record %v, want the restart noted", st.Record.Counts)
	}
}
