package examples

import (
	"bytes"
	"testing"

	"github.com/nocontact/nocontact/config"
	"github.com/nocontact/nocontact/dnsfilter/catalog"
)

// TestExampleParses keeps the example file valid, every key of it.
func TestExampleParses(t *testing.T) {
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse(bytes.NewReader(Config), "examples/nocontact.toml", cat)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Pact.Trial {
		t.Error("the example is not a trial: running it would bind whoever tries it to a real pact")
	}
	if !c.HostsFile.Enabled {
		t.Error("the example turns the hosts layer off; it should show the default, on")
	}
}
