package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// dot is a DNS over TLS server (RFC 7858). Connections are kept open and
// reused, one query at a time each, so a busy machine pays the handshake
// once, not per query.
type dot struct {
	addr    string
	config  *tls.Config
	try     time.Duration
	control func(network, address string, c syscall.RawConn) error // see Options.Control

	mu   sync.Mutex
	idle []*dotConn // most recently used last
}

type dotConn struct {
	co   *dns.Conn
	used time.Time
}

// dotIdle bounds how long an unused connection is kept, and dotMaxIdle how
// many: servers close idle ones after some seconds anyway (RFC 7766).
const (
	dotIdle    = 20 * time.Second
	dotMaxIdle = 8
)

func newDoT(s Server, roots *x509.CertPool, try time.Duration, control func(network, address string, c syscall.RawConn) error) *dot {
	name := s.Name
	if name == "" {
		name = s.Addr.Addr().String()
	}
	return &dot{
		addr: s.Addr.String(),
		config: &tls.Config{
			ServerName:         name,
			RootCAs:            roots,
			MinVersion:         tls.VersionTLS12,
			ClientSessionCache: tls.NewLRUClientSessionCache(8),
		},
		try:     try,
		control: control,
	}
}

func (d *dot) exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, d.try)
	defer cancel()
	for {
		c, reused := d.get()
		if c == nil {
			var err error
			if c, err = d.dial(ctx); err != nil {
				return nil, err
			}
		}
		r, err := roundTrip(ctx, c.co, q)
		if err != nil {
			c.co.Close()
			if reused && ctx.Err() == nil {
				continue // the server closed it while idle: a fresh one
			}
			return nil, err
		}
		d.put(c)
		return r, nil
	}
}

func (d *dot) dial(ctx context.Context) (*dotConn, error) {
	td := &tls.Dialer{NetDialer: &net.Dialer{Control: d.control}, Config: d.config}
	c, err := td.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, err
	}
	return &dotConn{co: &dns.Conn{Conn: c}}, nil
}

// get takes the most recently used idle connection, dropping stale ones.
func (d *dot) get() (*dotConn, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(d.idle) > 0 {
		c := d.idle[len(d.idle)-1]
		d.idle = d.idle[:len(d.idle)-1]
		if time.Since(c.used) < dotIdle {
			return c, true
		}
		c.co.Close()
	}
	return nil, false
}

func (d *dot) put(c *dotConn) {
	c.used = time.Now()
	c.co.SetDeadline(time.Time{})
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.idle) >= dotMaxIdle {
		c.co.Close()
		return
	}
	d.idle = append(d.idle, c)
}

func (d *dot) closeIdle() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.idle {
		c.co.Close()
	}
	d.idle = nil
}
