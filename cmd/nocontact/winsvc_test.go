package main

import (
	"errors"
	"testing"
)

// TestWindowsServiceAnswers: while the pact binds, a stop request is
// refused and Stop is not even offered; a shutdown always stops it;
// and every end the service did not accept leaves an error code, which
// the recovery actions answer by starting it again.
func TestWindowsServiceAnswers(t *testing.T) {
	for _, tt := range []struct {
		c       winControl
		mayStop bool
		want    winReply
	}{
		{winStop, false, winKeepRunning},
		{winStop, true, winStopNow},
		{winShutdown, false, winStopNow},
		{winShutdown, true, winStopNow},
		{winInterrogate, false, winReport},
		{winInterrogate, true, winReport},
		{winOther, false, winIgnore},
		{winOther, true, winIgnore},
	} {
		if got := answerControl(tt.c, tt.mayStop); got != tt.want {
			t.Errorf("answerControl(%d, mayStop %v) = %d, want %d", tt.c, tt.mayStop, got, tt.want)
		}
	}
	if acceptsStop(false) || !acceptsStop(true) {
		t.Error("acceptsStop: Stop must be offered exactly when the pact lets the service stop")
	}
	for _, tt := range []struct {
		stopped bool
		err     error
		want    uint32
	}{
		{true, nil, 0},
		{true, errors.New("could not save"), 2},
		{false, nil, 3},
		{false, errors.New("listen: address in use"), 3},
	} {
		if got := exitCode(tt.stopped, tt.err); got != tt.want {
			t.Errorf("exitCode(stopped %v, %v) = %d, want %d", tt.stopped, tt.err, got, tt.want)
		}
	}
}
