package clock

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestHTTPSWitness asks real TLS servers on loopback, whose certificate
// only the test's client trusts.
func TestHTTPSWitness(t *testing.T) {
	said := time.Date(2031, 6, 1, 12, 0, 0, 0, time.UTC)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", said.Format(http.TimeFormat))
	}))
	defer srv.Close()
	w := HTTPS{URL: srv.URL + "/", Client: srv.Client()}
	got, err := w.Time(context.Background())
	if err != nil || !got.Equal(said) {
		t.Fatalf("Time = %v, %v; want %v", got, err, said)
	}

	// A client that does not trust the server's certificate gets nothing.
	if _, err := (HTTPS{URL: srv.URL + "/"}).Time(context.Background()); err == nil {
		t.Error("a witness whose certificate does not verify was believed")
	}
	// Plain HTTP cannot vouch for anything.
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer plain.Close()
	if _, err := (HTTPS{URL: plain.URL + "/"}).Time(context.Background()); err == nil || !strings.Contains(err.Error(), "only https://") {
		t.Errorf("plain HTTP: %v, want refused", err)
	}
	// No Date, no time.
	nodate := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Date"] = nil
	}))
	defer nodate.Close()
	if _, err := (HTTPS{URL: nodate.URL + "/", Client: nodate.Client()}).Time(context.Background()); err == nil {
		t.Error("an answer without Date was believed")
	}
}

func TestWitnessedNeedsAgreement(t *testing.T) {
	at := func(m int) Witness {
		return fakeWitness{name: "w", t: t0.Add(time.Duration(m) * time.Minute)}
	}
	down := fakeWitness{name: "down", err: errors.New("timeout")}
	for _, tt := range []struct {
		name string
		ws   []Witness
		need int
		want time.Time // zero: no agreement
	}{
		{"two agree", []Witness{at(0), at(1), down}, 2, t0},
		{"two agree, one far off", []Witness{at(600), at(2), at(1)}, 2, t0.Add(time.Minute)},
		{"all disagree", []Witness{at(0), at(10), at(20)}, 2, time.Time{}},
		{"only one answers", []Witness{at(0), down, down}, 2, time.Time{}},
		{"none", nil, 2, time.Time{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Witnessed(context.Background(), tt.ws, tt.need)
			if tt.want.IsZero() {
				if !errors.Is(err, ErrNoAgreement) {
					t.Errorf("Witnessed = %v, %v; want ErrNoAgreement", got, err)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Errorf("Witnessed = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
