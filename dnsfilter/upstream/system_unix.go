//go:build !windows

package upstream

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
)

// System returns the resolvers listed in /etc/resolv.conf below root ("/"
// on a real system, a temporary directory in tests).
func System(root string) ([]netip.AddrPort, error) {
	path := filepath.Join(root, "etc", "resolv.conf")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w; write the resolvers to use in [dns] upstreams instead of \"system\"", err)
	}
	s := ParseResolvConf(string(b))
	if len(s) == 0 {
		return nil, fmt.Errorf("%s lists no nameserver; write the resolvers to use in [dns] upstreams instead of \"system\"", path)
	}
	return s, nil
}
