package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/daemon/control"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
	"github.com/nocontact/nocontact/installer/atomicfile"
)

// cmdPhone makes this computer's nocontact ready for the phones on the
// same network and walks the person through setting one up: it adds the
// computer's address on the network to [dns] listen, tls_listen and
// https_listen and the network to lan_clients (after showing the change
// and asking), has the running nocontact reload, writes an Apple profile
// for iPhone and iPad and offers it once over a short-lived link shown as
// a QR code, and explains Android's settings and what stays uncovered.
func cmdPhone(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "phone")
	path, socket := controlFlags(fs)
	addr := fs.String("address", "", "this computer's address on the network, with the network's size, like `192.168.1.20/24` (default: found on its own)")
	wifi := fs.String("wifi", "", "the `name` of the home Wi-Fi the phone uses: the iPhone profile applies only there (default: asked, or found on its own on Linux)")
	profile := fs.String("profile", "nocontact-phone.mobileconfig", "where to save the iPhone and iPad profile (`file`)")
	yes := fs.Bool("yes", false, "change the settings without asking")
	linkFor := fs.Duration("link-for", 10*time.Minute, "how long the link to the profile stays open (0: no link)")
	httpsPort := fs.Uint("https-port", config.DefaultHTTPSPort, "the `port` for DNS over HTTPS")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *httpsPort == 0 || *httpsPort > 65535 {
		return fmt.Errorf("%w: --https-port %d: want a port from 1 to 65535", errUsage, *httpsPort)
	}
	sock, err := socket()
	if err != nil {
		return err
	}
	client := control.NewClient(sock)
	if _, err := client.Status(ctx); err != nil {
		return explain(err)
	}

	// Where the phones will find this computer.
	var lan netip.Prefix
	if *addr != "" {
		lan, err = netip.ParsePrefix(*addr)
		if err != nil || !lan.Addr().Is4() && !lan.Addr().Is6() {
			return fmt.Errorf("%w: --address %q: want this computer's address and the network's size, like 192.168.1.20/24", errUsage, *addr)
		}
	} else if lan, err = findLANAddress(); err != nil {
		return err
	}
	ip := lan.Addr()
	network := lan.Masked()

	// What changes in the settings, shown before it is written.
	text, err := os.ReadFile(*path)
	if err != nil {
		return fmt.Errorf("reading the settings: %w", err)
	}
	cat, err := catalog.Builtin()
	if err != nil {
		return err
	}
	cfg, err := config.Load(*path, cat)
	if err != nil {
		return fmt.Errorf("%w; fix the settings first, then run 'nocontact phone' again", err)
	}
	type change struct{ key, entry, why string }
	var changes []change
	plain := netip.AddrPortFrom(ip, 53)
	if !slices.Contains(cfg.DNS.ListenAddrs, plain) {
		changes = append(changes, change{"listen", plain.String(), "plain DNS for the devices of your network (Android)"})
	}
	if !slices.ContainsFunc(cfg.DNS.LANPrefixes, func(p netip.Prefix) bool { return p.Bits() <= network.Bits() && p.Contains(network.Addr()) }) {
		changes = append(changes, change{"lan_clients", network.String(), "the devices allowed to use it: your network, and no one else"})
	}
	dot := netip.AddrPortFrom(ip, config.DefaultTLSPort)
	if !slices.Contains(cfg.DNS.TLSListenAddrs, dot) {
		changes = append(changes, change{"tls_listen", dot.String(), "DNS over TLS, encrypted"})
	}
	doh := netip.AddrPortFrom(ip, uint16(*httpsPort))
	if !slices.Contains(cfg.DNS.HTTPSListenAddrs, doh) {
		changes = append(changes, change{"https_listen", doh.String(), "DNS over HTTPS, encrypted, for iPhone and iPad"})
	}
	fmt.Fprintf(e.stdout, "Your phone can use this computer's nocontact when it is on the same network: this computer is %s, on the network %s.\n\n", ip, network)
	if len(changes) == 0 {
		fmt.Fprintf(e.stdout, "Your settings (%s) are ready for it already.\n", *path)
	} else {
		fmt.Fprintf(e.stdout, "In %s, under [dns], nocontact will add:\n", *path)
		for _, c := range changes {
			fmt.Fprintf(e.stdout, "  %-13s %-24s %s\n", c.key, quote(c.entry), c.why)
		}
		fmt.Fprintln(e.stdout, "\nNone of this loosens your pact: the phone gets the same blocks, and only devices of your network are answered.")
		if !*yes && !confirm(e, "Make these changes? [y/N] ") {
			return errors.New("nothing was changed")
		}
		edited := text
		for _, c := range changes {
			if edited, err = config.AddToDNS(edited, c.key, c.entry); err != nil {
				return err
			}
		}
		if _, err := config.Parse(strings.NewReader(string(edited)), *path, cat); err != nil {
			return fmt.Errorf("the changed settings would not load (%w); nothing was changed: add the lines above by hand", err)
		}
		mode := os.FileMode(0o644)
		if fi, err := os.Stat(*path); err == nil {
			mode = fi.Mode().Perm()
		}
		if err := atomicfile.WriteFile(*path, edited, mode); err != nil {
			if errors.Is(err, os.ErrPermission) {
				return fmt.Errorf("writing the settings: %w: run it as an administrator, like 'sudo nocontact phone'", err)
			}
			return fmt.Errorf("writing the settings: %w", err)
		}
		if _, err := client.Reload(ctx); err != nil {
			return fmt.Errorf("the settings were changed, but nocontact did not reload them: %w", explain(err))
		}
		fmt.Fprintln(e.stdout, "Done: nocontact answers on your network now.")
	}

	view, err := client.LAN(ctx)
	if err != nil {
		return explain(err)
	}
	var problems []string
	for _, eps := range [][]control.Endpoint{view.Plain, view.TLS, view.HTTPS} {
		for _, ep := range eps {
			if !ep.Listening && ep.Problem != "" {
				problems = append(problems, ep.Addr+": "+ep.Problem)
			}
		}
	}
	if view.CAProblem != "" {
		problems = append(problems, view.CAProblem)
	}
	if len(problems) > 0 {
		fmt.Fprintln(e.stdout, "\nSome of it does not work yet:")
		for _, p := range problems {
			fmt.Fprintln(e.stdout, "  "+p)
		}
	}
	url := ""
	for _, ep := range view.HTTPS {
		if b, err := netip.ParseAddrPort(ep.Bound); err == nil && ep.Listening && b.Addr() == ip {
			url = ep.URL
		}
	}

	// iPhone and iPad: the profile.
	fmt.Fprintln(e.stdout, "\n== iPhone and iPad")
	if url == "" || view.CA == "" {
		fmt.Fprintln(e.stdout, "The encrypted endpoint for iPhone does not serve yet (see above), so there is no profile. Fix that and run 'nocontact phone' again.")
	} else {
		ssid := *wifi
		if ssid == "" {
			ssid = currentWiFi()
		}
		if ssid == "" && !*yes {
			ssid = ask(e, "The name of your home Wi-Fi (the profile applies only there): ")
		}
		if ssid == "" {
			return fmt.Errorf("%w: name your home Wi-Fi with --wifi NAME: the profile must apply only there, or the phone could not look anything up away from home", errUsage)
		}
		host, _ := os.Hostname()
		body, err := mobileconfig(profileSpec{CAPEM: []byte(view.CA), URL: url, Addr: ip, WiFi: ssid, Host: host})
		if err != nil {
			return err
		}
		if err := atomicfile.WriteFile(*profile, body, 0o644); err != nil {
			return fmt.Errorf("saving the profile: %w", err)
		}
		fmt.Fprintf(e.stdout, "The profile is saved in %s (it holds no secret: the certificate authority's key stays on this computer).\n", *profile)
		if *linkFor > 0 {
			if err := offerOnce(ctx, e, ip, body, *linkFor); err != nil {
				fmt.Fprintf(e.stdout, "The link could not be offered (%v). Send the file to the phone another way, like AirDrop or e-mail.\n", err)
			}
		}
		fmt.Fprint(e.stdout, iPhoneSteps(ssid))
	}

	// Android.
	fmt.Fprintln(e.stdout, "\n== Android")
	fmt.Fprint(e.stdout, androidSteps(ip, network))

	fmt.Fprintln(e.stdout, "\n== What stays uncovered")
	fmt.Fprint(e.stdout, uncovered)
	return nil
}

