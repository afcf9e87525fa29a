package control

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nocontact/nocontact/dnsfilter/export"
)

// fakeBackend records the calls it gets.
type fakeBackend struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeBackend) note(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

func (f *fakeBackend) Status(context.Context) (Status, error) {
	f.note("status")
	return Status{Blocking: true, Blocked: []string{"instagram"}}, nil
}

func (f *fakeBackend) Check(_ context.Context, names []string) ([]CheckResult, error) {
	f.note("check " + strings.Join(names, ","))
	return []CheckResult{{Name: names[0], Blocked: true, Why: "by instagram: instagram.com"}}, nil
}

func (f *fakeBackend) Unlock(context.Context) (UnlockResult, error) {
	f.note("unlock")
	return UnlockResult{Pending: &Pending{ID: "c1", Change: "end the pact", Effective: time.Unix(1e9, 0).UTC()}}, nil
}

func (f *fakeBackend) Cancel(_ context.Context, id string) (CancelResult, error) {
	f.note("cancel " + id)
	return CancelResult{Cancelled: []Pending{{ID: id}}}, nil
}

func (f *fakeBackend) Reload(context.Context) (ReloadResult, error) {
	f.note("reload")
	return ReloadResult{}, nil
}

func (f *fakeBackend) Uninstall(context.Context) (UninstallResult, error) {
	f.note("uninstall")
	return UninstallResult{Pending: &Pending{ID: "c2", Change: "remove nocontact from this computer", Effective: time.Unix(1e9, 0).UTC()}}, nil
}

func (f *fakeBackend) Blocklist(context.Context) (export.List, error) {
	f.note("blocklist")
	return export.List{Blocked: []export.Domain{{Domain: "instagram.com", Platform: "instagram"}}}, nil
}

func (f *fakeBackend) LAN(context.Context) (LAN, error) {
	f.note("lan")
	return LAN{Clients: []string{"192.168.1.0/24"}, CA: "-----BEGIN CERTIFICATE-----"}, nil
}

func (f *fakeBackend) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// socketDir returns a short directory (unix socket paths are limited to
// about 100 bytes) that every user can enter.
func socketDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "nc")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func serve(t *testing.T, b Backend, peer func(net.Conn) (Peer, error)) (string, *Server) {
	t.Helper()
	path := filepath.Join(socketDir(t), "c.sock")
	lns, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(b, nil)
	if peer != nil {
		s.peerOf = peer
	}
	for _, ln := range lns {
		go s.Serve(ln)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return path, s
}

func TestAdminCanDoEverything(t *testing.T) {
	b := &fakeBackend{}
	path, _ := serve(t, b, nil) // real peer credentials: we are the daemon's own user
	c := NewClient(path)
	ctx := context.Background()
	st, err := c.Status(ctx)
	if err != nil || !st.Blocking || st.Blocked[0] != "instagram" {
		t.Fatalf("Status: %+v, %v", st, err)
	}
	if res, err := c.Check(ctx, []string{"instagram.com"}); err != nil || !res[0].Blocked {
		t.Errorf("Check: %+v, %v", res, err)
	}
	if res, err := c.Unlock(ctx); err != nil || res.Pending == nil || res.Pending.ID != "c1" {
		t.Errorf("Unlock: %+v, %v", res, err)
	}
	if _, err := c.Cancel(ctx, "c1"); err != nil {
		t.Errorf("Cancel: %v", err)
	}
	if _, err := c.Reload(ctx); err != nil {
		t.Errorf("Reload: %v", err)
	}
	if res, err := c.Uninstall(ctx); err != nil || res.Allowed || res.Pending == nil || res.Pending.ID != "c2" {
		t.Errorf("Uninstall: %+v, %v", res, err)
	}
	want := "status,check instagram.com,unlock,cancel c1,reload,uninstall"
	if got := strings.Join(b.Calls(), ","); got != want {
		t.Errorf("backend calls %q, want %q", got, want)
	}
}

func TestReadersCannotChange(t *testing.T) {
	b := &fakeBackend{}
	path, _ := serve(t, b, func(net.Conn) (Peer, error) { return Peer{UID: 1000}, nil })
	c := NewClient(path)
	ctx := context.Background()
	if _, err := c.Status(ctx); err != nil {
		t.Errorf("a reader's Status: %v", err)
	}
	if _, err := c.Check(ctx, []string{"x.com"}); err != nil {
		t.Errorf("a reader's Check: %v", err)
	}
	// What is blocked, and the LAN endpoints with their CA's public
	// certificate, are for anyone on the computer to read.
	if l, err := c.Blocklist(ctx); err != nil || len(l.Blocked) != 1 || l.Blocked[0].Domain != "instagram.com" {
		t.Errorf("a reader's Blocklist: %+v, %v", l, err)
	}
	if l, err := c.LAN(ctx); err != nil || l.Clients[0] != "192.168.1.0/24" || l.CA == "" {
		t.Errorf("a reader's LAN: %+v, %v", l, err)
	}
	for name, call := range map[string]func() error{
		"unlock":    func() error { _, err := c.Unlock(ctx); return err },
		"cancel":    func() error { _, err := c.Cancel(ctx, ""); return err },
		"reload":    func() error { _, err := c.Reload(ctx); return err },
		"uninstall": func() error { _, err := c.Uninstall(ctx); return err },
	} {
		if err := call(); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("a reader's %s: err %v, want ErrNotAllowed", name, err)
		}
	}
	if got := b.Calls(); len(got) != 4 {
		t.Errorf("backend saw %v, want only status, check, blocklist and lan", got)
	}
}

