package unit

import (
	"os"
	"path/filepath"
)

// Default returns where `nocontact install` puts the binary and settings:
// %ProgramFiles%\nocontact and %ProgramData%\nocontact.
func Default() Paths {
	env := func(name, fallback string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		return fallback
	}
	data := filepath.Join(env("ProgramData", `C:\ProgramData`), "nocontact")
	return Paths{
		Executable:    filepath.Join(env("ProgramFiles", `C:\Program Files`), "nocontact", "nocontact.exe"),
		Config:        filepath.Join(data, "nocontact.toml"),
		StateDir:      filepath.Join(data, "state"),
		ControlSocket: `\\.\pipe\nocontact`,
	}
}
