package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"github.com/kardianos/service"
	"github.com/miekg/dns"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
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
		warnings: func(context.Context) ([]string, error) { return nil, nil },
		stateDir: "/var/lib/nocontact",
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
