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
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/kardianos/service"
	"github.com/miekg/dns"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/daemon/control"
	"github.com/nocontact/nocontact/daemon/portwatch"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/installer"
	"github.com/nocontact/nocontact/installer/browsers"
	"github.com/nocontact/nocontact/installer/firewall"
	"github.com/nocontact/nocontact/installer/hosts"
	"github.com/nocontact/nocontact/installer/osdns"
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
	// strangers are other programs' sockets bound where the filter
	// answers (from its status, or when it cannot be asked, from /proc).
	strangers func(ctx context.Context) ([]control.Stranger, error)
	// stateDir is the installed service's state folder.
	stateDir string
	// settingsErr is the mistake in the settings file, if it has one.
	settingsErr error
	// outsideDNS sends a plain DNS question straight to a resolver that
	// is not nocontact's (addr, port 53) and returns nil when it was
	// answered: the firewall layer's real probe.
	outsideDNS func(ctx context.Context, addr netip.Addr) error
	// upstreams are the addresses nocontact itself asks, which the probe
	// must avoid (the layer lets some of them through).
	upstreams func(ctx context.Context) []netip.Addr
	// firewall checks the layer's rules themselves (see
	// installer/firewall): nil, an error wrapping firewall.ErrRemoved,
	// or another error when they could not be read (without
	// administrator rights).
	firewall func(ctx context.Context) error
	// browsers checks every browser's policy (see installer/browsers).
	browsers func(ctx context.Context) ([]browsers.Status, error)
}

