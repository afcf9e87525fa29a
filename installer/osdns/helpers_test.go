package osdns

import (
	"strconv"
	"strings"

	"github.com/nocontact/nocontact/installer/command"
)

func quoteIfNeeded(s string) string { return command.Line(s) }

// splitFields splits a command.Line back into words.
func splitFields(s string) []string {
	var out []string
	for s != "" {
		s = strings.TrimLeft(s, " ")
		if strings.HasPrefix(s, `"`) {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				panic(err)
			}
			u, _ := strconv.Unquote(q)
			out = append(out, u)
			s = s[len(q):]
			continue
		}
		w, rest, _ := strings.Cut(s, " ")
		out = append(out, w)
		s = rest
	}
	return out
}
