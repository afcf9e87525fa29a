package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// ErrNotRunning means no daemon answers on the control socket.
var ErrNotRunning = errors.New("nocontact is not running")

// Client talks to a daemon's control socket.
type Client struct {
	read, admin *http.Client
}

// NewClient returns a client for the control socket (or pipe) at path.
func NewClient(path string) *Client {
	mk := func(admin bool) *http.Client {
		return &http.Client{
			Timeout: 30 * time.Second,
			Transport: &http.Transport{
				DialContext:  func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(path, admin) },
				MaxIdleConns: 1,
			},
		}
	}
	return &Client{read: mk(false), admin: mk(true)}
}

// Status asks for the daemon's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	return st, c.do(ctx, c.read, http.MethodGet, PathStatus, nil, &st)
}

// Check asks what the live policy does with names.
func (c *Client) Check(ctx context.Context, names []string) ([]CheckResult, error) {
	var res []CheckResult
	return res, c.do(ctx, c.read, http.MethodPost, PathCheck, CheckRequest{Names: names}, &res)
}

// Unlock asks to end the pact (after the cooldown).
func (c *Client) Unlock(ctx context.Context) (UnlockResult, error) {
	var res UnlockResult
	return res, c.do(ctx, c.admin, http.MethodPost, PathUnlock, struct{}{}, &res)
}

// Cancel cancels one pending change by id, or all with an empty id.
func (c *Client) Cancel(ctx context.Context, id string) (CancelResult, error) {
	var res CancelResult
	return res, c.do(ctx, c.admin, http.MethodPost, PathCancel, CancelRequest{ID: id}, &res)
}

// Reload asks the daemon to re-read its config.
func (c *Client) Reload(ctx context.Context) (ReloadResult, error) {
	var res ReloadResult
	return res, c.do(ctx, c.admin, http.MethodPost, PathReload, struct{}{}, &res)
}

// Uninstall asks whether nocontact may be removed now; while the pact
// binds, asking queues the request behind the cooldown.
func (c *Client) Uninstall(ctx context.Context) (UninstallResult, error) {
	var res UninstallResult
	return res, c.do(ctx, c.admin, http.MethodPost, PathUninstall, struct{}{}, &res)
}

func (c *Client) do(ctx context.Context, hc *http.Client, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://nocontact"+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && (errors.Is(err, ErrNotRunning) || errors.Is(err, ErrNotAllowed)) {
			return ue.Unwrap()
		}
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var eb errorBody
		if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
			eb.Error = resp.Status
		}
		if resp.StatusCode == http.StatusForbidden {
			return ErrNotAllowed
		}
		return errors.New(eb.Error)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("the daemon's answer does not parse: %w", err)
	}
	return nil
}
