package installer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nocontact/nocontact/installer/browsers"
	"github.com/nocontact/nocontact/installer/firewall"
)

// fwRefresh bounds how long the firewall layer goes without being
// applied again while its addresses do not change, so that addresses the
// firewall expires on its own (nftables' timeouts) are renewed long
// before they run out.
const fwRefresh = time.Hour

// layers is what the Keeper remembers of the firewall layer between the
// daemon's wakes.
type layers struct {
	mu      sync.Mutex
	fw      firewall.Firewall
	state   int    // fwUnknown, fwOn, fwOff
	applied string // the addresses of the last Apply
	at      time.Time
}

const (
	fwUnknown = iota
	fwOn
	fwOff
)

func (k *Keeper) browsersEnv() browsers.Env {
	return browsers.Env{Root: k.Root, StateDir: k.StateDir, Run: k.Run, Log: k.Log, GOOS: k.GOOS}
}

func (k *Keeper) firewallEnv() firewall.Env {
	return firewall.Env{StateDir: k.StateDir, Run: k.Run, Log: k.Log}
}

// UpstreamControl returns the socket mark of the daemon's upstream
// sockets (Linux), or an error when this process cannot set it; see
// daemon.Firewall.
func (k *Keeper) UpstreamControl() (func(network, address string, c syscall.RawConn) error, error) {
	if err := firewall.CanMark(); err != nil {
		return nil, err
	}
	return firewall.Control, nil
}

// KeepFirewall puts the firewall layer in force with r, or removes it
// when r is nil; see daemon.Firewall. It applies the rules when their
// addresses changed, at least every fwRefresh, and when something else
// removed them (removed is then set); otherwise it only checks.
func (k *Keeper) KeepFirewall(ctx context.Context, r *firewall.Rules) (removed bool, err error) {
	l := &k.layers
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fw == nil {
		newFW := k.NewFirewall
		if newFW == nil {
			newFW = firewall.New
		}
		if l.fw, err = newFW(k.firewallEnv()); err != nil {
			return false, err
		}
	}
	if r == nil {
		if l.state == fwOff {
			return false, nil
		}
		if err := l.fw.Remove(ctx); err != nil {
			return false, err
		}
		l.state, l.applied = fwOff, ""
		return false, nil
	}
	fp := addrsKey(*r)
	if l.state == fwOn && fp == l.applied && time.Since(l.at) < fwRefresh {
		err := l.fw.Check(ctx)
		if err == nil {
			return false, nil
		}
		if !errors.Is(err, firewall.ErrRemoved) {
			return false, err
		}
		k.log().Warn("nocontact's firewall rules were removed by something else", "why", err)
		removed = true
	}
	if err := l.fw.Apply(ctx, *r); err != nil {
		l.state = fwUnknown
		return removed, err
	}
	l.state, l.applied, l.at = fwOn, fp, time.Now()
	return removed, nil
}

// addrsKey names the addresses of r, to tell when they changed.
func addrsKey(r firewall.Rules) string {
	var s []string
	for _, a := range r.Upstreams {
		s = append(s, "u"+a.String())
	}
	for _, e := range r.DoH {
		s = append(s, "d"+e.Addr.String())
	}
	slices.Sort(s)
	return strings.Join(s, " ")
}

// KeepBrowsers writes the browsers' policies where they are missing; see
// daemon.Browsers.
func (k *Keeper) KeepBrowsers(ctx context.Context) ([]string, error) {
	return browsers.Apply(ctx, k.browsersEnv())
}

// removeFirewall takes the firewall layer out, for uninstall.
func (in *Installer) removeFirewall(ctx context.Context, stateDir string) error {
	newFW := in.NewFirewall
	if newFW == nil {
		newFW = firewall.New
	}
	fw, err := newFW(firewall.Env{StateDir: stateDir, Run: in.Run, Log: in.Log})
	if errors.Is(err, firewall.ErrUnsupported) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := fw.Remove(ctx); err != nil {
		return fmt.Errorf("removing nocontact's firewall rules: %w", err)
	}
	return nil
}

func (in *Installer) browsersEnv(stateDir string) browsers.Env {
	return browsers.Env{Root: in.Root, StateDir: stateDir, Run: in.Run, Log: in.Log, GOOS: in.goos()}
}

// applyBrowsers writes the browsers' policies and returns how to give
// back what was there (nothing when an earlier install's record is
// kept: an upgrade).
func (in *Installer) applyBrowsers(ctx context.Context, stateDir string) (func() error, error) {
	env := in.browsersEnv(stateDir)
	had := browsers.Installed(stateDir)
	if _, err := browsers.Apply(ctx, env); err != nil {
		if !had {
			if rerr := browsers.Restore(context.WithoutCancel(ctx), env); rerr != nil {
				err = fmt.Errorf("%w; and giving back the browsers' policies failed too: %v", err, rerr)
			}
		}
		return nil, fmt.Errorf("turning off the browsers' own encrypted DNS: %w", err)
	}
	if had {
		return func() error { return nil }, nil
	}
	return func() error { return browsers.Restore(context.WithoutCancel(ctx), env) }, nil
}
