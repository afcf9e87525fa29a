package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"github.com/kardianos/service"
	"github.com/miekg/dns"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/daemon/control"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/installer/browsers"
	"github.com/nocontact/nocontact/installer/firewall"
)

// healthy is a machine where everything is right.
func healthy() doctorProbes {
	return doctorProbes{
		service: func() (service.Status, error) { return service.StatusRunning, nil },
		canary:  func(context.Context) (int, error) { return dns.RcodeNameError, nil },
		lookup: func(_ context.Context, name string) ([]netip.Addr, error) {
			if name == "instagram.com" {
				return []netip.Addr{netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("::")}, nil
			}
			return nil, errors.New("no such host")
		},
		hostsSection: func() (bool, error) { return true, nil },
		blocking:     func(context.Context) (bool, error) { return true, nil },
		perm: func(p string) (fs.FileMode, int, error) {
			if strings.HasSuffix(p, ".toml") {
				return 0o644, 0, nil
			}
			return 0o700, 0, nil
		},
		warnings:   func(context.Context) ([]string, error) { return nil, nil },
		strangers:  func(context.Context) ([]control.Stranger, error) { return nil, nil },
		stateDir:   "/var/lib/nocontact",
		outsideDNS: func(context.Context, netip.Addr) error { return errors.New("connection refused") },
		upstreams:  func(context.Context) []netip.Addr { return nil },
		firewall:   func(context.Context) error { return nil },
		browsers: func(context.Context) ([]browsers.Status, error) {
			return []browsers.Status{{Browser: "Firefox", Where: "/etc/firefox/policies/policies.json", OK: true}}, nil
		},
	}
}

func TestDoctor(t *testing.T) {
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(strings.NewReader("[daemon]\nstate_dir = \"/var/lib/nocontact\"\n"), "x.toml", cat)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		break_ func(p *doctorProbes)
		want   string // in the PROBLEM line; "" for none
	}{
		{"healthy", func(*doctorProbes) {}, ""},
		{"not installed", func(p *doctorProbes) {
			p.service = func() (service.Status, error) { return service.StatusUnknown, service.ErrNotInstalled }
		}, "not installed as a service"},
		{"stopped", func(p *doctorProbes) {
			p.service = func() (service.Status, error) { return service.StatusStopped, nil }
		}, "not running"},
		{"filter silent", func(p *doctorProbes) {
			p.canary = func(context.Context) (int, error) { return 0, errors.New("timeout") }
		}, "does not answer on 127.0.0.1:53"},
		{"another server on the port", func(p *doctorProbes) {
			p.canary = func(context.Context) (int, error) { return dns.RcodeSuccess, nil }
		}, "Something other than nocontact answers"},
		{"DNS around the filter", func(p *doctorProbes) {
			p.lookup = func(context.Context, string) ([]netip.Addr, error) {
				return []netip.Addr{netip.MustParseAddr("192.0.2.1")}, nil
			}
		}, "goes around nocontact"},
		{"instagram reachable", func(p *doctorProbes) {
			h := p.lookup
			p.lookup = func(ctx context.Context, n string) ([]netip.Addr, error) {
				if n == "instagram.com" {
					return []netip.Addr{netip.MustParseAddr("157.240.1.174")}, nil
				}
				return h(ctx, n)
			}
		}, "instagram.com resolved to [157.240.1.174]"},
		{"hosts section missing", func(p *doctorProbes) {
			p.hostsSection = func() (bool, error) { return false, nil }
		}, "no nocontact section"},
		{"settings writable by others", func(p *doctorProbes) {
			p.perm = func(p string) (fs.FileMode, int, error) { return 0o666, 0, nil }
		}, "can be changed by someone who is not an administrator"},
		{"DNS around the firewall", func(p *doctorProbes) {
			p.outsideDNS = func(context.Context, netip.Addr) error { return nil }
		}, "A DNS question sent straight to 9.9.9.9, around nocontact, was answered"},
		{"the probe avoids the upstreams", func(p *doctorProbes) {
			p.upstreams = func(context.Context) []netip.Addr { return []netip.Addr{netip.MustParseAddr("9.9.9.9")} }
			p.outsideDNS = func(_ context.Context, a netip.Addr) error {
				if a.String() == "9.9.9.9" {
					return errors.New("asked the upstream")
				}
				return nil
			}
		}, "sent straight to 1.1.1.1, around nocontact, was answered"},
		{"firewall rules removed", func(p *doctorProbes) {
			p.firewall = func(context.Context) error {
				return fmt.Errorf("%w: the table inet nocontact is gone", firewall.ErrRemoved)
			}
		}, "firewall rules are not in place (nocontact's firewall rules are not in force: the table inet nocontact is gone)"},
		{"browser policy missing", func(p *doctorProbes) {
			p.browsers = func(context.Context) ([]browsers.Status, error) {
				return []browsers.Status{{Browser: "Google Chrome", Where: "/etc/opt/chrome/policies/managed/zz-nocontact.json", Problem: `DnsOverHttpsMode is "secure", set by zz-zz.json`}}, nil
			}
		}, `Google Chrome could use its own encrypted DNS around nocontact: DnsOverHttpsMode is "secure", set by zz-zz.json`},
		{"state readable by others", func(p *doctorProbes) {
			p.perm = func(p string) (fs.FileMode, int, error) {
				if strings.HasSuffix(p, ".toml") {
					return 0o644, 0, nil
				}
				return 0o755, 0, nil
			}
		}, "Anyone on this computer can read"},
		{"settings with a mistake", func(p *doctorProbes) {
			p.settingsErr = errors.New("x.toml, line 3: unknown key blokc")
		}, "The settings file has a mistake"},
		{"another program on the port", func(p *doctorProbes) {
			p.strangers = func(context.Context) ([]control.Stranger, error) {
				return []control.Stranger{{Proto: "udp", Addr: "127.0.0.1:53", PID: 4242, Command: "/usr/sbin/unbound -d"}}, nil
			}
		}, "/usr/sbin/unbound -d (pid 4242), on udp 127.0.0.1:53"},
		{"another program on the port, not found", func(p *doctorProbes) {
			p.strangers = func(context.Context) ([]control.Stranger, error) {
				return []control.Stranger{{Proto: "tcp", Addr: "0.0.0.0:53"}}, nil
			}
		}, "sudo ss -lnp 'sport = :53'"},
		{"settings lines the service ignores", func(p *doctorProbes) {
			p.warnings = func(context.Context) ([]string, error) {
				return []string{"Your settings ask to keep nocontact's memory or control socket elsewhere (state_dir = \"/tmp/x\")."}, nil
			}
		}, "memory or control socket elsewhere"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if runtime.GOOS == "windows" && strings.Contains(tt.name, "others") {
				t.Skip("doctor does not judge permissions on Windows")
			}
			p := healthy()
			tt.break_(&p)
			var b bytes.Buffer
			bad := renderDoctor(&b, doctor(context.Background(), cfg, "/etc/nocontact/nocontact.toml", p))
			if tt.want == "" {
				if bad != 0 {
					t.Errorf("a healthy machine has %d problems:\n%s", bad, b.String())
				}
				return
			}
			if bad == 0 || !strings.Contains(b.String(), "PROBLEM  ") || !strings.Contains(b.String(), tt.want) || !strings.Contains(b.String(), "To fix: ") {
				t.Errorf("want a problem with %q and its fix:\n%s", tt.want, b.String())
			}
		})
	}
}
