package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/kardianos/service"
	"github.com/miekg/dns"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/installer"
	"github.com/nocontact/nocontact/installer/hosts"
)

// doctorProbes are what doctor looks at; tests replace every one.
type doctorProbes struct {
	// service is the installed service's state (service.ErrNotInstalled
	// when there is none).
	service func() (service.Status, error)
	// canary asks the filter itself about installer.Canary and returns
	// the answer's rcode.
	canary func(ctx context.Context) (int, error)
	// lookup resolves a name the way programs on this computer do (the
	// OS resolver, not the filter directly).
	lookup func(ctx context.Context, name string) ([]netip.Addr, error)
	// hostsSection reports whether the hosts file has nocontact's section.
	hostsSection func() (bool, error)
	// blocking says whether the filter blocks anything now (from its
	// status); an error when it cannot be asked.
	blocking func(ctx context.Context) (bool, error)
	// perm returns the permission bits and owner of a path (owner -1
	// where the OS does not say).
	perm func(path string) (fs.FileMode, int, error)
	// warnings are what of the settings the running service does not
	// follow (its status's warnings).
	warnings func(ctx context.Context) ([]string, error)
	// stateDir is the installed service's state folder.
	stateDir string
	// settingsErr is the mistake in the settings file, if it has one.
	settingsErr error
}

type finding struct {
	ok   bool
	text string // what was found, in plain words
	fix  string // what to do, when not ok
}

// doctor runs every check on cfg (the installed settings) and returns
// what it found, in order.
func doctor(ctx context.Context, cfg *config.Config, cfgPath string, p doctorProbes) []finding {
	var out []finding
	add := func(ok bool, text, fix string) { out = append(out, finding{ok, text, fix}) }

	st, err := p.service()
	switch {
	case errors.Is(err, service.ErrNotInstalled):
		add(false, "nocontact is not installed as a service.", "Install it: sudo nocontact install --config YOUR-SETTINGS")
	case err != nil:
		add(false, fmt.Sprintf("The nocontact service is installed, but its state is unknown (%v).", err), "Start it: sudo systemctl start nocontact (Linux), sudo launchctl kickstart -k system/nocontact (macOS), or sc start nocontact (Windows)")
	case st != service.StatusRunning:
		add(false, "The nocontact service is installed but not running.", "Start it: sudo systemctl start nocontact (Linux), sudo launchctl kickstart -k system/nocontact (macOS), or sc start nocontact (Windows)")
	default:
		add(true, "The nocontact service is installed and running.", "")
	}

	if p.settingsErr != nil {
		add(false, fmt.Sprintf("The settings file has a mistake, so nocontact runs with the last settings that loaded: %v", p.settingsErr),
			fmt.Sprintf("Fix %s as the message says; nocontact picks it up within a minute.", cfgPath))
	}
	if ws, err := p.warnings(ctx); err == nil {
		for _, w := range ws {
			if p.settingsErr != nil && strings.Contains(w, "mistake") {
				continue // said above
			}
			add(false, w, fmt.Sprintf("Edit %s as said, then: sudo nocontact reload", cfgPath))
		}
	}

	addr, _ := installer.ListenProbe(cfg)
	rcode, err := p.canary(ctx)
	if err != nil {
		add(false, fmt.Sprintf("The filter does not answer on %s (%v).", addr, err), "See its log (journalctl -u nocontact, /var/log/nocontact.log, or the Event Viewer) for why.")
	} else {
		add(true, fmt.Sprintf("The filter answers on %s.", addr), "")
		if rcode == dns.RcodeNameError {
			add(true, "Browsers' own encrypted DNS is turned off: the filter answers Firefox's check.", "")
		} else {
			add(false, fmt.Sprintf("Something other than nocontact answers on %s: Firefox's check got %s, not nocontact's answer.", addr, dns.RcodeToString[rcode]), "Stop the other DNS server on that address, or give nocontact another [dns] listen address.")
		}
	}

	// The path every program takes: the OS resolver.
	if addrs, err := p.lookup(ctx, installer.Canary); err == nil {
		add(false, fmt.Sprintf("This computer's DNS goes around nocontact: %s resolved to %v, which only happens without it.", installer.Canary, addrs),
			"Install it again to point the DNS settings at it (sudo nocontact install), and turn off any VPN or other DNS tool.")
	} else {
		addrs, err := p.lookup(ctx, "instagram.com")
		switch {
		case err != nil:
			add(false, fmt.Sprintf("This computer's DNS could not look up instagram.com (%v).", err), "Check that the filter answers (above), then run doctor again.")
		case !allNowhere(addrs):
			blocking, berr := p.blocking(ctx)
			if berr == nil && !blocking {
				add(true, "This computer's DNS goes through nocontact (nothing is blocked right now).", "")
			} else {
				add(false, fmt.Sprintf("instagram.com resolved to %v on this computer, so lookups still reach other servers.", addrs),
					"Install it again to point the DNS settings at it (sudo nocontact install), and turn off any VPN or other DNS tool.")
			}
		default:
			add(true, "This computer's DNS goes through nocontact: blocked names lead nowhere.", "")
		}
	}

	if cfg.HostsFile.Enabled {
		has, err := p.hostsSection()
		blocking, berr := p.blocking(ctx)
		switch {
		case err != nil:
			add(false, fmt.Sprintf("The hosts file could not be read (%v).", err), "Check its permissions.")
		case berr != nil:
			add(has, "The hosts layer could not be compared with what is blocked, because the filter did not say.", "Start the service, then run doctor again.")
		case blocking && !has:
			add(false, "The hosts file has no nocontact section, though something is blocked.", "The service writes it within a minute; if it does not, see its log.")
		case !blocking && has:
			add(false, "The hosts file still has a nocontact section, though nothing is blocked.", "The service removes it within a minute; if it does not, see its log.")
		default:
			add(true, "The hosts layer matches what is blocked.", "")
		}
	}

	if runtime.GOOS != "windows" {
		if mode, uid, err := p.perm(cfgPath); err == nil {
			if mode&0o022 != 0 || (uid != 0 && uid != -1) {
				add(false, fmt.Sprintf("The settings file %s can be changed by someone who is not an administrator (mode %v, owner %d).", cfgPath, mode.Perm(), uid),
					fmt.Sprintf("sudo chown root %q && sudo chmod 644 %q", cfgPath, cfgPath))
			} else {
				add(true, "Only an administrator can change the settings file.", "")
			}
		}
		if mode, _, err := p.perm(p.stateDir); err == nil {
			if mode&0o004 != 0 {
				add(false, fmt.Sprintf("Anyone on this computer can read nocontact's memory of the pact in %s.", p.stateDir),
					fmt.Sprintf("sudo chmod 700 %q", p.stateDir))
			} else {
				add(true, "Only an administrator can read nocontact's memory of the pact.", "")
			}
		}
	}
	return out
}

