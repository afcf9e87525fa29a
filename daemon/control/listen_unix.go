//go:build !windows

package control

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Listen opens the control socket at path. A socket file left by a daemon
// that died is removed; one that answers means nocontact already runs. The
// socket is open to every local user (0666): reads are for anyone, and the
// peer's credentials decide about changes.
func Listen(path string) ([]net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s answers: nocontact is already running (stop it first)", path)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("control socket %s exists and is not a socket: move it away", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing the stale control socket: %w", err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return []net.Listener{ln}, nil
}

// dial connects to the control socket; admin does not matter on unix,
// where the credentials of the connection decide.
func dial(path string, admin bool) (net.Conn, error) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		switch {
		case errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
			return nil, fmt.Errorf("%w (no control socket at %s)", ErrNotRunning, path)
		case errors.Is(err, os.ErrPermission):
			return nil, fmt.Errorf("cannot open the control socket %s: permission denied", path)
		}
		return nil, err
	}
	return c, nil
}

// isAdmin reports whether uid may change the pact: root, or the user the
// daemon runs as (a foreground run in a terminal).
func isAdmin(uid int) bool { return uid == 0 || uid == os.Getuid() }

// peerUID asks the OS, through get on the connection's descriptor, which
// user is on the other end of a unix socket connection.
func peerUID(c net.Conn, get func(fd int) (uint32, error)) (Peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return Peer{UID: -1}, errors.New("not a unix socket connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return Peer{UID: -1}, err
	}
	var uid uint32
	var gerr error
	if err := raw.Control(func(fd uintptr) { uid, gerr = get(int(fd)) }); err != nil {
		return Peer{UID: -1}, err
	}
	if gerr != nil {
		return Peer{UID: -1}, gerr
	}
	return Peer{UID: int(uid), Admin: isAdmin(int(uid))}, nil
}
