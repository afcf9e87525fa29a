package firewall

import (
	"context"
	"log/slog"

	"github.com/google/nftables"
)

// Watch sends a value on ch, without blocking, whenever nocontact's
// table, or a chain, rule or set of it, is deleted, until ctx is done, so
// that the daemon puts the layer back at once rather than at its next
// wake. It reports whether it could watch.
func Watch(ctx context.Context, ch chan<- struct{}, log *slog.Logger) bool {
	c, err := nftables.New()
	if err != nil {
		log.Info("cannot watch nftables for changes; the firewall layer is checked at every wake", "err", err)
		return false
	}
	// Every event, and the deletions picked out here: google/nftables
	// v0.3.0 tests its event mask as (flags&1)<<type, so a narrower
	// mask than "any" lets nothing through.
	mon := nftables.NewMonitor(
		nftables.WithMonitorAction(nftables.MonitorActionAny),
		nftables.WithMonitorObject(nftables.MonitorObjectAny))
	events, err := c.AddMonitor(mon)
	if err != nil {
		log.Info("cannot watch nftables for changes; the firewall layer is checked at every wake", "err", err)
		return false
	}
	go func() {
		<-ctx.Done()
		mon.Close()
	}()
	go func() {
		for ev := range events {
			if ev.Error != nil || !deletion(ev.Type) || !ours(ev.Data) {
				continue
			}
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	return true
}

func deletion(t nftables.MonitorEventType) bool {
	switch t {
	case nftables.MonitorEventTypeDelTable, nftables.MonitorEventTypeDelChain, nftables.MonitorEventTypeDelRule, nftables.MonitorEventTypeDelSet:
		return true
	}
	return false
}

// ours reports whether a monitor event is about nocontact's table.
func ours(data any) bool {
	var t *nftables.Table
	switch d := data.(type) {
	case *nftables.Table:
		t = d
	case *nftables.Chain:
		t = d.Table
	case *nftables.Rule:
		t = d.Table
	case *nftables.Set:
		t = d.Table
	}
	return t != nil && t.Name == Name && t.Family == nftables.TableFamilyINet
}
