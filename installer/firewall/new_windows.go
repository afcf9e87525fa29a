package firewall

// New returns the Windows Firewall backend.
func New(env Env) (Firewall, error) { return NewFor(ModeWindowsFirewall, env) }
