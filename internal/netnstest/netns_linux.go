// Package netnstest runs test code inside network namespaces the test
// made (with `ip netns add`), the one way nocontact's tests reach
// addresses other than loopback.
package netnstest

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// In runs f on an OS thread that has joined the named namespace
// (/var/run/netns/NAME). Sockets f creates belong to that namespace for
// their whole life. The thread is thrown away afterwards rather than
// switched back: a goroutine that exits locked to its thread ends the
// thread (the main thread excepted, which Go parks for good; code that
// reads /proc/net must therefore read /proc/thread-self/net).
func In(tb testing.TB, name string, f func()) {
	tb.Helper()
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := join(name); err != nil {
			done <- err
			return
		}
		f()
		done <- nil
	}()
	if err := <-done; err != nil {
		tb.Fatal(err)
	}
}

// Dialer returns a dial function that dials from the named namespace (from
// the address src when not ""), for clients such as net/http's that dial
// on goroutines of their own.
func Dialer(name, src string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
			if err := join(name); err != nil {
				ch <- result{nil, err}
				return
			}
			d := &net.Dialer{}
			if src != "" {
				d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
			}
			c, err := d.DialContext(ctx, network, addr)
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}

// join moves the calling thread into the named namespace.
func join(name string) error {
	fd, err := unix.Open("/var/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("setns %s: %w", name, err)
	}
	return nil
}
