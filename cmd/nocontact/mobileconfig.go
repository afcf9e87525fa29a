package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// profileSpec is what an Apple configuration profile for the phone says.
type profileSpec struct {
	CAPEM []byte     // the certificate authority to trust (public)
	URL   string     // the DNS over HTTPS endpoint
	Addr  netip.Addr // its address
	WiFi  string     // the home Wi-Fi the DNS settings apply on
	Host  string     // this computer's name, for the names shown
}

// mobileconfig writes an Apple configuration profile (an XML property
// list) with two payloads, in the keys Apple's Device Management
// documentation gives:
//   - com.apple.security.root: the CA's certificate (DER), so the phone
//     can trust the endpoint's certificate;
//   - com.apple.dnsSettings.managed: DNSSettings with DNSProtocol HTTPS,
//     ServerURL and ServerAddresses, and OnDemandRules that apply it only
//     on the home Wi-Fi (a manually installed DNS profile otherwise
//     applies on every network, mobile data included, where this
//     computer cannot be reached).
//
// The identifiers and UUIDs come from the CA's certificate, so the same
// CA gives the same profile, and installing it again replaces it.
func mobileconfig(s profileSpec) ([]byte, error) {
	block, _ := pem.Decode(s.CAPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("the certificate authority's certificate does not parse")
	}
	id := func(what string) string {
		h := sha256.Sum256(append([]byte(what+"\x00"), block.Bytes...))
		h[6] = h[6]&0x0f | 0x40 // the form of a version 4 UUID
		h[8] = h[8]&0x3f | 0x80
		return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16]))
	}
	name := "nocontact"
	if s.Host != "" {
		name = "nocontact on " + s.Host
	}
	p := &plist{}
	p.dict(func() {
		p.key("PayloadContent")
		p.array(func() {
			p.dict(func() {
				p.str("PayloadCertificateFileName", "nocontact-ca.cer")
				p.key("PayloadContent")
				p.data(block.Bytes)
				p.str("PayloadDescription", "Lets this device trust the encrypted DNS of "+name+" on your home network.")
				p.str("PayloadDisplayName", name+" (certificate authority)")
				p.str("PayloadIdentifier", "nocontact.phone.ca")
				p.str("PayloadType", "com.apple.security.root")
				p.str("PayloadUUID", id("ca"))
				p.integer("PayloadVersion", 1)
			})
			p.dict(func() {
				p.key("DNSSettings")
				p.dict(func() {
					p.str("DNSProtocol", "HTTPS")
					p.key("ServerAddresses")
					p.array(func() { p.value("string", s.Addr.String()) })
					p.str("ServerURL", s.URL)
				})
				p.key("OnDemandRules")
				p.array(func() {
					p.dict(func() {
						p.str("Action", "Connect")
						p.str("InterfaceTypeMatch", "WiFi")
						p.key("SSIDMatch")
						p.array(func() { p.value("string", s.WiFi) })
					})
					p.dict(func() { p.str("Action", "Disconnect") })
				})
				p.str("PayloadDescription", "Sends this device's lookups on the Wi-Fi "+s.WiFi+" to "+name+", which keeps the platforms of your pact out of reach.")
				p.str("PayloadDisplayName", name+" (DNS)")
				p.str("PayloadIdentifier", "nocontact.phone.dns")
				p.str("PayloadType", "com.apple.dnsSettings.managed")
				p.str("PayloadUUID", id("dns"))
				p.integer("PayloadVersion", 1)
			})
		})
		p.str("PayloadDescription", "Your pact, on this device too, while it is on your home Wi-Fi "+s.WiFi+".")
		p.str("PayloadDisplayName", name)
		p.str("PayloadIdentifier", "nocontact.phone")
		p.str("PayloadOrganization", "nocontact")
		p.key("PayloadRemovalDisallowed")
		p.line("<false/>")
		p.str("PayloadType", "Configuration")
		p.str("PayloadUUID", id("profile"))
		p.integer("PayloadVersion", 1)
	})
	var out bytes.Buffer
	out.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
`)
	out.Write(p.b.Bytes())
	out.WriteString("</plist>\n")
	return out.Bytes(), nil
}

// plist writes a property list in XML, indented with tabs as Apple's
// tools write it.
type plist struct {
	b     bytes.Buffer
	depth int
}

func (p *plist) line(s string) {
	p.b.WriteString(strings.Repeat("\t", p.depth))
	p.b.WriteString(s)
	p.b.WriteByte('\n')
}

func (p *plist) dict(f func()) { p.nest("dict", f) }

func (p *plist) array(f func()) { p.nest("array", f) }

func (p *plist) nest(tag string, f func()) {
	p.line("<" + tag + ">")
	p.depth++
	f()
	p.depth--
	p.line("</" + tag + ">")
}

func (p *plist) value(tag, text string) {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(text)) // a strings.Builder does not fail
	p.line("<" + tag + ">" + b.String() + "</" + tag + ">")
}

func (p *plist) key(k string) { p.value("key", k) }

func (p *plist) str(k, v string) {
	p.key(k)
	p.value("string", v)
}

func (p *plist) integer(k string, n int) {
	p.key(k)
	p.line(fmt.Sprintf("<integer>%d</integer>", n))
}

// data writes base64 in lines of 52, as Apple's tools do.
func (p *plist) data(b []byte) {
	s := base64.StdEncoding.EncodeToString(b)
	p.line("<data>")
	for len(s) > 0 {
		n := min(len(s), 52)
		p.line(s[:n])
		s = s[n:]
	}
	p.line("</data>")
}
