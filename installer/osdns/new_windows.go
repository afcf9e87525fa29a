package osdns

import "context"

// New returns the DNS client backend.
func New(ctx context.Context, env Env) (Configurator, error) {
	return NewFor(ModeDNSClient, env)
}
