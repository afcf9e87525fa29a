package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/nocontact/nocontact/dnsfilter/catalog"
)

func cmdPlatforms(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "platforms")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: platforms takes no names", errUsage)
	}
	cat, err := catalog.Builtin()
	if err != nil {
		return err
	}
	_, err = io.WriteString(e.stdout, platformsText(cat))
	return err
}

// platformsText lists the catalog by group, with each platform's display
// name, the name to write in the settings and its other names, and says
// for each group what blocking it costs.
func platformsText(cat *catalog.Catalog) string {
	var b strings.Builder
	b.WriteString(wrap("", "nocontact can block the platforms below. In your settings, list them by "+
		"the name in the second column, or name a whole group:"))
	b.WriteString("\n    block = [\"all\", \"video\"]\n\n")
	b.WriteString(wrap("", "\"all\" blocks the first four groups: social networks, messaging, dating and forums. "+
		"The other groups are blocked only when you name them, because you may need them in everyday life."))
	list := func(ps []catalog.Platform) {
		nameW, idW := 0, 0
		for _, p := range ps {
			nameW, idW = max(nameW, len(p.Name)), max(idW, len(p.ID))
		}
		b.WriteString("\n")
		for _, p := range ps {
			line := fmt.Sprintf("    %-*s  %-*s", nameW, p.Name, idW, p.ID)
			if len(p.Aliases) > 0 {
				line += "  also " + strings.Join(p.Aliases, ", ")
			}
			b.WriteString(strings.TrimRight(line, " ") + "\n")
		}
	}
	for _, g := range catalog.Groups() {
		part := "not part of \"all\""
		if g.InAll {
			part = "part of \"all\""
		}
		fmt.Fprintf(&b, "\n%s: write %q; %s\n", g.Title, g.Name, part)
		b.WriteString(wrap("  ", "What it costs: "+g.Cost))
		list(cat.Category(g.Name))
	}
	b.WriteString("\nEncrypted DNS: blocked whenever anything is\n")
	b.WriteString(wrap("  ", "These services would let a browser's \"secure DNS\" setting go around nocontact, "+
		"so they are blocked whenever anything is, and you do not need to name them. "+
		"The browser then asks nocontact, and your other sites work as before."))
	list(cat.Category(catalog.Bypass))
	return b.String()
}

// wrap breaks text into lines of at most 78 columns, each starting with
// indent, and ends it with a newline.
func wrap(indent, text string) string {
	const width = 78
	var b strings.Builder
	line := indent
	for _, w := range strings.Fields(text) {
		if len(line) > len(indent) && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += w
	}
	b.WriteString(line + "\n")
	return b.String()
}

func cmdVersion(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "version")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	_, err := fmt.Fprintf(e.stdout, "nocontact %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}