func quote(s string) string { return `"` + s + `"` }

// confirm asks a yes-or-no question on the terminal.
func confirm(e *env, question string) bool {
	a := strings.ToLower(ask(e, question))
	return a == "y" || a == "yes"
}

// ask asks a question and returns the answer, "" when there is no one to
// answer.
func ask(e *env, question string) string {
	if e.stdin == nil {
		return ""
	}
	fmt.Fprint(e.stdout, question)
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(e.stdout)
		return ""
	}
	return strings.TrimSpace(line)
}

// findLANAddress finds this computer's address on a home network: the one
// private IPv4 address of an interface that is up. More than one, or
// none, is an error that says what to do.
func findLANAddress() (netip.Prefix, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return netip.Prefix{}, err
	}
	var found []netip.Prefix
	var names []string
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(n.IP)
			ones, _ := n.Mask.Size()
			if !ok || !ip.Unmap().Is4() || !ip.IsPrivate() {
				continue
			}
			p := netip.PrefixFrom(ip.Unmap(), ones)
			found = append(found, p)
			names = append(names, fmt.Sprintf("%s (%s)", p, ifc.Name))
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return netip.Prefix{}, errors.New("this computer has no address on a home network: connect it to the Wi-Fi or the router your phone uses, " +
			"or name its address with --address, like --address 192.168.1.20/24")
	}
	return netip.Prefix{}, fmt.Errorf("this computer is on more than one network: %s. Name the one your phone uses with --address, like --address %s",
		strings.Join(names, ", "), found[0])
}

