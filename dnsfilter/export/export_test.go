package export_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/nocontact/nocontact/dnsfilter/export"
	"github.com/nocontact/nocontact/internal/golden"
)

// small is a list with one of everything: a platform's domain, a domain
// of the person's own, an exception inside a block, and the names answered
// NXDOMAIN.
var small = export.List{
	Blocked:  []export.Domain{{Domain: "instagram.com", Platform: "instagram"}, {Domain: "their-blog.example"}},
	Allow:    []string{"help.instagram.com"},
	NXDomain: []string{"mask.icloud.com", export.FirefoxCanary},
}

// TestFormatsGolden pins every format's text (testdata/small.FORMAT);
// `go test ./dnsfilter/export -update` rewrites them. The formats a real
// program reads are loaded into it by TestExportLoadedIntoRealServers;
// adblock has no Debian package to load it into (AdGuard Home and Pi-hole
// are not packaged), so its golden file is checked by eye against
// AdGuard's documented DNS filtering syntax.
func TestFormatsGolden(t *testing.T) {
	for _, f := range export.Formats {
		t.Run(f, func(t *testing.T) {
			var b bytes.Buffer
			if err := export.Write(&b, f, small, export.Options{Serial: 2026112201, Source: "a test"}); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, "small."+f, b.Bytes())
		})
	}
}

// TestJSONRoundTrip: the json format reads back into the same list.
func TestJSONRoundTrip(t *testing.T) {
	var b bytes.Buffer
	if err := export.Write(&b, "json", small, export.Options{}); err != nil {
		t.Fatal(err)
	}
	var got export.List
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, small) {
		t.Errorf("read back %+v, want %+v", got, small)
	}
}

func TestUnknownFormat(t *testing.T) {
	err := export.Write(&bytes.Buffer{}, "bind", small, export.Options{})
	if !errors.Is(err, export.ErrUnknownFormat) {
		t.Fatalf("got %v, want ErrUnknownFormat", err)
	}
}

// TestBlocklistFromPolicy: the policy's list has no domain twice or
// inside another blocked one, keeps the exception, the own domain and the
// bypass group (blocked whenever anything is), and Private Relay's names.
func TestBlocklistFromPolicy(t *testing.T) {
	l := testList(t)
	seen := map[string]bool{}
	var hasOwn, hasBypass bool
	for _, d := range l.Blocked {
		if seen[d.Domain] {
			t.Errorf("%s listed twice", d.Domain)
		}
		seen[d.Domain] = true
		hasOwn = hasOwn || d.Domain == "their-blog.example" && d.Platform == ""
		hasBypass = hasBypass || d.Platform != "instagram" && d.Platform != ""
	}
	for _, d := range l.Blocked {
		for p := parentOf(d.Domain); p != ""; p = parentOf(p) {
			if seen[p] {
				t.Errorf("%s is listed though %s covers it", d.Domain, p)
			}
		}
	}
	if !seen["instagram.com"] || !hasOwn || !hasBypass {
		t.Errorf("instagram.com, the own domain or the bypass group missing: %+v", l.Blocked)
	}
	if !reflect.DeepEqual(l.Allow, []string{"help.instagram.com"}) {
		t.Errorf("allow %v, want [help.instagram.com]", l.Allow)
	}
	if !reflect.DeepEqual(l.NXDomain, []string{"mask-h2.icloud.com", "mask.icloud.com", export.FirefoxCanary}) {
		t.Errorf("nxdomain %v", l.NXDomain)
	}
}

func parentOf(d string) string {
	for i := 0; i < len(d); i++ {
		if d[i] == '.' {
			return d[i+1:]
		}
	}
	return ""
}
