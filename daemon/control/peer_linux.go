package control

import (
	"net"

	"golang.org/x/sys/unix"
)

// peerCredentials reads the peer's uid with SO_PEERCRED.
func peerCredentials(c net.Conn) (Peer, error) {
	return peerUID(c, func(fd int) (uint32, error) {
		cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
		if err != nil {
			return 0, err
		}
		return cred.Uid, nil
	})
}
