//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package main

import "golang.org/x/sys/unix"

// ioctlReadTermios reads a terminal's settings: it fails on anything but
// a terminal.
const ioctlReadTermios = unix.TIOCGETA
