//go:build !linux && !darwin && !windows

package control

import (
	"errors"
	"net"
)

// peerCredentials cannot tell who is connecting on this OS, so every peer
// may only read.
func peerCredentials(net.Conn) (Peer, error) {
	return Peer{UID: -1}, errors.New("peer credentials are not supported on this system")
}
