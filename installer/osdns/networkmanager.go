package osdns

import (
	"bytes"
	"context"
	"fmt"
)

// nmDropInPath is NetworkManager's configuration drop-in. conf.d files are
// read in name order and a later one wins, hence "99-".
const nmDropInPath = "etc/NetworkManager/conf.d/99-nocontact.conf"

// nmDropIn tells NetworkManager to leave resolv.conf alone (dns=none,
// NetworkManager.conf(5)); it keeps managing everything else.
var nmDropIn = []byte(`# Written by nocontact: NetworkManager leaves /etc/resolv.conf to nocontact.
# ` + "`nocontact uninstall`" + ` removes this file.
[main]
dns=none
`)

// nmBackend (ModeNetworkManager): a dns=none drop-in, a reload, and our
// resolv.conf, which NetworkManager then no longer rewrites.
type nmBackend struct{ env Env }

func (b *nmBackend) Mode() Mode { return ModeNetworkManager }

func (b *nmBackend) Apply(ctx context.Context) error {
	rec, err := b.env.saveFiles(ModeNetworkManager, nmDropInPath, resolvConfPath)
	if err != nil {
		return err
	}
	// The servers NetworkManager got, for "system" upstreams: its
	// no-stub file names them even when its resolv.conf names resolved's
	// stub; without it, the resolv.conf it wrote.
	for _, rel := range []string{nmNoStubPath, "run/NetworkManager/resolv.conf", resolvConfPath} {
		if data, err := b.env.read(rel); err == nil && len(usable(nameservers(data))) > 0 {
			b.env.saveForward(rec, rel, data)
			break
		}
	}
	if err := b.env.write(nmDropInPath, nmDropIn, 0o644); err != nil {
		return err
	}
	// Reload before writing resolv.conf, so that NetworkManager does not
	// write its own over ours while it still manages it.
	if err := b.reload(ctx); err != nil {
		return err
	}
	return b.env.ensureResolvConf(rec)
}

func (b *nmBackend) Check(ctx context.Context) error {
	if err := b.env.checkResolvConf(ModeNetworkManager); err != nil {
		return err
	}
	got, err := b.env.read(nmDropInPath)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, nmDropIn) {
		return fmt.Errorf("%w: %s was changed or removed", ErrDrifted, b.env.sysPath(nmDropInPath))
	}
	return nil
}

// Restore removes the drop-in and reloads NetworkManager before putting
// back the original resolv.conf (which NetworkManager wrote, and will
// keep writing from now on).
func (b *nmBackend) Restore(ctx context.Context) error {
	return b.env.restoreFiles(ModeNetworkManager, func(rel string) error {
		if rel != nmDropInPath {
			return nil
		}
		return b.reload(ctx)
	})
}

func (b *nmBackend) reload(ctx context.Context) error {
	b.env.Log.Info("reloading NetworkManager's configuration")
	_, _, err := b.env.Run.Run(ctx, "systemctl", "reload", "NetworkManager.service")
	return err
}
