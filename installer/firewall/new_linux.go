package firewall

// New returns the nftables backend.
func New(env Env) (Firewall, error) { return NewFor(ModeNftables, env) }
