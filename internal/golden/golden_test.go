package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps what a check said instead of
// failing the test that runs it.
type recorder struct {
	testing.TB
	failed, fatal bool
	said          string
}

func (r *recorder) Helper()      {}
func (r *recorder) Name() string { return "TestX" }
func (r *recorder) Errorf(format string, args ...any) {
	r.failed, r.said = true, fmt.Sprintf(format, args...)
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal, r.said = true, fmt.Sprintf(format, args...)
}
func (r *recorder) Fatal(args ...any) { r.fatal, r.said = true, fmt.Sprint(args...) }

func TestCheck(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.Mkdir("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "a.golden"), []byte("one\ntwo\tx\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	var same recorder
	Check(&same, "a.golden", []byte("one\ntwo\tx\n"))
	if same.failed || same.fatal {
		t.Errorf("the same text failed: %s", same.said)
	}

	var differs recorder
	Check(&differs, "a.golden", []byte("one\ntwo x\n"))
	if !differs.failed || !strings.Contains(differs.said, filepath.Join("testdata", "a.golden")) ||
		!strings.Contains(differs.said, "line 2:\nwant \"two\\tx\"\n got \"two x\"") || !strings.Contains(differs.said, "-update") {
		t.Errorf("a difference in white space: failed %v, said:\n%s", differs.failed, differs.said)
	}

	var longer recorder
	Check(&longer, "a.golden", []byte("one\ntwo\tx\nthree\n"))
	if !longer.failed || !strings.Contains(longer.said, "line 3:\nwant \"\"\n got \"three\"") {
		t.Errorf("an added line: failed %v, said:\n%s", longer.failed, longer.said)
	}

	var missing recorder
	Check(&missing, "b.golden", []byte("x"))
	if !missing.fatal || !strings.Contains(missing.said, "-update") {
		t.Errorf("a missing file: fatal %v, said %q", missing.fatal, missing.said)
	}

	*update = true
	t.Cleanup(func() { *update = false })
	var written recorder
	Check(&written, "b.golden", []byte("new\n"))
	if b, err := os.ReadFile(filepath.Join("testdata", "b.golden")); written.failed || written.fatal || err != nil || string(b) != "new\n" {
		t.Errorf("-update: failed %v, file %q, %v (%s)", written.failed || written.fatal, b, err, written.said)
	}
}
