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
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "resolv.conf"), []byte("search x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := System(root); err == nil || !strings.Contains(err.Error(), "no nameserver") {
		t.Errorf("resolv.conf without nameserver: err %v", err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "resolv.conf"), []byte("nameserver 192.0.2.3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := System(root)
	if err != nil || len(got) != 1 || got[0] != netip.MustParseAddrPort("192.0.2.3:53") {
		t.Errorf("got %v, %v; want [192.0.2.3:53]", got, err)
	}
}

func TestSystemResolversPrefersTheSavedRecord(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "resolv.conf"), []byte("nameserver 127.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	saved := []netip.AddrPort{netip.MustParseAddrPort("192.0.2.53:53")}
	got, err := SystemResolvers(func() ([]netip.AddrPort, error) { return saved, nil }, root)
	if err != nil || len(got) != 1 || got[0] != saved[0] {
		t.Errorf("with a saved record: %v, %v; want %v", got, err, saved)
	}
	for _, none := range []func() ([]netip.AddrPort, error){
		nil,
		func() ([]netip.AddrPort, error) { return nil, os.ErrNotExist },
		func() ([]netip.AddrPort, error) { return nil, nil },
	} {
		got, err := SystemResolvers(none, root)
		if err != nil || len(got) != 1 || got[0] != netip.MustParseAddrPort("127.0.0.1:53") {
			t.Errorf("without a saved record: %v, %v; want resolv.conf's 127.0.0.1:53", got, err)
		}
	}
}
