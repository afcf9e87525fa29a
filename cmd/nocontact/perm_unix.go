//go:build !windows

package main

import (
	"io/fs"
	"os"
	"syscall"
)

// filePerm returns path's permission bits and owner.
func filePerm(path string) (fs.FileMode, int, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, -1, err
	}
	uid := -1
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		uid = int(st.Uid)
	}
	return fi.Mode().Perm(), uid, nil
}