func TestBadRequests(t *testing.T) {
	path, _ := serve(t, &fakeBackend{}, nil)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) {
		return net.Dial("unix", path)
	}}}
	for _, tt := range []struct {
		method, path, body string
		code               int
	}{
		{"POST", PathCheck, `{"names":["a.com"],"extra":1}`, http.StatusBadRequest},
		{"POST", PathCheck, `{"names":[]}`, http.StatusBadRequest},
		{"POST", PathCheck, `{"names":["a.com"]} {}`, http.StatusBadRequest},
		{"POST", PathCancel, `{"id":` + strings.Repeat(" ", maxBody) + `"x"}`, http.StatusRequestEntityTooLarge},
		{"POST", PathStatus, ``, http.StatusMethodNotAllowed},
		{"GET", PathUnlock, ``, http.StatusMethodNotAllowed},
		{"GET", PathUninstall, ``, http.StatusMethodNotAllowed},
		{"POST", PathUninstall, `{"purge":true}`, http.StatusBadRequest},
		{"GET", "/v1/nothing", ``, http.StatusNotFound},
	} {
		req, _ := http.NewRequest(tt.method, "http://nocontact"+tt.path, strings.NewReader(tt.body))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("%s %s %.40q: %d, want %d", tt.method, tt.path, tt.body, resp.StatusCode, tt.code)
		}
	}
}

func TestNotRunning(t *testing.T) {
	c := NewClient(filepath.Join(socketDir(t), "none.sock"))
	_, err := c.Status(context.Background())
	if !errors.Is(err, ErrNotRunning) {
		t.Errorf("err %v, want ErrNotRunning", err)
	}
}

func TestListenTakesOverAStaleSocketOnly(t *testing.T) {
	dir := socketDir(t)
	path := filepath.Join(dir, "c.sock")
	// A socket left behind by a daemon killed with -9.
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	lns, err := Listen(path)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	// While it serves, a second daemon is refused.
	go http.Serve(lns[0], http.NotFoundHandler())
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second Listen: %v, want already running", err)
	}
	lns[0].Close()
	fi, err := os.Stat(path)
	if err == nil {
		t.Errorf("socket file still there after close: %v", fi.Mode())
	}
	// A regular file at the path is not ours to remove.
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("regular file: %v", err)
	}
}

// FuzzDecodeStrict feeds request bodies to the decoder: an error or a
// value, never a panic; a body it accepts holds exactly one JSON value.
func FuzzDecodeStrict(f *testing.F) {
	f.Add([]byte(`{"names":["instagram.com"]}`))
	f.Add([]byte(`{"id":"c1"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c CheckRequest
		if err := DecodeStrict(b, &c); err == nil && !json.Valid(b) {
			t.Fatalf("accepted %q, which is not one JSON value", b)
		}
		var r CancelRequest
		_ = DecodeStrict(b, &r)
	})
}
