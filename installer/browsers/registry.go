package browsers

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/nocontact/nocontact/installer/command"
)

// regValue is one registry value a browser reads as a machine policy.
type regValue struct {
	browser string
	key     string
	name    string
	typ     string // REG_SZ, REG_DWORD
	data    string // as reg.exe writes it
}

// policyRoot is the root of every browser's policy key; it always exists
// on Windows, so it is never created nor removed.
const policyRoot = `HKLM\SOFTWARE\Policies`

// windowsValues are the policies on Windows, written with reg.exe (its
// output does not depend on the system's language). Every browser's key
// is written whether it is installed or not: a policy of a browser that
// is not there does nothing, and one installed later finds it.
var windowsValues = []regValue{
	{"Firefox", policyRoot + `\Mozilla\Firefox\DNSOverHTTPS`, "Enabled", "REG_DWORD", "0x0"},
	{"Firefox", policyRoot + `\Mozilla\Firefox\DNSOverHTTPS`, "Locked", "REG_DWORD", "0x1"},
	{"Google Chrome", policyRoot + `\Google\Chrome`, "DnsOverHttpsMode", "REG_SZ", "off"},
	{"Chromium", policyRoot + `\Chromium`, "DnsOverHttpsMode", "REG_SZ", "off"},
	{"Microsoft Edge", policyRoot + `\Microsoft\Edge`, "DnsOverHttpsMode", "REG_SZ", "off"},
	{"Brave", policyRoot + `\BraveSoftware\Brave`, "DnsOverHttpsMode", "REG_SZ", "off"},
}

func (env Env) reg(ctx context.Context, args ...string) (string, error) {
	if env.Run == nil {
		return "", errors.New("browsers: no command runner for reg.exe")
	}
	out, _, err := env.Run.Run(ctx, "reg.exe", args...)
	return string(out), err
}

// notFound reports whether a reg.exe failure means the key or value is
// not there (reg.exe exits 1 for that), rather than that it could not be
// started.
func notFound(err error) bool {
	var ce *command.Error
	var notRun *exec.Error
	return errors.As(err, &ce) && !errors.As(ce.Err, &notRun)
}

// queryValue returns the type and data of a value, found false when the
// key or the value does not exist.
func (env Env) queryValue(ctx context.Context, key, name string) (typ, data string, found bool, err error) {
	out, err := env.reg(ctx, "query", key, "/v", name)
	if err != nil {
		if notFound(err) {
			return "", "", false, nil
		}
		return "", "", false, err
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && strings.EqualFold(f[0], name) && strings.HasPrefix(f[1], "REG_") {
			return f[1], strings.Join(f[2:], " "), true, nil
		}
	}
	return "", "", false, fmt.Errorf("reg.exe query %s /v %s printed no value: %q", key, name, out)
}

func (env Env) keyExists(ctx context.Context, key string) (bool, error) {
	_, err := env.reg(ctx, "query", key)
	if err != nil {
		if notFound(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

func (env Env) applyRegistry(ctx context.Context, rec *record) (putBack []string, err error) {
	for _, v := range windowsValues {
		typ, data, found, err := env.queryValue(ctx, v.key, v.name)
		if err != nil {
			return putBack, err
		}
		if found && typ == v.typ && strings.EqualFold(data, v.data) {
			continue
		}
		had := rec.value(v.key, v.name) != nil
		if !had {
			// Save the value, and the keys that writing it will create
			// (outermost first), before anything changes.
			var missing []string
			for k := v.key; k != policyRoot; k = k[:strings.LastIndex(k, `\`)] {
				ok, err := env.keyExists(ctx, k)
				if err != nil {
					return putBack, err
				}
				if ok {
					break
				}
				missing = append([]string{k}, missing...)
			}
			for _, k := range missing {
				if !containsFold(rec.Keys, k) {
					rec.Keys = append(rec.Keys, k)
				}
			}
			rec.Values = append(rec.Values, savedValue{Key: v.key, Name: v.name, Exists: found, Type: typ, Data: data})
			if err := saveRecord(env.StateDir, rec); err != nil {
				return putBack, err
			}
		}
		if _, err := env.reg(ctx, "add", v.key, "/v", v.name, "/t", v.typ, "/d", v.data, "/f"); err != nil {
			return putBack, fmt.Errorf("turning off %s's own encrypted DNS: %w", v.browser, err)
		}
		env.Log.Info("turned off a browser's own encrypted DNS", "browser", v.browser, "key", v.key, "value", v.name)
		if had {
			putBack = append(putBack, v.browser+" ("+v.key+`\`+v.name+")")
		}
	}
	return putBack, nil
}

func (env Env) checkRegistry(ctx context.Context) ([]Status, error) {
	var out []Status
	for _, v := range windowsValues {
		typ, data, found, err := env.queryValue(ctx, v.key, v.name)
		if err != nil {
			return out, err
		}
		st := Status{Browser: v.browser, Where: v.key + `\` + v.name, OK: true}
		switch {
		case !found:
			st.OK, st.Problem = false, "the policy is missing"
		case typ != v.typ || !strings.EqualFold(data, v.data):
			st.OK, st.Problem = false, fmt.Sprintf("the policy is %s %s, not %s %s", typ, data, v.typ, v.data)
		}
		out = append(out, st)
	}
	return out, nil
}

func (env Env) restoreRegistry(ctx context.Context, rec *record) error {
	for i := len(rec.Values) - 1; i >= 0; i-- {
		v := rec.Values[i]
		var err error
		if v.Exists {
			_, err = env.reg(ctx, "add", v.Key, "/v", v.Name, "/t", v.Type, "/d", v.Data, "/f")
		} else if _, _, found, qerr := env.queryValue(ctx, v.Key, v.Name); qerr != nil {
			err = qerr
		} else if found {
			_, err = env.reg(ctx, "delete", v.Key, "/v", v.Name, "/f")
		}
		if err != nil {
			return fmt.Errorf("restoring the registry value %s\\%s: %w", v.Key, v.Name, err)
		}
	}
	for i := len(rec.Keys) - 1; i >= 0; i-- {
		k := rec.Keys[i]
		out, err := env.reg(ctx, "query", k)
		if err != nil {
			if notFound(err) {
				continue
			}
			return err
		}
		if !emptyKey(out, k) {
			env.Log.Info("left a registry key nocontact created, because something else is in it now", "key", k)
			continue
		}
		if _, err := env.reg(ctx, "delete", k, "/f"); err != nil {
			return fmt.Errorf("removing the registry key %s nocontact created: %w", k, err)
		}
	}
	return nil
}

// emptyKey reports whether `reg query KEY` printed nothing but the key's
// own name: no value, no subkey.
func emptyKey(out, key string) bool {
	sc := bufio.NewScanner(bytes.NewReader([]byte(out)))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.EqualFold(l, strings.Replace(key, "HKLM", "HKEY_LOCAL_MACHINE", 1)) || strings.EqualFold(l, key) {
			continue
		}
		return false
	}
	return true
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
