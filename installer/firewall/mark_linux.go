package firewall

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// Control is a net.Dialer Control function that marks the socket with
// Mark, so that the firewall layer lets nocontact's own questions to its
// upstreams through. It needs CAP_NET_ADMIN; without it the dial fails,
// saying so (see CanMark).
func Control(network, address string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, Mark)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("marking the socket to %s as nocontact's own (SO_MARK needs CAP_NET_ADMIN): %w", address, serr)
	}
	return nil
}

// CanMark reports whether this process can mark its sockets: the layer
// must not refuse DNS to everyone while nocontact's own questions cannot
// be told apart.
func CanMark() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, Mark); err != nil {
		return fmt.Errorf("nocontact cannot mark its own sockets (SO_MARK needs CAP_NET_ADMIN): %w", err)
	}
	return nil
}
