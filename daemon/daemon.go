// Package daemon is nocontact's run loop: it owns the pact engine, the DNS
// filter and the state file. It reads the config (a request) at start and
// on Reload, hands it to the engine, publishes the engine's snapshot to the
// filter, persists the state after every change, and sleeps until the next
// transition (the pact's start or end, a pending change maturing, a
// quiet-hours edge).
//
// It fails closed: a damaged state file is moved aside and the config's pact
// is applied in its tightest reading. When nocontact is installed, the
// daemon also decides when the system's DNS settings are re-asserted and
// what the hosts layer lists, through the System it is given. What the
// daemon must not do is decide anything about the pact itself (that is
// daemon/pact) or know how the system's DNS settings are changed (that is
// the installer, behind System).
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
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
// else changes: after a reboot the trusted time is never earlier than it.
const saveEvery = 5 * time.Minute

// maxSleep caps each sleep of the run loop. Go's timers run on a monotonic
// clock that, on some systems, stops while the machine is suspended, so a
// timer set for "in 6 hours" may fire hours late after a sleep. Waking at
// least once a minute and recomputing from the trusted (boot) clock keeps
// every transition within a minute of its time, at the cost of one cheap
// wake-up a minute.
const maxSleep = time.Minute

// persisted is the body of the state file.
type persisted struct {
	Pact  pact.State   `json:"pact"`
	Clock clock.Ledger `json:"clock"`
}

// Daemon is a running nocontact. Its methods are safe for concurrent use:
// the control socket calls Status, Unlock, Cancel and Reload while Run
// loops.
type Daemon struct {
	opts  Options
	log   *slog.Logger
	loc   *time.Location
	clk   *clock.Clock
	dir   string // the state folder, fixed for the life of the process
	path  string // the state file
	wake  chan struct{}
	srv   *dnsfilter.Server
	loop  *upstream.LoopMark // one per process: a question carrying it came back to us
	up    *upstream.Forwarder
	mu    sync.Mutex
	cfg   *config.Config
	eng   *pact.Engine
	spec  dnsfilter.Spec
	saved time.Time // trusted time of the last save

	attempts  *attempts.Counter
	reasserts atomic.Int64 // times the system's DNS settings were put back

	// attemptsDue is set while a save of the attempt counts is scheduled.
	attemptsDue atomic.Bool
	attemptsMu  sync.Mutex // one save of the counts at a time
	// saving keeps a failing disk (full, read only) from filling the log:
	// a failure is said once, and so is the recovery.
	saving failure
	// standDown is set once the pact allowed uninstalling: from then on
	// the daemon no longer re-asserts the DNS settings or rewrites the
	// hosts layer, so that uninstall can give them back (until a restart).
	standDown atomic.Bool
}

// New reads the config and the state, and builds the filter without
// starting it. A config error is returned; a damaged state is logged and
// replaced by the config's pact.
func New(opts Options) (*Daemon, error) {
	if opts.Catalog == nil {
		return nil, errors.New("daemon: no catalog")
	}
	d := &Daemon{opts: opts, log: opts.Logger, loc: opts.Location, wake: make(chan struct{}, 1)}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.loc == nil {
		d.loc = time.Local
	}
	src := opts.Clock
	if src == nil {
		src = clock.System()
	}
	cfg, err := config.LoadEnv(opts.ConfigPath, opts.Catalog, opts.Env)
	if err != nil {
		return nil, err
	}
	d.cfg = cfg
	d.dir = cfg.Daemon.StateDir
	d.path = filepath.Join(d.dir, stateName)
	req := pact.FromConfig(cfg)

	p, err := d.readState()
	switch {
	case err == nil:
		d.clk = clock.New(src, p.Clock)
		d.eng = pact.New(p.Pact, d.loc)
		d.logResult(d.eng.Reload(req, d.clk.Now()))
	case errors.Is(err, fs.ErrNotExist):
		d.clk = clock.New(src, clock.Ledger{})
		d.eng = pact.Adopt(req, d.clk.Now(), d.loc)
		d.log.Info("no saved pact: the pact starts as the config says", "state", d.path)
	default:
		d.clk = clock.New(src, clock.Ledger{})
		d.eng = pact.Adopt(req, d.clk.Now(), d.loc)
		d.log.Error("the saved pact could not be read, so nocontact blocks everything the config's pact asks for, counted from now; no queued loosening survives",
			"err", err)
	}
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
	up, err := forwarderFor(cfg, d.loop, d.log, d.savedResolvers(), opts.SystemRoot)
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
	now := d.clk.Now()
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
		OnBlocked: func(r match.Rule) {
			p := r.Platform
			if p == "" {
				p = ownDomains
			}
			d.attempts.Record(p)
			d.attemptsSoon()
		},
	}, policy)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// readState reads the state file; a body that passes the checksum but does
