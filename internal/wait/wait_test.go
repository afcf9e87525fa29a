package wait

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestWithin(t *testing.T) {
	var n atomic.Int32
	if !Within(Timeout, func() bool { return n.Add(1) >= 3 }) {
		t.Fatal("a condition that holds on the third look was given up on")
	}
	if got := n.Load(); got != 3 {
		t.Errorf("the condition was checked %d times, want 3: For must return as soon as it holds", got)
	}
	if Within(30*time.Millisecond, func() bool { return false }) {
		t.Error("a condition that never holds was reported as held")
	}
}

// fakeTB records a Fatalf instead of stopping the test.
type fakeTB struct {
	testing.TB
	failed bool
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(string, ...any) {
	f.failed = true
}

func TestForHolds(t *testing.T) {
	f := &fakeTB{TB: t}
	For(f, "something true", func() bool { return true })
	if f.failed {
		t.Error("For failed on a condition that holds")
	}
}
