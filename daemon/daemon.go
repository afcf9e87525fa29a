// Package daemon is nocontact's run loop: it owns the pact engine, the DNS
// filter and the state file. It reads the config (a request) at start and
// on Reload, hands it to the engine, publishes the engine's snapshot to the
// filter, persists the state after every change, and sleeps until the next
// transition (the pact's start or end, a pending change maturing, a
// quiet-hours edge).
//
// It fails closed: the pact's memory is kept in two copies (see memory.go),
// a damaged one is moved aside and restored from the other, and when both
// are lost while a pact is known to have existed, everything is blocked and
// the settings wait out the cooldown. The installed service's memory is in
// a place the settings cannot move, and one process at a time holds it. When nocontact is installed, the
// daemon also decides when the system's DNS settings are re-asserted and
// what the hosts layer lists, through the System it is given, and keeps
// the firewall layer and the browsers' policies (firewall.go). What the
// daemon must not do is decide anything about the pact itself (that is
// daemon/pact) or know how the system's DNS settings are changed (that is
// the installer, behind System).
package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/daemon/attempts"
	"github.com/nocontact/nocontact/daemon/clock"
	"github.com/nocontact/nocontact/daemon/control"
	"github.com/nocontact/nocontact/daemon/pact"
	"github.com/nocontact/nocontact/daemon/statefile"
	"github.com/nocontact/nocontact/dnsfilter"
	"github.com/nocontact/nocontact/dnsfilter/cache"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/dnsfilter/match"
	"github.com/nocontact/nocontact/dnsfilter/upstream"
)

// Options configure a Daemon. ConfigPath and Catalog are required.
type Options struct {
	// ConfigPath is the config file, read at New and on every Reload.
	ConfigPath string
	// Catalog resolves platform names.
	Catalog *catalog.Catalog
	// Logger receives what happens; nil means quiet.
	Logger *slog.Logger
	// Clock is the machine's clocks; nil means clock.System().
	Clock clock.Source
	// Location is the zone of quiet hours; nil means time.Local.
	Location *time.Location
	// Env gives the config's machine-dependent defaults (the state
	// directory); the zero Env means this machine.
	Env config.Env
	// System keeps the installed machine's DNS settings and hosts layer;
	// nil means a trial run that touches neither.
	System System
	// SystemRoot is where "system" upstreams read etc/resolv.conf when
	// there is no record to read them from (Linux, macOS); "" means "/".
	SystemRoot string

	// Service is set for the installed service (`run --service`): its
	// state, the second copy of it and its control socket are where the
	// binary puts them (StateDir, CopyDir, ControlSocket), never where
	// the settings say; and a settings file with a mistake does not stop
	// it: it runs with the last settings that loaded.
	Service bool
	// StateDir, when set, is the state folder, whatever the settings'
	// [daemon] state_dir says; "" means the settings'.
	StateDir string
	// CopyPath is the second copy of the pact; "" means a file in the
	// state folder (a trial run keeps both copies there).
	CopyPath string
	// ControlSocket, when set, is the control socket, whatever the
	// settings say; "" means the settings'.
	ControlSocket string
	// ProcDir is Linux's /proc, where the daemon looks for other
	// programs on its DNS port (see watchPort); "" means "/proc".
	ProcDir string
	// Zone returns the machine's time zone, read at start and at every
	// wake; nil means clock.LocalZone, or Location's zone when Location
	// is set.
	Zone func() clock.Zone
	// Witness makes the time witness for one of the pact's [clock]
	// witnesses; nil means clock.HTTPS. Tests hand in local servers.
	Witness func(url string) clock.Witness
	// WallWatch delivers a value when the wall clock is set; nil means
	// clock.WatchWall.
	WallWatch func(ctx context.Context) <-chan struct{}
	// Firewall and Browsers are the installed machine's firewall layer
	// and browser policies (see firewall.go), kept while System says the
	// machine is installed; nil means none.
	Firewall Firewall
	Browsers Browsers
}

// stateVersion is the format version of the state file.
const stateVersion = 1

// stateName is the state file's name in the state directory.
const stateName = "state"

// attemptsName is the attempt counts' file in the state directory, and
// attemptsVersion its format version.
const (
	attemptsName    = "attempts"
	attemptsVersion = 1
)

// ownDomains is the attempts key for blocked domains of the user's own
// that belong to no catalog platform.
const ownDomains = "your own domains"

// saveEvery bounds how old the clock ledger on disk may get while nothing
// else changes: it is the daemon's heartbeat, from which the next start
// finds how long nocontact was not running.
// else changes: after a reboot the trusted time is never earlier than it.
const saveEvery = time.Minute

// maxSleep caps each sleep of the run loop. Go's timers run on a monotonic
// clock that, on some systems, stops while the machine is suspended, so a
// timer set for "in 6 hours" may fire hours late after a sleep. Waking at
// least once a minute and recomputing from the trusted (boot) clock keeps
// every transition within a minute of its time, at the cost of one cheap
// wake-up a minute.
const maxSleep = time.Minute

