package main

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
)

// FuzzWatchFDRequest feeds the watcher arbitrary requests: it never
// panics, and the handler sees only the three verbs, with a serial that
// fits a key_serial_t.
func FuzzWatchFDRequest(f *testing.F) {
	for _, seed := range []string{"add 42", "rm -3", "sync", "add", "add 99999999999", "frob 1", "add 1 2", ""} {
		f.Add(watchFDMagic+" "+seed, true)
	}
	f.Add("not the magic", false)
	f.Fuzz(func(t *testing.T, msg string, sameUID bool) {
		srv := &watchFDServer{uid: 1000, handle: func(_ context.Context, verb string, id keyring.Serial) error {
			switch verb {
			case "add", "rm", "sync":
			default:
				t.Fatalf("handler called with %q", verb)
			}
			return nil
		}}
		uid := 1000
		if !sameUID {
			uid = 1001
		}
		e := srv.do(context.Background(), msg, uid)
		if !sameUID && e != unix.EACCES && e != unix.EINVAL {
			t.Fatalf("%q from another uid: %v", msg, e)
		}
	})
}

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
