package firewall

// New returns the pf backend.
func New(env Env) (Firewall, error) { return NewFor(ModePF, env) }
