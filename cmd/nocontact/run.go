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
	up, err := forwarderFor(cfg, log)
	if err != nil {
		return err
	}
	srv, err := dnsfilter.NewServer(dnsfilter.Options{
		Listen:     cfg.DNS.ListenAddrs,
		LANClients: cfg.DNS.LANPrefixes,
		Upstream:   up,
		Logger:     log,
	}, policy)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
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
			reload(*path, cat, cfg, srv, log)
		}
	}
}

// reload re-reads the config; an invalid one is logged and the running
// policy is kept.
func reload(path string, cat *catalog.Catalog, old *config.Config, srv *dnsfilter.Server, log *slog.Logger) {
	cfg, err := config.Load(path, cat)
	if err != nil {
		log.Error("config not reloaded, still filtering with the previous one: fix the file and reload again", "err", err)
		return
	}
	policy, err := policyFor(cat, cfg)
	if err != nil {
		log.Error("config not reloaded, still filtering with the previous one", "err", err)
		return
	}
	up, err := forwarderFor(cfg, log)
	if err != nil {
		log.Error("config not reloaded, still filtering with the previous one", "err", err)
		return
	}
	if fmt.Sprint(cfg.DNS.ListenAddrs) != fmt.Sprint(old.DNS.ListenAddrs) {
		log.Warn("[dns] listen changed: restart nocontact to listen on the new addresses; the rest of the config is reloaded")
	}
	srv.SetUpstream(up)
	srv.SetLANClients(cfg.DNS.LANPrefixes)
	srv.SetPolicy(policy)
	log.Info("config reloaded", "config", path, "blocked_platforms", len(policy.Blocked()),
		"extra_domains", len(cfg.Pact.Domains), "allowed", len(cfg.Pact.Allow))
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
func forwarderFor(cfg *config.Config, log *slog.Logger) (*upstream.Forwarder, error) {
	var addrs []netip.AddrPort
	for _, u := range cfg.DNS.UpstreamAddrs {
		if !u.System {
			addrs = append(addrs, u.Addr)
			continue
		}
		sys, err := upstream.System("/")
		if err != nil {
			return nil, fmt.Errorf("finding the system's resolvers for upstreams = [\"system\"]: %w", err)
		}
		addrs = append(addrs, sys...)
	}
	addrs = upstream.WithoutSelf(addrs, cfg.DNS.ListenAddrs)
	if len(addrs) == 0 {
		return nil, fmt.Errorf("no upstream resolver left: the system's resolvers point back at nocontact itself; " +
			"write the resolvers to ask in [dns] upstreams, like upstreams = [\"9.9.9.9\", \"149.112.112.112\"]")
	}
	return upstream.NewForwarder(addrs, 0, log)
}