// Daemon is a running nocontact. Its methods are safe for concurrent use:
// the control socket calls Status, Unlock, Cancel and Reload while Run
// loops.
type Daemon struct {
	opts     Options
	log      *slog.Logger
	loc      *time.Location
	clk      *clock.Clock
	dir      string // the state folder, fixed for the life of the process
	path     string // the state file
	copyPath string // its second copy
	socket   string // the control socket
	lock     *statefile.Lock
	zone     func() clock.Zone
	gen      uint64 // the last save's number (persisted.Gen)
	wake     chan struct{}
	srv      *dnsfilter.Server
	lan      *lan               // the endpoints for the other devices of the network (lan.go)
	loop     *upstream.LoopMark // one per process: a question carrying it came back to us
	up       *upstream.Forwarder
	mu       sync.Mutex
	cfg      *config.Config
	eng      *pact.Engine
	spec     dnsfilter.Spec
	saved    time.Time // trusted time of the last save

	// settingsText is the text of the last settings that loaded, and
	// settingsFile where it came from; kept in the state for a service
	// whose file gets a mistake. settingsErr is that mistake while the
	// service runs on the kept settings (nil when the file loads), and
	// settingsTried the file's text that gave it, so that the file is
	// read again only when it changes.
	settingsText  string
	settingsFile  string
	settingsErr   error
	settingsTried []byte
	// ignored is the settings' [daemon] keys the service ignores (see
	// persisted.Ignored).
	ignored string
	// hostsNames is what the hosts layer was last made to list, to tell
	// an edit by someone else from a change of the pact.
	hostsNames []string
	hostsKnown bool
	// lastLook is the clock's entry at the last wake, to see the wall
	// clock being set; witnessErr why the witnesses did not agree yet.
	lastLook   clock.Ledger
	witnessErr error

	attempts  *attempts.Counter
	reasserts atomic.Int64 // times the system's DNS settings were put back

	// attemptsDue is set while a save of the attempt counts is scheduled.
	attemptsDue atomic.Bool
	attemptsMu  sync.Mutex // one save of the counts at a time
	// ports is what the daemon knows of other programs on its DNS port.
	ports portWatch
	// saving keeps a failing disk (full, read only) from filling the log:
	// a failure is said once, and so is the recovery.
	saving failure
	// control marks the upstream sockets for the firewall layer, and
	// fwUsable says the layer may be turned on; doh holds the
	// encrypted-DNS addresses (see firewall.go).
	control  func(network, address string, c syscall.RawConn) error
	fwUsable bool
	fwWhy    error       // why not, when not usable
	fwSaid   atomic.Bool // fwWhy was logged
	doh      dohAddrs
	// standDown is set once the pact allowed uninstalling: from then on
	// the daemon no longer re-asserts the DNS settings or rewrites the
	// hosts layer, so that uninstall can give them back (until a restart).
	// keeping is held by each keep round for its whole length, and by
	// Uninstall while it sets standDown: once Uninstall says "allowed",
	// no round still under way can put back what uninstall removes.
	standDown atomic.Bool
	keeping   sync.Mutex
}

