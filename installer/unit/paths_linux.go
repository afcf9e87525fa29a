package unit

// Default returns where `nocontact install` puts the binary and settings.
func Default() Paths {
	return Paths{
		Executable:    "/usr/local/bin/nocontact",
		Config:        "/etc/nocontact/nocontact.toml",
		StateDir:      "/var/lib/nocontact",
		ControlSocket: "/run/nocontact.sock",
	}
}
