package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/nocontact/nocontact/dnsfilter/dnstest"
	"github.com/nocontact/nocontact/internal/netnstest"
)

// TestPhoneInNetns walks `nocontact phone` against a real nocontact in a
// network namespace of its own ("the computer", 10.78.0.1 and 10.79.0.1)
// with a "phone" in another (10.78.0.2 and 10.79.0.2) on a veth link:
// the command adds the LAN endpoints and the running filter serves them
// at once, the profile is fetched once over its link, and then from the
// phone DNS over TLS (kdig, trusting the CA in the profile) and DNS over
// HTTPS (Go's client, trusting it too) get 0.0.0.0 for instagram.com and
// the upstream's answer for example.org; from 10.79.0.2, outside
// lan_clients, both are refused; and the phone's lookups count as
// attempts of their own.
func TestPhoneInNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces: run `sudo go test ./cmd/nocontact -run PhoneInNetns` (CI runs it as root)")
	}
	for _, tool := range []struct{ name, pkg string }{{"ip", "iproute2"}, {"kdig", "knot-dnsutils"}, {"dig", "bind9-dnsutils"}} {
		if _, err := exec.LookPath(tool.name); err != nil {
			t.Skipf("needs %s (Debian package %s; CI installs it)", tool.name, tool.pkg)
		}
	}
	srvNS, phoneNS := fmt.Sprintf("ncph-srv-%d", os.Getpid()), fmt.Sprintf("ncph-ph-%d", os.Getpid())
	ipCmd := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, ns := range []string{srvNS, phoneNS} {
		ipCmd("netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v: %s", ns, err, out)
			}
		})
	}
	ipCmd("link", "add", "ncphA", "netns", srvNS, "type", "veth", "peer", "name", "ncphB", "netns", phoneNS)
	for _, a := range [][]string{{srvNS, "10.78.0.1/24", "ncphA"}, {srvNS, "10.79.0.1/24", "ncphA"}, {phoneNS, "10.78.0.2/24", "ncphB"}, {phoneNS, "10.79.0.2/24", "ncphB"}} {
		ipCmd("-n", a[0], "addr", "add", a[1], "dev", a[2])
	}
	for _, l := range [][]string{{srvNS, "ncphA"}, {phoneNS, "ncphB"}, {srvNS, "lo"}, {phoneNS, "lo"}} {
		ipCmd("-n", l[0], "link", "set", l[1], "up")
	}

	// The stand-in upstream, on the computer's own loopback.
	var up netip.AddrPort
	netnstest.In(t, srvNS, func() {
		up = dnstest.Serve(t, dnstest.NewZone(t, "example.org. 300 IN A 192.0.2.1", "instagram.com. 300 IN A 192.0.2.9"))
	})
	dir := t.TempDir()
	sock := filepath.Join(openDir(t), "c.sock")
	cfg := filepath.Join(dir, "nocontact.toml")
	writeConfig(t, cfg, `# my settings
[pact]
block = ["instagram"]
length = "30d"

[dns]
listen = ["127.0.0.1:53"] # this computer
upstreams = ["`+up.String()+`"]

[daemon]
state_dir = "`+filepath.Join(dir, "state")+`"
control_socket = "`+sock+`"
`)
	startDaemonCmd(t, exec.Command("ip", "netns", "exec", srvNS, binary, "run", "--config", cfg), "")

	// nocontact phone, on the computer.
	profile := filepath.Join(dir, "phone.mobileconfig")
	cmd := exec.Command("ip", "netns", "exec", srvNS, binary, "phone", "--config", cfg, "--address", "10.78.0.1/24",
		"--wifi", "Home", "--yes", "--profile", profile, "--link-for", "2m")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var shown strings.Builder
	sc := bufio.NewScanner(stdout)
	link := ""
	for link == "" && sc.Scan() {
		shown.WriteString(sc.Text() + "\n")
		if m := regexp.MustCompile(`http://10\.78\.0\.1:\d+/[0-9a-f]+/nocontact\.mobileconfig`).FindString(sc.Text()); m != "" {
			link = m
		}
	}
	if link == "" {
		t.Fatalf("no link shown:\n%s\n%s", shown.String(), stderr.String())
	}
	fromPhone := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: netnstest.Dialer(phoneNS, "")}}
	resp, err := fromPhone.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	rest, _ := io.ReadAll(stdout)
	shown.Write(rest)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("nocontact phone: %v\n%s\n%s", err, shown.String(), stderr.String())
	}
	saved, err := os.ReadFile(profile)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, saved) || resp.Header.Get("Content-Type") != "application/x-apple-aspen-config" {
		t.Fatalf("the link gave %s %q, %d bytes; want the saved profile", resp.Status, resp.Header.Get("Content-Type"), len(body))
	}
	for _, want := range []string{`listen        "10.78.0.1:53"`, `lan_clients   "10.78.0.0/24"`, `tls_listen    "10.78.0.1:853"`, `https_listen  "10.78.0.1:443"`,
		"None of this loosens your pact", "The profile went to the phone", "Certificate Trust Settings", "Private DNS", "publicly trusted", "mobile data"} {
		if !strings.Contains(strings.ReplaceAll(shown.String(), "the whole internet trusts", "publicly trusted"), want) {
			t.Errorf("nocontact phone did not say %q:\n%s", want, shown.String())
		}
	}
	if text, _ := os.ReadFile(cfg); !strings.Contains(string(text), "# my settings") || !strings.Contains(string(text), "# this computer") {
		t.Errorf("the settings lost their comments:\n%s", text)
	}
	if _, err := fromPhone.Get(link); err == nil {
		t.Error("the link still answers after the profile was fetched")
	}

	// The CA and the address, from the profile the phone got.
	v, err := parsePlist(saved)
	if err != nil {
		t.Fatal(err)
	}
	var caDER []byte
	var serverURL string
	for _, p := range v.(map[string]any)["PayloadContent"].([]any) {
		m := p.(map[string]any)
		switch m["PayloadType"] {
		case "com.apple.security.root":
			caDER = m["PayloadContent"].([]byte)
		case "com.apple.dnsSettings.managed":
			serverURL = m["DNSSettings"].(map[string]any)["ServerURL"].(string)
		}
	}
	if serverURL != "https://10.78.0.1/dns-query" {
		t.Fatalf("ServerURL %q", serverURL)
	}
	caPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)

	// The computer looks up instagram once, then the phone, within the
	// same ten seconds: two attempts, one per device.
	if out, err := exec.Command("ip", "netns", "exec", srvNS, "dig", "@127.0.0.1", "+short", "instagram.com").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "0.0.0.0" {
		t.Fatalf("the computer's own lookup: %v %s", err, out)
	}

	kdig := func(src, name string) (string, error) {
		args := []string{"netns", "exec", phoneNS, "kdig", "@10.78.0.1", "-p", "853", "+tls-ca=" + caPEM, "+tls-hostname=10.78.0.1",
			"+timeout=5", "+retry=0", "+short", name, "A"}
		if src != "" {
			args = append(args[:5], append([]string{"-b", src}, args[5:]...)...)
		}
		out, err := exec.Command("ip", args...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	doh := func(src, name string) (string, error) {
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DialContext:     netnstest.Dialer(phoneNS, src),
			TLSClientConfig: &tls.Config{RootCAs: pool},
		}}
		q := new(dns.Msg)
		q.SetQuestion(name+".", dns.TypeA)
		b, _ := q.Pack()
		req, _ := http.NewRequest(http.MethodPost, serverURL, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/dns-message")
		resp, err := hc.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ = io.ReadAll(resp.Body)
		m := new(dns.Msg)
		if err := m.Unpack(b); err != nil {
			return "", fmt.Errorf("%s: %w", resp.Status, err)
		}
		for _, rr := range m.Answer {
			if a, ok := rr.(*dns.A); ok {
				return a.A.String(), nil
			}
		}
		return dns.RcodeToString[m.Rcode], nil
	}
	for _, tt := range []struct{ name, want string }{{"instagram.com", "0.0.0.0"}, {"example.org", "192.0.2.1"}} {
		if got, err := kdig("", tt.name); err != nil || got != tt.want {
			t.Errorf("kdig over TLS from the phone, %s: %q %v, want %s", tt.name, got, err, tt.want)
		}
		if got, err := doh("", tt.name); err != nil || got != tt.want {
			t.Errorf("DNS over HTTPS from the phone, %s: %q %v, want %s", tt.name, got, err, tt.want)
		}
		out, err := exec.Command("ip", "netns", "exec", phoneNS, "dig", "@10.78.0.1", "+short", "+tries=1", tt.name).CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != tt.want {
			t.Errorf("plain DNS from the phone, %s: %q %v, want %s", tt.name, got, err, tt.want)
		}
	}
	// Outside lan_clients: refused.
	if got, err := kdig("10.79.0.2", "example.org"); err == nil && got != "" {
		t.Errorf("kdig over TLS from 10.79.0.2, outside lan_clients: %q, want no answer", got)
	}
	if got, err := doh("10.79.0.2", "example.org"); err == nil {
		t.Errorf("DNS over HTTPS from 10.79.0.2, outside lan_clients: %q, want the connection refused", got)
	}

	st := statusJSON(t, sock)
	if n := st.Attempts["instagram"].Today; n != 2 {
		t.Errorf("attempts at instagram today: %d, want 2 (the computer's and the phone's)", n)
	}
	if got := strings.Join(st.Health.Listening, ", "); !strings.Contains(got, "10.78.0.1:853 (DNS over TLS)") || !strings.Contains(got, "10.78.0.1:443 (DNS over HTTPS)") {
		t.Errorf("status lists %s", got)
	}
}
