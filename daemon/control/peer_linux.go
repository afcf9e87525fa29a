package control

import (
	"errors"
	"net"

	"golang.org/x/sys/unix"
)

// peerCredentials reads the peer's uid with SO_PEERCRED.
func peerCredentials(c net.Conn) (Peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return Peer{UID: -1}, errors.New("not a unix socket connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return Peer{UID: -1}, err
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Peer{UID: -1}, err
	}
	if serr != nil {
		return Peer{UID: -1}, serr
	}
	uid := int(cred.Uid)
	return Peer{UID: uid, Admin: isAdmin(uid)}, nil
}
