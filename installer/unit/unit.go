// Package unit renders the service definitions that keep nocontact
// running: the systemd unit on Linux, the launchd property list on macOS,
// and the options of the Windows service, all handed to
// github.com/kardianos/service through one service.Config.
//
// The systemd unit and the plist are rendered here, in full, and passed to
// kardianos as its "SystemdScript" and "LaunchdConfig" templates: its
// built-in unit gives up restarting (StartLimitBurst=10 in 5 s) and knows
// nothing of nss-lookup.target, and a text rendered here is what the
// golden files show and systemd-analyze checks, byte for byte (kardianos'
// template engine passes text without "{{" through unchanged). This
// package must not install, start or stop anything.
package unit

import (
	"encoding/xml"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/kardianos/service"
)

// Name is the service's name: the unit nocontact.service, the launchd
// label and plist /Library/LaunchDaemons/nocontact.plist, the Windows
// service "nocontact".
const Name = "nocontact"

// Paths are where the installed binary, its settings and its memory live.
// The service's state folder and control socket are fixed here, by the
// binary and the service definition, never by the settings file: a line
// of the settings must not be able to point the service at a fresh,
// empty memory. The second copy of the pact lives beside the settings
// (in ConfigDir).
type Paths struct {
	Executable string // the installed binary
	Config     string // the settings file it runs with
	// StateDir is the service's state folder, and ControlSocket its
	// control socket (a named pipe on Windows).
	StateDir      string
	ControlSocket string
}

// ConfigDir is the settings folder, where the second copy of the pact is
// kept.
func (p Paths) ConfigDir() string { return filepath.Dir(p.Config) }

// Args returns the command line the service runs, without the binary.
func (p Paths) Args() []string { return []string{"run", "--service", "--config", p.Config} }

// Systemd returns the unit file.
//
// Restart=always with StartLimitIntervalSec=0: a filter that stays down
// blocks nothing, so systemd never stops restarting it. Ordering: it needs
// the network to forward lookups (After= and Wants=network-online.target)
// and is the machine's resolver, so it comes up before anything that
// waits for name lookups (Before=nss-lookup.target, which a resolver
// pulls in with Wants=, systemd.special(7)).
func Systemd(p Paths) string {
	exec := make([]string, 0, 4)
	for _, a := range append([]string{p.Executable}, p.Args()...) {
		exec = append(exec, systemdQuote(a))
	}
	return `# Installed by "nocontact install"; "nocontact uninstall" removes it.
[Unit]
Description=nocontact DNS filter (keeps the platforms you chose out of reach)
Documentation=https://github.com/nocontact/nocontact
Wants=network-online.target nss-lookup.target
After=network-online.target
Before=nss-lookup.target
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart=` + strings.Join(exec, " ") + `
ExecReload=/bin/kill -HUP $MAINPID
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
`
}

// systemdQuote quotes one word of an Exec line (systemd.service(5),
// "Command lines"): double quotes around a word with spaces or quotes,
// backslash escapes inside, and "%" and "$" doubled so that neither is
// taken as a specifier or a variable.
func systemdQuote(s string) string {
	s = strings.NewReplacer("%", "%%", "$", "$$").Replace(s)
	if s != "" && !strings.ContainsAny(s, " \t\n\"'\\;") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`).Replace(s) + `"`
}

// Launchd returns the launchd property list: started at boot
// (RunAtLoad) and restarted whenever it exits (KeepAlive), with its log
// in /var/log/nocontact.log.
func Launchd(p Paths) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>` + Name + `</string>
	<key>ProgramArguments</key>
	<array>
`)
	for _, a := range append([]string{p.Executable}, p.Args()...) {
		b.WriteString("\t\t<string>" + xmlEscape(a) + "</string>\n")
	}
	b.WriteString(`	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<true/>
	<key>StandardErrorPath</key>
	<string>/var/log/nocontact.log</string>
</dict>
</plist>
`)
	return b.String()
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder does not fail
	return b.String()
}

// Config returns the service.Config for kardianos/service: the texts
// above as its templates, and the options it reads itself. "Restart",
// "KeepAlive" and "RunAtLoad" say the same as the texts, for anyone who
// drops a template; "OnFailure" and "OnFailureDelayDuration" make the
// Windows service manager restart nocontact 5 s after it fails.
func Config(p Paths) (*service.Config, error) {
	for _, s := range []string{p.Executable, p.Config} {
		if s == "" {
			return nil, fmt.Errorf("service definition: empty path in %+v", p)
		}
		if strings.Contains(s, "{{") {
			return nil, fmt.Errorf("service definition: path %q contains \"{{\", which the service template engine would read as an action", s)
		}
	}
	return &service.Config{
		Name:        Name,
		DisplayName: "nocontact",
		Description: "nocontact DNS filter: keeps the platforms you chose out of reach",
		Executable:  p.Executable,
		Arguments:   p.Args(),
		Option: service.KeyValue{
			"SystemdScript":          Systemd(p),
			"LaunchdConfig":          Launchd(p),
			"Restart":                "always",
			"KeepAlive":              true,
			"RunAtLoad":              true,
			"OnFailure":              "restart",
			"OnFailureDelayDuration": "5s",
		},
	}, nil
}