// New reads the settings and the pact's memory, and builds the filter
// without starting it. It takes the state folder's lock first, so that a
// second daemon on the same folder fails before it reads or writes
// anything. A settings mistake is returned (a trial run), or, for the
// installed service, logged and the last settings that loaded are used. A
// damaged or missing copy of the memory is restored from the other; when
// neither is whole and something shows that a pact existed, everything is
// blocked and the settings wait out the cooldown (see readMemory).
func New(opts Options) (d *Daemon, err error) {
	if opts.Catalog == nil {
		return nil, errors.New("daemon: no catalog")
	}
	d = &Daemon{opts: opts, log: opts.Logger, loc: opts.Location, wake: make(chan struct{}, 1)}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	d.zone = opts.Zone
	switch {
	case d.zone != nil:
	case d.loc != nil:
		z := clock.ZoneOf(d.loc)
		d.zone = func() clock.Zone { return z }
	default:
		d.zone = clock.LocalZone
	}
	zone := d.zone()
	if d.loc == nil {
		d.loc = zone.Location()
	}
	src := opts.Clock
	if src == nil {
		src = clock.System()
	}

	text, cfg, cfgErr := d.loadSettings()
	if cfgErr != nil && !opts.Service {
		return nil, cfgErr
	}
	d.dir, d.socket = opts.StateDir, opts.ControlSocket
	if cfg != nil {
		if d.dir == "" {
			d.dir = cfg.Daemon.StateDir
		}
		if d.socket == "" {
			d.socket = cfg.Daemon.ControlSocket
		}
	}
	if d.dir == "" || d.socket == "" {
		return nil, errors.New("daemon: the installed service needs its state folder and control socket (Options.StateDir, ControlSocket)")
	}
	d.path, d.copyPath = filepath.Join(d.dir, stateName), opts.CopyPath
	if d.copyPath == "" {
		d.copyPath = filepath.Join(d.dir, copyName)
	}

	_, lockErr := os.Stat(filepath.Join(d.dir, "lock"))
	if d.lock, err = statefile.TakeLock(d.dir); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = d.lock.Release()
		}
	}()
	mem := d.readMemory()
	d.gen = mem.p.Gen

	// The settings: the file's, or for the service whose file has a
	// mistake, the last that loaded, or the defaults (block everything)
	// when none ever did.
	if cfgErr != nil {
		d.settingsErr, d.settingsTried = cfgErr, text
		cfg = d.fallbackSettings(mem.p)
	} else {
		d.settingsText, d.settingsFile = string(text), opts.ConfigPath
	}
	d.cfg = cfg
	req := pact.FromConfig(cfg)

	d.clk = clock.New(src, mem.p.Clock)
	now := d.clk.Now()
	switch {
	case mem.found:
		d.eng = pact.New(mem.p.Pact, d.loc)
		d.eng.UseZone(zone)
		for _, l := range mem.lost {
			d.log.Warn("one copy of the pact's memory could not be used; it is restored from the other", "what", l)
			d.eng.Note(pact.EventStateRestored, l+"; it was restored from the other copy", now)
		}
		d.ignored = mem.p.Ignored
		d.logResult(d.eng.Reload(req, now))
	default:
		traces := append(mem.traces, d.tracesOfAPact(lockErr == nil)...)
		if len(traces) == 0 {
			d.eng = pact.AdoptIn(req, now, zone)
			d.log.Info("no saved pact: the pact starts as the settings say", "state", d.path, "copy", d.copyPath)
			break
		}
		every, rerr := opts.Catalog.Resolve([]string{catalog.All})
		if rerr != nil {
			return nil, rerr
		}
		lost := pact.LostRequest(req, every, config.Default(opts.Catalog).Pact.CooldownDur, now)
		d.eng = pact.AdoptIn(lost, now, zone)
		what := "both copies of the pact's memory were missing or damaged (" + strings.Join(traces, "; ") +
			"), so everything is blocked from now, and the settings wait out the cooldown"
		d.eng.Note(pact.EventStateLost, what, now)
		d.log.Error("the pact's memory is lost: nocontact blocks every platform from now on; every way the settings are looser waits out the cooldown",
			"traces", strings.Join(traces, "; "), "state", d.path, "copy", d.copyPath)
		d.logResult(d.eng.Reload(req, now))
	}
	if cfgErr != nil {
		d.log.Error("the settings file has a mistake, so nocontact runs with the last settings that loaded; fix the file and it is read again within a minute",
			"err", cfgErr, "running_with", d.settingsFile)
	}
	d.noteIgnored(cfg, now)
	d.noteJumps(now)
	d.lastLook = d.clk.Ledger()
	d.warnPermissions()
	// A state that cannot be written (a full disk) must not stop the
	// filter: it is reported, and the pact holds in memory.
	_ = d.saveOrReport() // a failure is logged, and the pact holds in memory
	for _, c := range d.eng.State().Pending {
		d.log.Info("change pending", "change", c.What, "id", c.ID, "effective", c.Effective.In(d.loc).Format(time.RFC3339))
	}

	d.attempts = attempts.New(func() time.Time { return d.clk.Now() }, d.loc)
	d.loadAttempts()
	d.loop = upstream.NewLoopMark()
	d.control, d.fwUsable, d.fwWhy = firewallControl(opts.Firewall)
	up, err := forwarderFor(cfg, d.loop, d.log, d.savedResolvers(), opts.SystemRoot, d.control)
	var noUp *noUpstreamError
	switch {
	case errors.As(err, &noUp):
		// Exiting would leave the machine with no DNS at all, since its
		// settings point at us: answer what we can, SERVFAIL the rest.
		d.log.Error(noUp.Advice(opts.ConfigPath))
	case err != nil:
		return nil, err
	}
	d.up = up
	var exchanger upstream.Exchanger // nil: SERVFAIL for every forwarded name
	if up != nil {
		exchanger = up
	}
	now = d.clk.Now()
	d.spec = d.eng.Snapshot(now).Spec
	policy, err := dnsfilter.NewPolicy(opts.Catalog, d.spec)
	if err != nil {
		return nil, err
	}
	d.srv, err = dnsfilter.NewServer(dnsfilter.Options{
		Listen:     cfg.DNS.ListenAddrs,
		LANClients: cfg.DNS.LANPrefixes,
		Upstream:   exchanger,
		Logger:     opts.Logger,
		Cache: cache.New(cache.Options{
			Size:   cfg.DNS.CacheSize,
			MinTTL: cfg.DNS.MinTTLDuration,
			MaxTTL: cfg.DNS.MaxTTLDuration,
		}),
		Loop:       d.loop,
		ClientRate: clientRate(cfg.DNS.LANRateLimit),
		// The installed service keeps its port to itself (see watchPort).
		Exclusive: opts.Service,
		OnBlocked: func(src netip.Addr, r match.Rule) {
			p := r.Platform
			if p == "" {
				p = ownDomains
			}
			d.attempts.RecordFrom(device(src), p)
			d.attemptsSoon()
		},
	}, policy)
	if err != nil {
		return nil, err
	}
	d.lan = newLAN(d)
	return d, nil
}

