package main

import (
	"io/fs"
	"os"
)

// filePerm returns path's permission bits; Windows has no owner uid (and
// doctor does not judge its ACLs).
func filePerm(path string) (fs.FileMode, int, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, -1, err
	}
	return fi.Mode().Perm(), -1, nil
}
