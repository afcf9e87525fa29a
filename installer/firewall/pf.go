package firewall

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/nocontact/nocontact/installer/atomicfile"
)

// pf (ModePF) is the layer as a pf anchor of its own on macOS,
// "com.apple/nocontact". The system's /etc/pf.conf evaluates every anchor
// under "com.apple/*", so the anchor takes effect without a change to
// pf.conf or to any other anchor; its rules are loaded from a file in the
// state directory (pfRulesFile) with
//
//	pfctl -a com.apple/nocontact -f FILE
//
// pf itself may be off (macOS ships it off): Apply turns it on with
// `pfctl -E`, which counts one reference and prints a token, kept in
// pfRecordFile; Remove flushes the anchor and gives the reference back
// with `pfctl -X TOKEN`, so pf is left on or off as it was. The rules
// use `quick`, so that a later rule of another anchor cannot pass what
// they block; `block return` answers with a reset or an ICMP
// unreachable, so a program fails at once.
type pf struct{ env Env }

// PFAnchor is the pf anchor of the layer.
const PFAnchor = "com.apple/" + Name

// pfRulesFile and pfRecordFile are kept in Env.StateDir.
const (
	pfRulesFile  = "firewall-pf.conf"
	pfRecordFile = "firewall-pf.json"
)

// pfRecord is what Remove gives back: the references pf was enabled with.
type pfRecord struct {
	Tokens []string `json:"tokens"`
}

func (p *pf) Mode() Mode { return ModePF }

// RenderPF returns the anchor's rules for r.
func RenderPF(r Rules) []byte {
	var b bytes.Buffer
	b.WriteString("# nocontact's firewall layer, loaded with: pfctl -a " + PFAnchor + " -f THIS-FILE\n")
	b.WriteString("# Written while something is blocked; flushed when nothing is, and on uninstall.\n")
	table := func(name string, addrs []netip.Addr) {
		fmt.Fprintf(&b, "table <%s> persist", name)
		if len(addrs) > 0 {
			var s []string
			for _, a := range addrs {
				s = append(s, a.String())
			}
			fmt.Fprintf(&b, " { %s }", strings.Join(s, " "))
		}
		b.WriteString("\n")
	}
	table("nocontact_upstreams", r.upstreams())
	table("nocontact_doh", r.dohWithoutUpstreams())
	b.WriteString("# DNS, DNS over TLS and DNS over QUIC to anything but nocontact's own upstreams.\n")
	b.WriteString("block return out quick on ! lo0 proto { tcp udp } from any to ! <nocontact_upstreams> port { 53 853 }\n")
	b.WriteString("# HTTPS to the known encrypted-DNS services.\n")
	b.WriteString("block return out quick proto { tcp udp } from any to <nocontact_doh> port 443\n")
	return b.Bytes()
}

func (p *pf) pfctl(ctx context.Context, args ...string) (string, error) {
	out, errOut, err := p.env.Run.Run(ctx, "pfctl", args...)
	return string(out) + string(errOut), err
}

func (p *pf) Apply(ctx context.Context, r Rules) error {
	if err := os.MkdirAll(p.env.StateDir, 0o700); err != nil {
		return fmt.Errorf("writing the pf rules: %w", err)
	}
	path := filepath.Join(p.env.StateDir, pfRulesFile)
	if err := atomicfile.WriteFile(path, RenderPF(r), 0o600); err != nil {
		return fmt.Errorf("writing the pf rules: %w", err)
	}
	if _, err := p.pfctl(ctx, "-a", PFAnchor, "-f", path); err != nil {
		return fmt.Errorf("loading nocontact's pf rules: %w", err)
	}
	rec, err := p.record()
	if err != nil {
		return err
	}
	on, err := p.enabled(ctx)
	if err != nil {
		return err
	}
	if on && len(rec.Tokens) > 0 {
		return nil
	}
	out, err := p.pfctl(ctx, "-E")
	if err != nil {
		return fmt.Errorf("turning pf on: %w", err)
	}
	m := pfToken.FindStringSubmatch(out)
	if m == nil {
		return fmt.Errorf("turning pf on: pfctl -E printed no token (%q)", strings.TrimSpace(out))
	}
	rec.Tokens = append(rec.Tokens, m[1])
	p.env.Log.Info("pf turned on, with a reference nocontact gives back when it removes its rules", "token", m[1])
	return p.saveRecord(rec)
}

var (
	pfToken   = regexp.MustCompile(`(?m)^Token\s*:\s*(\d+)`)
	pfEnabled = regexp.MustCompile(`(?m)^Status:\s*Enabled`)
	pfRule    = regexp.MustCompile(`(?m)^block return out quick\b`)
)

func (p *pf) enabled(ctx context.Context) (bool, error) {
	out, err := p.pfctl(ctx, "-s", "info")
	if err != nil {
		return false, fmt.Errorf("asking pf whether it is on: %w", err)
	}
	return pfEnabled.MatchString(out), nil
}

func (p *pf) Check(ctx context.Context) error {
	rec, err := p.record()
	if err != nil {
		return err
	}
	if len(rec.Tokens) == 0 {
		return fmt.Errorf("%w: pf was never turned on for it", ErrRemoved)
	}
	on, err := p.enabled(ctx)
	if err != nil {
		return err
	}
	if !on {
		return fmt.Errorf("%w: pf was turned off", ErrRemoved)
	}
	out, err := p.pfctl(ctx, "-a", PFAnchor, "-s", "rules")
	if err != nil {
		return fmt.Errorf("listing nocontact's pf rules: %w", err)
	}
	// pfctl lists each rule once per protocol.
	if n := len(pfRule.FindAllString(out, -1)); n < 2 {
		return fmt.Errorf("%w: the anchor %s has %d of its rules", ErrRemoved, PFAnchor, n)
	}
	return nil
}

func (p *pf) Remove(ctx context.Context) error {
	rec, err := p.record()
	if err != nil {
		return err
	}
	path := filepath.Join(p.env.StateDir, pfRulesFile)
	_, statErr := os.Stat(path)
	if len(rec.Tokens) == 0 && errors.Is(statErr, fs.ErrNotExist) {
		return nil
	}
	if _, err := p.pfctl(ctx, "-a", PFAnchor, "-F", "all"); err != nil {
		return fmt.Errorf("removing nocontact's pf rules: %w", err)
	}
	for _, t := range rec.Tokens {
		// A reference pf no longer knows (pf was turned off by hand, or
		// the computer restarted) has nothing left to give back.
		if _, err := p.pfctl(ctx, "-X", t); err != nil {
			p.env.Log.Info("pf reference already gone", "token", t, "err", err)
		}
	}
	for _, name := range []string{pfRulesFile, pfRecordFile} {
		if err := os.Remove(filepath.Join(p.env.StateDir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	p.env.Log.Info("firewall layer removed", "anchor", PFAnchor)
	return nil
}

func (p *pf) record() (pfRecord, error) {
	var rec pfRecord
	b, err := os.ReadFile(filepath.Join(p.env.StateDir, pfRecordFile))
	if errors.Is(err, fs.ErrNotExist) {
		return rec, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &rec)
	}
	if err != nil {
		return rec, fmt.Errorf("reading nocontact's record of pf (%s): %w; delete it and run pfctl -a %s -F all", filepath.Join(p.env.StateDir, pfRecordFile), err, PFAnchor)
	}
	return rec, nil
}

func (p *pf) saveRecord(rec pfRecord) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(p.env.StateDir, pfRecordFile), append(b, '\n'), 0o600)
}
