//go:build !linux

package firewall

func newNftables(env Env) (Firewall, error) { return nil, ErrUnsupported }
