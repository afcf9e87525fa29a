package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Peer is who is on the other end of a control connection.
type Peer struct {
	UID   int  // -1 where the OS does not say (Windows)
	Admin bool // root, Administrator, or the daemon's own user
}

type peerKey struct{}

// ErrNotAllowed is the answer to a change from someone who may only read.
var ErrNotAllowed = errors.New("only an administrator can change the pact")

// maxBody bounds a request body; every request is a few bytes of JSON.
const maxBody = 64 << 10

// Server answers the control API on listeners it is given.
type Server struct {
	backend Backend
	log     *slog.Logger
	http    *http.Server
	// peerOf reads the credentials of a connection; the OS file sets it,
	// tests may replace it.
	peerOf func(net.Conn) (Peer, error)
}

// NewServer returns a server for backend. A nil logger means quiet.
func NewServer(backend Backend, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{backend: backend, log: log, peerOf: peerCredentials}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathStatus, s.status)
	mux.HandleFunc("POST "+PathCheck, s.check)
	mux.HandleFunc("POST "+PathUnlock, s.admin(s.unlock))
	mux.HandleFunc("POST "+PathCancel, s.admin(s.cancel))
	mux.HandleFunc("POST "+PathReload, s.admin(s.reload))
	mux.HandleFunc("POST "+PathUninstall, s.admin(s.uninstall))
	mux.HandleFunc("GET "+PathBlocklist, s.blocklist)
	mux.HandleFunc("GET "+PathLAN, s.lan)
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			p, err := s.peerOf(c)
			if err != nil {
				log.Warn("control socket: cannot tell who is connecting; treating them as a reader", "err", err)
				p = Peer{UID: -1}
			}
			return context.WithValue(ctx, peerKey{}, p)
		},
	}
	return s
}

// Serve answers on ln until Shutdown. It returns nil after Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.http.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops the server, letting requests under way finish up to ctx.
func (s *Server) Shutdown(ctx context.Context) error { return s.http.Shutdown(ctx) }

func peerFrom(ctx context.Context) Peer {
	p, _ := ctx.Value(peerKey{}).(Peer)
	return p
}

// admin lets only administrators through to h.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if p := peerFrom(r.Context()); !p.Admin {
			s.log.Info("control socket: refused a change from a non-administrator", "path", r.URL.Path, "uid", p.UID)
			writeError(w, http.StatusForbidden, ErrNotAllowed)
			return
		}
		h(w, r)
	}
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st, err := s.backend.Status(r.Context())
	reply(w, st, err)
}

func (s *Server) check(w http.ResponseWriter, r *http.Request) {
	var req CheckRequest
	if !decode(w, r, &req) {
		return
	}
	if len(req.Names) == 0 || len(req.Names) > 1000 {
		writeError(w, http.StatusBadRequest, errors.New("name from 1 to 1000 domains to check"))
		return
	}
	res, err := s.backend.Check(r.Context(), req.Names)
	reply(w, res, err)
}

func (s *Server) unlock(w http.ResponseWriter, r *http.Request) {
	res, err := s.backend.Unlock(r.Context())
	reply(w, res, err)
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	var req CancelRequest
	if !decode(w, r, &req) {
		return
	}
	res, err := s.backend.Cancel(r.Context(), req.ID)
	reply(w, res, err)
}

func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	res, err := s.backend.Reload(r.Context())
	reply(w, res, err)
}

func (s *Server) uninstall(w http.ResponseWriter, r *http.Request) {
	if !decode(w, r, &struct{}{}) {
		return
	}
	res, err := s.backend.Uninstall(r.Context())
	reply(w, res, err)
}

// decode reads a JSON body strictly; on failure it answers 400 and
// returns false. An empty body decodes as the zero value.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("request too large: %w", err))
		return false
	}
	if len(body) == 0 {
		return true
	}
	if err := DecodeStrict(body, v); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return false
	}
	return true
}

// DecodeStrict decodes one JSON value, refusing unknown fields and
// trailing data.
func DecodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad request: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("bad request: trailing data after the JSON value")
	}
	return nil
}

type errorBody struct {
	Error string `json:"error"`
}

func reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v) // the client went away: nobody to tell
}

func writeError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(errorBody{Error: err.Error()}) // the client went away: nobody to tell
}
