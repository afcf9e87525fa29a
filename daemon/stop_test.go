package daemon

import (
	"testing"
	"time"
)

// TestMayStop: the installed service may be stopped when nothing binds,
// not while a pact binds, and again once uninstalling is allowed.
func TestMayStop(t *testing.T) {
	f := newFixture(t)
	f.write(t, `block = ["instagram"]`+"\nlength = \"30d\"\ncooldown = \"1h\"")
	d := f.start(t)
	if d.MayStop() {
		t.Fatal("MayStop during a pact of 30 days: true, want false")
	}
	if _, allowed, err := d.Uninstall(); err != nil || allowed {
		t.Fatalf("Uninstall during the pact: allowed %v, %v; want it queued", allowed, err)
	}
	if d.MayStop() {
		t.Error("MayStop with uninstalling queued: true, want false until the cooldown has passed")
	}
	f.clk.advance(time.Hour + time.Second)
	if !d.MayStop() {
		t.Error("MayStop once the uninstall request has waited out its cooldown: false, want true")
	}

	f2 := newFixture(t)
	f2.write(t, `block = ["instagram"]`+"\nlength = \"1h\"")
	d2 := f2.start(t)
	f2.clk.advance(2 * time.Hour)
	if !d2.MayStop() {
		t.Error("MayStop after the pact ended: false, want true")
	}
}