// not decode is moved aside like any damaged file.
func (d *Daemon) readState() (persisted, error) {
	var p persisted
	body, err := statefile.Read(d.path, stateVersion)
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(body, &p); err != nil {
		aside := d.path + ".damaged-" + time.Now().UTC().Format("20060102T150405Z") //nolint:forbidigo // only names the file kept for inspection; no pact time
		if rerr := renameAside(d.path, aside); rerr != nil {
			aside = ""
		}
		return p, &statefile.DamagedError{Path: d.path, Aside: aside, Reason: "not valid: " + err.Error()}
	}
	return p, nil
}

// save writes the state and the clock ledger. The caller holds d.mu or is
// the only goroutine.
func (d *Daemon) save() error {
	body, err := json.MarshalIndent(persisted{Pact: d.eng.State(), Clock: d.clk.Ledger()}, "", "  ")
	if err != nil {
		return err
	}
	if err := statefile.Write(d.path, stateVersion, body); err != nil {
		return fmt.Errorf("saving the pact in %s: %w", d.path, err)
	}
	d.saved = d.clk.Ledger().Trusted
	return nil
}

// Addrs returns the addresses the filter listens on, once started.
func (d *Daemon) Addrs() []netip.AddrPort { return d.srv.Addrs() }

// StatePath returns the state file's path.
func (d *Daemon) StatePath() string { return d.path }

// Run starts the filter and runs until ctx is done, then stops the filter.
func (d *Daemon) Run(ctx context.Context) error {
	if err := d.srv.Start(); err != nil {
		return err
	}
	go d.srv.CheckLoops(ctx)
	ctl, err := d.serveControl()
	if err != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
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
	for {
		wait := d.step()
		d.keep(ctx)
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if cerr := ctl.Shutdown(sctx); cerr != nil {
				d.log.Warn("the control socket did not close cleanly", "err", cerr)
			}
			err := d.srv.Shutdown(sctx)
			d.saveAttempts()
			d.mu.Lock()
			if d.up != nil {
				d.up.Close()
			}
			_ = d.saveOrReport() // a failure is logged, and the pact holds in memory
			d.mu.Unlock()
			d.log.Info("stopped")
			return err
		case <-d.wake:
		case <-changes:
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
	if sys == nil || d.standDown.Load() || !sys.Installed() {
		return
	}
	d.mu.Lock()
	binding := d.eng.Binding(d.clk.Now())
	var names []string
	if d.cfg.HostsFile.Enabled {
		names = HostsNames(d.opts.Catalog, d.spec)
	}
	d.mu.Unlock()
	if binding {
		re, err := sys.KeepDNS(ctx)
		switch {
		case err != nil:
			d.log.Error("could not check the system's DNS settings; trying again at the next wake", "err", err)
		case re:
			n := d.reasserts.Add(1)
			d.log.Warn("something changed the system's DNS settings; nocontact put them back", "reasserts", n)
		}
	}
	if changed, err := sys.SetHosts(ctx, names); err != nil {
		d.log.Error("could not update the hosts file; trying again at the next wake", "err", err)
	} else if changed {
		d.log.Info("hosts file updated", "names", len(names))
	}
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
	// Publish first: a log line about a change must not come before the
	// filter applies it (the tests, and a person reading along, rely on it).
	d.publish(now)
	d.logResult(res)
	if res.Changed() || now.Sub(d.saved) >= saveEvery {
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
	cfg, err := config.LoadEnv(d.opts.ConfigPath, d.opts.Catalog, d.opts.Env)
	if err != nil {
		d.log.Error("config not reloaded, still filtering with the previous one: fix the file and reload again", "err", err)
		return err
	}
	up, err := forwarderFor(cfg, d.loop, d.log, d.savedResolvers(), d.opts.SystemRoot)
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
	if fmt.Sprint(cfg.DNS.ListenAddrs) != fmt.Sprint(d.cfg.DNS.ListenAddrs) {
		d.log.Warn("[dns] listen changed: restart nocontact to listen on the new addresses; the rest of the config is reloaded")
	}
	if cfg.Daemon.StateDir != d.cfg.Daemon.StateDir {
		d.log.Warn("[daemon] state_dir changed: restart nocontact to move the state; it stays in " + filepath.Dir(d.path))
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
	now := d.clk.Now()
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
	defer d.mu.Unlock()
	c, allowed, res, err := d.eng.Uninstall(d.clk.Now())
	d.logResult(res)
	if serr := d.save(); serr != nil && err == nil {
		err = serr
	}
	if allowed && err == nil {
		d.standDown.Store(true)
		d.log.Warn("uninstalling is allowed now: nocontact stops keeping the system's DNS settings and hosts file until it restarts")
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
func forwarderFor(cfg *config.Config, loop *upstream.LoopMark, log *slog.Logger, saved func() ([]netip.AddrPort, error), root string) (*upstream.Forwarder, error) {
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
	d.mu.Lock()
	socket := d.cfg.Daemon.ControlSocket
	d.mu.Unlock()
	lns, err := control.Listen(socket)
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