// Addrs returns the addresses the filter listens on, once started.
func (d *Daemon) Addrs() []netip.AddrPort { return d.srv.Addrs() }

// Close lets go of what New took, for a Daemon that was built but not run
// (Run lets go of it when it stops): the state folder's lock and the
// upstream connections. It saves nothing, as a killed process would not.
func (d *Daemon) Close() error {
	d.mu.Lock()
	if d.up != nil {
		d.up.Close()
	}
	d.mu.Unlock()
	return d.lock.Release()
}

// CopyPath returns the path of the state file's second copy.
func (d *Daemon) CopyPath() string { return d.copyPath }

// StatePath returns the state file's path.
func (d *Daemon) StatePath() string { return d.path }

// Run starts the filter and runs until ctx is done, then stops the filter.
func (d *Daemon) Run(ctx context.Context) error {
	if err := d.srv.Start(); err != nil {
		return d.explainInUse(err)
	}
	d.watchPort()
	go d.srv.CheckLoops(ctx)
	d.applyLAN()
	ctl, err := d.serveControl()
	if err != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d.lan.close()
		if serr := d.srv.Shutdown(sctx); serr != nil {
			d.log.Warn("the filter did not stop cleanly", "err", serr)
		}
		return err
	}
	d.mu.Lock()
	d.log.Info("nocontact is filtering", "config", d.opts.ConfigPath, "state", d.path,
		"blocked_platforms", len(d.spec.Platforms), "extra_domains", len(d.spec.Domains), "allowed", len(d.spec.Allow))
	d.logKeptOpen()
	d.mu.Unlock()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var changes <-chan struct{}
	if d.opts.System != nil {
		changes = d.opts.System.Changes()
	}
	watchWall := d.opts.WallWatch
	if watchWall == nil {
		watchWall = clock.WatchWall
	}
	wallSet := watchWall(ctx) // the ledger is saved at once when the wall clock is set
	go d.witness(ctx)
	for {
		d.retrySettings()
		wait := d.step()
		d.keep(ctx)
		d.watchPort()
		d.applyLAN() // an address that came up since, a certificate to renew
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if cerr := ctl.Shutdown(sctx); cerr != nil {
				d.log.Warn("the control socket did not close cleanly", "err", cerr)
			}
			d.lan.close()
			err := d.srv.Shutdown(sctx)
			d.saveAttempts()
			d.mu.Lock()
			if d.up != nil {
				d.up.Close()
			}
			d.clk.Stopped()      // the next start tells this stop from a kill
			_ = d.saveOrReport() // a failure is logged, and the pact holds in memory
			d.mu.Unlock()
			if lerr := d.lock.Release(); lerr != nil {
				d.log.Warn("could not release the state folder's lock", "err", lerr)
			}
			d.log.Info("stopped")
			return err
		case <-d.wake:
		case <-changes:
		case <-wallSet:
		case <-timer.C:
		}
	}
}

// keep holds the installed machine to the pact: while it binds, the
// system's DNS settings are put back if something rewrote them (each time
// logged and counted), and the hosts layer lists the main names of what
// is blocked now (nothing when nothing is, or when [hosts_file] is off).
// It runs at every wake of the run loop, at least once a minute, and
// outside d.mu: the settings may take a command or two to check.
func (d *Daemon) keep(ctx context.Context) {
	sys := d.opts.System
	if sys == nil {
		return
	}
	d.keeping.Lock()
	defer d.keeping.Unlock()
	if d.standDown.Load() || !sys.Installed() {
		return
	}
	d.mu.Lock()
	binding := d.eng.Binding(d.clk.Now())
	var names []string
	if d.eng.Hosts() {
		names = HostsNames(d.opts.Catalog, d.spec)
	}
	d.mu.Unlock()
	defer d.keepLayers(ctx) // the firewall layer and the browsers' policies (firewall.go)
	if binding {
		re, err := sys.KeepDNS(ctx)
		switch {
		case err != nil:
			d.log.Error("could not check the system's DNS settings; trying again at the next wake", "err", err)
		case re:
			n := d.reasserts.Add(1)
			d.log.Warn("something changed the system's DNS settings; nocontact put them back", "reasserts", n)
			d.note(pact.EventDNSRewritten, "something changed the computer's DNS settings; nocontact put them back")
		}
	}
	changed, err := sys.SetHosts(ctx, names)
	switch {
	case err != nil:
		d.log.Error("could not update the hosts file; trying again at the next wake", "err", err)
		return
	case changed && d.hostsKnown && slices.Equal(names, d.hostsNames):
		// The pact asked for the same names as last time, so the file
		// was changed by someone else.
		d.log.Warn("someone edited nocontact's section of the hosts file; nocontact put it back")
		d.note(pact.EventHostsEdited, "someone edited nocontact's section of the hosts file; nocontact put it back")
	case changed:
		d.log.Info("hosts file updated", "names", len(names))
	}
	d.hostsNames, d.hostsKnown = names, true
}

