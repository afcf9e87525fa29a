//go:build windows

package upstream

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// System returns the DNS servers of the network adapters that are up, in
// adapter order, without duplicates. root is unused on Windows.
func System(root string) ([]netip.AddrPort, error) {
	_ = root
	size := uint32(15000)
	var buf []byte
	for range 3 {
		buf = make([]byte, size)
		err := windows.GetAdaptersAddresses(windows.AF_UNSPEC, windows.GAA_FLAG_SKIP_ANYCAST|windows.GAA_FLAG_SKIP_MULTICAST,
			0, (*windows.IpAdapterAddresses)(unsafe.Pointer(&buf[0])), &size)
		if err == nil {
			break
		}
		if !errors.Is(err, windows.ERROR_BUFFER_OVERFLOW) {
			return nil, os.NewSyscallError("GetAdaptersAddresses", err)
		}
	}
	seen := map[netip.AddrPort]bool{}
	var out []netip.AddrPort
	for a := (*windows.IpAdapterAddresses)(unsafe.Pointer(&buf[0])); a != nil; a = a.Next {
		if a.OperStatus != windows.IfOperStatusUp {
			continue
		}
		for d := a.FirstDnsServerAddress; d != nil; d = d.Next {
			ip, ok := netip.AddrFromSlice(d.Address.IP())
			if !ok {
				continue
			}
			ap := netip.AddrPortFrom(ip.Unmap(), 53)
			// fec0:0:0:ffff::1-3 are Windows' placeholder site-local servers.
			if b := ip.As16(); ip.Is6() && b[0] == 0xfe && b[1] == 0xc0 {
				continue
			}
			if !seen[ap] {
				seen[ap] = true
				out = append(out, ap)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no network adapter has a DNS server; write the resolvers to use in [dns] upstreams instead of \"system\"")
	}
	return out, nil
}
