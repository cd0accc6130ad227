//go:build linux

package keystore

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"
)

// Descriptions and names never reach the file in clear: records seal
// them, and the indexes that find a key by its description, or a keyring
// by its name, are keyed by an HMAC-SHA256 of them instead, under a key
// derived from the store's data key. Without the data key, the file does
// not tell whether any description is in it, not even by trying guesses.

// descHashLen is how many bytes of the HMAC the indexes keep: 16.
//
// Two different descriptions whose hashes agree would share an index
// entry, and a lookup of one would find the other; at 128 bits that does
// not happen. Among n distinct (type, description) pairs the chance of any
// collision is about n²/2^129: 2^-89 for a million keys (root's quota),
// and the whole store never holds more than 2^31 keys (2^-67). Nor can
// anyone aim for one: the hash is keyed, so without the data key its
// values cannot be computed, and with the file alone (which shows them)
// finding a collision by adding keys takes about 2^64 of them. So a hash
// names one description, and equal hashes mean equal descriptions.
// Search in package keyring, which reads the key record anyway, compares
// the descriptions too, and Check verifies every hash against its sealed
// description.
const descHashLen = 16

// DescHash names a key in a keyring's index without its description: the
// key's type, which the file keeps in clear, and a keyed hash of the type
// and description together. Keys have equal DescHashes exactly when they
// have the same type and description (see descHashLen). Get one from
// Tx.DescHash or Tx.RecordHash; the zero DescHash names no key.
type DescHash struct {
	Type string
	sum  [descHashLen]byte
}

// hashKeyInfo is the HKDF info that derives the hash key from the data
// key: a label of its own, so that the hash key is unrelated to the data
// key's other uses.
const hashKeyInfo = "keyctl-go/keystore: description and name hash key, v1"

// Domain labels, the first byte hashed, so that a description and a name
// never hash alike.
const (
	hashDomainDesc = 'd'
	hashDomainName = 'n'
)

// descHasher computes the keyed hashes. Safe for concurrent use: each
// computation takes an HMAC state from the pool.
type descHasher struct {
	key  *[KeySize]byte // nil once wiped; two pointers from a Sealer, as secret explains
	pool sync.Pool      // of *hmacState
}

// hmacState is one HMAC under the hash key and a buffer for the message.
type hmacState struct {
	mac hash.Hash
	msg []byte
	sum [sha256.Size]byte
}

// newDescHasher derives the hash key from dataKey.
func newDescHasher(dataKey *[KeySize]byte) *descHasher {
	k, err := hkdf.Key(sha256.New, dataKey[:], nil, hashKeyInfo, KeySize)
	if err != nil {
		// hkdf.Key fails only for an output longer than 255 hashes.
		panic("keystore: " + err.Error())
	}
	h := &descHasher{key: new([KeySize]byte)}
	copy(h.key[:], k)
	clear(k)
	return h
}

// sum hashes the message that build appends to its argument.
func (h *descHasher) sum(build func([]byte) []byte) [descHashLen]byte {
	if h.key == nil {
		panic("keystore: hashing a description with a wiped Sealer")
	}
	st, _ := h.pool.Get().(*hmacState)
	if st == nil {
		st = &hmacState{mac: hmac.New(sha256.New, h.key[:])}
	}
	st.msg = build(st.msg[:0])
	st.mac.Reset()
	st.mac.Write(st.msg)
	full := st.mac.Sum(st.sum[:0])
	var out [descHashLen]byte
	copy(out[:], full)
	h.pool.Put(st)
	return out
}

// desc is the DescHash of a key of type typ and description desc. The
// message is the domain, the type's length (at most MaxTypeLen, one
// byte), the type and the description: unambiguous.
func (h *descHasher) desc(typ, desc string) DescHash {
	return DescHash{Type: typ, sum: h.sum(func(b []byte) []byte {
		b = append(b, hashDomainDesc, byte(len(typ)))
		b = append(b, typ...)
		return append(b, desc...)
	})}
}

// name is the hash a registered name is kept under.
func (h *descHasher) name(kind NameKind, name string) [descHashLen]byte {
	return h.sum(func(b []byte) []byte {
		b = append(b, hashDomainName, byte(kind))
		return append(b, name...)
	})
}

// wipe zeroes the hash key. The HMAC states in the pool keep what they
// derived from it until the garbage collector takes them, as the AEAD
// keeps its copy of the data key (see the package Caveats).
func (h *descHasher) wipe() {
	if h.key != nil {
		clear(h.key[:])
		h.key = nil
	}
}
