//go:build !linux && !darwin && !windows

package unit

// Default returns where `nocontact install` would put the binary and
// settings on other Unix systems (no installer supports them yet).
func Default() Paths {
	return Paths{
		Executable:    "/usr/local/bin/nocontact",
		Config:        "/usr/local/etc/nocontact/nocontact.toml",
		StateDir:      "/var/db/nocontact",
		ControlSocket: "/var/run/nocontact.sock",
	}
}
