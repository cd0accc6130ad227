//go:build linux

package krb5ring

import (
	"bytes"
	"errors"
	"testing"
)

// The parsers of what the store hands back: a cache name, and each key's
// payload. None may panic, and what parses must encode back to the same
// meaning. Seeds are in testdata/fuzz.

func FuzzParseName(f *testing.F) {
	for _, s := range []string{"KEYRING:persistent:0", "KEYRING:session:x:krb_ccache_abcdefg", "KEYRING:legacyx", "KEYRING:user:x:a:b", "FILE:/tmp/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseName(s)
		if err != nil {
			return
		}
		again, err := ParseName(n.String())
		if err != nil || again != n {
			t.Fatalf("%q parsed to %+v, whose String %q parses to %+v, %v", s, n, n.String(), again, err)
		}
	})
}

func FuzzPayloads(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x01\x00\x00\x00\x01x"))
	f.Add([]byte("\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x0aTEST.LOCAL\x00\x00\x00\x05alice"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if sub, err := decodePrimary(b); err == nil {
			if got, _ := decodePrimary(encodePrimary(sub)); got != sub {
				t.Fatalf("primary %q came back as %q", sub, got)
			}
		} else if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnknownVersion) {
			t.Fatalf("primary: %v is neither ErrFormat nor ErrUnknownVersion", err)
		}
		if p, err := decodePrincipal(b); err == nil {
			enc, err := encodePrincipal(p)
			if err != nil || !bytes.Equal(enc, b) {
				t.Fatalf("principal %x came back as %x, %v", b, enc, err)
			}
		} else if !errors.Is(err, ErrFormat) {
			t.Fatalf("principal: %v is not ErrFormat", err)
		}
		if c, err := decodeCredential(b); err == nil {
			enc, err := encodeCredential(&c)
			if err != nil || !bytes.Equal(enc, b) {
				t.Fatalf("credential %x came back as %x, %v", b, enc, err)
			}
		} else if !errors.Is(err, ErrFormat) {
			t.Fatalf("credential: %v is not ErrFormat", err)
		}
		if o, err := decodeOffset(b); err == nil {
			if !bytes.Equal(encodeOffset(o), b[:8]) {
				t.Fatalf("offset %x came back as %x", b[:8], encodeOffset(o))
			}
		}
	})
}
