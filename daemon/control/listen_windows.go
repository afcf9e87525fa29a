package control

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/Microsoft/go-winio"
)

// On Windows the control API is two named pipes: path for reading, open
// to every signed-in user, and path+"-admin" for changes, open only to
// Administrators and SYSTEM. The pipes' security descriptors decide who
// may change the pact.
const (
	readersSDDL = "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GRGW;;;AU)"
	adminSDDL   = "D:P(A;;GA;;;SY)(A;;GA;;;BA)"
	adminSuffix = "-admin"
)

// adminListener marks the connections of the administrators' pipe.
type adminListener struct{ net.Listener }

type adminConn struct{ net.Conn }

func (l adminListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return adminConn{c}, nil
}

// Listen opens both pipes.
func Listen(path string) ([]net.Listener, error) {
	r, err := winio.ListenPipe(path, &winio.PipeConfig{SecurityDescriptor: readersSDDL})
	if err != nil {
		return nil, fmt.Errorf("control pipe %s: %w (is nocontact already running?)", path, err)
	}
	a, err := winio.ListenPipe(path+adminSuffix, &winio.PipeConfig{SecurityDescriptor: adminSDDL})
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("control pipe %s: %w", path+adminSuffix, err)
	}
	return []net.Listener{r, adminListener{a}}, nil
}

func dial(path string, admin bool) (net.Conn, error) {
	if admin {
		path += adminSuffix
	}
	timeout := 5 * time.Second
	c, err := winio.DialPipe(path, &timeout)
	if err != nil {
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("%w (no control pipe at %s)", ErrNotRunning, path)
		case errors.Is(err, os.ErrPermission):
			return nil, fmt.Errorf("%w: open an Administrator command prompt and try again", ErrNotAllowed)
		}
		return nil, err
	}
	return c, nil
}

// peerCredentials: the pipe a connection came through says whether its
// user is an administrator; the security descriptor already checked.
func peerCredentials(c net.Conn) (Peer, error) {
	_, admin := c.(adminConn)
	return Peer{UID: -1, Admin: admin}, nil
}
