package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// plain is a DNS server over UDP, with TCP when an answer is truncated.
type plain struct {
	addr    string
	try     time.Duration
	control func(network, address string, c syscall.RawConn) error // see Options.Control
}

func (p *plain) exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	r, err := p.over(ctx, "udp", q)
	if err == nil && r.Truncated {
		// The TCP retry is a try of its own, within the caller's total.
		r, err = p.over(ctx, "tcp", q)
	}
	return r, err
}

func (p *plain) closeIdle() {}

func (p *plain) over(ctx context.Context, network string, q *dns.Msg) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, p.try)
	defer cancel()
	d := net.Dialer{Control: p.control}
	c, err := d.DialContext(ctx, network, p.addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	co := &dns.Conn{Conn: c, UDPSize: 4096}
	return roundTrip(ctx, co, q)
}

// roundTrip writes q on co and reads until the answer to q arrives or the
// deadline in ctx passes. Answers with another ID or question are dropped
// and the wait goes on, as a stub resolver does: a stray or forged packet
// must not end the try.
func roundTrip(ctx context.Context, co *dns.Conn, q *dns.Msg) (*dns.Msg, error) {
	if d, ok := ctx.Deadline(); ok {
		co.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { co.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := co.WriteMsg(q); err != nil {
		return nil, err
	}
	_, udp := co.Conn.(net.PacketConn)
	for {
		var h dns.Header
		p, err := co.ReadMsgHeader(&h)
		if err != nil {
			if udp && errors.Is(err, dns.ErrShortRead) {
				continue
			}
			return nil, err
		}
		if h.Id != q.Id {
			continue
		}
		r := new(dns.Msg)
		if err := r.Unpack(p); err != nil {
			if udp {
				continue // garbage with our ID: wait for the real answer
			}
			return nil, fmt.Errorf("unreadable answer: %w", err)
		}
		if !r.Response || !sameQuestion(q, r) {
			continue
		}
		return r, nil
	}
}