// offerOnce serves the profile once, on this computer's address, at a
// link nobody can guess, shown as a QR code; it returns after the first
// download, after d, or when ctx ends.
func offerOnce(ctx context.Context, e *env, ip netip.Addr, body []byte, d time.Duration) error {
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		return err
	}
	secret := make([]byte, 12)
	if _, err := rand.Read(secret); err != nil {
		ln.Close()
		return err
	}
	path := "/" + hex.EncodeToString(secret) + "/nocontact.mobileconfig"
	url := "http://" + ln.Addr().String() + path
	done := make(chan struct{})
	var served atomic.Bool
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != path || r.Method != http.MethodGet || served.Swap(true) {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/x-apple-aspen-config")
			w.Header().Set("Content-Disposition", `attachment; filename="nocontact.mobileconfig"`)
			_, _ = w.Write(body) // the phone went away: it can ask again with a new link
			close(done)
		}),
	}
	srv.SetKeepAlivesEnabled(false)
	go func() { _ = srv.Serve(ln) }() // it ends when Close is called below
	defer srv.Close()
	qr, err := qrcode.New(url, qrcode.Medium)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nOn the iPhone or iPad, on the same Wi-Fi, open the Camera and point it at this code, or open %s in Safari.\n", url)
	fmt.Fprintf(e.stdout, "The link works once, for the next %s.\n\n", span(d))
	fmt.Fprint(e.stdout, qr.ToSmallString(false))
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
		fmt.Fprintln(e.stdout, "The profile went to the phone. The link is closed.")
	case <-timer.C:
		fmt.Fprintln(e.stdout, "The link is closed: nobody opened it in time. Run 'nocontact phone' again for a new one, or send the saved file.")
	case <-ctx.Done():
	}
	return nil
}

func iPhoneSteps(ssid string) string {
	return `Then, on the iPhone or iPad:
  1. Tap "Allow" to download the profile.
  2. Open Settings: tap "Profile Downloaded" at the top (or General, VPN & Device Management), then Install, and enter your passcode.
  3. Settings, General, About, Certificate Trust Settings: turn on full trust for "nocontact". Without it, the phone does not trust this computer's certificate.
  4. Check: Settings, General, VPN & Device Management, DNS (on older iPhones: VPN & Network, DNS) shows nocontact. Open instagram.com in Safari on ` + quote(ssid) + `: it does not load.
The profile applies only on the Wi-Fi ` + quote(ssid) + `; on other networks and on mobile data the phone uses its usual DNS.
While this computer is off or asleep, the phone cannot look anything up on that Wi-Fi: wake the computer, or turn Wi-Fi off.
`
}

func androidSteps(ip netip.Addr, network netip.Prefix) string {
	return fmt.Sprintf(`Android has no profile like the iPhone's. Its "Private DNS" setting needs a certificate that the whole internet trusts,
which a home computer does not have, so it cannot point at this computer. Instead, set the Wi-Fi's DNS by hand:
  1. Settings, Network & internet (or Connections), Wi-Fi: touch and hold your home Wi-Fi, then Modify (or the gear, then the pencil).
  2. Advanced options, IP settings: Static.
  3. IP address: the phone's own address now (Settings, About phone, Status), like %s. Gateway: your router, usually %s.
     Network prefix length: %d.
  4. DNS 1 and DNS 2: %s, both. (Another DNS 2, like the router's, would let lookups go around nocontact.)
  5. Save. Then Settings, Network & internet, Private DNS: "Automatic" (it then uses this computer's DNS over TLS on its own), never a provider's name.
  6. Check: open instagram.com in Chrome: it does not load.
While this computer is off or asleep, the phone cannot look anything up on that Wi-Fi.
The easier way for every device at home: set your router's DNS server to %s (in its DHCP or LAN settings), or give the router
the block itself with 'nocontact export' (see the README, "Your phone and your router").
`, exampleAddr(network, 50), exampleAddr(network, 1), network.Bits(), ip, ip)
}

// exampleAddr is the n-th address of network, for an example.
func exampleAddr(network netip.Prefix, n int) netip.Addr {
	a := network.Masked().Addr()
	for range n {
		a = a.Next()
	}
	return a
}

const uncovered = `nocontact covers the phone only on your home network, through this computer. It does not cover:
  - mobile data (4G, 5G): the phone uses its carrier's DNS there;
  - other Wi-Fi networks: at work, at a friend's, in a cafe;
  - a VPN, or iCloud Private Relay once the phone is away from home;
  - apps that carry their own addresses, and removing the profile or changing the Wi-Fi settings back.
For those, use the apps' own block buttons and your phone's Screen Time (iPhone) or Digital Wellbeing (Android).
`
