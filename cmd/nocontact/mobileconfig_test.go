package main

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nocontact/nocontact/internal/golden"
)

// parsePlist reads an XML property list into Go values (map[string]any,
// []any, string, int64, bool, []byte), refusing anything the format does
// not allow, the way a strict reader on the phone would.
func parsePlist(b []byte) (any, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("no <plist>: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "plist" {
				return nil, fmt.Errorf("the root is <%s>, want <plist>", se.Name.Local)
			}
			v, err := plistValue(d, nil)
			if err != nil {
				return nil, err
			}
			if _, err := plistValue(d, nil); !errors.Is(err, errEnd) {
				return nil, errors.New("more than one value in <plist>")
			}
			return v, nil
		}
	}
}

var errEnd = errors.New("end of container")

// plistValue reads the next value; start is its element when already read.
func plistValue(d *xml.Decoder, start *xml.StartElement) (any, error) {
	for start == nil {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			start = &t
		case xml.EndElement:
			return nil, errEnd
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("text %q outside a value", t)
			}
		}
	}
	text := func() (string, error) {
		var s string
		err := d.DecodeElement(&s, start)
		return s, err
	}
	switch start.Name.Local {
	case "dict":
		m := map[string]any{}
		for {
			k, err := plistValue(d, nil)
			if errors.Is(err, errEnd) {
				return m, nil
			}
			if err != nil {
				return nil, err
			}
			key, ok := k.(plistKey)
			if !ok {
				return nil, fmt.Errorf("a dict entry without a <key>: %v", k)
			}
			v, err := plistValue(d, nil)
			if err != nil {
				return nil, fmt.Errorf("key %s: %w", key, err)
			}
			if _, ok := v.(plistKey); ok {
				return nil, fmt.Errorf("key %s has no value", key)
			}
			if _, dup := m[string(key)]; dup {
				return nil, fmt.Errorf("key %s twice", key)
			}
			m[string(key)] = v
		}
	case "array":
		var a []any
		for {
			v, err := plistValue(d, nil)
			if errors.Is(err, errEnd) {
				return a, nil
			}
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
	case "key":
		s, err := text()
		return plistKey(s), err
	case "string":
		return text()
	case "integer":
		s, err := text()
		if err != nil {
			return nil, err
		}
		return strconv.ParseInt(s, 10, 64)
	case "data":
		s, err := text()
		if err != nil {
			return nil, err
		}
		return base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
	case "true", "false":
		if err := d.Skip(); err != nil {
			return nil, err
		}
		return start.Name.Local == "true", nil
	}
	return nil, fmt.Errorf("<%s> is not a property list element", start.Name.Local)
}

type plistKey string

// TestMobileconfig: the profile parses as a property list and carries the
// payload types and keys Apple documents for a configuration profile, a
// root certificate and encrypted DNS settings; golden file
// testdata/phone.mobileconfig (`go test ./cmd/nocontact -run Mobileconfig -update`).
func TestMobileconfig(t *testing.T) {
	caPEM, err := os.ReadFile(filepath.Join("testdata", "phone-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := mobileconfig(profileSpec{CAPEM: caPEM, URL: "https://192.168.1.20/dns-query",
		Addr: netip.MustParseAddr("192.168.1.20"), WiFi: "Home & <Garden>", Host: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "phone.mobileconfig", body)

	v, err := parsePlist(body)
	if err != nil {
		t.Fatalf("the profile is not a property list: %v", err)
	}
	top := v.(map[string]any)
	want1 := map[string]any{"PayloadType": "Configuration", "PayloadVersion": int64(1), "PayloadIdentifier": "nocontact.phone",
		"PayloadDisplayName": "nocontact on laptop", "PayloadRemovalDisallowed": false}
	for k, w := range want1 {
		if top[k] != w {
			t.Errorf("profile %s = %v, want %v", k, top[k], w)
		}
	}
	checkUUID(t, "profile", top["PayloadUUID"])
	payloads, _ := top["PayloadContent"].([]any)
	byType := map[string]map[string]any{}
	for _, p := range payloads {
		m := p.(map[string]any)
		for _, k := range []string{"PayloadType", "PayloadIdentifier", "PayloadUUID", "PayloadVersion", "PayloadDisplayName"} {
			if _, ok := m[k]; !ok {
				t.Errorf("a payload lacks %s: %v", k, m)
			}
		}
		checkUUID(t, "payload", m["PayloadUUID"])
		byType[m["PayloadType"].(string)] = m
	}
	root := byType["com.apple.security.root"]
	block, _ := pem.Decode(caPEM)
	if der, _ := root["PayloadContent"].([]byte); !bytes.Equal(der, block.Bytes) {
		t.Error("the root payload does not carry the CA's certificate (DER)")
	}
	dnsp := byType["com.apple.dnsSettings.managed"]
	settings, _ := dnsp["DNSSettings"].(map[string]any)
	if settings["DNSProtocol"] != "HTTPS" || settings["ServerURL"] != "https://192.168.1.20/dns-query" {
		t.Errorf("DNSSettings %v", settings)
	}
	if a, _ := settings["ServerAddresses"].([]any); len(a) != 1 || a[0] != "192.168.1.20" {
		t.Errorf("ServerAddresses %v", settings["ServerAddresses"])
	}
	rules, _ := dnsp["OnDemandRules"].([]any)
	if len(rules) != 2 {
		t.Fatalf("OnDemandRules %v, want connect on the home Wi-Fi, disconnect elsewhere", rules)
	}
	first, last := rules[0].(map[string]any), rules[1].(map[string]any)
	if ssids, _ := first["SSIDMatch"].([]any); first["Action"] != "Connect" || first["InterfaceTypeMatch"] != "WiFi" || len(ssids) != 1 || ssids[0] != "Home & <Garden>" {
		t.Errorf("first rule %v", first)
	}
	if last["Action"] != "Disconnect" || len(last) != 1 {
		t.Errorf("last rule %v", last)
	}
	// Keys Apple documents, and no other: a typo would be ignored by the
	// phone without a word.
	known := map[string]bool{"PayloadContent": true, "PayloadDescription": true, "PayloadDisplayName": true, "PayloadIdentifier": true,
		"PayloadOrganization": true, "PayloadRemovalDisallowed": true, "PayloadType": true, "PayloadUUID": true, "PayloadVersion": true,
		"PayloadCertificateFileName": true, "DNSSettings": true, "OnDemandRules": true}
	for _, m := range []map[string]any{top, root, dnsp} {
		for k := range m {
			if !known[k] {
				t.Errorf("unknown key %s", k)
			}
		}
	}
	for k := range settings {
		if k != "DNSProtocol" && k != "ServerURL" && k != "ServerAddresses" {
			t.Errorf("unknown DNSSettings key %s", k)
		}
	}
	if bytes.Contains(body, []byte("PRIVATE")) {
		t.Error("the profile carries a private key")
	}
}

func checkUUID(t *testing.T, what string, v any) {
	t.Helper()
	s, _ := v.(string)
	if len(s) != 36 || strings.Count(s, "-") != 4 {
		t.Errorf("%s PayloadUUID %q is not a UUID", what, s)
	}
}
