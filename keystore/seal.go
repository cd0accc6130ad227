//go:build linux

package keystore

import (
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"slices"

	"golang.org/x/crypto/chacha20poly1305"
)

// Sizes, in bytes.
const (
	// KeySize is the size of every key here: data keys, key-encryption keys
	// and key files alike.
	KeySize = chacha20poly1305.KeySize // 32 bytes

	// SealOverhead is what Seal adds to a payload: the version byte, the
	// nonce and the tag. The payload's length itself is not hidden.
	SealOverhead = recordHeaderSize + chacha20poly1305.Overhead // 41 bytes

	recordVersion    = 1
	recordHeaderSize = 1 + chacha20poly1305.NonceSizeX // 25 bytes: version, nonce
)

// errRecordAuth is built once: Open fails this way on every damaged record,
// which is also the fuzzer's hot path.
var errRecordAuth = fmt.Errorf("%w: record failed authentication: damaged, altered, or sealed for another key", ErrCorrupt)

// A Sealer seals and opens payloads under one data key, the random key
// that KEK.WrapDataKey stores wrapped, and keeps the store's key records
// (descriptions sealed, see KeyRecord) and the keyed hashes its indexes
// use (DescHash), under a key derived from the data key. Get one from
// NewSealer when a store is created and from KEK.UnwrapDataKey when it is
// opened.
//
// Seal and Open are safe for concurrent use. Wipe ends the Sealer, like a
// Close: it must not run concurrently with other calls, and any call after
// it panics. A Sealer prints as [redacted] through fmt and log/slog.
type Sealer struct {
	dataKey *secret     // nil once wiped
	index   *descHasher // keyed hashes of descriptions and names
}

// NewSealer returns a Sealer under a fresh random data key.
//
// It panics if the process runs with GODEBUG=fips140=only, which forbids
// XChaCha20-Poly1305; the KEK constructors report that as an error first.
func NewSealer() *Sealer {
	key := new([KeySize]byte)
	rand.Read(key[:]) // never fails: it crashes the program instead
	return sealerFromKey(key)
}

// sealerFromKey takes ownership of dataKey.
func sealerFromKey(dataKey *[KeySize]byte) *Sealer {
	s := &Sealer{dataKey: newSecret(dataKey)}
	s.index = newDescHasher(dataKey)
	return s
}

// Seal encrypts plaintext for the key that binding names, appends the
// sealed record to dst and returns the updated slice. dst and plaintext
// must not overlap.
//
// The binding ties the record to its key: it is authenticated as
// additional data but not stored, and Open succeeds only with the same
// binding, so a record copied onto another key fails to open. The store
// passes the key's serial and type; a binding must be unambiguous (fixed
// widths or length prefixes), or two keys could share one. Seal panics if
// binding is empty, because an unbound record is a caller bug that would
// otherwise go unnoticed, or if s has been wiped.
//
// A record, format version 1, is len(plaintext)+SealOverhead bytes:
//
//	offset  size  field
//	0       1     format version, 1
//	1       24    nonce, random for every record
//	25      n     XChaCha20 ciphertext of the n-byte plaintext
//	25+n    16    Poly1305 tag over the ciphertext and the binding
//
// A random 192-bit nonce needs no counter kept in the store, and repeats
// with negligible chance however many records one data key seals. The
// version byte is not in the additional data: Open accepts version 1 only,
// and a later version will authenticate its own layout.
func (s *Sealer) Seal(dst, plaintext, binding []byte) []byte {
	aead := s.live("Seal")
	mustBind("Seal", binding)
	n := len(plaintext) + SealOverhead
	dst = slices.Grow(dst, n)
	ret := dst[:len(dst)+n]
	out := ret[len(dst):]
	out[0] = recordVersion
	nonce := out[1:recordHeaderSize]
	rand.Read(nonce)
	aead.Seal(out[:recordHeaderSize], nonce, plaintext, binding) // fills out[recordHeaderSize:] in place
	return ret
}

// Open checks and decrypts a record made by Seal with the same binding,
// appends the plaintext to dst and returns the updated slice. dst and
// sealed must not overlap.
//
// A record that is truncated, damaged, altered, of an unknown version or
// sealed with another binding or data key gives an error that matches
// ErrCorrupt (and so unix.EBADMSG), and no plaintext. Open panics if
// binding is empty or s has been wiped, as Seal does.
func (s *Sealer) Open(dst, sealed, binding []byte) ([]byte, error) {
	aead := s.live("Open")
	mustBind("Open", binding)
	switch {
	case len(sealed) == 0:
		return nil, fmt.Errorf("%w: record is empty", ErrCorrupt)
	case sealed[0] != recordVersion:
		return nil, fmt.Errorf("%w: record format version %d is not supported", ErrCorrupt, sealed[0])
	case len(sealed) < SealOverhead:
		return nil, fmt.Errorf("%w: record is %d bytes, shorter than the %d-byte minimum", ErrCorrupt, len(sealed), SealOverhead)
	}
	out, err := aead.Open(dst, sealed[1:recordHeaderSize], sealed[recordHeaderSize:], binding)
	if err != nil {
		return nil, errRecordAuth
	}
	return out, nil
}

// Wipe zeroes s's copy of the data key, and the hash key derived from
// it, and ends s. See the package Caveats for what it cannot reach.
func (s *Sealer) Wipe() {
	if s.dataKey != nil {
		s.dataKey.wipe()
		s.dataKey = nil
	}
	if s.index != nil {
		s.index.wipe()
	}
}

func (s *Sealer) live(op string) cipher.AEAD {
	if s.dataKey == nil {
		panic("keystore: Sealer." + op + " on a wiped or zero Sealer")
	}
	return s.dataKey.aead
}

func mustBind(op string, binding []byte) {
	if len(binding) == 0 {
		panic("keystore: Sealer." + op + " with an empty binding")
	}
}

// The redaction methods take a value receiver so that a Sealer printed by
// value redacts as well as a *Sealer does.

// String returns "[redacted]".
func (Sealer) String() string { return redacted }

// GoString returns "[redacted]", for %#v.
func (Sealer) GoString() string { return redacted }

// Format writes "[redacted]" whatever the verb, so that %x or %d cannot
// reach the key either.
func (Sealer) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }

// LogValue makes log/slog record "[redacted]".
func (Sealer) LogValue() slog.Value { return slog.StringValue(redacted) }
