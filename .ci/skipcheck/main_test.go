package main

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	const stream = `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"--- SKIP: TestA\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:9: needs macOS\n"}
{"Action":"skip","Package":"p","Test":"TestA"}
{"Action":"run","Package":"p","Test":"TestB"}
{"Action":"output","Package":"p","Test":"TestB","Output":"--- SKIP: TestB\n"}
{"Action":"skip","Package":"p","Test":"TestB"}
{"Action":"run","Package":"p","Test":"TestC"}
{"Action":"output","Package":"p","Test":"TestC","Output":"--- FAIL: TestC\n"}
{"Action":"fail","Package":"p","Test":"TestC"}
{"Action":"output","Package":"p","Output":"FAIL\tp\t0.1s\n"}
{"Action":"fail","Package":"p"}
`
	for _, tt := range []struct {
		name    string
		allowed map[string]string
		stream  string
		code    int
		want    []string
	}{
		{"all listed, one failure", map[string]string{"p TestA": "needs macOS", "p TestB": "x"}, stream, 1,
			[]string{"--- FAIL: TestC", "Skipped, as the allow-list permits", "p TestA (needs macOS)", "Failed:\n  p TestC"}},
		{"an unlisted skip", map[string]string{"p TestA": "needs macOS"}, stream, 1,
			[]string{"not on the allow-list", "  p TestB\n", "--- SKIP: TestB"}},
		{"clean", nil, `{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Output":"ok\tp\t0.1s\n"}
{"Action":"pass","Package":"p"}
`, 0, []string{"ok\tp"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			code, err := check(strings.NewReader(tt.stream), &out, tt.allowed)
			if err != nil {
				t.Fatal(err)
			}
			if code != tt.code {
				t.Errorf("exit code %d, want %d\n%s", code, tt.code, out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
