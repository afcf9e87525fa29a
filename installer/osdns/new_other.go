//go:build !linux && !darwin && !windows

package osdns

import "context"

// New returns ErrUnsupported: nocontact takes over DNS on Linux, macOS
// and Windows only.
func New(ctx context.Context, env Env) (Configurator, error) {
	return nil, ErrUnsupported
}