// allNowhere reports whether every address is 0.0.0.0 or ::.
func allNowhere(addrs []netip.Addr) bool {
	for _, a := range addrs {
		if !a.Unmap().IsUnspecified() {
			return false
		}
	}
	return len(addrs) > 0
}

func renderDoctor(w io.Writer, fs []finding) (bad int) {
	for _, f := range fs {
		if f.ok {
			fmt.Fprintf(w, "ok       %s\n", f.text)
			continue
		}
		bad++
		fmt.Fprintf(w, "PROBLEM  %s\n         To fix: %s\n", f.text, f.fix)
	}
	return bad
}

// realProbes looks at this computer.
func realProbes(d systemDeps, cfg *config.Config, cat *catalog.Catalog) doctorProbes {
	return doctorProbes{
		service: func() (service.Status, error) {
			svc, err := d.service(d.paths)
			if err != nil {
				return service.StatusUnknown, err
			}
			return svc.Status()
		},
		canary: func(ctx context.Context) (int, error) {
			a, err := installer.ListenProbe(cfg)
			if err != nil {
				return 0, err
			}
			c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
			m := new(dns.Msg)
			m.SetQuestion(dns.Fqdn(installer.Canary), dns.TypeA)
			r, _, err := c.ExchangeContext(ctx, m, a.String())
			if err != nil {
				return 0, err
			}
			return r.Rcode, nil
		},
		lookup: func(ctx context.Context, name string) ([]netip.Addr, error) {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return (&net.Resolver{PreferGo: false}).LookupNetIP(ctx, "ip", name)
		},
		hostsSection: func() (bool, error) {
			b, err := os.ReadFile(hosts.Path(d.root))
			if err != nil {
				return false, err
			}
			return bytes.Contains(b, []byte(hosts.Begin)), nil
		},
		blocking: func(ctx context.Context) (bool, error) {
			c, err := d.client(cat)
			if err != nil {
				return false, err
			}
			st, err := c.Status(ctx)
			return st.Blocking, err
		},
		perm: filePerm,
		warnings: func(ctx context.Context) ([]string, error) {
			c, err := d.client(cat)
			if err != nil {
				return nil, err
			}
			st, err := c.Status(ctx)
			return st.Warnings, err
		},
		stateDir: sysPath(d.root, d.paths.StateDir),
	}
}

func cmdDoctor(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "doctor")
	path := fs.String("config", defaultConfig, "the installed settings `file`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cat, err := catalog.Builtin()
	if err != nil {
		return err
	}
	d := installDeps()
	cfg, err := config.Load(*path, cat)
	var settingsErr error
	switch {
	case errors.Is(err, os.ErrNotExist):
		fmt.Fprintf(e.stdout, "PROBLEM  There are no settings at %s: nocontact is not installed.\n         To fix: sudo nocontact install --config YOUR-SETTINGS\n", *path)
		return errors.New("nocontact is not installed")
	case err != nil:
		// The service runs on the last settings that loaded; check the
		// rest with the defaults' addresses, which an installed
		// nocontact must use anyway.
		settingsErr, cfg = err, config.Default(cat)
	}
	p := realProbes(d, cfg, cat)
	p.settingsErr = settingsErr
	if bad := renderDoctor(e.stdout, doctor(ctx, cfg, *path, p)); bad > 0 {
		return fmt.Errorf("%d %s found", bad, plural(bad, "problem", "problems"))
	}
	fmt.Fprintln(e.stdout, "Everything is in order.")
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
