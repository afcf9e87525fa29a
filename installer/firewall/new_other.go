//go:build !linux && !darwin && !windows

package firewall

// New returns ErrUnsupported: the layer exists on Linux, macOS and
// Windows only.
func New(env Env) (Firewall, error) { return nil, ErrUnsupported }
