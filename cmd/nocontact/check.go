package main

import (
	"context"
	"fmt"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
)

func cmdCheck(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "check")
	path := fs.String("config", defaultConfig, "the config `file`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: name at least one domain to check, like instagram.com", errUsage)
	}
	cat, err := catalog.Builtin()
	if err != nil {
		return err
	}
	cfg, err := config.Load(*path, cat)
	if err != nil {
		return err
	}
	p, err := policyFor(cat, cfg)
	if err != nil {
		return err
	}
	for _, name := range fs.Args() {
		blocked, why := p.Explain(name)
		verdict := "allowed"
		if blocked {
			verdict = "blocked"
		}
		fmt.Fprintf(e.stdout, "%s  %s  %s\n", verdict, name, why)
	}
	return nil
}
