package firewall

import "github.com/nocontact/nocontact/installer/command"

func commandLine(args ...string) string { return command.Line(args...) }
