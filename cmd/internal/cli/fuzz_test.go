//go:build linux

package cli

import (
	"strings"
	"testing"
)

// FuzzGetopt: getopt never panics, and what it returns is made of the
// words it was given, in order.
func FuzzGetopt(f *testing.F) {
	for _, seed := range []string{"-df x a b", "-n", "-fl -n name x", "-- -x", "-z", "- a", "-dfn"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Fields(line)
		var stderr strings.Builder
		a := newApp(strings.NewReader(""), &strings.Builder{}, &stderr, func(string) string { return "" })
		opts, rest, err := getopt(a, "watch_session", args, "+df:n:")
		if err != nil {
			if stderr.Len() == 0 {
				t.Fatalf("%q: %v and nothing said on stderr", args, err)
			}
			return
		}
		if len(rest) > len(args) || (len(rest) > 0 && strings.Join(rest, " ") != strings.Join(args[len(args)-len(rest):], " ")) {
			t.Fatalf("%q: rest %q is not a tail of the arguments", args, rest)
		}
		// Permuting, as keyctl watch's getopt("f:") does: the other
		// arguments keep their order.
		opts2, rest2, err := getopt(a, "watch", args, "f:")
		if err != nil {
			return
		}
		i := 0
		for _, w := range args {
			if i < len(rest2) && w == rest2[i] {
				i++
			}
		}
		if i != len(rest2) {
			t.Fatalf("%q: rest %q is not a subsequence of the arguments", args, rest2)
		}
		for _, o := range opts2 {
			if o.name != 'f' {
				t.Fatalf("%q: option %q is not in the spec", args, o.name)
			}
		}
		for _, o := range opts {
			if !strings.ContainsRune("dfn", rune(o.name)) {
				t.Fatalf("%q: option %q is not in the spec", args, o.name)
			}
		}
	})
}
