//go:build !windows

package upstream

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSystemReadsResolvConfUnderRoot(t *testing.T) {
	root := t.TempDir()
	if _, err := System(root); err == nil {
		t.Error("no resolv.conf: no error")
	}
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc", "resolv.conf"), []byte("search x\n"), 0o644)
	if _, err := System(root); err == nil || !strings.Contains(err.Error(), "no nameserver") {
		t.Errorf("resolv.conf without nameserver: err %v", err)
	}
	os.WriteFile(filepath.Join(root, "etc", "resolv.conf"), []byte("nameserver 192.0.2.3\n"), 0o644)
	got, err := System(root)
	if err != nil || len(got) != 1 || got[0] != netip.MustParseAddrPort("192.0.2.3:53") {
		t.Errorf("got %v, %v; want [192.0.2.3:53]", got, err)
	}
}
