package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/daemon/control"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/installer"
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
