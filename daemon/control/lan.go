package control

import (
	"context"
	"net/http"

	"github.com/nocontact/nocontact/dnsfilter/export"
)

// Paths of the read-only views for `nocontact export` and `nocontact
// phone`.
const (
	PathBlocklist = "/v1/blocklist"
	PathLAN       = "/v1/lan"
)

// LAN is how the running filter serves the other devices of the network
// (`nocontact phone`).
type LAN struct {
	// Clients are the networks whose devices are answered ([dns]
	// lan_clients, as CIDRs).
	Clients []string `json:"clients"`
	// Plain, TLS and HTTPS are the endpoints for them: plain DNS, DNS
	// over TLS, and DNS over HTTPS.
	Plain []Endpoint `json:"plain"`
	TLS   []Endpoint `json:"tls"`
	HTTPS []Endpoint `json:"https"`
	// CA is the certificate (PEM) of the certificate authority the
	// encrypted endpoints' certificates come from, for the phones to
	// trust; "" when there is none (no encrypted endpoint asked for, or
	// CAProblem).
	CA        string `json:"ca"`
	CAProblem string `json:"ca_problem,omitempty"`
}

// Endpoint is one address the filter was asked to serve on.
type Endpoint struct {
	Addr      string `json:"addr"`          // as asked
	Listening bool   `json:"listening"`     // it serves now
	Bound     string `json:"bound"`         // where it serves (the port filled in)
	URL       string `json:"url,omitempty"` // DNS over HTTPS: the address phones use
	// Problem says why it does not serve (yet): an address this computer
	// does not have, a port another program holds.
	Problem string `json:"problem,omitempty"`
}

// LANBackend is what the daemon offers for the devices of the network.
type LANBackend interface {
	Blocklist(ctx context.Context) (export.List, error)
	LAN(ctx context.Context) (LAN, error)
}

func (s *Server) blocklist(w http.ResponseWriter, r *http.Request) {
	l, err := s.backend.Blocklist(r.Context())
	reply(w, l, err)
}

func (s *Server) lan(w http.ResponseWriter, r *http.Request) {
	l, err := s.backend.LAN(r.Context())
	reply(w, l, err)
}

// Blocklist asks what the running filter blocks now.
func (c *Client) Blocklist(ctx context.Context) (export.List, error) {
	var l export.List
	return l, c.do(ctx, c.read, http.MethodGet, PathBlocklist, nil, &l)
}

// LAN asks how the running filter serves the other devices of the
// network.
func (c *Client) LAN(ctx context.Context) (LAN, error) {
	var l LAN
	return l, c.do(ctx, c.read, http.MethodGet, PathLAN, nil, &l)
}