// note adds an event to the record of attempts and saves it.
func (d *Daemon) note(kind pact.EventKind, what string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.eng.Note(kind, what, d.clk.Now())
	_ = d.saveOrReport() // a failure is logged, and the pact holds in memory
}

// savedResolvers returns what "system" upstreams stand for once installed:
// the resolvers from before nocontact took over, so that it never forwards
// to itself through a resolv.conf that now names it. Nil in a trial run.
func (d *Daemon) savedResolvers() func() ([]netip.AddrPort, error) {
	sys := d.opts.System
	if sys == nil {
		return nil
	}
	return func() ([]netip.AddrPort, error) {
		if !sys.Installed() {
			return nil, nil
		}
		return sys.OriginalResolvers()
	}
}

// step advances the engine to now, publishes the snapshot, saves when
// needed, and returns how long to sleep.
func (d *Daemon) step() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.clk.Now()
	res := d.eng.Advance(now)
	d.noteJumps(now)
	wallSet := d.noteWallSet(now)
	if z := d.zone(); z.ID() != d.eng.Zone() {
		// Quiet hours keep the zone they were asked in: the same hours in
		// the new zone apply at once, and the old ones stay for the
		// cooldown (see pact.UseZone).
		d.log.Warn("the computer's time zone changed: quiet hours in the new zone apply now, and those in the old one stay until the cooldown has passed",
			"from", d.eng.Zone(), "to", z.ID())
		d.eng.UseZone(z)
		more := d.eng.Reload(pact.FromConfig(d.cfg), now)
		res.Applied = append(res.Applied, more.Applied...)
		res.Queued = append(res.Queued, more.Queued...)
		res.Refused = append(res.Refused, more.Refused...)
		res.Dropped = append(res.Dropped, more.Dropped...)
	}
	// Publish first: a log line about a change must not come before the
	// filter applies it (the tests, and a person reading along, rely on it).
	d.publish(now)
	d.logResult(res)
	if res.Changed() || wallSet || now.Sub(d.saved) >= saveEvery {
		_ = d.saveOrReport() // a failure is logged, and the pact holds in memory
	}
	d.saveAttempts()
	wait := maxSleep
	if next := d.eng.NextTransition(now); !next.IsZero() && next.Sub(now) < wait {
		wait = max(next.Sub(now), time.Millisecond)
	}
	return wait
}

// publish hands the filter a new policy when what is blocked changed.
func (d *Daemon) publish(now time.Time) {
	snap := d.eng.Snapshot(now)
	if reflect.DeepEqual(snap.Spec, d.spec) {
		return
	}
	policy, err := dnsfilter.NewPolicy(d.opts.Catalog, snap.Spec)
	if err != nil {
		// Only a platform unknown to this catalog (an old state after a
		// catalog change) gets here; keep the stricter old policy.
		d.log.Error("the new policy could not be built; the filter keeps the last one", "err", err)
		return
	}
	d.srv.SetPolicy(policy)
	d.spec = snap.Spec
	d.log.Info("policy updated", "pact_on", snap.PactOn, "quiet_hours_on", len(snap.Quiet),
		"blocked_platforms", len(snap.Spec.Platforms), "extra_domains", len(snap.Spec.Domains), "allowed", len(snap.Spec.Allow))
}

func (d *Daemon) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *Daemon) logResult(r pact.Result) {
	for _, c := range r.Applied {
		d.log.Info("change applied", "change", c.What)
	}
	for _, c := range r.Queued {
		d.log.Info("change queued: it takes effect after the cooldown", "change", c.What, "id", c.ID,
			"effective", c.Effective.In(d.loc).Format(time.RFC3339))
	}
	for _, c := range r.Refused {
		d.log.Warn("change refused: the pact is strict and cannot be loosened before it ends", "change", c.What)
	}
	for _, c := range r.Dropped {
		d.log.Info("queued change dropped: the config no longer asks for it", "change", c.What, "id", c.ID)
	}
	if !r.Completed.IsZero() {
		d.log.Info("the pact's period has ended: its blocks are lifted", "ended", r.Completed.In(d.loc).Format(time.RFC3339))
	}
	d.logNews(r)
}

