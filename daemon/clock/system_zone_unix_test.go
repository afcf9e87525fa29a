//go:build !windows

package clock

import (
	"os"
	"path/filepath"
	"testing"
	"time"
	_ "time/tzdata" // zone names load on any machine
)

func TestLocalZone(t *testing.T) {
	tzif, err := os.ReadFile("testdata/Asia_Kolkata.tzif")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		tz     string
		files  map[string]string // under the root: "->target" makes a link
		want   string            // the zone's ID
		offset int               // its offset in December 2026
	}{
		{"TZ names it", "Europe/Paris", nil, "Europe/Paris", 3600},
		{"TZ with a colon", ":America/New_York", nil, "America/New_York", -5 * 3600},
		{"localtime links into zoneinfo", "", map[string]string{
			"usr/share/zoneinfo/Asia/Tokyo": "x", "etc/localtime": "->../usr/share/zoneinfo/Asia/Tokyo"}, "Asia/Tokyo", 9 * 3600},
		{"Debian's etc/timezone", "", map[string]string{"etc/timezone": "Europe/Berlin\n"}, "Europe/Berlin", 3600},
		{"a copied localtime keeps its rules", "", map[string]string{"etc/localtime": string(tzif)}, "", 5*3600 + 1800},
		{"nothing: UTC", "", nil, "UTC", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for rel, content := range tt.files {
				p := filepath.Join(root, rel)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if len(content) > 2 && content[:2] == "->" {
					if err := os.Symlink(content[2:], p); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			z := localZone(func(k string) string {
				if k == "TZ" {
					return tt.tz
				}
				return ""
			}, root)
			if tt.want != "" && z.ID() != tt.want {
				t.Errorf("zone %q, want %q", z.ID(), tt.want)
			}
			if tt.want == "" && len(z.TZif) == 0 {
				t.Errorf("zone %+v, want the rules of the copied file kept", z)
			}
			if _, off := time.Date(2026, 12, 1, 12, 0, 0, 0, z.Location()).Zone(); off != tt.offset {
				t.Errorf("offset %d, want %d", off, tt.offset)
			}
		})
	}
}

func TestZoneLocationFallsBackToOffset(t *testing.T) {
	z := Zone{Name: "Nowhere/Atlantis", Offset: -3 * 3600}
	if _, off := time.Now().In(z.Location()).Zone(); off != -3*3600 {
		t.Errorf("offset %d, want the kept -3h", off)
	}
	if got := (Zone{Offset: 5*3600 + 1800}).ID(); got != "UTC+05:30" {
		t.Errorf("ID %q", got)
	}
}
