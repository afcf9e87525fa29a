// Package examples carries the example settings file, nocontact.toml, into
// the binary, so that `nocontact install` without --config has a file to
// install. The file itself is for people: it explains every setting in
// plain words. This package must not change or interpret it.
package examples

import _ "embed"

// Config is examples/nocontact.toml, byte for byte.
//
//go:embed nocontact.toml
var Config []byte
