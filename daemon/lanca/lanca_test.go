package lanca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 21, 0, 0, 0, time.UTC)

// TestLoadMakesOnceAndKeeps: the first Load makes the CA and saves it
// 0600; the next one reads the same CA back.
func TestLoadMakesOnceAndKeeps(t *testing.T) {
	dir := t.TempDir()
	ca, made, err := Load(dir, "laptop", t0)
	if err != nil || !made {
		t.Fatalf("first Load: made %v, %v", made, err)
	}
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("the CA's file has mode %v, want 0600", fi.Mode().Perm())
	}
	again, made, err := Load(dir, "laptop", t0.Add(time.Hour))
	if err != nil || made {
		t.Fatalf("second Load: made %v, %v", made, err)
	}
	if !bytes.Equal(ca.CertPEM(), again.CertPEM()) {
		t.Error("the second Load made another CA")
	}
	if got := ca.Cert().Subject.CommonName; got != "nocontact on laptop" {
		t.Errorf("CA named %q", got)
	}
	if strings.Contains(string(ca.CertPEM()), "PRIVATE") {
		t.Error("CertPEM carries the private key")
	}
}

// TestDamagedFileMakesANewCA: a damaged file is moved aside and a new CA
// made (and said to be new, since phones must be set up again).
func TestDamagedFileMakesANewCA(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Load(dir, "", t0); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, made, err := Load(dir, "", t0); err != nil || !made {
		t.Fatalf("Load of a damaged file: made %v, %v", made, err)
	}
}

// TestIssuedCertificateVerifies: a server certificate for a LAN address
// verifies against the CA for that address, for server authentication,
// within its validity; and the CA cannot vouch for a public address or a
// web site's name.
func TestIssuedCertificateVerifies(t *testing.T) {
	ca, _, err := Load(t.TempDir(), "", t0)
	if err != nil {
		t.Fatal(err)
	}
	lan := netip.MustParseAddr("192.168.1.20")
	c, err := ca.Issue([]netip.Addr{lan, netip.MustParseAddr("fd00::20")}, t0)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert())
	verify := func(cert *x509.Certificate, name string, at time.Time) error {
		_, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		return err
	}
	if err := verify(c.Leaf, "192.168.1.20", t0); err != nil {
		t.Errorf("the LAN address: %v", err)
	}
	if err := verify(c.Leaf, "fd00::20", t0.Add(LeafLife-time.Minute)); err != nil {
		t.Errorf("the IPv6 address near the end: %v", err)
	}
	if err := verify(c.Leaf, "192.168.1.21", t0); err == nil {
		t.Error("another address verified")
	}
	if err := verify(c.Leaf, "192.168.1.20", t0.Add(LeafLife+time.Hour)); err == nil {
		t.Error("verified after its end")
	}
	if life := c.Leaf.NotAfter.Sub(c.Leaf.NotBefore); life > 825*24*time.Hour {
		t.Errorf("valid for %v: Apple refuses more than 825 days", life)
	}
	if _, err := ca.Issue([]netip.Addr{netip.MustParseAddr("8.8.8.8")}, t0); err == nil {
		t.Error("issued for a public address")
	}
	// Even a certificate made with the CA's key outside Issue cannot pass
	// for a web site or a public address: the name constraints hold it.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sn, _ := serial()
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: sn, NotBefore: t0, NotAfter: t0.Add(time.Hour),
		DNSNames: []string{"www.instagram.com"}, IPAddresses: []net.IP{net.ParseIP("157.240.1.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := x509.ParseCertificate(der)
	for _, name := range []string{"www.instagram.com", "157.240.1.1"} {
		if err := verify(forged, name, t0.Add(time.Minute)); err == nil {
			t.Errorf("a certificate for %s made with the CA's key verified", name)
		}
	}
}
