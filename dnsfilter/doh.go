package dnsfilter

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/miekg/dns"
)

// dohType is the media type of a DNS message over HTTPS (RFC 8484).
const dohType = "application/dns-message"

// serveDoH answers one DNS over HTTPS request (RFC 8484: GET with the
// query in the dns parameter, or POST with it as the body) through the
// same answer path as every other query.
func (s *Server) serveDoH(w http.ResponseWriter, r *http.Request) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		http.Error(w, "unknown client", http.StatusBadRequest)
		return
	}
	src := ap.Addr().Unmap()
	if !s.admit(src) {
		http.Error(w, "too many queries", http.StatusTooManyRequests)
		return
	}
	var wire []byte
	switch r.Method {
	case http.MethodGet:
		wire, err = base64.RawURLEncoding.DecodeString(r.URL.Query().Get("dns"))
		if err != nil || len(wire) == 0 {
			http.Error(w, "want the query in the dns parameter, base64url without padding", http.StatusBadRequest)
			return
		}
	case http.MethodPost:
		if r.Header.Get("Content-Type") != dohType {
			http.Error(w, "want Content-Type: "+dohType, http.StatusUnsupportedMediaType)
			return
		}
		wire, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxDoHBody))
		if err != nil {
			http.Error(w, "the query is too large", http.StatusRequestEntityTooLarge)
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
		return
	}
	q := new(dns.Msg)
	if err := q.Unpack(wire); err != nil {
		http.Error(w, "the body is not a DNS query", http.StatusBadRequest)
		return
	}
	resp := s.Answer(r.Context(), src, q)
	if resp == nil {
		http.Error(w, "a DNS response is no query", http.StatusBadRequest)
		return
	}
	resp.Compress = true
	out, err := resp.Pack()
	if err != nil {
		s.log.Warn("an answer could not be packed", "err", err)
		http.Error(w, "the answer could not be written", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", dohType)
	w.Header().Set("Cache-Control", "max-age="+strconv.FormatUint(uint64(minTTL(resp)), 10))
	_, _ = w.Write(out) // the client went away: nobody to tell
}

// minTTL is the smallest TTL of an answer's records (not its OPT), which
// bounds how long an HTTP cache may keep it (RFC 8484, section 5.1); 0
// for an answer without records.
func minTTL(m *dns.Msg) uint32 {
	var ttl uint32
	first := true
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			if h := rr.Header(); h.Rrtype != dns.TypeOPT && (first || h.Ttl < ttl) {
				ttl, first = h.Ttl, false
			}
		}
	}
	return ttl
}