// Reload re-reads the config and hands it to the engine. A config with a
// mistake is refused (logged and returned) and nothing changes.
func (d *Daemon) Reload() error {
	text, cfg, err := d.loadSettings()
	if err != nil {
		d.log.Error("config not reloaded, still filtering with the previous one: fix the file and reload again", "err", err)
		if d.opts.Service {
			d.mu.Lock()
			d.settingsErr, d.settingsTried = err, text
			d.mu.Unlock()
		}
		return err
	}
	up, err := forwarderFor(cfg, d.loop, d.log, d.savedResolvers(), d.opts.SystemRoot, d.control)
	var noUp *noUpstreamError
	if errors.As(err, &noUp) {
		d.log.Error("config not reloaded, still filtering with the previous one: " + noUp.Advice(d.opts.ConfigPath))
		return err
	}
	if err != nil {
		d.log.Error("config not reloaded, still filtering with the previous one", "err", err)
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if cfg.DNS.CacheSize != d.cfg.DNS.CacheSize || cfg.DNS.MinTTLDuration != d.cfg.DNS.MinTTLDuration || cfg.DNS.MaxTTLDuration != d.cfg.DNS.MaxTTLDuration ||
		cfg.DNS.LANRateLimit != d.cfg.DNS.LANRateLimit {
		d.log.Warn("[dns] cache_size, min_ttl, max_ttl or lan_rate_limit changed: restart nocontact to apply them; the rest of the config is reloaded")
	}
	// New listen addresses are served at once, beside the filter's own
	// listeners (lan.go); those the filter started with stay until it
	// restarts.
	for _, a := range d.cfg.DNS.ListenAddrs {
		if !slices.Contains(cfg.DNS.ListenAddrs, a) {
			d.log.Warn("[dns] listen no longer has an address nocontact started with: it keeps answering there until it restarts", "addr", a.String())
		}
	}
	if !d.opts.Service && cfg.Daemon.StateDir != d.dir {
		d.log.Warn("[daemon] state_dir changed: restart nocontact to move the state; it stays in " + d.dir)
	}
	d.srv.SetUpstream(up)
	// Questions already under way finish on the old forwarder; close it
	// once they cannot be waiting any more.
	if old := d.up; old != nil {
		time.AfterFunc(2*upstream.DefaultTimeout+time.Second, func() { old.Close() })
	}
	d.up = up
	go d.srv.CheckLoops(context.Background())
	d.srv.SetLANClients(cfg.DNS.LANPrefixes)
	d.cfg = cfg
	d.settingsText, d.settingsFile, d.settingsErr, d.settingsTried = string(text), d.opts.ConfigPath, nil, nil
	now := d.clk.Now()
	d.noteIgnored(cfg, now)
	res := d.eng.Reload(pact.FromConfig(cfg), now)
	d.publish(now)
	d.logResult(res)
	_ = d.saveOrReport() // a failure is logged, and the pact holds in memory
	d.warnPermissions()
	d.log.Info("config reloaded", "config", d.opts.ConfigPath, "pending", len(d.eng.State().Pending))
	d.poke()
	d.logKeptOpen()
	return nil
}

// Status describes the pact now.
func (d *Daemon) Status() pact.Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.clk.Now()
	d.logResult(d.eng.Advance(now))
	return d.eng.Status(now)
}

// Unlock asks to end the pact now; see pact.Engine.Unlock. The change is
// saved before Unlock returns.
func (d *Daemon) Unlock() (pact.Change, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, res, err := d.eng.Unlock(d.clk.Now())
	d.logResult(res)
	if serr := d.saveOrReport(); serr != nil && err == nil {
		err = serr
	}
	d.poke()
	return c, err
}

// Uninstall asks whether nocontact may be removed now; see
// pact.Engine.Uninstall. The request is saved before Uninstall returns.
// Once it is allowed the daemon stands down (see standDown).
func (d *Daemon) Uninstall() (c pact.Change, allowed bool, err error) {
	d.mu.Lock()
	c, allowed, res, err := d.eng.Uninstall(d.clk.Now())
	d.logResult(res)
	if serr := d.save(); serr != nil && err == nil {
		err = serr
	}
	d.mu.Unlock()
	if allowed && err == nil {
		// Wait for a keep round under way (it takes d.mu, so not while
		// holding it): after this, nothing re-asserts what uninstall is
		// about to give back.
		d.keeping.Lock()
		d.standDown.Store(true)
		d.keeping.Unlock()
		d.log.Warn("uninstalling is allowed now: nocontact stops keeping the system's DNS settings, hosts file, browser policies and firewall rules until it restarts")
	}
	d.poke()
	return c, allowed, err
}

