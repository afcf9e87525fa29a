// Package firewalltest is a fake firewall.Firewall for tests: it keeps
// the layer in memory, counts what was asked of it, and lets a test
// remove the layer "by someone else". It must never be imported by
// non-test code.
package firewalltest

import (
	"context"
	"fmt"
	"sync"

	"github.com/nocontact/nocontact/installer/firewall"
)

// Fake is a firewall layer in memory. Its zero value is off.
type Fake struct {
	mu      sync.Mutex
	on      bool
	rules   firewall.Rules
	applies int
	removes int
}

// New returns a constructor for firewall.Env hooks that always hands out
// f.
func (f *Fake) New(firewall.Env) (firewall.Firewall, error) { return f, nil }

// Mode implements firewall.Firewall.
func (f *Fake) Mode() firewall.Mode { return "fake" }

// Apply implements firewall.Firewall.
func (f *Fake) Apply(ctx context.Context, r firewall.Rules) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.on, f.rules = true, r
	f.applies++
	return nil
}

// Check implements firewall.Firewall.
func (f *Fake) Check(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.on {
		return fmt.Errorf("%w: the fake is off", firewall.ErrRemoved)
	}
	return nil
}

// Remove implements firewall.Firewall.
func (f *Fake) Remove(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.on = false
	f.removes++
	return nil
}

// RemoveBySomeoneElse turns the layer off behind the Keeper's back.
func (f *Fake) RemoveBySomeoneElse() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.on = false
}

// State returns whether the layer is on, its rules, and how many times
// Apply and Remove were called.
func (f *Fake) State() (on bool, r firewall.Rules, applies, removes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.on, f.rules, f.applies, f.removes
}
