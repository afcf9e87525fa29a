package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/daemon/control"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/installer"
	"github.com/nocontact/nocontact/installer/command/commandtest"
	"github.com/nocontact/nocontact/installer/unit"
)

// TestExampleForInstall: the example, as install writes it, listens where
// the system's DNS settings point.
func TestExampleForInstall(t *testing.T) {
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(bytes.NewReader(exampleForInstall()), "example", cat)
	if err != nil {
		t.Fatal(err)
	}
	if err := installer.ListensForTheSystem(cfg); err != nil {
		t.Error(err)
	}
}

func TestRenderUninstall(t *testing.T) {
	now := time.Date(2026, 12, 4, 1, 58, 0, 0, time.UTC)
	eff, end := now.Add(24*time.Hour), now.Add(20*24*time.Hour)
	for _, tt := range []struct {
		res  control.UninstallResult
		want []string
	}{
		{control.UninstallResult{Pending: &control.Pending{ID: "7", Effective: eff}}, []string{
			"Removing nocontact is queued", "It becomes possible on Sat 5 Dec 2026 at 01:58, in 1 day.",
			"run 'sudo nocontact uninstall' again", "If you change your mind: nocontact cancel 7"}},
		{control.UninstallResult{Refused: true, End: &end}, []string{"strict", "It ends by itself on Thu 24 Dec 2026"}},
	} {
		var b strings.Builder
		renderUninstall(&b, tt.res, now, time.UTC)
		for _, w := range tt.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("words lack %q:\n%s", w, b.String())
			}
		}
	}
}

// TestInstallRefusesOtherServiceManagers: without systemd, launchd or the
// Windows service manager, install stops before any step, says which
// service managers it supports, and the computer is as it was.
func TestInstallRefusesOtherServiceManagers(t *testing.T) {
	for _, platform := range []string{"unix-systemv", "linux-openrc", "linux-upstart", "linux-rcs", "linux-procd", ""} {
		t.Run(platform, func(t *testing.T) {
			root := t.TempDir()
			run := &commandtest.Fake{}
			old := installDeps
			installDeps = func() systemDeps {
				return systemDeps{
					root:  root,
					paths: unit.Paths{Executable: "/usr/local/bin/nocontact", Config: "/etc/nocontact/nocontact.toml"},
					service: func(p unit.Paths) (installer.Service, error) {
						return serviceFor(platform, p, run, root)
					},
					run: run, isAdmin: func() bool { return true },
					answers: func(context.Context, *config.Config) error { return nil },
					exe:     os.Executable, wait: time.Second,
				}
			}
			t.Cleanup(func() { installDeps = old })
			code, out, errs := runCLI(t, "install")
			if code != 1 {
				t.Errorf("install: exit %d, want 1\n%s%s", code, out, errs)
			}
			for _, want := range []string{"only with systemd (Linux), launchd (macOS) or the Windows service manager", "nothing was changed", "nocontact run --config FILE"} {
				if !strings.Contains(errs, want) {
					t.Errorf("the refusal lacks %q:\n%s", want, errs)
				}
			}
			if platform != "" && !strings.Contains(errs, "("+platform+")") {
				t.Errorf("the refusal does not name %s:\n%s", platform, errs)
			}
			if entries, _ := os.ReadDir(root); len(entries) > 0 || run.Ran() != "" {
				t.Errorf("install changed something: files %v, commands %q", entries, run.Ran())
			}
		})
	}
	for _, platform := range []string{"linux-systemd", "darwin-launchd", "windows-service"} {
		if err := supportedServiceManager(platform); err != nil {
			t.Errorf("%s: %v", platform, err)
		}
	}
}

// TestServiceForSystemd: on systemd the service stops its own way,
// through installer.Systemd, despite the unit's RefuseManualStop.
func TestServiceForSystemd(t *testing.T) {
	svc, err := serviceFor("linux-systemd", unit.Paths{Executable: "/usr/local/bin/nocontact", Config: "/etc/nocontact/nocontact.toml"}, &commandtest.Fake{}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := svc.(installer.Systemd); !ok {
		t.Errorf("serviceFor(linux-systemd) = %T, want installer.Systemd", svc)
	}
}
