package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"syscall"
	"time"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/dnsfilter"
	"github.com/nocontact/nocontact/dnsfilter/cache"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/dnsfilter/upstream"
)

// defaultConfig is where the installed service finds its config.
const defaultConfig = "/etc/nocontact/nocontact.toml"

func cmdRun(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "run")
	path := fs.String("config", defaultConfig, "the config `file`")
	level := fs.String("log-level", "info", "debug, info, warn or error (debug logs every name looked up)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	log, err := newLogger(e.stderr, *level)
	if err != nil {
		return err
	}
	cat, err := catalog.Builtin()
	if err != nil {
		return err
	}
	cfg, err := config.Load(*path, cat)
	if err != nil {
		return err
	}
	policy, err := policyFor(cat, cfg)
	if err != nil {
		return err
	}
	// One mark for the life of the process: a question carrying it that
	// reaches the server came back from an upstream.
	loop := upstream.NewLoopMark()
	up, err := forwarderFor(cfg, loop, log)
	if err != nil {
		return err
	}
	srv, err := dnsfilter.NewServer(dnsfilter.Options{
		Listen:     cfg.DNS.ListenAddrs,
		LANClients: cfg.DNS.LANPrefixes,
		Upstream:   up,
		Logger:     log,
		Cache: cache.New(cache.Options{
			Size:   cfg.DNS.CacheSize,
			MinTTL: cfg.DNS.MinTTLDuration,
			MaxTTL: cfg.DNS.MaxTTLDuration,
		}),
		Loop: loop,
	}, policy)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	go srv.CheckLoops(ctx)
	log.Info("nocontact is filtering", "config", *path, "blocked_platforms", len(policy.Blocked()),
		"extra_domains", len(cfg.Pact.Domains), "allowed", len(cfg.Pact.Allow), "upstreams", fmt.Sprint(up.Servers()))

	for {
		select {
		case <-ctx.Done():
			return shutdown(srv, log)
		case s := <-e.signals:
			if s != syscall.SIGHUP {
				log.Info("stopping", "signal", s.String())
				return shutdown(srv, log)
			}
			if next, nextUp := reload(ctx, *path, cat, cfg, srv, loop, log); next != nil {
				up.Close()
				cfg, up = next, nextUp
			}
		}
	}
}

// reload re-reads the config and returns it with its forwarder, now in
// use; an invalid one is logged, the running policy is kept, and reload
// returns nil.
func reload(ctx context.Context, path string, cat *catalog.Catalog, old *config.Config, srv *dnsfilter.Server,
	loop *upstream.LoopMark, log *slog.Logger) (*config.Config, *upstream.Forwarder) {
	cfg, err := config.Load(path, cat)
	if err != nil {
		log.Error("config not reloaded, still filtering with the previous one: fix the file and reload again", "err", err)
		return nil, nil
	}
	policy, err := policyFor(cat, cfg)
	if err != nil {
		log.Error("config not reloaded, still filtering with the previous one", "err", err)
		return nil, nil
	}
	up, err := forwarderFor(cfg, loop, log)
	if err != nil {
		log.Error("config not reloaded, still filtering with the previous one", "err", err)
		return nil, nil
	}
	if fmt.Sprint(cfg.DNS.ListenAddrs) != fmt.Sprint(old.DNS.ListenAddrs) {
		log.Warn("[dns] listen changed: restart nocontact to listen on the new addresses; the rest of the config is reloaded")
	}
	if cfg.DNS.CacheSize != old.DNS.CacheSize || cfg.DNS.MinTTLDuration != old.DNS.MinTTLDuration || cfg.DNS.MaxTTLDuration != old.DNS.MaxTTLDuration {
		log.Warn("[dns] cache_size, min_ttl or max_ttl changed: restart nocontact to apply them; the rest of the config is reloaded")
	}
	srv.SetUpstream(up)
	go srv.CheckLoops(ctx)
	srv.SetLANClients(cfg.DNS.LANPrefixes)
	srv.SetPolicy(policy)
	log.Info("config reloaded", "config", path, "blocked_platforms", len(policy.Blocked()),
		"extra_domains", len(cfg.Pact.Domains), "allowed", len(cfg.Pact.Allow))
	return cfg, up
}

func shutdown(srv *dnsfilter.Server, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(ctx)
	log.Info("stopped")
	return err
}

func policyFor(cat *catalog.Catalog, cfg *config.Config) (*dnsfilter.Policy, error) {
	return dnsfilter.NewPolicy(cat, dnsfilter.Spec{
		Platforms: cfg.Pact.Platforms,
		Domains:   cfg.Pact.Domains,
		Allow:     cfg.Pact.Allow,
	})
}

// forwarderFor expands "system" into the system's resolvers, leaving out
// nocontact's own addresses, and returns a forwarder to the result.
func forwarderFor(cfg *config.Config, loop *upstream.LoopMark, log *slog.Logger) (*upstream.Forwarder, error) {
	var servers []upstream.Server
	for _, u := range cfg.DNS.UpstreamAddrs {
		switch {
		case u.System:
			// The installer's record of the resolvers from before
			// nocontact (#6) goes in place of nil once it exists; until
			// then "system" is what the system lists now.
			sys, err := upstream.SystemResolvers(nil, "/")
			if err != nil {
				return nil, fmt.Errorf("finding the system's resolvers for upstreams = [\"system\"]: %w", err)
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
	if len(servers) == 0 {
		return nil, fmt.Errorf("no upstream resolver left: the system's resolvers point back at nocontact itself; " +
			"write the resolvers to ask in [dns] upstreams, like upstreams = [\"9.9.9.9\", \"149.112.112.112\"]")
	}
	return upstream.New(upstream.Options{
		Servers:   servers,
		Bootstrap: upstream.WithoutSelf(cfg.DNS.BootstrapAddrs, cfg.DNS.ListenAddrs),
		Loop:      loop,
		Logger:    log,
	})
}
