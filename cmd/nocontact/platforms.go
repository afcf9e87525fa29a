package main

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"text/tabwriter"

	"github.com/nocontact/nocontact/dnsfilter/catalog"
)

func cmdPlatforms(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "platforms")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cat, err := catalog.Builtin()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tCATEGORY\tDOMAINS\tALSO CALLED")
	for _, p := range cat.Platforms() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", p.ID, p.Name, p.Category, len(p.Domains), strings.Join(p.Aliases, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "\n\"all\" blocks every social, messaging and dating platform above; the bypass group is blocked whenever anything is.")
	return nil
}

func cmdVersion(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "version")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	_, err := fmt.Fprintf(e.stdout, "nocontact %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}
