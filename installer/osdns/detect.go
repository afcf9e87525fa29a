package osdns

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// Detector finds which mechanism manages DNS on a Linux machine, the way
// tailscale's net/dns/manager_linux.go does: the comment at the top of
// /etc/resolv.conf names the program that wrote it, and a probe asks
// whether that program is really in charge now (a file left behind by a
// program that is no longer running is just a file). The probes are
// fields so that a test can describe a machine in a few lines.
type Detector struct {
	// Root is prefixed to /etc/resolv.conf; "" means "/".
	Root string
	// ResolvedRunning reports whether systemd-resolved is running.
	ResolvedRunning func(ctx context.Context) bool
	// NetworkManagerRunning reports whether NetworkManager is running.
	NetworkManagerRunning func(ctx context.Context) bool
	// HaveCommand reports whether a program is on PATH.
	HaveCommand func(name string) bool
}

// NewDetector returns a Detector whose probes ask systemctl (through
// env.Run) and look on PATH.
func NewDetector(env Env) Detector {
	active := func(unit string) func(ctx context.Context) bool {
		return func(ctx context.Context) bool {
			if env.Run == nil {
				return false
			}
			_, _, err := env.Run.Run(ctx, "systemctl", "is-active", "--quiet", unit)
			return err == nil
		}
	}
	return Detector{
		Root:                  env.Root,
		ResolvedRunning:       active("systemd-resolved.service"),
		NetworkManagerRunning: active("NetworkManager.service"),
		HaveCommand: func(name string) bool {
			_, err := exec.LookPath(name)
			return err == nil
		},
	}
}

// Detect returns the mode to use and, for the log, why.
func (d Detector) Detect(ctx context.Context) (Mode, string, error) {
	env := Env{Root: d.Root}
	if env.Root == "" {
		env.Root = "/"
	}
	data, err := os.ReadFile(env.sysPath(resolvConfPath))
	if errors.Is(err, fs.ErrNotExist) {
		return ModeFile, "/etc/resolv.conf is missing", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("reading /etc/resolv.conf to find who manages DNS: %w", err)
	}
	switch owner := resolvOwner(data); owner {
	case "systemd-resolved":
		// Like tailscale (its issue 2136), trust the header only when the
		// file really points at resolved's stub: in its "uplink" mode,
		// resolv.conf lists the real servers, and programs use them.
		if ns := nameservers(data); !slices.Equal(ns, []string{"127.0.0.53"}) {
			return ModeFile, "resolv.conf names systemd-resolved but lists " + strings.Join(ns, " "), nil
		}
		if !d.ResolvedRunning(ctx) {
			return ModeFile, "resolv.conf points at systemd-resolved, which is not running", nil
		}
		// NetworkManager may run too: it then hands its per-link servers to
		// resolved, and our global "~." routing wins over them.
		return ModeResolved, "resolv.conf points at systemd-resolved, which is running", nil
	case "NetworkManager":
		if !d.NetworkManagerRunning(ctx) {
			return ModeFile, "resolv.conf was written by NetworkManager, which is not running", nil
		}
		return ModeNetworkManager, "resolv.conf is written by NetworkManager, which is running", nil
	case "resolvconf":
		if !d.HaveCommand("resolvconf") {
			return ModeFile, "resolv.conf was written by resolvconf, which is not installed", nil
		}
		if fi, err := os.Stat(env.sysPath("etc/resolvconf/resolv.conf.d")); err != nil || !fi.IsDir() {
			return ModeFile, "resolv.conf is written by a resolvconf without /etc/resolvconf/resolv.conf.d (openresolv)", nil
		}
		return ModeResolvconf, "resolv.conf is written by Debian's resolvconf", nil
	}
	return ModeFile, "resolv.conf names no program that manages it", nil
}

// resolvOwner returns the program that the comments of a resolv.conf say
// wrote it: "systemd-resolved", "NetworkManager", "resolvconf" or "".
// Only comment lines count, and the first that names one wins.
func resolvOwner(data []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, ";") {
			continue
		}
		switch {
		case strings.Contains(line, "systemd-resolved"):
			return "systemd-resolved"
		case strings.Contains(line, "NetworkManager"):
			return "NetworkManager"
		case strings.Contains(line, "resolvconf"):
			return "resolvconf"
		}
	}
	return ""
}