// Cancel removes the pending change with the given id, or all of them for
// "all"; see pact.Engine.Cancel.
func (d *Daemon) Cancel(id string) ([]pact.Change, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out, err := d.eng.Cancel(id, d.clk.Now())
	for _, c := range out {
		d.log.Info("queued change cancelled", "change", c.What, "id", c.ID)
	}
	if serr := d.saveOrReport(); serr != nil && err == nil {
		err = serr
	}
	d.poke()
	return out, err
}

// forwarderFor expands "system" into the system's resolvers, leaving out
// nocontact's own addresses, and returns a forwarder to the result.
// saved, when not nil, gives the resolvers from before nocontact took over
// the system's DNS (see Daemon.savedResolvers).
func forwarderFor(cfg *config.Config, loop *upstream.LoopMark, log *slog.Logger, saved func() ([]netip.AddrPort, error), root string,
	control func(network, address string, c syscall.RawConn) error) (*upstream.Forwarder, error) {
	if root == "" {
		root = "/"
	}
	var servers []upstream.Server
	system := false
	var sysErr error
	for _, u := range cfg.DNS.UpstreamAddrs {
		switch {
		case u.System:
			system = true
			// Installed, the record of the resolvers from before
			// nocontact; in a trial run, what the system lists now.
			sys, err := upstream.SystemResolvers(saved, root)
			if err != nil {
				// Like finding only ourselves: the other upstreams, if
				// any, still serve.
				sysErr = err
				continue
			}
			for _, a := range upstream.WithoutSelf(sys, cfg.DNS.ListenAddrs) {
				servers = append(servers, upstream.Server{Kind: upstream.Plain, Addr: a})
			}
		case u.URL != "":
			servers = append(servers, upstream.Server{Kind: upstream.HTTPS, URL: u.URL})
		case u.TLS:
			servers = append(servers, upstream.Server{Kind: upstream.TLS, Addr: u.Addr, Name: u.Name})
		default:
			if len(upstream.WithoutSelf([]netip.AddrPort{u.Addr}, cfg.DNS.ListenAddrs)) > 0 {
				servers = append(servers, upstream.Server{Kind: upstream.Plain, Addr: u.Addr})
			}
		}
	}
	if sysErr != nil && len(servers) > 0 {
		log.Warn(`upstreams = ["system"]: the system's resolvers could not be found; forwarding to the other upstreams only`, "err", sysErr)
	}
	if len(servers) == 0 {
		return nil, &noUpstreamError{system: system, cause: sysErr}
	}
	return upstream.New(upstream.Options{
		Servers:   servers,
		Bootstrap: upstream.WithoutSelf(cfg.DNS.BootstrapAddrs, cfg.DNS.ListenAddrs),
		Loop:      loop,
		Logger:    log,
		Control:   control,
	})
}

// noUpstreamError means that no upstream resolver is left once
// nocontact's own addresses are taken out: typically "system" on a
// machine whose settings point at nocontact and whose resolvers from
// before are unknown.
type noUpstreamError struct {
	system bool
	cause  error // why "system" gave none, when it failed
}

func (e *noUpstreamError) Error() string {
	if e.system && e.cause != nil {
		return `no upstream resolver left: upstreams = ["system"] could not find the system's resolvers: ` + e.cause.Error()
	}
	if e.system {
		return `no upstream resolver left: upstreams = ["system"] found only nocontact's own addresses (the system's DNS settings point at nocontact, and the servers it used before are not known)`
	}
	return "no upstream resolver left: every address in [dns] upstreams is one nocontact itself listens on"
}

// Advice says what happens now and exactly what to write, and where.
func (e *noUpstreamError) Advice(configPath string) string {
	return e.Error() + ". nocontact keeps answering: blocked names are blocked, and every other lookup fails (SERVFAIL) until this is fixed. " +
		"Write the resolvers to ask in the [dns] section of " + configPath + `, like: upstreams = ["9.9.9.9", "149.112.112.112"] ` +
		"(or your router's address, like \"192.168.1.1\"), then run: sudo nocontact reload"
}

// serveControl opens the control socket and answers on it until ctl is
// shut down.
func (d *Daemon) serveControl() (*control.Server, error) {
	lns, err := control.Listen(d.socket)
	if err != nil {
		return nil, fmt.Errorf("%w; set [daemon] control_socket to another path if this one cannot be used", err)
	}
	ctl := control.NewServer(d.Backend(), d.log)
	for _, ln := range lns {
		go func() {
			if err := ctl.Serve(ln); err != nil {
				d.log.Error("control socket stopped", "err", err)
			}
		}()
		d.log.Info("control socket open", "addr", ln.Addr().String())
	}
	return ctl, nil
}

// loadAttempts reads the saved attempt counts; damaged or missing counts
// start from zero (they are a mirror for the person, not part of the pact).
func (d *Daemon) loadAttempts() {
	path := filepath.Join(d.dir, attemptsName)
	body, err := statefile.Read(path, attemptsVersion)
	if err == nil {
		err = d.attempts.Load(body)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		d.log.Warn("the attempt counts could not be read; counting starts again from zero", "err", err)
	}
}

