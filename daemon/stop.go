package daemon

// MayStop reports whether the service manager may stop the installed
// service now: when nothing binds (see pact.Engine.Binding), or once
// uninstalling is allowed (uninstall stops it). While a pact binds, the
// Windows service does not accept a stop request (cmd/nocontact's service
// handler asks this every second and at each request).
func (d *Daemon) MayStop() bool {
	if d.standDown.Load() {
		return true
	}
	st := d.Status()
	return !st.Binding || st.Uninstall != nil
}
