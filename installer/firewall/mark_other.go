//go:build !linux

package firewall

import "syscall"

// Control is nil outside Linux: the exception for nocontact's own
// questions is by address there (see the package comment).
var Control func(network, address string, c syscall.RawConn) error

// CanMark returns nil: outside Linux nothing needs marking.
func CanMark() error { return nil }
