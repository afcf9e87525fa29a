package osdns

import "context"

// New returns the networksetup backend.
func New(ctx context.Context, env Env) (Configurator, error) {
	return NewFor(ModeNetworksetup, env)
}
