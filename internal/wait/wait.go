// Package wait is the one way nocontact's tests wait for something to
// happen: poll a condition until it holds, or fail the test when a
// generous deadline passes. The deadline only catches a hang; it is never a
// speed requirement (those live in benchmarks), so it is long, and a test
// that waits here passes as soon as the event happens.
package wait

import (
	"testing"
	"time"
)

// Timeout is how long For waits before it gives up: long enough for a
// loaded 2-core CI machine running the race detector.
const Timeout = 30 * time.Second

// poll is how often the condition is checked.
const poll = 10 * time.Millisecond

// For polls cond until it returns true, and fails the test with what
// (what was awaited, like "the daemon to listen") after Timeout.
func For(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	if !Within(Timeout, cond) {
		tb.Fatalf("gave up after %v waiting for %s", Timeout, what)
	}
}

// Within polls cond until it returns true or d has passed, and reports
// whether it held. Tests use it where giving up is not yet a failure.
func Within(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(poll)
	}
}
