// Package lanca is the small certificate authority nocontact makes for
// its encrypted DNS endpoints on the home network (DNS over TLS and over
// HTTPS for phones): a home computer has no publicly trusted certificate
// for its own address, so the phone is given this CA to trust instead.
//
// The CA's key is kept in one file in the state folder (0600, written
// atomically with a checksum by statefile) and nowhere else: never in the
// settings, never in a log. The CA may only vouch for addresses of home
// and office networks and of loopback (X.509 name constraints), so that
// its key, if it were ever taken, could not be used to impersonate any
// web site to a phone that trusts it. Server certificates are made afresh
// for the addresses the endpoints serve on, kept in memory only, and
// valid for 397 days (Apple accepts at most 825, and at most 398 from
// public CAs).
//
// It knows nothing of DNS or of the pact, and reads no clock: the time
// is handed in.
package lanca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/nocontact/nocontact/daemon/statefile"
)

// FileName is the CA's file in the state folder: its certificate and its
// private key, in PEM.
const FileName = "lan-ca"

// fileVersion is the statefile format version of the CA's file.
const fileVersion = 1

// Validity of what the CA makes.
const (
	// caLife is how long the CA is valid: the phones keep trusting it,
	// and a new one means setting each phone up again.
	caLife = 10 * 365 * 24 * time.Hour
	// LeafLife is how long a server certificate is valid.
	LeafLife = 397 * 24 * time.Hour
	// RenewBefore is how long before its end a server certificate is
	// replaced.
	RenewBefore = 30 * 24 * time.Hour
	// backdate puts NotBefore a little in the past, for a phone whose
	// clock is behind.
	backdate = time.Hour
)

// permitted are the only addresses the CA's certificates may name: home
// and office networks (RFC 1918, RFC 6598, link-local, IPv6 unique-local
// and link-local) and loopback.
var permitted = []string{
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "127.0.0.0/8",
	"fc00::/7", "fe80::/10", "::1/128",
}

// permittedDNS is the only DNS name suffix its certificates may name: one
// that never resolves (RFC 6761), so in effect none. Without it any name
// would be allowed, since a constraint on addresses says nothing of names.
const permittedDNS = "nocontact.invalid"

// CA is a loaded certificate authority.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte // the certificate, PEM
}

// Load reads the CA from dir, or makes one (named after host) and saves
// it when there is none. A damaged file is moved aside by statefile and a
// new CA is made: made reports it, since every phone then needs the new
// one. The error says what to do when the folder cannot be read or
// written.
func Load(dir, host string, now time.Time) (ca *CA, made bool, err error) {
	path := filepath.Join(dir, FileName)
	body, rerr := statefile.Read(path, fileVersion)
	if rerr == nil {
		ca, err := parse(body)
		if err == nil {
			return ca, false, nil
		}
		rerr = err
	}
	if rerr != nil && !errors.Is(rerr, statefile.ErrDamaged) && !errors.Is(rerr, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("reading the certificate authority for the phones' encrypted DNS: %w", rerr)
	}
	ca, body, err = create(host, now)
	if err != nil {
		return nil, false, err
	}
	if err := statefile.Write(path, fileVersion, body); err != nil {
		return nil, false, fmt.Errorf("saving the certificate authority for the phones' encrypted DNS in %s: %w", dir, err)
	}
	return ca, true, nil
}

// create makes a new CA and returns it with its file's body.
func create(host string, now time.Time) (*CA, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	var ranges []*net.IPNet
	for _, s := range permitted {
		p := netip.MustParsePrefix(s)
		ranges = append(ranges, &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())})
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	name := "nocontact"
	if host != "" {
		name = "nocontact on " + host
	}
	tmpl := &x509.Certificate{
		SerialNumber:                sn,
		Subject:                     pkix.Name{CommonName: name, Organization: []string{"nocontact"}},
		NotBefore:                   now.Add(-backdate),
		NotAfter:                    now.Add(caLife),
		IsCA:                        true,
		BasicConstraintsValid:       true,
		MaxPathLenZero:              true,
		KeyUsage:                    x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         []string{permittedDNS},
		PermittedIPRanges:           ranges,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("making the certificate authority: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	var body bytes.Buffer
	_ = pem.Encode(&body, &pem.Block{Type: "CERTIFICATE", Bytes: der})    // a bytes.Buffer does not fail
	_ = pem.Encode(&body, &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}) // a bytes.Buffer does not fail
	ca, err := parse(body.Bytes())
	return ca, body.Bytes(), err
}

// parse reads a CA file's body.
func parse(body []byte) (*CA, error) {
	ca := &CA{}
	for rest := body; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("the certificate authority's certificate: %w", err)
			}
			ca.cert, ca.pem = c, pem.EncodeToMemory(b)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, errors.New("the certificate authority's key does not parse")
			}
			ek, ok := k.(*ecdsa.PrivateKey)
			if !ok {
				return nil, errors.New("the certificate authority's key is not an ECDSA key")
			}
			ca.key = ek
		}
	}
	if ca.cert == nil || ca.key == nil || !ca.cert.IsCA {
		return nil, errors.New("the certificate authority's file lacks its certificate or its key")
	}
	if pub, ok := ca.cert.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&ca.key.PublicKey) {
		return nil, errors.New("the certificate authority's key does not match its certificate")
	}
	return ca, nil
}

// CertPEM returns the CA's certificate in PEM: public, for the phones.
func (ca *CA) CertPEM() []byte { return bytes.Clone(ca.pem) }

// Cert returns the CA's certificate.
func (ca *CA) Cert() *x509.Certificate { return ca.cert }

// Issue makes a server certificate for the addresses ips, valid from now
// for LeafLife, with a fresh key. Addresses the CA may not vouch for (see
// permitted) are an error.
func (ca *CA) Issue(ips []netip.Addr, now time.Time) (*tls.Certificate, error) {
	if len(ips) == 0 {
		return nil, errors.New("a server certificate needs at least one address")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	var addrs []net.IP
	for _, a := range ips {
		a = a.Unmap()
		if !ca.may(a) {
			return nil, fmt.Errorf("%s is not an address of a home network or of this computer, and the certificate authority may only vouch for those: "+
				"write this computer's address on your network in tls_listen and https_listen, like 192.168.1.20", a)
		}
		addrs = append(addrs, net.IP(a.AsSlice()))
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		// No common name: the addresses are in the subject alternative
		// names, where every client looks; GnuTLS (kdig, and so Knot and
		// others) checks a common name against the CA's name constraints
		// as if it were a host name, and refuses the certificate.
		Subject:               pkix.Name{Organization: []string{"nocontact"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(LeafLife),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IPAddresses:           addrs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("making a server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// may reports whether the CA may vouch for a.
func (ca *CA) may(a netip.Addr) bool {
	for _, s := range permitted {
		if netip.MustParsePrefix(s).Contains(a) {
			return true
		}
	}
	return false
}

// serial is a random 127-bit serial number.
func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}
