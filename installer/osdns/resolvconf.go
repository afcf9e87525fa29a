package osdns

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
)

// resolvconfHeadPath is what Debian's resolvconf(8) puts at the top of the
// resolv.conf it generates, before the nameservers of the interfaces.
const resolvconfHeadPath = "etc/resolvconf/resolv.conf.d/head"

// resolvconfBackend (ModeResolvconf) adds our nameserver lines to
// resolvconf's head file and regenerates resolv.conf with `resolvconf -u`:
// they come before the interfaces' servers, so glibc asks the filter
// first. The interfaces' servers stay after ours (glibc uses up to three):
// they are asked only when the filter does not answer at all.
//
// The alternative, `resolvconf -a lo.nocontact`, needs the lines on
// standard input, which command.Runner does not pass; the head file is
// the mechanism resolvconf(8) documents for lines that must come first.
// openresolv has no head file: Detector picks ModeFile there.
type resolvconfBackend struct{ env Env }

func (b *resolvconfBackend) Mode() Mode { return ModeResolvconf }

func ourHead(orig *savedFile) []byte {
	var b bytes.Buffer
	if orig != nil && orig.Exists && orig.Link == "" {
		b.Write(orig.Data)
		if len(orig.Data) > 0 && !bytes.HasSuffix(orig.Data, []byte("\n")) {
			b.WriteByte('\n')
		}
	}
	b.WriteString("# Added by nocontact: every lookup goes through its filter first.\n")
	for _, s := range Servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	return b.Bytes()
}

func (b *resolvconfBackend) Apply(ctx context.Context) error {
	rec, err := b.env.saveFiles(ModeResolvconf, resolvconfHeadPath)
	if err != nil {
		return err
	}
	if err := b.env.write(resolvconfHeadPath, ourHead(rec.file(resolvconfHeadPath)), 0o644); err != nil {
		return err
	}
	return b.update(ctx)
}

func (b *resolvconfBackend) Check(ctx context.Context) error {
	rec, err := appliedRecord(b.env, ModeResolvconf)
	if err != nil {
		return err
	}
	head, err := b.env.read(resolvconfHeadPath)
	if err != nil {
		return err
	}
	if !bytes.Equal(head, ourHead(rec.file(resolvconfHeadPath))) {
		return fmt.Errorf("%w: %s was changed or removed", ErrDrifted, b.env.sysPath(resolvconfHeadPath))
	}
	rc, err := b.env.read(resolvConfPath)
	if err != nil {
		return err
	}
	ns := nameservers(rc)
	if len(ns) < len(Servers) || !slices.Equal(ns[:len(Servers)], Servers) {
		return fmt.Errorf("%w: %s lists %q first, want %q", ErrDrifted, b.env.sysPath(resolvConfPath), strings.Join(ns, " "), strings.Join(Servers, " "))
	}
	return nil
}

func (b *resolvconfBackend) Restore(ctx context.Context) error {
	rec, err := loadFor(b.env, ModeResolvconf)
	if err != nil || rec == nil {
		return err
	}
	for _, sf := range rec.Files {
		if err := b.env.put(sf); err != nil {
			return err
		}
	}
	if err := b.update(ctx); err != nil {
		return err
	}
	return removeRecord(b.env.StateDir)
}

func (b *resolvconfBackend) update(ctx context.Context) error {
	b.env.Log.Info("regenerating resolv.conf with resolvconf -u")
	_, _, err := b.env.Run.Run(ctx, "resolvconf", "-u")
	return err
}
