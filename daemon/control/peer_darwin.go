package control

import (
	"net"

	"golang.org/x/sys/unix"
)

// peerCredentials reads the peer's uid with LOCAL_PEERCRED.
func peerCredentials(c net.Conn) (Peer, error) {
	return peerUID(c, func(fd int) (uint32, error) {
		cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
		if err != nil {
			return 0, err
		}
		return cred.Uid, nil
	})
}
