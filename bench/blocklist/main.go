// Command blocklist prints, one per line, the domains nocontact blocks with
// block = ["all"] and nothing else in the config: every domain of the
// catalog platforms "all" stands for (social, messaging, dating, forums)
// and of the encrypted-DNS bypass group, as the real policy computes them. The benchmark harness
// (bench/run.sh) turns the list into unbound and dnsmasq configs, so that
// all three servers block the same names.
//
// Each domain covers its subdomains. The special names nocontact also
// answers itself (Firefox's canary, Private Relay) are not in the list: they
// are not catalog domains. It reads only the embedded catalog.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/nocontact/nocontact/dnsfilter"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
)

// blockedDomains returns the domains blocked by block = ["all"], in catalog
// order.
func blockedDomains(cat *catalog.Catalog) ([]string, error) {
	ids, err := cat.Resolve([]string{catalog.All})
	if err != nil {
		return nil, err
	}
	p, err := dnsfilter.NewPolicy(cat, dnsfilter.Spec{Platforms: ids})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, id := range p.Blocked() {
		pl, ok := cat.Lookup(id)
		if !ok {
			return nil, fmt.Errorf("the policy blocks %q, which the catalog does not know", id)
		}
		out = append(out, pl.Domains...)
	}
	return out, nil
}

func write(w io.Writer, domains []string) error {
	bw := bufio.NewWriter(w)
	for _, d := range domains {
		fmt.Fprintln(bw, d)
	}
	return bw.Flush()
}

func main() {
	if len(os.Args) > 1 {
		fmt.Fprintln(os.Stderr, "usage: blocklist  (prints the domains block = [\"all\"] blocks)")
		os.Exit(2)
	}
	cat, err := catalog.Builtin()
	if err == nil {
		var ds []string
		if ds, err = blockedDomains(cat); err == nil {
			err = write(os.Stdout, ds)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "blocklist:", err)
		os.Exit(1)
	}
}
