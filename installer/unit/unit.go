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
	"path"
	"path/filepath"
	"strings"

	"github.com/kardianos/service"

	"github.com/nocontact/nocontact/installer/browsers"
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

// StopDropIn is the runtime drop-in that lifts RefuseManualStop for the
// moment `nocontact install` (an upgrade) or `nocontact uninstall` (once
// the pact allows it) stops the service; see installer.Systemd. It lives
// under /run, so a stop that is interrupted leaves nothing that outlasts
// a reboot.
const StopDropIn = "/run/systemd/system/" + Name + ".service.d/50-nocontact-stop.conf"

// StopDropInText is StopDropIn's content.
const StopDropInText = `# Written by nocontact for the moment it stops its own service
# (an upgrade, or an uninstall the pact allows); removed right after.
[Unit]
RefuseManualStop=no
`

// Systemd returns the unit file.
//
// Restart=always with StartLimitIntervalSec=0: a filter that stays down
// blocks nothing, so systemd never stops restarting it. RefuseManualStop:
// `systemctl stop` (and restart) would end the pact's protection without
// its cooldown, so systemd refuses them; install and uninstall lift it
// for their own stop with StopDropIn. Ordering: it needs the network to
// forward lookups (After= and Wants=network-online.target) and is the
// machine's resolver, so it comes up before anything that waits for name
// lookups (Before=nss-lookup.target, which a resolver pulls in with
// Wants=, systemd.special(7)). `systemctl reload` asks the running
// filter through its control socket (`nocontact reload`), which needs no
// /bin/kill (minimal systems have none).
//
// The sandbox (systemd.exec(5)) fits what the daemon does: it answers
// DNS on port 53 (CAP_NET_BIND_SERVICE, AF_INET, AF_INET6), keeps the
// system's DNS settings and the hosts file (it replaces /etc/resolv.conf,
// /etc/hosts and the drop-ins of systemd-resolved and NetworkManager by
// rename, and runs systemctl, resolvectl and resolvconf), writes its state
// folder, the second copy of the pact beside its settings and its control
// socket (AF_UNIX), and, for the firewall layer,
// talks to nftables over netlink (CAP_NET_ADMIN, AF_NETLINK). Everything
// else of the file system is read-only (ProtectSystem=strict). /etc stays
// writable as a whole, not file by file: a file mounted writable on its
// own stops being a mount the moment a DHCP client or NetworkManager
// replaces it by rename, and the daemon could then no longer put it back;
// and writing by rename needs the folder. No new privileges, no kernel
// tunables, modules, logs or clock, no devices, no namespaces, no
// realtime, no set-uid files, native system calls of the @system-service
// set only (others fail with EPERM rather than kill the filter).
func Systemd(p Paths) string {
	exec := make([]string, 0, 4)
	for _, a := range append([]string{p.Executable}, p.Args()...) {
		exec = append(exec, systemdQuote(a))
	}
	reload := []string{systemdQuote(p.Executable), "reload", "--config", systemdQuote(p.Config)}
	if p.ControlSocket != "" {
		reload = []string{systemdQuote(p.Executable), "reload", "--socket", systemdQuote(p.ControlSocket)}
	}
	// Writable: /etc, and the settings folder (the second copy of the
	// pact), the state folder and the socket's folder where they are
	// elsewhere. "-": a folder that is missing does not keep the filter
	// from starting (install creates the state folder before it starts
	// it).
	rw := []string{"/etc"}
	for _, d := range []string{path.Dir(p.Config), p.StateDir, socketDir(p.ControlSocket)} {
		if d != "" && d != "/" && d != "/etc" && !strings.HasPrefix(d, "/etc/") {
			rw = append(rw, systemdPath("-"+d))
		}
	}
	// The folders of installed Firefoxes, whose distribution/policies.json
	// carries the policy against its own encrypted DNS (installer/browsers).
	for _, d := range browsers.LinuxFirefoxDirs {
		rw = append(rw, "-/"+d)
	}
	return `# Installed by "nocontact install"; "nocontact uninstall" removes it.
[Unit]
Description=nocontact DNS filter (keeps the platforms you chose out of reach)
Documentation=https://github.com/nocontact/nocontact
Wants=network-online.target nss-lookup.target
After=network-online.target
Before=nss-lookup.target
StartLimitIntervalSec=0
RefuseManualStop=yes

[Service]
Type=simple
ExecStart=` + strings.Join(exec, " ") + `
ExecReload=` + strings.Join(reload, " ") + `
Restart=always
RestartSec=2

# The sandbox: see installer/unit.Systemd for why each line.
ProtectSystem=strict
ReadWritePaths=` + strings.Join(rw, " ") + `
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
PrivateMounts=yes
ProtectProc=invisible
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
NoNewPrivileges=yes
CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_NET_ADMIN
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM
KeyringMode=private
UMask=0022

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

// socketDir is the folder of the control socket, "" for none.
func socketDir(socket string) string {
	if socket == "" {
		return ""
	}
	return path.Dir(socket)
}

// systemdPath quotes one path of a setting that is not a command line
// (ReadWritePaths=): "%" doubled, as it would be a specifier, double
// quotes around a path with spaces or quotes.
func systemdPath(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if !strings.ContainsAny(s, " \t\n\"'\\") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
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
