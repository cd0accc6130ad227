//go:build linux

package requestkey_test

import (
	"strings"
	"testing"

	"github.com/keyctl-go/keyctl-go/requestkey"
)

// FuzzParse checks that any file parses or fails cleanly, that what
// parses has the shape Match relies on, and that matching and parsing the
// commands of any query never panics.
func FuzzParse(f *testing.F) {
	f.Add(debianConf(f), "create", "user", "debug:x", "spoon")
	f.Add([]byte("create user a*c * |/bin/x %k %{user:y} %%z\n#c\n  \n"), "create", "user", "abc", "")
	f.Add([]byte("create user\n"), "create", "user", "", "")
	f.Add([]byte("create\tuser\v*\f*\r/bin/x\r\n"), "negate", "logon", "*", "*")
	f.Fuzz(func(t *testing.T, data []byte, op, typ, desc, callout string) {
		lines, err := requestkey.Parse("f", data)
		if err != nil {
			return
		}
		for _, l := range lines {
			if len(l.Patterns) > 4 || (l.Command != "" && len(l.Patterns) != 4) {
				t.Fatalf("line %+v", l)
			}
			for _, p := range l.Patterns {
				if p == "" || strings.ContainsAny(p, " \t\n\v\f\r") {
					t.Fatalf("pattern %q in %+v", p, l)
				}
			}
			if l.Command != "" {
				requestkey.ParseCommand(l.Command)
			}
		}
		(&requestkey.Config{Lines: lines}).Match(requestkey.Query{Op: op, Type: typ, Description: desc, Callout: callout})
	})
}
