package installer

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// watched are the names in /etc whose changes wake the daemon: the
// resolver configuration (a DHCP client or NetworkManager rewriting it)
// and the hosts file (an edit of nocontact's section).
var watched = [][]byte{[]byte("resolv.conf"), []byte("hosts")}

// watch watches root/etc with inotify (the directory, since the files are
// replaced by rename) and sends on ch, without blocking, when one of
// watched is written, replaced or removed. It reports whether it started.
func watch(ctx context.Context, root string, ch chan<- struct{}, log *slog.Logger) bool {
	if root == "" {
		root = "/"
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		log.Info("cannot watch /etc for DNS changes; checking once a minute instead", "err", err)
		return false
	}
	dir := filepath.Join(root, "etc")
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO|unix.IN_CREATE|unix.IN_DELETE|unix.IN_MOVED_FROM); err != nil {
		unix.Close(fd)
		log.Info("cannot watch /etc for DNS changes; checking once a minute instead", "dir", dir, "err", err)
		return false
	}
	go func() {
		defer unix.Close(fd)
		buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for ctx.Err() == nil {
			// Poll with a timeout so that the goroutine sees ctx end.
			n, err := unix.Poll(fds, 1000)
			if err != nil && err != unix.EINTR {
				log.Warn("stopped watching /etc for DNS changes; checking once a minute instead", "err", err)
				return
			}
			if n <= 0 {
				continue
			}
			r, err := unix.Read(fd, buf)
			if err != nil || r <= 0 {
				continue
			}
			if touched(buf[:r]) {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
		}
	}()
	return true
}

// touched reports whether the inotify events in b name a watched file.
func touched(b []byte) bool {
	for len(b) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(b) {
			return false
		}
		name := bytes.TrimRight(b[unix.SizeofInotifyEvent:end], "\x00")
		for _, w := range watched {
			if bytes.Equal(name, w) {
				return true
			}
		}
		b = b[end:]
	}
	return false
}
