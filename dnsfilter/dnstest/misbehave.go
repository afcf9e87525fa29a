package dnstest

import (
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Counter counts the questions that reach the handler it wraps.
type Counter struct {
	H dns.Handler
	n atomic.Int64
}

// ServeDNS implements dns.Handler.
func (c *Counter) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	c.n.Add(1)
	if c.H != nil {
		c.H.ServeDNS(w, q)
	}
}

// Count returns how many questions arrived.
func (c *Counter) Count() int { return int(c.n.Load()) }

// Silent never answers.
func Silent() dns.Handler { return dns.HandlerFunc(func(dns.ResponseWriter, *dns.Msg) {}) }

// Slow answers with h after waiting d.
func Slow(d time.Duration, h dns.Handler) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		time.Sleep(d)
		h.ServeDNS(w, q)
	})
}

// Rcode answers every question with rcode and nothing else.
func Rcode(rcode int) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(q, rcode)
		w.WriteMsg(m)
	})
}

// Truncating answers over UDP with an empty, truncated answer, and over
// TCP with h.
func Truncating(h dns.Handler) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		if w.LocalAddr().Network() == "tcp" {
			h.ServeDNS(w, q)
			return
		}
		m := new(dns.Msg)
		m.SetReply(q)
		m.Truncated = true
		w.WriteMsg(m)
	})
}

// WrongID answers with h's answer under another ID.
func WrongID(h dns.Handler) dns.Handler {
	return rewrite(h, func(m *dns.Msg) { m.Id++ })
}

// WrongQuestion answers with h's answer for another name.
func WrongQuestion(h dns.Handler) dns.Handler {
	return rewrite(h, func(m *dns.Msg) {
		if len(m.Question) > 0 {
			m.Question[0].Name = "other.invalid."
		}
	})
}

// StrayFirst sends a stray answer (another ID) before h's real one, as an
// off-path forger or a late answer to an earlier query would.
func StrayFirst(h dns.Handler) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Id++
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: []byte{198, 51, 100, 66}}}
		w.WriteMsg(m)
		h.ServeDNS(w, q)
	})
}

func rewrite(h dns.Handler, f func(*dns.Msg)) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		h.ServeDNS(&rewriter{ResponseWriter: w, f: f}, q)
	})
}

type rewriter struct {
	dns.ResponseWriter
	f func(*dns.Msg)
}

func (r *rewriter) WriteMsg(m *dns.Msg) error {
	r.f(m)
	return r.ResponseWriter.WriteMsg(m)
}

// Garbage answers every question with bytes that are not a DNS message.
func Garbage() dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		w.Write([]byte("\x12\x34 this is not a DNS message \xff\xfe"))
	})
}
