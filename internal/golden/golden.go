// Package golden is the one way nocontact's tests compare what they made
// with a file kept in the package's testdata folder: the file is the
// expected output, checked into git, read by eye in review. Running the
// tests with -update writes what they made into the files instead.
package golden

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// update is the test binary's -update flag. Only test binaries import
// this package, so only they have it.
var update = flag.Bool("update", false, "rewrite the golden files in testdata with what the tests make")

// Check compares got with testdata/name, and fails tb with both texts when
// they differ. With -update it writes got there first, so the comparison
// passes and the change shows in git.
func Check(tb testing.TB, name string, got []byte) {
	tb.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (to write it, run in the package's folder: go test -run '%s' -update)", err, tb.Name())
	}
	if !bytes.Equal(got, want) {
		tb.Errorf("%s differs from what the test made; if the change is intended, run in the package's folder: go test -run '%s' -update\n--- want:\n%s\n--- got:\n%s%s",
			path, tb.Name(), want, got, firstDifference(want, got))
	}
}

// firstDifference names the first line where want and got part, quoted,
// so that a difference in white space shows.
func firstDifference(want, got []byte) string {
	w, g := bytes.Split(want, []byte("\n")), bytes.Split(got, []byte("\n"))
	line := func(ls [][]byte, i int) string {
		if i >= len(ls) {
			return "(no such line)"
		}
		return fmt.Sprintf("%q", ls[i])
	}
	for i := 0; i < max(len(w), len(g)); i++ {
		if i >= len(w) || i >= len(g) || !bytes.Equal(w[i], g[i]) {
			return fmt.Sprintf("\n--- first difference, line %d:\nwant %s\n got %s\n", i+1, line(w, i), line(g, i))
		}
	}
	return ""
}