// saveAttempts writes the attempt counts when they changed. The run loop
// calls it at least once a minute, so a crash loses at most a minute of
// counts.
func (d *Daemon) saveAttempts() {
	d.attemptsMu.Lock()
	defer d.attemptsMu.Unlock()
	if !d.attempts.Changed() {
		return
	}
	body, err := d.attempts.Marshal()
	if err == nil {
		err = statefile.Write(filepath.Join(d.dir, attemptsName), attemptsVersion, body)
	}
	d.saving.report(d.log, err)
}

// warnPermissions logs what about the files' permissions weakens the pact.
func (d *Daemon) warnPermissions() {
	for _, p := range PermissionProblems(d.opts.ConfigPath, d.dir) {
		d.log.Warn("permissions: " + p)
	}
}

// clientRate turns [dns] lan_rate_limit into dnsfilter's ClientRate, where
// zero means the default and a negative number no limit.
func clientRate(perSecond int) int {
	if perSecond == 0 {
		return -1
	}
	return perSecond
}

// loadSettings reads and checks the settings file.
func (d *Daemon) loadSettings() ([]byte, *config.Config, error) {
	text, err := os.ReadFile(d.opts.ConfigPath)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the settings: %w", err)
	}
	env := d.opts.Env
	if env.Location == nil {
		env.Location = d.loc
	}
	cfg, err := config.ParseEnv(bytes.NewReader(text), d.opts.ConfigPath, d.opts.Catalog, env)
	return text, cfg, err
}

// fallbackSettings returns the settings the service runs with while its
// file has a mistake: the last that loaded, kept in the state, or when
// none ever did, the defaults (every platform blocked, answering on
// 127.0.0.1 and ::1, forwarding to the system's resolvers).
func (d *Daemon) fallbackSettings(p persisted) *config.Config {
	if p.Settings != "" {
		env := d.opts.Env
		if env.Location == nil {
			env.Location = d.loc
		}
		cfg, err := config.ParseEnv(strings.NewReader(p.Settings), p.SettingsFile, d.opts.Catalog, env)
		if err == nil {
			d.settingsText, d.settingsFile = p.Settings, p.SettingsFile
			return cfg
		}
		d.log.Error("the last settings that loaded do not load any more either; nocontact runs with its defaults", "err", err)
	}
	d.settingsFile = "nocontact's defaults"
	return config.Default(d.opts.Catalog)
}

// retrySettings reads the settings file again while the service runs on
// kept settings, and reloads once it changed: a fixed file is picked up
// within a minute, without a reload command.
func (d *Daemon) retrySettings() {
	d.mu.Lock()
	broken, tried := d.settingsErr != nil, d.settingsTried
	d.mu.Unlock()
	if !broken {
		return
	}
	text, err := os.ReadFile(d.opts.ConfigPath)
	if err != nil || bytes.Equal(text, tried) {
		return
	}
	if d.Reload() == nil {
		d.log.Info("the settings file loads again: nocontact runs with it")
	}
}

// noteIgnored warns about, and notes once in the record, the [daemon]
// keys of the settings the installed service ignores: they would have
// moved its memory or its control socket. The caller holds d.mu or is
// the only goroutine.
func (d *Daemon) noteIgnored(cfg *config.Config, now time.Time) {
	keys := d.ignoredKeys(cfg.Daemon.Written, cfg.Daemon.StateDir, cfg.Daemon.ControlSocket)
	if keys == "" {
		d.ignored = ""
		return
	}
	d.log.Warn("the settings ask to keep nocontact's memory or control socket elsewhere ("+keys+"); the installed service keeps them in their fixed places and ignores these lines",
		"state", d.dir, "control_socket", d.socket)
	if keys != d.ignored {
		d.eng.Note(pact.EventMemoryMoved, "the settings asked to keep the pact's memory or control socket elsewhere ("+keys+"); they stayed where they were", now)
		d.ignored = keys
	}
}

// Warnings says what about the settings the running daemon does not
// follow, in plain words, for status and doctor.
func (d *Daemon) Warnings() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	if d.settingsErr != nil {
		out = append(out, fmt.Sprintf("Your settings file has a mistake, so nocontact runs with %s. Fix it and nocontact picks it up within a minute: %v",
			settingsWords(d.settingsFile), d.settingsErr))
	}
	if d.ignored != "" {
		out = append(out, "Your settings ask to keep nocontact's memory or control socket elsewhere ("+d.ignored+"). The installed nocontact keeps them in "+d.dir+" and "+d.socket+", and ignores those lines; you can delete them.")
	}
	return out
}

func settingsWords(file string) string {
	if file == "nocontact's defaults" {
		return "its defaults (every platform blocked)"
	}
	return "the last settings that loaded"
}
