package osdns

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"
)

// resolvConfPath is the resolver configuration glibc, musl and Go read.
const resolvConfPath = "etc/resolv.conf"

// fileBackend (ModeFile) owns /etc/resolv.conf directly: nothing else
// rewrites it, or what does (a DHCP client) cannot be programmed, in
// which case the re-assert loop puts ours back.
type fileBackend struct{ env Env }

func (b *fileBackend) Mode() Mode { return ModeFile }

func (b *fileBackend) Apply(ctx context.Context) error {
	rec, err := b.env.saveFiles(ModeFile, resolvConfPath)
	if err != nil {
		return err
	}
	return b.env.ensureResolvConf(rec)
}

func (b *fileBackend) Check(ctx context.Context) error {
	return b.env.checkResolvConf(ModeFile)
}

func (b *fileBackend) Restore(ctx context.Context) error {
	return b.env.restoreFiles(ModeFile, nil)
}

// ourResolvConf is the resolv.conf that sends every lookup to the filter.
// It keeps the search and options lines of the original (regular) file,
// so that short names and resolver options work as before; a nameserver
// from the original would let lookups around the filter, so none is kept.
func ourResolvConf(orig *savedFile) []byte {
	var b bytes.Buffer
	b.WriteString("# Written by nocontact: every lookup on this machine goes through its filter.\n")
	b.WriteString("# `nocontact uninstall` puts back the file that was here before.\n")
	for _, s := range Servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if orig != nil && orig.Exists && orig.Link == "" {
		sc := bufio.NewScanner(bytes.NewReader(orig.Data))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) > 0 && (f[0] == "search" || f[0] == "domain" || f[0] == "options") {
				b.WriteString(strings.Join(f, " ") + "\n")
			}
		}
	}
	return b.Bytes()
}

// ensureResolvConf writes our resolv.conf unless it is already there.
func (env Env) ensureResolvConf(rec *record) error {
	want := ourResolvConf(rec.file(resolvConfPath))
	now, err := env.capture(resolvConfPath)
	if err != nil {
		return err
	}
	if now.Exists && now.Link == "" && bytes.Equal(now.Data, want) {
		return nil
	}
	env.Log.Info("pointing resolv.conf at nocontact", "file", env.sysPath(resolvConfPath))
	return env.write(resolvConfPath, want, 0o644)
}

// checkResolvConf compares resolv.conf with ours, byte for byte.
func (env Env) checkResolvConf(mode Mode) error {
	rec, err := appliedRecord(env, mode)
	if err != nil {
		return err
	}
	now, err := env.capture(resolvConfPath)
	if err != nil {
		return err
	}
	switch {
	case !now.Exists:
		return fmt.Errorf("%w: %s is missing", ErrDrifted, env.sysPath(resolvConfPath))
	case now.Link != "":
		return fmt.Errorf("%w: %s is a link to %s again", ErrDrifted, env.sysPath(resolvConfPath), now.Link)
	case !bytes.Equal(now.Data, ourResolvConf(rec.file(resolvConfPath))):
		return fmt.Errorf("%w: %s was rewritten (nameservers now: %s)", ErrDrifted, env.sysPath(resolvConfPath), strings.Join(nameservers(now.Data), " "))
	}
	return nil
}

// restoreFiles puts back every saved file, in the reverse order of
// saving, running between(rel) after each (nil: nothing), then deletes
// the record.
func (env Env) restoreFiles(mode Mode, after func(rel string) error) error {
	rec, err := loadFor(env, mode)
	if err != nil || rec == nil {
		return err
	}
	for i := len(rec.Files) - 1; i >= 0; i-- {
		sf := rec.Files[i]
		env.Log.Info("restoring the original", "file", env.sysPath(sf.Path))
		if err := env.put(sf); err != nil {
			return err
		}
		if after != nil {
			if err := after(sf.Path); err != nil {
				return err
			}
		}
	}
	return removeRecord(env.StateDir)
}

// nameservers lists the nameserver lines of a resolv.conf.
func nameservers(data []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "nameserver" {
			out = append(out, f[1])
		}
	}
	return out
}
