package clock

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// A Witness tells the time from outside the machine. The trusted clock
// takes the wall clock's word for time it did not see pass only when
// witnesses agree with it (see Witnessed).
type Witness interface {
	// Name says which witness it is, for the log and status.
	Name() string
	// Time asks it what time it is.
	Time(ctx context.Context) (time.Time, error)
}

// HTTPS is a witness that asks a web site over HTTPS and reads the Date
// header of the answer. The answer counts only over a TLS connection whose
// certificate the client verifies (the system's roots, or the Client's
// own), so the time cannot come from anyone but that site.
type HTTPS struct {
	URL string
	// Client makes the request; nil means one with a 10 s timeout and the
	// system's roots. It must not skip verifying certificates.
	Client *http.Client
}

// Name returns the site's address.
func (h HTTPS) Name() string { return h.URL }

// Time asks the site.
func (h HTTPS) Time(ctx context.Context) (time.Time, error) {
	if !strings.HasPrefix(h.URL, "https://") {
		return time.Time{}, fmt.Errorf("witness %s: only https:// sites can vouch for the time", h.URL)
	}
	c := h.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, h.URL, nil)
	if err != nil {
		return time.Time{}, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return time.Time{}, err
	}
	resp.Body.Close()
	if resp.TLS == nil || len(resp.TLS.VerifiedChains) == 0 {
		return time.Time{}, fmt.Errorf("witness %s: the connection was not verified TLS", h.URL)
	}
	d := resp.Header.Get("Date")
	if d == "" {
		return time.Time{}, fmt.Errorf("witness %s: no Date in the answer", h.URL)
	}
	t, err := http.ParseTime(d)
	if err != nil {
		return time.Time{}, fmt.Errorf("witness %s: the Date %q: %w", h.URL, d, err)
	}
	return t, nil
}

// Agreement is how close two witnesses' times must be to agree: the
// seconds a request takes and Date's whole seconds, with room for a slow
// network.
const Agreement = 3 * time.Minute

// ErrNoAgreement means fewer than the needed witnesses answered and
// agreed.
var ErrNoAgreement = errors.New("the time witnesses did not agree, or did not answer")

// Witnessed asks every witness at once and returns a time at least need
// of them agree on (within Agreement of each other): the earliest of the
// largest such group, so the time taken is never later than any of them
// said. It returns ErrNoAgreement, wrapped with what each said, otherwise.
func Witnessed(ctx context.Context, ws []Witness, need int) (time.Time, error) {
	type said struct {
		name string
		t    time.Time
		err  error
	}
	answers := make([]said, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Go(func() {
			t, err := w.Time(ctx)
			answers[i] = said{w.Name(), t, err}
		})
	}
	wg.Wait()
	var times []time.Time
	var notes []string
	for _, a := range answers {
		if a.err != nil {
			notes = append(notes, a.err.Error())
			continue
		}
		times = append(times, a.t)
		notes = append(notes, a.name+" says "+a.t.UTC().Format(time.RFC3339))
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	best, bestN := time.Time{}, 0
	for i := range times {
		n := 0
		for j := i; j < len(times) && times[j].Sub(times[i]) <= Agreement; j++ {
			n++
		}
		if n > bestN {
			best, bestN = times[i], n
		}
	}
	if need < 1 {
		need = 1
	}
	if bestN < need {
		return time.Time{}, fmt.Errorf("%w (%d needed): %s", ErrNoAgreement, need, strings.Join(notes, "; "))
	}
	return best, nil
}
