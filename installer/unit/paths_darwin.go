package unit

// Default returns where `nocontact install` puts the binary and settings.
func Default() Paths {
	return Paths{
		Executable:    "/usr/local/bin/nocontact",
		Config:        "/Library/Application Support/nocontact/nocontact.toml",
		StateDir:      "/Library/Application Support/nocontact/state",
		ControlSocket: "/var/run/nocontact.sock",
	}
}
