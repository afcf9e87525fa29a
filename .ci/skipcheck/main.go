// Command skipcheck reads the output of `go test -json` on its standard
// input, prints it as `go test` would (the output of every package, with
// each failing or skipped test's own lines), and exits non-zero when a test
// failed or when a test skipped without being on the allow-list.
//
// CI runs as root with every tool the tests need installed, so a skip there
// means a test that silently stopped running. The allow-list
// (.ci/allowed-skips) names each test that may skip in CI and why, one per
// line:
//
//	github.com/nocontact/nocontact/daemon/clock TestSystem  needs macOS
//
// Usage: go test -json ./... | go run ./.ci/skipcheck .ci/allowed-skips
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go test -json ./... | go run ./.ci/skipcheck ALLOW-LIST")
		os.Exit(2)
	}
	allowed, err := readAllowList(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "skipcheck:", err)
		os.Exit(2)
	}
	code, err := check(os.Stdin, os.Stdout, allowed)
	if err != nil {
		fmt.Fprintln(os.Stderr, "skipcheck:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

// readAllowList reads "package test reason" lines; # starts a comment.
func readAllowList(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 3 {
			return nil, fmt.Errorf("%s:%d: want \"package test reason\", with the reason the test may skip in CI", path, n)
		}
		out[fields[0]+" "+fields[1]] = strings.Join(fields[2:], " ")
	}
	return out, sc.Err()
}

// check copies the test output to w and returns the exit code: 1 when a
// test failed or skipped without leave.
func check(r io.Reader, w io.Writer, allowed map[string]string) (int, error) {
	type key struct{ pkg, test string }
	lines := map[key][]string{} // each running test's output, until it ends
	var failed, unlisted, listed []string
	dec := json.NewDecoder(r)
	for {
		var e event
		if err := dec.Decode(&e); err == io.EOF {
			break
		} else if err != nil {
			return 0, fmt.Errorf("reading go test -json: %w", err)
		}
		k := key{e.Package, e.Test}
		switch {
		case e.Action == "build-output":
			fmt.Fprint(w, e.Output) // a package that did not compile
		case e.Action == "output" && e.Test == "":
			fmt.Fprint(w, e.Output) // the package's own lines: ok, FAIL, build errors
		case e.Action == "output":
			lines[k] = append(lines[k], e.Output)
		case e.Action == "fail" && e.Test != "":
			failed = append(failed, e.Package+" "+e.Test)
			fmt.Fprint(w, strings.Join(lines[k], ""))
			delete(lines, k)
		case e.Action == "fail":
			failed = append(failed, e.Package)
		case e.Action == "skip" && e.Test != "":
			name := e.Package + " " + e.Test
			why := strings.Join(lines[k], "")
			delete(lines, k)
			if reason, ok := allowed[name]; ok {
				listed = append(listed, name+" ("+reason+")")
				continue
			}
			unlisted = append(unlisted, name)
			fmt.Fprint(w, why)
		case e.Action == "pass":
			delete(lines, k)
		}
	}
	sort.Strings(listed)
	if len(listed) > 0 {
		fmt.Fprintf(w, "\nSkipped, as the allow-list permits:\n  %s\n", strings.Join(listed, "\n  "))
	}
	code := 0
	if len(unlisted) > 0 {
		sort.Strings(unlisted)
		fmt.Fprintf(w, "\nSkipped in CI but not on the allow-list (install what the test needs in .ci/run, or list it with the reason):\n  %s\n",
			strings.Join(unlisted, "\n  "))
		code = 1
	}
	if len(failed) > 0 {
		fmt.Fprintf(w, "\nFailed:\n  %s\n", strings.Join(failed, "\n  "))
		code = 1
	}
	return code, nil
}
