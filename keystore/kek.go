//go:build linux

package keystore

import (
	"crypto/cipher"
	"crypto/fips140"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore/internal/crc32c"
)

// WrappedKeySize is the size of a wrapped data key, in bytes: version,
// nonce, encrypted key, tag and checksum.
const WrappedKeySize = wrapSealedEnd + crc32c.Size // 77 bytes

const (
	wrapVersion   = 1
	wrapSealedEnd = 1 + chacha20poly1305.NonceSizeX + KeySize + chacha20poly1305.Overhead // 73: where the checksum starts
)

// wrapLabel is the additional data of every wrapped data key. It keeps a
// wrapped key from opening as anything else should a KEK ever seal
// something other than data keys.
var wrapLabel = []byte("keyctl-go/keystore: wrapped data key")

// A KEK is a key-encryption key: it wraps the store's data key and nothing
// else. It comes from a key file (LoadKeyFile, CreateKeyFile) or from a
// passphrase (DeriveKEK). Unwrap the data key once per open, then Wipe the
// KEK: the Sealer is all the store needs afterwards.
//
// A KEK prints as [redacted] through fmt and log/slog.
type KEK struct {
	key *secret // nil once wiped
}

// WrapDataKey returns s's data key encrypted under k, in WrappedKeySize
// bytes that the store keeps in clear. Wrapping the same data key under a
// new KEK is how a passphrase or key file changes without re-encrypting
// any record.
//
// A wrapped data key, format version 1, is:
//
//	offset  size  field
//	0       1     format version, 1
//	1       24    nonce, random
//	25      32    XChaCha20 ciphertext of the data key
//	57      16    Poly1305 tag, with additional data "keyctl-go/keystore: wrapped data key"
//	73      4     CRC-32C (Castagnoli) of bytes 0 to 72, big-endian
//
// The checksum tells damage from a wrong key: only bytes that pass it are
// tried against the KEK, so a failure there means the passphrase or key
// file is wrong, not that the store is broken.
//
// WrapDataKey panics if k or s has been wiped.
func (k *KEK) WrapDataKey(s *Sealer) []byte {
	aead := k.live("WrapDataKey")
	if s.dataKey == nil {
		panic("keystore: KEK.WrapDataKey of a wiped or zero Sealer")
	}
	out := make([]byte, 1+chacha20poly1305.NonceSizeX, WrappedKeySize)
	out[0] = wrapVersion
	nonce := out[1:]
	rand.Read(nonce)
	out = aead.Seal(out, nonce, s.dataKey.key[:], wrapLabel)
	return binary.BigEndian.AppendUint32(out, crc32c.Checksum(out))
}

// UnwrapDataKey decrypts a data key made by WrapDataKey and returns a
// Sealer that uses it. A wrapped key that is truncated, damaged or of an
// unknown version gives an error matching ErrCorrupt; one that is intact
// but does not open under k gives an error matching ErrWrongKey.
func (k *KEK) UnwrapDataKey(wrapped []byte) (*Sealer, error) {
	aead := k.live("UnwrapDataKey")
	switch {
	case len(wrapped) == 0:
		return nil, fmt.Errorf("%w: wrapped data key is empty", ErrCorrupt)
	case wrapped[0] != wrapVersion:
		return nil, fmt.Errorf("%w: wrapped data key format version %d is not supported", ErrCorrupt, wrapped[0])
	case len(wrapped) != WrappedKeySize:
		return nil, fmt.Errorf("%w: wrapped data key is %d bytes, want %d", ErrCorrupt, len(wrapped), WrappedKeySize)
	case crc32c.Checksum(wrapped[:wrapSealedEnd]) != binary.BigEndian.Uint32(wrapped[wrapSealedEnd:]):
		return nil, fmt.Errorf("%w: wrapped data key fails its checksum", ErrCorrupt)
	}
	dataKey := new([KeySize]byte)
	nonce, sealed := wrapped[1:1+chacha20poly1305.NonceSizeX], wrapped[1+chacha20poly1305.NonceSizeX:wrapSealedEnd]
	if _, err := aead.Open(dataKey[:0], nonce, sealed, wrapLabel); err != nil {
		return nil, fmt.Errorf("%w: it does not unwrap the data key", ErrWrongKey)
	}
	return sealerFromKey(dataKey), nil
}

// Wipe zeroes k and ends it: any call after it panics. See the package
// Caveats for what it cannot reach.
func (k *KEK) Wipe() {
	if k.key != nil {
		k.key.wipe()
		k.key = nil
	}
}

func (k *KEK) live(op string) cipher.AEAD {
	if k.key == nil {
		panic("keystore: KEK." + op + " on a wiped or zero KEK")
	}
	return k.key.aead
}

// checkFIPS reports, as the kernel reports a missing crypto algorithm,
// that a process in FIPS 140-only mode cannot use this package: neither
// XChaCha20-Poly1305 nor Argon2id is FIPS-approved. The KEK constructors
// call it, so that the mode fails with an error before anything is sealed.
func checkFIPS() error {
	if fips140.Enforced() {
		return fmt.Errorf("keystore: GODEBUG=fips140=only forbids XChaCha20-Poly1305 and Argon2id: %w", unix.ENOPKG)
	}
	return nil
}

// The redaction methods take a value receiver so that a KEK printed by
// value redacts as well as a *KEK does.

// String returns "[redacted]".
func (KEK) String() string { return redacted }

// GoString returns "[redacted]", for %#v.
func (KEK) GoString() string { return redacted }

// Format writes "[redacted]" whatever the verb, so that %x or %d cannot
// reach the key either.
func (KEK) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }

// LogValue makes log/slog record "[redacted]".
func (KEK) LogValue() slog.Value { return slog.StringValue(redacted) }
