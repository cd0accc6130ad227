//go:build linux

package keystore

import (
	"crypto/cipher"

	"golang.org/x/crypto/chacha20poly1305"
)

// redacted is how every type holding key material prints.
const redacted = "[redacted]"

// A secret is the key material behind a KEK or a Sealer, which hold it
// two pointers away (KEK → *secret → *[KeySize]byte). KEK and Sealer
// redact themselves, but fmt cannot call their methods when it meets one
// by reflection, in an unexported field of a struct being printed. There
// it shows a pointer as an address, except under a verb that does not fit
// pointers (%s, %q), when it prints what the pointer points to, one level
// deep; the second pointer is what it then shows as an address.
type secret struct {
	key  *[KeySize]byte
	aead cipher.AEAD // XChaCha20-Poly1305 under key
}

// newSecret takes ownership of key.
func newSecret(key *[KeySize]byte) *secret {
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		// The key size is right by construction; the one failure left is
		// FIPS 140-only mode, a setting of the whole process that no
		// caller can work around. The KEK constructors check for it
		// first and return an error.
		panic("keystore: " + err.Error())
	}
	return &secret{key: key, aead: aead}
}

// wipe zeroes the key. The AEAD's own copy of it, inside
// golang.org/x/crypto, cannot be reached; it is dropped for the garbage
// collector.
func (s *secret) wipe() {
	clear(s.key[:])
	s.key, s.aead = nil, nil
}
