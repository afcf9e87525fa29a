package daemon

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"syscall"

	"github.com/nocontact/nocontact/daemon/pact"
	"github.com/nocontact/nocontact/daemon/portwatch"
)

// portWatch is what the daemon knows of other programs' sockets on the
// filter's addresses (see watchPort).
type portWatch struct {
	mu      sync.Mutex
	noted   map[uint64]bool      // the strangers' sockets already logged and recorded
	now     []portwatch.Stranger // those found by the latest look
	failing bool                 // reading /proc fails: said once, and the recovery once
}

// watchPort looks for sockets of other programs bound where the filter
// answers (Linux; elsewhere it finds none). The filter's own UDP sockets
// share the port with SO_REUSEPORT in a trial run, so another process of
// the same user could join it and answer part of the questions; the
// installed service binds exclusively, so that no other process can bind
// the address at all, and this is the check behind that. Each stranger
// is logged and noted in the record of attempts once; it returns those
// there now. It runs at start, at every wake of the run loop (at least
// once a minute), and for each status.
func (d *Daemon) watchPort() []portwatch.Stranger {
	if !portwatch.Supported {
		return nil
	}
	w := &d.ports
	w.mu.Lock()
	defer w.mu.Unlock()
	p := portwatch.Proc{Dir: d.opts.ProcDir}
	own, err := p.Own()
	var found []portwatch.Stranger
	if err == nil {
		found, err = p.Strangers(d.srv.Addrs(), own)
	}
	switch {
	case err != nil && !w.failing:
		w.failing = true
		d.log.Error("could not check for other programs on nocontact's DNS port; trying again at the next wake", "err", err)
	case err == nil && w.failing:
		w.failing = false
		d.log.Info("the check for other programs on nocontact's DNS port works again")
	}
	if err != nil {
		return w.now // the last that could be seen
	}
	if w.noted == nil {
		w.noted = map[uint64]bool{}
	}
	seen := map[uint64]bool{}
	for _, s := range found {
		seen[s.Inode] = true
		if w.noted[s.Inode] {
			continue
		}
		w.noted[s.Inode] = true
		d.log.Error("another program is bound to nocontact's DNS address, where it may answer lookups nocontact would block; stop it",
			"program", s.Who(), "proto", s.Proto, "addr", s.Addr.String())
		d.note(pact.EventPortStranger, fmt.Sprintf("another program, %s, listened on %s %s beside nocontact, where it could answer lookups nocontact blocks",
			s.Who(), s.Proto, s.Addr))
	}
	for ino := range w.noted {
		if !seen[ino] {
			delete(w.noted, ino)
			d.log.Info("a program that was bound to nocontact's DNS address is gone")
		}
	}
	w.now = found
	return found
}

// explainInUse adds to an "address in use" error from starting the
// filter the programs that hold the address, when they can be found.
func (d *Daemon) explainInUse(err error) error {
	if !portwatch.Supported || !errors.Is(err, syscall.EADDRINUSE) {
		return err
	}
	p := portwatch.Proc{Dir: d.opts.ProcDir}
	found, serr := p.Strangers(d.listen(), nil)
	if serr != nil || len(found) == 0 {
		return err
	}
	var who []string
	for _, s := range found {
		who = append(who, fmt.Sprintf("%s on %s %s", s.Who(), s.Proto, s.Addr))
	}
	return fmt.Errorf("%w (held by %s)", err, strings.Join(who, "; "))
}

// listen is the addresses the settings ask the filter to answer on.
func (d *Daemon) listen() []netip.AddrPort {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]netip.AddrPort(nil), d.cfg.DNS.ListenAddrs...)
}