// outsideResolvers are well-known public resolvers the firewall probe
// asks, the first that is not one of nocontact's own upstreams.
var outsideResolvers = []netip.Addr{
	netip.MustParseAddr("9.9.9.9"), netip.MustParseAddr("1.1.1.1"), netip.MustParseAddr("8.8.8.8"),
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
			add(true, "The filter answers Firefox's check, so Firefox's automatic encrypted DNS stays off.", "")
		} else {
			add(false, fmt.Sprintf("Something other than nocontact answers on %s: Firefox's check got %s, not nocontact's answer.", addr, dns.RcodeToString[rcode]), "Stop the other DNS server on that address, or give nocontact another [dns] listen address.")
		}
	}

	if ss, err := p.strangers(ctx); err == nil {
		for _, st := range ss {
			add(false, fmt.Sprintf("Another program listens where nocontact answers: %s, on %s %s. It may answer lookups that nocontact would block.",
				strangerWho(st), st.Proto, st.Addr), strangerFix(st))
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

	out = append(out, doctorBrowsers(ctx, p)...)
	out = append(out, doctorFirewall(ctx, cfg, p)...)

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

// strangerWho names the program behind st in plain words.
func strangerWho(st control.Stranger) string {
	if st.PID == 0 {
		return "a program nocontact could not find"
	}
	return fmt.Sprintf("%s (pid %d)", st.Command, st.PID)
}

// strangerFix says how to stop the program behind st.
func strangerFix(st control.Stranger) string {
	if st.PID == 0 {
		port := st.Addr
		if ap, err := netip.ParseAddrPort(st.Addr); err == nil {
			port = fmt.Sprint(ap.Port())
		}
		return fmt.Sprintf("Find it with: sudo ss -lnp 'sport = :%s', and stop it.", port)
	}
	return fmt.Sprintf("Stop it: sudo kill %d. If it comes back, find what starts it (systemctl status %d names its service) and turn that off: sudo systemctl disable --now THAT-SERVICE", st.PID, st.PID)
}

// doctorBrowsers checks the policy of every browser found.
func doctorBrowsers(ctx context.Context, p doctorProbes) []finding {
	sts, err := p.browsers(ctx)
	if err != nil {
		return []finding{{false, fmt.Sprintf("The browsers' policies could not be read (%v).", err), "Run doctor again with administrator rights (sudo nocontact doctor)."}}
	}
	if len(sts) == 0 {
		return []finding{{true, "No browser nocontact knows (Firefox, Chrome, Chromium, Edge, Brave) is installed where it looks.", ""}}
	}
	var out []finding
	for _, s := range sts {
		if s.OK {
			out = append(out, finding{true, fmt.Sprintf("%s cannot use its own encrypted DNS: a policy turns it off (%s).", s.Browser, s.Where), ""})
			continue
		}
		out = append(out, finding{false, fmt.Sprintf("%s could use its own encrypted DNS around nocontact: %s (%s).", s.Browser, s.Problem, s.Where),
			"The service writes the policy again within a minute while your pact holds; if it does not, run sudo nocontact install again. If another policy file or key sets it, remove that setting."})
	}
	return out
}

// doctorFirewall checks the firewall layer with a real question to an
// outside resolver, which must be refused while anything is blocked.
func doctorFirewall(ctx context.Context, cfg *config.Config, p doctorProbes) []finding {
	if !cfg.Firewall.Enabled {
		return []finding{{true, "The firewall layer is turned off in the settings ([firewall] enabled = false), so programs can ask other DNS servers directly.", ""}}
	}
	blocking, berr := p.blocking(ctx)
	if berr == nil && !blocking {
		return []finding{{true, "Nothing is blocked right now, so the firewall layer is off.", ""}}
	}
	var out []finding
	ups := p.upstreams(ctx)
	var probe netip.Addr
	for _, a := range outsideResolvers {
		if !slices.Contains(ups, a) {
			probe = a
			break
		}
	}
	if probe.IsValid() {
		if err := p.outsideDNS(ctx, probe); err == nil {
			out = append(out, finding{false, fmt.Sprintf("A DNS question sent straight to %s, around nocontact, was answered: programs can ask a DNS server of their own.", probe),
				"Check that the service is running (it puts the firewall layer in place while something is blocked) and see its log; [firewall] enabled must be true."})
		} else {
			out = append(out, finding{true, fmt.Sprintf("A DNS question sent straight to %s, around nocontact, was refused.", probe), ""})
		}
	}
	switch err := p.firewall(ctx); {
	case err == nil:
		out = append(out, finding{true, "nocontact's firewall rules are in place.", ""})
	case errors.Is(err, firewall.ErrRemoved):
		out = append(out, finding{false, fmt.Sprintf("nocontact's firewall rules are not in place (%v).", err),
			"The service puts them back within a minute while something is blocked; if it does not, see its log."})
	case errors.Is(err, firewall.ErrUnsupported):
	default:
		// Reading the rules needs administrator rights: the probe above
		// said what matters.
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
			// The name as it is, never with a search domain appended:
			// after the filter's NXDOMAIN for the canary, a search domain
			// whose servers answer every name would make doctor see a
			// way around nocontact where there is none.
			return (&net.Resolver{PreferGo: false}).LookupNetIP(ctx, "ip", dns.Fqdn(name))
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
		strangers: func(ctx context.Context) ([]control.Stranger, error) {
			c, err := d.client(cat)
			if err != nil {
				return nil, err
			}
			st, err := c.Status(ctx)
			if err == nil {
				return st.Health.Strangers, nil
			}
			// The service does not answer: whoever holds its addresses
			// now, other than the installed nocontact, is a stranger
			// (it may be why the service cannot start).
			return portHolders(cfg.DNS.ListenAddrs, d.paths.Executable)
		},
		outsideDNS: func(ctx context.Context, addr netip.Addr) error {
			c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
			m := new(dns.Msg)
			m.SetQuestion("example.com.", dns.TypeA)
			_, _, err := c.ExchangeContext(ctx, m, netip.AddrPortFrom(addr, 53).String())
			return err
		},
		upstreams: func(ctx context.Context) []netip.Addr {
			var out []netip.Addr
			for _, u := range cfg.DNS.UpstreamAddrs {
				if u.Addr.IsValid() {
					out = append(out, u.Addr.Addr())
				}
			}
			for _, b := range cfg.DNS.BootstrapAddrs {
				out = append(out, b.Addr())
			}
			// "system": the servers from before nocontact.
			if ap, err := osdns.OriginalResolvers(osdns.Env{Root: d.root, StateDir: sysPath(d.root, d.paths.StateDir)}); err == nil {
				for _, a := range ap {
					out = append(out, a.Addr())
				}
			}
			return out
		},
		firewall: func(ctx context.Context) error {
			fw, err := firewall.New(firewall.Env{StateDir: sysPath(d.root, d.paths.StateDir), Run: d.run})
			if err != nil {
				return err
			}
			return fw.Check(ctx)
		},
		browsers: func(ctx context.Context) ([]browsers.Status, error) {
			return browsers.Check(ctx, browsers.Env{Root: d.root, StateDir: sysPath(d.root, d.paths.StateDir), Run: d.run})
		},
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

// portHolders lists the processes bound to addrs other than those
// running exe (the installed nocontact), from /proc. It needs root to see
// every process; elsewhere than Linux, or without root, it finds none.
func portHolders(addrs []netip.AddrPort, exe string) ([]control.Stranger, error) {
	if !portwatch.Supported || os.Geteuid() != 0 {
		return nil, nil
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	found, err := portwatch.Proc{}.Strangers(addrs, nil)
	if err != nil {
		return nil, err
	}
	var out []control.Stranger
	for _, s := range found {
		if len(s.Procs) == 0 {
			out = append(out, control.Stranger{Proto: s.Proto, Addr: s.Addr.String()})
		}
		for _, p := range s.Procs {
			if strings.TrimSuffix(p.Exe, " (deleted)") != exe {
				out = append(out, control.Stranger{Proto: s.Proto, Addr: s.Addr.String(), PID: p.PID, Command: p.Command})
			}
		}
	}
	return out, nil
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
