//go:build linux

package secretservice

import (
	"testing"
	"unicode/utf8"

	"github.com/godbus/dbus/v5"
)

func TestPathNames(t *testing.T) {
	for name, want := range map[string]string{
		"login":      "login",
		"Work stuff": "Work_20stuff",
		"a_b":        "a_5fb",
		"ü":          "_c3_bc",
		"github.com": "github_2ecom",
	} {
		if got := escapeName(name); got != want {
			t.Errorf("escapeName(%q) = %q, want %q", name, got, want)
		}
		if back, ok := unescapeName(want); !ok || back != name {
			t.Errorf("unescapeName(%q) = %q, %v", want, back, ok)
		}
	}
	// Elements escapeName never makes have no name: one path per name.
	for _, elem := range []string{"", "_61", "_4", "_zz", "_C3_BC", "a-b", "a.b"} {
		if name, ok := unescapeName(elem); ok {
			t.Errorf("unescapeName(%q) = %q, want refusal", elem, name)
		}
	}
	for path, want := range map[string]object{
		"/org/freedesktop/secrets":                        {kind: objService},
		"/org/freedesktop/secrets/collection/login":       {kind: objCollection, service: "login"},
		"/org/freedesktop/secrets/collection/login/a_2db": {kind: objItem, service: "login", account: "a-b"},
		"/org/freedesktop/secrets/aliases/default":        {kind: objCollection, alias: "default"},
		"/org/freedesktop/secrets/aliases/default/x":      {kind: objItem, alias: "default", account: "x"},
		"/org/freedesktop/secrets/session/s1":             {kind: objSession, session: "s1"},
		"/org/freedesktop/secrets/collection/login/a/b":   {},
		"/org/freedesktop/secrets/collection":             {},
		"/org/freedesktop/secrets/collection/":            {},
		"/org/freedesktop/secretsx":                       {},
		"/org/freedesktop/secrets/session/":               {},
	} {
		got, ok := parsePath(dbus.ObjectPath(path))
		if ok != (want.kind != objNone) || got != want {
			t.Errorf("parsePath(%s) = %+v, %v; want %+v", path, got, ok, want)
		}
	}
}

// FuzzUnescapeName: whatever unescapes escapes back to the same element,
// every name survives the round trip, and item paths parse to what they
// name.
func FuzzUnescapeName(f *testing.F) {
	for _, s := range []string{"login", "Work_20stuff", "_c3_bc", "a_5fb", "_", "_0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if name, ok := unescapeName(s); ok && escapeName(name) != s {
			t.Fatalf("%q unescapes to %q, which escapes to %q", s, name, escapeName(name))
		}
		// Paths built from it parse, or are refused, without panicking;
		// those that parse name what they were built from.
		if o, ok := parsePath(dbus.ObjectPath(collectionBase + s)); ok && o.kind == objItem && itemPath(o.service, o.account) != dbus.ObjectPath(collectionBase+s) {
			t.Fatalf("%q parses as %+v, which is another path", s, o)
		}
		if s != "" && utf8.ValidString(s) { // names are never empty
			if back, ok := unescapeName(escapeName(s)); !ok || back != s {
				t.Fatalf("%q does not survive: %q %v", s, back, ok)
			}
		}
	})
}
